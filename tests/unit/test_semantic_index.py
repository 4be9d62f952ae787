"""The in-process vector index: top-k by cosine within a scope, absolute expiry, bounds."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from agentcache_semantic.index import InProcessIndex, normalize


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def unit(angle: float) -> list[float]:
    return [float(np.cos(angle)), float(np.sin(angle))]


async def test_top_k_best_first_above_the_threshold_within_one_scope() -> None:
    index = InProcessIndex()
    for i in range(50):  # angles 0.00 .. 0.49 rad from the query
        await index.add("ns", "ctx", unit(i / 100), f"p{i}", f"d{i}", None)
    await index.add("ns", "other", unit(0.0), "elsewhere", "dx", None)
    await index.add("ns2", "ctx", unit(0.0), "elsewhere", "dy", None)
    found = await index.search("ns", "ctx", unit(0.0), 3, 0.0)
    assert [c.digest for c in found] == ["d0", "d1", "d2"]
    assert found[0].similarity == pytest.approx(1.0)
    above = await index.search("ns", "ctx", unit(0.0), 100, float(np.cos(0.045)))
    assert [c.digest for c in above] == ["d0", "d1", "d2", "d3", "d4"]
    assert await index.search("ns", "nothing", unit(0.0), 3, 0.0) == []


async def test_expiry_is_absolute_and_re_indexing_replaces() -> None:
    clock = Clock()
    index = InProcessIndex(clock=clock)
    await index.add("ns", "ctx", unit(0.0), "short", "a", 10)
    await index.add("ns", "ctx", unit(0.1), "long", "b", 100)
    await index.add("ns", "ctx", unit(0.2), "forever", "c", None)
    clock.now += 10
    assert [c.digest for c in await index.search("ns", "ctx", unit(0.0), 5, 0.0)] == ["b", "c"]
    await index.add("ns", "ctx", unit(0.3), "long, again", "b", 5)  # replaces, new expiry
    assert index.size() == 2
    clock.now += 5
    assert [c.prompt for c in await index.search("ns", "ctx", unit(0.0), 5, 0.0)] == ["forever"]


async def test_bounded_per_scope_delete_and_clear() -> None:
    index = InProcessIndex(max_per_scope=3)
    for i in range(5):
        await index.add("ns", "ctx", unit(i / 10), f"p{i}", f"d{i}", None)
    assert sorted(c.digest for c in await index.search("ns", "ctx", unit(0), 9, 0.0)) == [
        "d2",
        "d3",
        "d4",
    ]
    await index.delete("ns", "d3")
    assert index.size() == 2
    await index.clear("ns")
    assert index.size() == 0


def test_zero_or_non_finite_vectors_are_refused() -> None:
    for bad in ([0.0, 0.0], [float("nan"), 1.0]):
        with pytest.raises(ValueError):
            normalize(bad)


class _Probe(np.ndarray):
    """A matrix that notes numpy's BLAS thread count at the moment it is multiplied."""

    seen: ClassVar[list[int]] = []

    def __matmul__(self, other: Any) -> Any:
        _Probe.seen.append(_blas().get_num_threads())
        return np.asarray(self) @ other


def _blas() -> Any:
    from threadpoolctl import ThreadpoolController

    return next(c for c in ThreadpoolController().lib_controllers if c.user_api == "blas")


async def test_the_search_product_runs_on_one_blas_thread_and_puts_the_count_back() -> None:
    from threadpoolctl import threadpool_limits

    index = InProcessIndex()
    rng = np.random.default_rng(0)
    for i in range(50):
        await index.add("ns", "ctx", rng.random(8).astype(np.float32), f"p{i}", f"d{i}", None)
    with threadpool_limits(2, user_api="blas"):  # a multi-threaded pool, whatever the machine
        await index.search("ns", "ctx", rng.random(8).astype(np.float32), 3, 0.0)  # builds it
        scope = next(iter(index._scopes.values()))
        assert scope.matrix is not None
        scope.matrix = scope.matrix.view(_Probe)
        _Probe.seen.clear()
        found = await index.search("ns", "ctx", scope.matrix[7].copy(), 3, 0.0)
        assert _Probe.seen == [1]
        assert _blas().get_num_threads() == 2
    assert found[0].digest == "d7"
