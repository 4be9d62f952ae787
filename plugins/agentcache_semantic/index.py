"""The in-process vector index: exact cosine search with numpy, for use without Redis.

Vectors are L2-normalized on the way in, so cosine similarity is one matrix-vector product over
the candidates of one (namespace, context fingerprint) scope. Expiry is absolute (set when the
entry is indexed) and never slides on a hit.

The product runs on one BLAS thread. A scope holds at most ``max_per_scope`` rows (10,000:
about half a millisecond on one core), and numpy's default pool of one thread per core buys
little on a product that small while making it wait for every worker: on a small machine busy
with other work (or with the embedding's own threads) a worker that is not scheduled holds
the product for milliseconds (measured on 2 cores: p99 12-15 ms with the default threads
against 0.4-0.6 ms with one). The thread count is set around the product through
threadpoolctl (about a microsecond) and put back; it is process-wide, so numpy work that
another thread starts within that half millisecond runs on one thread too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Candidate:
    prompt: str
    digest: str
    similarity: float


@dataclass
class _Scope:
    vectors: list[Vector] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    expires: list[float] = field(default_factory=list)
    matrix: Vector | None = None
    soonest: float = float("inf")
    """The earliest expiry: a search scans for expired entries only once it has passed."""


class VectorIndex(Protocol):
    """What the semantic stage needs of an index (``SemanticConfig(index=...)`` takes any):
    prompts by (namespace, context fingerprint) scope, each pointing at an entry digest, with an
    absolute expiry that a search never extends."""

    async def add(
        self, namespace: str, fingerprint: str, vector: Vector, prompt: str, digest: str,
        ttl: float | None,
    ) -> None: ...  # fmt: skip

    async def search(
        self, namespace: str, fingerprint: str, vector: Vector, k: int, min_similarity: float
    ) -> list[Candidate]:
        """At most ``k`` candidates of the scope, best first, with cosine >= the minimum."""
        ...

    async def delete(self, namespace: str, digest: str) -> None: ...


class _OneBlasThread:
    """``matrix @ vector`` with numpy's BLAS on one thread (see the module docstring)."""

    def __init__(self) -> None:
        self._libs: list[Any] | None = None

    def matvec(self, matrix: Vector, vector: Vector) -> Vector:
        if self._libs is None:  # found once: the BLAS numpy loaded
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:  # pragma: no cover - a dependency of the semantic extra
                self._libs = []
            else:
                found = ThreadpoolController().lib_controllers
                self._libs = [lib for lib in found if lib.user_api == "blas"]
        wide = [(lib, n) for lib in self._libs if (n := lib.get_num_threads() or 1) > 1]
        for lib, _ in wide:
            lib.set_num_threads(1)
        try:
            product: Vector = matrix @ vector
            return product
        finally:
            for lib, n in wide:
                lib.set_num_threads(n)


one_blas_thread = _OneBlasThread()


def normalize(vector: npt.ArrayLike) -> Vector:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not norm or not np.isfinite(norm):
        raise ValueError("cannot index a zero or non-finite vector")
    return v / norm


class InProcessIndex:
    """Prompts by scope; ``max_per_scope`` keeps the newest entries of a busy scope."""

    def __init__(self, max_per_scope: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self._scopes: dict[tuple[str, str], _Scope] = {}
        self._max = max_per_scope
        self._clock = clock

    async def add(
        self,
        namespace: str,
        fingerprint: str,
        vector: Vector,
        prompt: str,
        digest: str,
        ttl: float | None,
    ) -> None:
        scope = self._scopes.setdefault((namespace, fingerprint), _Scope())
        if digest in scope.digests:  # re-indexed: replace, do not duplicate
            self._drop(scope, scope.digests.index(digest))
        scope.vectors.append(normalize(vector))
        scope.prompts.append(prompt)
        scope.digests.append(digest)
        expires = float("inf") if ttl is None else self._clock() + ttl
        scope.expires.append(expires)
        scope.soonest = min(scope.soonest, expires)
        if len(scope.digests) > self._max:
            self._drop(scope, 0)
        scope.matrix = None

    async def search(
        self, namespace: str, fingerprint: str, vector: Vector, k: int, min_similarity: float
    ) -> list[Candidate]:
        scope = self._scopes.get((namespace, fingerprint))
        if scope is None:
            return []
        now = self._clock()
        if scope.soonest <= now:  # something expired: drop it (rare; one pass)
            for i in reversed([i for i, t in enumerate(scope.expires) if t <= now]):
                self._drop(scope, i)
            scope.soonest = min(scope.expires, default=float("inf"))
        if not scope.digests:
            return []
        if scope.matrix is None:
            scope.matrix = np.vstack(scope.vectors)
        sims = one_blas_thread.matvec(scope.matrix, normalize(vector))
        if len(sims) > k:  # the k best without sorting them all
            top = np.argpartition(-sims, k)[:k]
            best = top[np.argsort(-sims[top])]
        else:
            best = np.argsort(-sims)
        return [
            Candidate(scope.prompts[i], scope.digests[i], float(sims[i]))
            for i in best
            if sims[i] >= min_similarity
        ]

    async def delete(self, namespace: str, digest: str) -> None:
        for (ns, _), scope in self._scopes.items():
            if ns == namespace and digest in scope.digests:
                self._drop(scope, scope.digests.index(digest))

    async def clear(self, namespace: str | None = None) -> int:
        """Remove the namespace's prompts (every namespace's with ``None``); how many."""
        removed = 0
        for key in [k for k in self._scopes if namespace is None or k[0] == namespace]:
            removed += len(self._scopes.pop(key).digests)
        return removed

    def size(self) -> int:
        return sum(len(s.digests) for s in self._scopes.values())

    @staticmethod
    def _drop(scope: _Scope, i: int) -> None:
        for column in (scope.vectors, scope.prompts, scope.digests, scope.expires):
            del column[i]
        scope.matrix = None
