"""Redis at scale: a hit among 1,000,000 entries against a hit among 1,000, and memory per entry.

    .venv/bin/python benchmarks/bench_redis_scale.py                   # 1,000,000 entries
    .venv/bin/python benchmarks/bench_redis_scale.py --quick           # 20,000 (CI smoke run)
    .venv/bin/python benchmarks/bench_redis_scale.py --entries 200000

Two Redis servers (``scripts/redis_server.py``, no modules), one filled with 1,000 entries and
one with ``--entries``, each an encoded cache entry of about 900 bytes like ``bench_core``'s
(stored as ``RedisStore`` stores it: its key layout, a one-byte header), written by pipelined
``SET`` s. Then, interleaved round by round against both servers:

* ``RedisStore.get`` of a random entry: the store's lookup, so the large server is read all
  over its keyspace, not one hot key.
* ``CachedModel.get_response`` exact hit of one call (20 input items, no tools) whose entry is
  in both servers: the whole hit path.

Reported: p50 and p99 at both sizes and their ratios (goal: within 1.1x), the fill time, and the
memory each server gained per entry (``INFO memory`` used_memory) against the entry's bytes.
Exit code 1 only if the setup is broken (an entry was missing, a hit was not a hit).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from agents import ModelSettings, set_tracing_disabled
from agents.models.interface import ModelTracing
from agents.testing import assistant_message, function_call
from bench_core import InstantModel, SetupError, conversation_20, percentile, progress, response
from bench_file_scale import keys, sample_entry, value_for
from bench_redis import redis_server_module
from redis.asyncio import Redis

from agentcache import CachedModel
from agentcache.stores.base import CacheKey

SMALL = 1_000
GOAL = 1.1
NAMESPACE = "scale"


async def fill(client: Redis, store: Any, entries: Sequence[CacheKey], template: bytes) -> float:
    started = time.perf_counter()
    for start in range(0, len(entries), 5_000):
        pipe = client.pipeline(transaction=False)
        for key in entries[start : start + 5_000]:
            pipe.set(store.key_name(key), b"\x00" + value_for(template, key))
        await pipe.execute()
        if start and start % 100_000 == 0:
            progress(f"  ... {start:,} of {len(entries):,}")
    return time.perf_counter() - started


async def used_memory(client: Redis) -> int:
    return int((await client.info("memory"))["used_memory"])


async def run(n: int, rounds: int) -> dict[str, Any]:
    servers = {"small": redis_server_module().RedisServer(modules=False).start()}
    servers["large"] = redis_server_module().RedisServer(modules=False).start()
    try:
        return await measure({name: s.url for name, s in servers.items()}, n, rounds)
    finally:
        for server in servers.values():
            server.close()


async def measure(urls: dict[str, str], n: int, rounds: int) -> dict[str, Any]:
    template = sample_entry()
    answer = assistant_message("Your order was delivered on 2 November.", item_id="msg_1")
    inner = InstantModel(
        tool_turn=response(
            function_call("lookup_order", {"order_id": "X"}, call_id="c0"), response_id="r0"
        ),
        final_turn=response(answer, response_id="r1"),
    )
    args = ("You are a support agent.", conversation_20(), ModelSettings(temperature=0.2), [],
            None, [], ModelTracing.DISABLED)  # fmt: skip
    sizes = {"small": SMALL, "large": n}
    result: dict[str, Any] = {"entries": sizes, "entry_bytes": len(template) + 1}
    gets: dict[str, Callable[[], Awaitable[object]]] = {}
    hits: dict[str, Callable[[], Awaitable[object]]] = {}
    closers = []
    for name, url in urls.items():
        client = Redis.from_url(url)
        cached = CachedModel(inner, store=url, namespace=NAMESPACE)
        await cached.get_response(*args)  # the one call whose hit is timed
        await cached.flush()
        store: Any = cached.store
        entries = keys(NAMESPACE, sizes[name], name)
        before = await used_memory(client)
        progress(f"filling the {name} Redis with {sizes[name]:,} entries")
        result[f"{name}_fill_s"] = await fill(client, store, entries, template)
        result[f"{name}_bytes_per_entry"] = (await used_memory(client) - before) / len(entries)
        rng = random.Random(name)

        async def get(store: Any = store, entries: list[CacheKey] = entries,
                      rng: random.Random = rng) -> object:  # fmt: skip
            key = rng.choice(entries)
            value = await store.get(key)
            if value is None or key.digest.encode() not in value:
                raise SetupError(f"the entry for {key} was not there")
            return value

        async def hit(cached: CachedModel = cached) -> object:
            return await cached.get_response(*args)

        gets[name], hits[name] = get, hit
        closers += [client.aclose, cached.close]
    for label, variants in (("get", gets), ("hit", hits)):
        progress(f"timing {label}: {rounds} interleaved rounds")
        samples: dict[str, list[int]] = {name: [] for name in variants}
        order = list(variants.items())
        for r in range(rounds + rounds // 10):
            for j in range(len(order)):
                name, fn = order[(r + j) % len(order)]
                t0 = time.perf_counter_ns()
                await fn()
                if r >= rounds // 10:  # warm-up first
                    samples[name].append(time.perf_counter_ns() - t0)
        for name, values in samples.items():
            values.sort()
            result[f"{label}_{name}"] = {"p50_us": percentile(values, 0.5) / 1e3,
                                         "p99_us": percentile(values, 0.99) / 1e3}  # fmt: skip
    for close in closers:
        await close()
    return result


def report(r: dict[str, Any], mode: str) -> None:
    n = r["entries"]["large"]
    print(f"Redis at scale ({mode}): {n:,} entries against {SMALL:,}, interleaved")
    for label, what in (("get", "RedisStore.get, a random entry"),
                        ("hit", "CachedModel.get_response hit")):  # fmt: skip
        small, large = r[f"{label}_small"], r[f"{label}_large"]
        for size, s in ((f"{SMALL:,}", small), (f"{n:,}", large)):
            print(f"  {what:<34} {size:>10} entries  p50 {s['p50_us']:7.1f} us  "
                  f"p99 {s['p99_us']:7.1f} us")  # fmt: skip
        p50, p99 = large["p50_us"] / small["p50_us"], large["p99_us"] / small["p99_us"]
        verdict = "PASS" if max(p50, p99) <= GOAL else "MISS"
        print(f"    ratio large / small: p50 {p50:.3f}x  p99 {p99:.3f}x   goal <= {GOAL}x  "
              f"{verdict}")  # fmt: skip
    print(f"  fill: {n:,} entries in {r['large_fill_s']:.1f} s (pipelined SET)")
    per = r["large_bytes_per_entry"]
    print(f"  memory: {per:,.0f} bytes per entry at {n:,} entries "
          f"({per / r['entry_bytes']:.2f}x the {r['entry_bytes']} bytes stored), "
          f"{r['small_bytes_per_entry']:,.0f} at {SMALL:,}")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20,000 entries (CI smoke run)")
    parser.add_argument("--entries", type=int, help="entries in the large Redis (1,000,000)")
    parser.add_argument("--rounds", type=int, help="timed rounds per measure (5,000)")
    args = parser.parse_args(argv)
    set_tracing_disabled(True)
    n = args.entries or (20_000 if args.quick else 1_000_000)
    rounds = args.rounds or (1_000 if args.quick else 5_000)
    try:
        result = asyncio.run(run(n, rounds))
    except SetupError as exc:
        print(f"benchmark setup is broken, numbers would be meaningless: {exc}", file=sys.stderr)
        return 1
    report(result, "quick" if args.quick else "full")
    return 0


if __name__ == "__main__":
    sys.exit(main())
