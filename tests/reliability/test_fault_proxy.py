"""The fault proxy (``scripts/fault_proxy.py``) itself, through a real Redis: the faults the
soak and fault scripts inject must be the faults they claim. Timing assertions are only lower
bounds a delay guarantees, or orders of magnitude."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout

from tests.support import load_script

SCRIPT = Path(__file__).parents[2] / "scripts" / "fault_proxy.py"


def _module() -> ModuleType:
    return load_script("fault_proxy")


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[Any]:
    target = urlsplit(redis_url)
    async with _module().FaultProxy(target.hostname or "127.0.0.1", target.port or 6379) as p:
        yield p


def client(port: int, **options: Any) -> Redis:
    """No retry: a fault must reach the test, not be papered over by a reconnect."""
    return Redis(port=port, retry=None, **{"socket_timeout": 5.0, **options})


async def test_forwards_and_adds_latency_per_direction(proxy: Any) -> None:
    c = client(proxy.port)
    key = f"proxy-test:{uuid.uuid4().hex}"
    assert await c.set(key, b"v")
    proxy.set_latency(0.2, "down")
    started = time.perf_counter()
    assert await c.get(key) == b"v"
    one_way = time.perf_counter() - started
    proxy.set_latency(0.2)  # both directions
    started = time.perf_counter()
    assert await c.get(key) == b"v"
    both = time.perf_counter() - started
    proxy.clear()
    started = time.perf_counter()
    assert await c.get(key) == b"v"
    cleared = time.perf_counter() - started
    assert 0.2 <= one_way < 5 and 0.4 <= both < 5 and cleared < 0.2
    await c.delete(key)
    await c.aclose()


async def test_drop_resets_open_connections_and_new_ones_work(proxy: Any) -> None:
    c = client(proxy.port)
    assert await c.ping()
    assert proxy.status().active == 1
    assert proxy.drop() == 1
    with pytest.raises(RedisConnectionError):
        await c.ping()
    fresh = client(proxy.port)
    assert await fresh.ping()
    assert proxy.status().dropped == 1
    for r in (c, fresh):
        await r.aclose()


async def test_blackhole_times_out_and_holds_bytes_until_lifted(proxy: Any, redis_url: str) -> None:
    key = f"proxy-test:{uuid.uuid4().hex}"
    direct = Redis.from_url(redis_url)
    c = client(proxy.port, socket_timeout=0.3)
    assert await c.ping()  # connected before the server "hangs"
    proxy.blackhole(True)
    with pytest.raises(RedisTimeout):
        await c.set(key, b"late")
    new = client(proxy.port, socket_timeout=0.3, socket_connect_timeout=0.3)
    with pytest.raises(RedisTimeout):  # accepted by the kernel, never answered
        await new.ping()
    assert await direct.get(key) is None  # held, not yet delivered
    proxy.blackhole(False)
    for _ in range(100):  # the held SET reaches the server once the hang ends
        if await direct.get(key) == b"late":
            break
        await asyncio.sleep(0.02)
    assert await direct.get(key) == b"late"
    await direct.delete(key)
    for r in (c, new, direct):
        await r.aclose()


async def test_refuse_closes_the_listener_then_listens_again(proxy: Any) -> None:
    port = proxy.port
    await proxy.refuse(True)
    c = client(port, socket_connect_timeout=1.0)
    with pytest.raises(RedisConnectionError, match=r"111|refused"):
        await c.ping()
    await proxy.refuse(False)
    assert proxy.port == port and await c.ping()
    await c.aclose()


def test_command_line(redis_url: str) -> None:
    target = urlsplit(redis_url)
    commands = "latency 0.1 up\nblackhole on\nbogus\nrefuse on\nclear\nstatus\nquit\n"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--target", f"{target.hostname}:{target.port}"],
        input=commands, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0].startswith("listening 127.0.0.1:")
    assert [line.split()[0] for line in lines[1:]] == ["ok", "ok", "error", "ok", "ok", "ok"]
    assert '"latency_up": 0.1' in lines[1] and '"blackhole": true' in lines[2]
    assert '"refuse": false' in lines[5] and '"blackhole": false' in lines[5]
