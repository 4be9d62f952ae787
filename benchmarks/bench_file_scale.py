"""The file store at scale, and what a cached miss adds to a slow model's latency.

    .venv/bin/python benchmarks/bench_file_scale.py            # 100,000 entries (a few minutes)
    .venv/bin/python benchmarks/bench_file_scale.py --quick    # CI smoke run: 2,000 entries
    .venv/bin/python benchmarks/bench_file_scale.py --entries 20000 --layout flat --no-miss

Phase 1, hits at scale. Two file stores in a temporary directory (``--dir`` to choose where):
one filled with 1,000 entries, one with ``--entries`` (100,000), each an encoded cache entry
of about 900 bytes like ``bench_core``'s, in one namespace, written through ``FileStore.set``.
Then ``FileStore.get`` of a random key of each store, interleaved round by round: p50 and p99
at both sizes and their ratio (goal: flat, a ratio of about 1). Then ``size()`` and
``clear()`` of each store, timed once each (they read every entry file: the count is of live
entries), and the most files in one folder of the large store, which the layout bounds.

Phase 2, the miss path (``--no-miss`` to skip). A model that answers after 100 ms, asked a new
question every round (so every cached call is a miss and writes an entry), interleaved: the
model alone, and ``CachedModel`` over the memory store, the file store and Redis on loopback
(started with ``scripts/redis_server.py`` like ``bench_redis.py``; reported as not measured if
it cannot start). Once as ``get_response`` (the write is in the background, off the caller's
path) and once as a one-turn ``Runner.run`` (whose end waits for the run's writes, so that an
entry is stored when the run returns). Goal: p50 and p99 no more than 2% above the model alone.

Progress goes to stderr and results to stdout. Exit code 0 even when a goal is missed; 1 only
if the setup is broken (a store does not hold what was written, or a "miss" was a hit).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from agents import Agent, ModelSettings, RunConfig, Runner, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import Model, ModelTracing
from agents.testing import assistant_message, function_call
from agents.usage import Usage
from bench_core import SetupError, percentile, progress

from agentcache import CachedModel
from agentcache.entry import encode
from agentcache.response import entry_from_response
from agentcache.stores.base import CacheKey
from agentcache.stores.file import FileStore, Layout

SMALL = 1_000
MISS_GOAL = 1.02
FLAT_LIMIT = 1.25  # p50 ratio large / small taken as "flat" (the same cost, within the noise)
MODEL_SECONDS = 0.1
SETTINGS = ModelSettings()

# --------------------------------------------------------------------------------------------
# Phase 1: the file store at scale


def sample_entry() -> bytes:
    """An encoded entry like bench_core's hit: a text answer and a tool call, about 900 bytes."""
    text = (
        "Done! I emailed the details of ticket TCK-88123 to alex@example.com with "
        "sam@example.com in cc. Your order ORD-2024-001234 shows as delivered on 2 November; "
        "the support team will reply within 24 hours about an exception for the faulty space "
        "bar. Is there anything else I can help with?"
    )
    response = ModelResponse(
        output=[
            assistant_message(text, item_id="msg_5"),
            function_call("lookup_order", {"order_id": "ORD-2024-001234"}, call_id="call_9"),
        ],
        usage=Usage(requests=1, input_tokens=850, output_tokens=120, total_tokens=970),
        response_id="resp_5",
    )
    return encode(entry_from_response(response, "0" * 64, 1.2, None))


def keys(namespace: str, n: int, seed: str) -> list[CacheKey]:
    return [
        CacheKey(namespace, hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()) for i in range(n)
    ]


def value_for(template: bytes, key: CacheKey) -> bytes:
    return template.replace(b"0" * 64, key.digest.encode(), 1)


async def fill(store: FileStore, entries: Sequence[CacheKey], template: bytes) -> float:
    """Write every entry through ``set``, 64 at a time; the seconds it took."""
    started = time.perf_counter()
    for start in range(0, len(entries), 64):
        batch = entries[start : start + 64]
        await asyncio.gather(*(store.set(k, value_for(template, k)) for k in batch))
        if start % 10_000 == 0 and start:
            progress(f"  ... {start:,} of {len(entries):,}")
    return time.perf_counter() - started


def busiest_folder(root: Path) -> tuple[int, int]:
    """(the most files in one folder, the number of folders) under ``root``."""
    most, folders = 0, 0
    for _, _, files in os.walk(root):
        folders += 1
        most = max(most, len(files))
    return most, folders


async def timed_gets(
    stores: dict[str, tuple[FileStore, list[CacheKey]]], rounds: int
) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {name: [] for name in stores}
    rng = random.Random(7)
    order = list(stores.items())
    clock = time.perf_counter_ns
    for r in range(rounds):
        for j in range(len(order)):
            name, (store, entries) = order[(r + j) % len(order)]
            key = rng.choice(entries)
            t0 = clock()
            value = await store.get(key)
            samples[name].append(clock() - t0)
            if value is None or key.digest.encode() not in value:
                raise SetupError(f"{name}: the entry for {key} was not there")
    return samples


async def phase_scale(base: Path, n: int, layout: Layout, rounds: int) -> dict[str, Any]:
    template = sample_entry()
    small_store = FileStore(base / "small", layout=layout)
    large_store = FileStore(base / "large", layout=layout)
    small_keys, large_keys = keys("bench", SMALL, "small"), keys("bench", n, "large")
    progress(f"[1/2] filling a store with {SMALL:,} entries and one with {n:,} ({layout} layout)")
    await fill(small_store, small_keys, template)
    fill_s = await fill(large_store, large_keys, template)
    most, folders = busiest_folder(base / "large")
    progress(f"[1/2] hits: {rounds} interleaved rounds of a random key from each store")
    stores = {"small": (small_store, small_keys), "large": (large_store, large_keys)}
    await timed_gets(stores, min(200, rounds))  # warm-up
    samples = await timed_gets(stores, rounds)
    result: dict[str, Any] = {"entries": n, "layout": layout, "fill_s": fill_s}
    for name, values in samples.items():
        values.sort()
        result[f"{name}_p50_us"] = percentile(values, 0.5) / 1e3
        result[f"{name}_p99_us"] = percentile(values, 0.99) / 1e3
    progress("[1/2] size() and clear() of both stores")
    for name, store, count in (("small", small_store, SMALL), ("large", large_store, n)):
        started = time.perf_counter()
        size = await store.size()
        result[f"{name}_size_s"] = time.perf_counter() - started
        started = time.perf_counter()
        cleared = await store.clear()
        result[f"{name}_clear_s"] = time.perf_counter() - started
        if size != count or cleared != count:
            raise SetupError(f"{name}: size() {size}, clear() {cleared}, expected {count}")
    result["most_files_in_a_folder"], result["folders"] = most, folders
    return result


def report_scale(r: dict[str, Any]) -> None:
    n = r["entries"]
    print(f"\n1. File store at scale ({r['layout']} layout), FileStore.get of a random key")
    print(f"  filled {n:,} entries in {r['fill_s']:.1f} s ({n / r['fill_s']:,.0f} writes/s)")
    for name, count in (("small", SMALL), ("large", n)):
        print(
            f"  {count:>9,} entries   get p50 {r[f'{name}_p50_us']:8.1f} us"
            f"   p99 {r[f'{name}_p99_us']:8.1f} us"
            f"   size() {r[f'{name}_size_s']:7.3f} s   clear() {r[f'{name}_clear_s']:7.3f} s"
        )
    p50 = r["large_p50_us"] / r["small_p50_us"]
    p99 = r["large_p99_us"] / r["small_p99_us"]
    verdict = "PASS" if p50 <= FLAT_LIMIT else "MISS"
    print(f"  ratio {n:,} / {SMALL:,} entries   p50 {p50:.3f} x   p99 {p99:.3f} x   {verdict}")
    per_entry = r["large_size_s"] / n * 1e6, r["large_clear_s"] / n * 1e6
    print(f"  size() {per_entry[0]:.1f} us and clear() {per_entry[1]:.1f} us per entry")
    print(f"  most files in one folder: {r['most_files_in_a_folder']:,} ({r['folders']:,} folders)")


# --------------------------------------------------------------------------------------------
# Phase 2: the miss path


class SlowModel(Model):
    """Answers after ``seconds``, with a new answer every time (as a real model does)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.model = "slow-model"

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        await asyncio.sleep(self.seconds)
        uid = uuid.uuid4().hex
        return ModelResponse(
            output=[assistant_message(f"Answer {uid}: " + "lorem ipsum " * 40, item_id=uid)],
            usage=Usage(requests=1, input_tokens=120, output_tokens=80, total_tokens=200),
            response_id=f"resp_{uid}",
        )

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


@contextlib.contextmanager
def redis_url(enabled: bool) -> Iterator[str | None]:
    if not enabled:
        yield None
        return
    try:
        from bench_redis import redis_server_module

        server = redis_server_module().RedisServer(modules=False).start()
    except Exception as exc:  # no Redis here: the other stores are still measured
        progress(f"[2/2] Redis not measured: {exc!r}")
        yield None
        return
    try:
        yield server.url
    finally:
        server.close()


async def phase_miss(base: Path, rounds: int, redis: str | None) -> dict[str, Any]:
    model = SlowModel(MODEL_SECONDS)
    models: dict[str, Model] = {
        "model alone": model,
        "memory store": CachedModel(model),
        "file store": CachedModel(model, store=FileStore(base / "misses")),
    }
    if redis is not None:
        prefix = f"bench-miss-{uuid.uuid4().hex[:6]}"
        models["Redis store"] = CachedModel(model, store=f"{redis}?prefix={prefix}")
    agent = Agent(name="bench", instructions="Answer briefly.")
    questions = iter(f"question {uuid.uuid4().hex}" for _ in range(10**9))

    def unary(m: Model) -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            items: Any = [{"role": "user", "content": next(questions)}]
            args = ("Answer briefly.", items, SETTINGS, [], None, [], ModelTracing.DISABLED)
            return await m.get_response(*args)

        return call

    def run(m: Model) -> Callable[[], Awaitable[object]]:
        return lambda: Runner.run(agent, next(questions), run_config=RunConfig(model=m))

    results: dict[str, Any] = {}
    for level, make in (("get_response", unary), ("Runner.run, 1 turn", run)):
        progress(f"[2/2] misses through {level}: {rounds} interleaved rounds of ~100 ms")
        calls = {name: make(m) for name, m in models.items()}
        samples: dict[str, list[int]] = {name: [] for name in models}
        order = list(calls.items())
        clock = time.perf_counter_ns
        for r in range(rounds + 2):
            for j in range(len(order)):
                name, call = order[(r + j) % len(order)]
                t0 = clock()
                await call()
                took = clock() - t0
                if r >= 2:  # two warm-up rounds
                    samples[name].append(took)
        results[level] = {name: sorted(values) for name, values in samples.items()}
    for name, m in models.items():
        if isinstance(m, CachedModel):
            await m.flush()
            stats = m.stats()
            if stats.hits or stats.stores != stats.misses:
                raise SetupError(f"{name}: {stats.hits} hits, {stats.stores} of {stats.misses}")
            await m.close()
    return results


def report_miss(results: dict[str, Any]) -> list[tuple[str, float, float]]:
    print(f"\n2. The miss path: a model that answers in {MODEL_SECONDS * 1e3:.0f} ms, a new "
          "question every call")  # fmt: skip
    verdicts = []
    for level, samples in results.items():
        base = samples["model alone"]
        b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
        print(f"  {level}")
        for name, values in samples.items():
            p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
            line = f"    {name:<14} p50 {p50 / 1e6:8.2f} ms   p99 {p99 / 1e6:8.2f} ms"
            if name != "model alone":
                line += (
                    f"   added p50 {(p50 - b50) / 1e3:+8.1f} us ({(p50 / b50 - 1) * 100:+.2f}%)"
                    f"   p99 {(p99 - b99) / 1e3:+8.1f} us ({(p99 / b99 - 1) * 100:+.2f}%)"
                )
                verdicts.append((f"{level}, {name}", p50 / b50, p99 / b99))
            print(line)
    return verdicts


# --------------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace, base: Path) -> int:
    set_tracing_disabled(True)
    rounds = 400 if args.quick else 3000
    scale = await phase_scale(base, args.entries, args.layout, rounds)
    report_scale(scale)
    verdicts: list[tuple[str, float, float]] = []
    if not args.no_miss:
        miss_rounds = 12 if args.quick else 150
        with redis_url(not args.no_redis) as url:
            miss = await phase_miss(base, miss_rounds, url)
        verdicts = report_miss(miss)
    print("\n3. Summary")
    p50 = scale["large_p50_us"] / scale["small_p50_us"]
    flat = "PASS" if p50 <= FLAT_LIMIT else "MISS"
    what = f"hit p50 at {args.entries:,} / {SMALL:,} entries"
    print(f"  {what:<41} {p50:.3f} x   <= {FLAT_LIMIT} x  {flat}")
    for name, r50, r99 in verdicts:
        ok = "PASS" if max(r50, r99) <= MISS_GOAL else "MISS"
        print(f"  miss {name:<36} p50 {r50:.4f} x  p99 {r99:.4f} x   <= {MISS_GOAL} x  {ok}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 entries (CI smoke run)")
    parser.add_argument("--entries", type=int, help="entries in the large store (100,000)")
    parser.add_argument("--layout", default="auto", choices=["auto", "flat", "fanout"])
    parser.add_argument("--dir", help="where to make the stores (default: a temporary folder)")
    parser.add_argument("--no-miss", action="store_true", help="skip the miss path")
    parser.add_argument("--no-redis", action="store_true", help="the miss path without Redis")
    args = parser.parse_args(argv)
    if args.entries is None:
        args.entries = 2_000 if args.quick else 100_000
    base = Path(tempfile.mkdtemp(prefix="bench-file-scale-", dir=args.dir))
    try:
        return asyncio.run(main_async(args, base))
    except SetupError as exc:
        print(f"benchmark setup is broken, numbers would be meaningless: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
