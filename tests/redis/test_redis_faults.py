"""Fail open against real faults: a killed and restarted server, a paused server, a loading
server.

Each test runs its own ``redis-server`` process (the session's shared one is never killed).
No assertion is about wall-clock time: "bounded" is shown by a run that finishes while the
server is still paused, and by the errors it counted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner
from agents.testing import assistant_message
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout

from agentcache import CachedModel, CircuitBreaker
from tests.support import TurnModel, weather_agent

PROMPT = "What's the weather in Paris in Fahrenheit?"
ANSWER = "Sunny, 69.8F in Paris"
FAST_PROBES = CircuitBreaker(max_probe=0.3)  # probes at most 0.3 s apart: quick to recover


@pytest.fixture
def server(redis_server_module: ModuleType) -> Iterator[Any]:
    with redis_server_module.RedisServer(modules=False) as s:
        yield s


async def run(model: CachedModel) -> Any:
    return await Runner.run(weather_agent(), PROMPT, run_config=RunConfig(model=model))


async def test_server_killed_during_200_runs_then_restarted(server: Any) -> None:
    inner = TurnModel()
    # A refused connection fails at once; the budget only matters on a busy test machine.
    cached = CachedModel(
        inner, store=server.url, store_timeout=0.5, namespace="faults", circuit=FAST_PROBES
    )
    await run(cached)
    await cached.flush()
    results: list[Any] = []
    phases: dict[str, tuple[int, int]] = {}

    async def batch() -> None:
        tasks = [run(cached) for _ in range(10)]
        results.extend(await asyncio.gather(*tasks, return_exceptions=True))
        await cached.flush()

    for i in range(20):  # 200 runs, 10 at a time
        if i == 5:
            server.stop()  # SIGKILL: the cache and its connections are gone
            phases["killed"] = (len(inner.calls), cached.stats().hits)
        if i == 12:
            await asyncio.to_thread(server.start)  # same port, empty
            await asyncio.sleep(0.4)  # past the breaker's next probe
            phases["restarted"] = (len(inner.calls), cached.stats().hits)
        await batch()

    assert len(results) == 200
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert all(r.final_output == ANSWER for r in results)
    stats = cached.stats()
    assert phases["killed"][0] == 3  # before the kill: every run was answered from Redis
    assert stats.errors.get("store_error", 0) + stats.errors.get("store_timeout", 0) > 0
    assert stats.errors.get("store_circuit_open", 0) > 0  # the breaker opened
    calls_restarted, hits_restarted = phases["restarted"]
    assert calls_restarted > 3  # the outage was answered by the model
    # After the restart the empty cache fills again and the last runs are all hits.
    last_calls = len(inner.calls)
    await batch()
    assert len(inner.calls) == last_calls, cached.stats()
    assert cached.stats().hits - hits_restarted > 10 * 3
    assert await cached.store.size("faults") == 3
    await cached.close()


async def test_paused_server_costs_each_call_its_budget_not_a_hang(server: Any) -> None:
    inner = TurnModel()
    namespace = f"paused-{uuid.uuid4().hex[:8]}"
    cached = CachedModel(inner, store=server.url, store_timeout=0.1, namespace=namespace)
    await run(cached)
    await cached.flush()
    admin = Redis.from_url(server.url)
    probe = Redis.from_url(server.url, socket_timeout=0.2, retry=None)
    # Every client is paused, this one too (even CLIENT UNPAUSE waits), so let it run out.
    await admin.execute_command("CLIENT", "PAUSE", 2500, "ALL")
    result = await run(cached)
    # The run is over, and Redis is still paused: no call waited for it.
    with pytest.raises(RedisTimeout):
        await probe.get("anything")
    assert result.final_output == ANSWER
    stats = cached.stats()
    assert stats.errors.get("store_timeout", 0) >= 1
    assert len(inner.calls) == 6 and stats.hits == 0  # every turn of the paused run: a miss
    for c in (admin, probe):
        await c.aclose()
    await cached.close()


async def test_loading_server_is_a_miss_then_its_data_is_served(redis_server_module: Any) -> None:
    """A restarted server answers ``-LOADING`` while it reads its dump: misses, no failure."""
    # 100 us per key while loading, and answer clients (LOADING) every KiB of the dump.
    debug = ["--enable-debug-command", "yes", "--key-load-delay", "100",
             "--loading-process-events-interval-bytes", "1024"]  # fmt: skip
    with redis_server_module.RedisServer(modules=False, extra_args=debug) as server:
        inner = TurnModel()
        cached = CachedModel(inner, store=server.url, namespace="loading", circuit=FAST_PROBES)
        await run(cached)
        await cached.flush()
        admin = Redis.from_url(server.url)
        await admin.execute_command("DEBUG", "POPULATE", 30_000, "filler", 10)
        await admin.save()
        await admin.aclose()
        server.stop()
        server.start(wait=False)  # about 3 s of loading 30 000 keys
        loading = Redis.from_url(server.url)
        while True:  # until the server is up and loading (it refuses connections before)
            try:
                await loading.get("probe")
            except BusyLoadingError:
                break
            except RedisConnectionError:
                await asyncio.sleep(0.01)
                continue
            pytest.fail("the server finished loading before the test could see it loading")
        result = await run(cached)
        assert result.final_output == ANSWER and len(inner.calls) == 6
        with pytest.raises(BusyLoadingError):  # the run did not wait for the load to end
            await loading.get("probe")
        assert cached.stats().errors.get("store_error", 0) >= 1
        while not redis_server_module.ping(server.port):  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.4)  # past the breaker's next probe, if it opened
        before = len(inner.calls)
        await run(cached)
        assert len(inner.calls) == before  # the entries came back from the dump
        await loading.aclose()
        await cached.close()


def one_turn_agent() -> Agent[Any]:
    return Agent(name="plain", instructions="Answer briefly.")


def one_turn_model() -> TurnModel:
    return TurnModel([lambda ids: [assistant_message(ANSWER, item_id=f"msg_{ids}")]])


async def test_a_paused_redis_costs_a_call_one_timeout_not_one_per_step(server: Any) -> None:
    """The lookup times out; the cross-process lock that would follow is not even tried (a
    store call of this model call failed), so a hung Redis adds one ``store_timeout`` to a
    call."""
    cached = CachedModel(one_turn_model(), store=server.url, namespace="paused")
    admin = Redis.from_url(server.url)
    await admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")
    result = await Runner.run(one_turn_agent(), "Hello", run_config=RunConfig(model=cached))
    assert result.final_output == ANSWER
    errors = cached.stats().errors
    assert errors.get("store_skipped") == 1  # the lock, skipped
    assert errors.get("store_timeout") == 2  # the lookup, and the write (on its own)
    await admin.aclose()
    await cached.close()


class SlowsTheServer(TurnModel):
    """Answers at once, but first makes Redis sleep for 0.15 s (``DEBUG SLEEP``), so the entry
    write that follows the answer lands well after the Runner has its final output."""

    def __init__(self, admin: Redis) -> None:
        super().__init__([lambda ids: [assistant_message(ANSWER, item_id=f"msg_{ids}")]])
        self.admin = admin
        self.sleeps: list[asyncio.Task[Any]] = []

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        self.sleeps.append(
            asyncio.ensure_future(self.admin.execute_command("DEBUG", "SLEEP", 0.15))
        )
        await asyncio.sleep(0)  # the command is on its way before the answer is
        return await super().get_response(*args, **kwargs)


async def test_what_a_run_stored_is_in_redis_when_runner_run_returns(
    redis_server_module: Any,
) -> None:
    with redis_server_module.RedisServer(
        modules=False, extra_args=["--enable-debug-command", "yes"]
    ) as server:
        admin = Redis.from_url(server.url)
        await admin.ping()
        inner = SlowsTheServer(admin)
        cached = CachedModel(inner, store=server.url, namespace="landed", store_timeout=1.0)
        await Runner.run(one_turn_agent(), "Hello", run_config=RunConfig(model=cached))
        # no flush(): the Runner's end-of-run hook waited for the write
        assert cached.stats().stores == 1
        # The entry; the flight lock's release is not waited for (it may still be there).
        names = [k async for k in admin.scan_iter("agentcache:landed:*")]
        assert len([k for k in names if not k.endswith(b":lock")]) == 1
        await asyncio.gather(*inner.sleeps)
        await admin.aclose()
        await cached.close()


async def test_a_restarted_server_costs_no_error_the_dead_connections_are_retried(
    server: Any,
) -> None:
    """Pooled connections die with the server; the client retries each once on a new one, so
    the first calls after a restart are answered by Redis, not counted as store errors."""
    cached = CachedModel(one_turn_model(), store=server.url, namespace="restarted")
    agent = one_turn_agent()
    await asyncio.gather(
        *(Runner.run(agent, f"q{i}", run_config=RunConfig(model=cached)) for i in range(10))
    )  # ten pooled connections
    # The flight locks' releases are not waited for by the runs; done before the restart, so
    # they are not calls into a server that is down (which count as errors, rightly).
    await cached.flush()
    server.stop()
    await asyncio.to_thread(server.start)
    results = await asyncio.gather(
        *(Runner.run(agent, f"q{i}", run_config=RunConfig(model=cached)) for i in range(10))
    )
    assert all(r.final_output == ANSWER for r in results)
    assert cached.stats().errors == {}
    await cached.close()
