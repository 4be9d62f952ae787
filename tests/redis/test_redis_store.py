"""RedisStore against the session's real Redis: key layout, TTL, compression, size cap,
garbage, URLs (ACL login, TLS, cluster), and the plugin wiring."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agentcache_redis import RedisFlightStage, RedisStore, from_url
from redis.asyncio import Redis, RedisCluster, SSLConnection

from agentcache import BadValue, CachedModel, CacheKey, Plugins, SignedStore
from tests.support import TurnModel

ROOT = Path(__file__).parents[2]


def key(name: str, namespace: str = "ns") -> CacheKey:
    return CacheKey(namespace, hashlib.sha256(name.encode()).hexdigest())


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    c = Redis.from_url(redis_url)
    yield c
    await c.aclose()


@pytest.fixture
async def store(client: Redis) -> AsyncIterator[RedisStore]:
    s = RedisStore(client, prefix=f"t-{uuid.uuid4().hex[:10]}", compress_min_bytes=100)
    yield s
    await s.clear()
    await s.close()


async def test_key_names_carry_namespace_and_digest_only(store: RedisStore, client: Redis) -> None:
    k = key("What is my secret prompt?", namespace="tenant:a{b}*")
    await store.set(k, b"v")
    names = [n.decode() async for n in client.scan_iter(match=f"{store.prefix}:*")]
    assert names == [f"{store.prefix}:tenant%3Aa%7Bb%7D%2A:{{{k.digest}}}"]
    assert store.lock_name(k) == names[0] + ":lock"  # same hash tag: same cluster slot
    assert "secret" not in names[0]


async def test_ttl_is_absolute_px_and_none_means_persistent(
    store: RedisStore, client: Redis
) -> None:
    await store.set(key("a"), b"v", ttl=30)
    await store.set(key("b"), b"v", ttl=None)
    assert 29_000 < await client.pttl(store.key_name(key("a"))) <= 30_000
    assert await client.pttl(store.key_name(key("b"))) == -1
    await store.get(key("a"))  # reading does not extend it: absolute, not sliding
    assert await client.pttl(store.key_name(key("a"))) <= 30_000


async def test_values_above_threshold_are_compressed_with_a_header(
    store: RedisStore, client: Redis
) -> None:
    small, big = b"x" * 50, b'{"text": "' + b"abc" * 1000 + b'"}'
    await store.set(key("small"), small)
    await store.set(key("big"), big)
    assert await client.get(store.key_name(key("small"))) == b"\x00" + small
    stored = await client.get(store.key_name(key("big")))
    assert stored[:1] == b"\x01" and len(stored) < len(big) / 10
    assert zlib.decompress(stored[1:]) == big
    assert await store.get(key("big")) == big


async def test_value_over_max_size_is_not_stored_and_drops_the_old_one(client: Redis) -> None:
    store = RedisStore(client, prefix=f"t-{uuid.uuid4().hex[:10]}", max_value_bytes=1000)
    await store.set(key("k"), b"small")
    await store.set(key("k"), bytes(range(256)) * 8)  # incompressible, 2 KiB
    assert await store.get(key("k")) is None
    assert await store.size() == 0


@pytest.mark.parametrize(
    "garbage", [b"garbage", b"\x01not zlib", b"\x02" + b"x" * 10, b""], ids=str
)
async def test_garbage_is_a_bad_value_and_is_removed(
    store: RedisStore, client: Redis, garbage: bytes
) -> None:
    await client.set(store.key_name(key("k")), garbage)
    with pytest.raises(BadValue) as info:
        await store.get(key("k"))
    assert info.value.kind == "corrupt_value"
    assert await client.exists(store.key_name(key("k"))) == 0


async def test_zlib_bomb_is_bounded_by_max_value_bytes(client: Redis) -> None:
    store = RedisStore(client, prefix=f"t-{uuid.uuid4().hex[:10]}", max_value_bytes=10_000)
    await client.set(store.key_name(key("k")), b"\x01" + zlib.compress(b"\x00" * 10_000_000))
    with pytest.raises(BadValue):
        await store.get(key("k"))


async def test_clear_batches_and_counts_and_spares_locks(client: Redis) -> None:
    store = RedisStore(client, prefix=f"t-{uuid.uuid4().hex[:10]}", scan_count=50)
    for i in range(230):
        await store.set(key(str(i), "a" if i % 2 else "b"), b"v")
    assert await store.try_lock(key("1", "a"), "token", 5)
    assert (await store.size("a"), await store.size("b"), await store.size()) == (115, 115, 230)
    assert await store.clear("a") == 115
    assert await store.size() == 115
    assert await client.exists(store.lock_name(key("1", "a"))) == 1  # locks are not entries
    assert await store.clear() == 115
    assert not await store.unlock(key("1", "a"), "someone else's token")
    assert await store.unlock(key("1", "a"), "token")


async def test_lock_unless_stored_takes_no_lock_when_the_entry_is_there(
    store: RedisStore, client: Redis
) -> None:
    from agentcache_redis.store import HELD, LOCKED, STORED

    k = key("q")
    assert await store.lock_unless_stored(k, "mine", 5) == LOCKED
    assert 0 < await client.pttl(store.lock_name(k)) <= 5000
    assert await store.lock_unless_stored(k, "theirs", 5) == HELD
    await store.set(k, b"answer")
    assert await store.unlock(k, "mine")
    assert await store.lock_unless_stored(k, "later", 5) == STORED
    assert await client.exists(store.lock_name(k)) == 0  # the entry's readers take no lock


async def test_the_lock_scripts_run_on_the_stores_connections_and_survive_a_script_flush(
    store: RedisStore, client: Redis
) -> None:
    """A miss's lock and unlock go through the store's own connections, like its GET; a
    server that forgot the scripts (restarted, ``SCRIPT FLUSH``) is sent them again."""
    from agentcache_redis.store import LOCKED

    assert store._hot is not None
    before = await client.info("stats")
    await client.script_flush()
    k = key("flushed")
    assert await store.lock_unless_stored(k, "mine", 5) == LOCKED  # NOSCRIPT, then EVAL
    assert await store.unlock(k, "mine")
    assert await store.lock_unless_stored(k, "again", 5) == LOCKED
    assert await store.unlock(k, "again")
    assert store._hot._count == 1  # one connection did it all: NOSCRIPT did not drop it
    after = await client.info("stats")
    assert after["total_connections_received"] - before["total_connections_received"] == 1


async def test_a_client_passed_in_is_not_closed(client: Redis) -> None:
    store = RedisStore(client, prefix=f"t-{uuid.uuid4().hex[:10]}")
    await store.close()
    assert await client.ping()


async def test_a_decoding_client_is_refused(redis_url: str) -> None:
    c = Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses"):
        RedisStore(c)
    await c.aclose()


async def test_url_with_acl_user_and_password(redis_url: str, client: Redis) -> None:
    user, password = f"u{uuid.uuid4().hex[:8]}", "p@ss:w/rd"
    await client.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "+@all")
    try:
        host = redis_url.split("://", 1)[1]
        url = f"redis://{user}:p%40ss%3Aw%2Frd@{host}?prefix=acl-{user}"
        store = from_url(url)
        await store.set(key("k"), b"v")
        assert await store.get(key("k")) == b"v"
        assert isinstance(store, RedisStore)
        whoami = await store.client.acl_whoami()
        assert (whoami.decode() if isinstance(whoami, bytes) else whoami) == user
        await store.clear()
        await store.close()
        bad = from_url(f"redis://{user}:wrong@{host}")
        with pytest.raises(Exception, match=r"(?i)invalid|WRONGPASS|auth"):
            await bad.get(key("k"))
        await bad.close()
    finally:
        await client.execute_command("ACL", "DELUSER", user)


def test_url_forms() -> None:
    tls = from_url("rediss://:pw@example.invalid:6380/2?prefix=p&ssl_cert_reqs=none")
    assert isinstance(tls, RedisStore) and tls.prefix == "p" and not tls.cluster
    pool = tls.client.connection_pool
    assert pool.connection_class is SSLConnection
    assert pool.connection_kwargs["db"] == 2 and pool.connection_kwargs["password"] == "pw"
    assert pool.connection_kwargs["socket_timeout"] == 1.0
    cluster = from_url("redis+cluster://example.invalid:7000?compress_min_bytes=10")
    assert isinstance(cluster, RedisStore) and cluster.cluster
    assert isinstance(cluster.client, RedisCluster)
    with pytest.raises(ValueError, match="compress_min_bytes"):
        from_url("redis://localhost?compress_min_bytes=lots")
    with pytest.raises(ValueError, match="NO_SUCH_VARIABLE"):
        from_url("redis://localhost?signing_key_env=NO_SUCH_VARIABLE")


def test_signing_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTCACHE_TEST_SECRET", "s" * 32)
    store = from_url("redis://localhost/0?signing_key_env=AGENTCACHE_TEST_SECRET")
    assert isinstance(store, SignedStore) and isinstance(store.inner, RedisStore)


async def test_plugin_registers_schemes_and_the_flight_stage(redis_url: str) -> None:
    plugins = Plugins()
    status = {s.name: s for s in plugins.report}
    assert status["redis"].loaded, status["redis"]
    assert {"redis", "rediss", "redis+cluster", "rediss+cluster"} <= set(plugins.store_schemes())
    cached = CachedModel(TurnModel(), store=redis_url, plugins=plugins)
    assert any(isinstance(s, RedisFlightStage) for s in cached.stages)
    plain = CachedModel(TurnModel(), store=redis_url, options={"redis_flight": False})
    assert not any(isinstance(s, RedisFlightStage) for s in plain.stages)
    memory = CachedModel(TurnModel())
    assert not any(isinstance(s, RedisFlightStage) for s in memory.stages)
    for model in (cached, plain):
        await model.close()


async def test_server_has_the_search_module(client: Redis) -> None:
    """The semantic layer needs RediSearch on the default test server."""
    assert await client.execute_command("FT._LIST") is not None
    modules = {m[b"name"].decode().lower() for m in await client.module_list()}
    assert {"search", "rejson"} <= modules or {"search", "ReJSON".lower()} <= modules


def test_without_redis_installed_the_plugin_reports_the_extra(tmp_path: Path) -> None:
    """``import agentcache`` works without redis; the plugin is reported with the install hint."""
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'redis'\", name='redis')\n"
    )
    script = (
        "import agentcache, json, sys\n"
        "status = {s.name: s for s in agentcache.Plugins().report}['redis']\n"
        "print(json.dumps([status.loaded, status.hint, 'agentcache_redis' in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    loaded, hint, imported = json.loads(out.stdout)
    assert (loaded, hint) == (False, "pip install 'agentcache-middleware[redis]'")
    assert not imported


async def test_stores_with_nested_prefixes_do_not_count_each_other(client: Redis) -> None:
    base = f"t-{uuid.uuid4().hex[:10]}"
    outer, inner = RedisStore(client, prefix=base), RedisStore(client, prefix=f"{base}:v2")
    await outer.set(key("a"), b"v")
    await inner.set(key("b"), b"v")
    await inner.set(key("c", "x"), b"v")
    assert (await outer.size(), await inner.size()) == (1, 2)
    assert await outer.clear() == 1
    assert await inner.size() == 2 and await inner.clear() == 2


async def test_lookups_on_the_stores_own_connections_survive_killed_connections(
    store: RedisStore, client: Redis
) -> None:
    await store.set(key("a"), b"alpha")
    assert await store.get(key("a")) == b"alpha"  # opens one of the store's connections
    killed = await client.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1  # the store's own connection among them
    assert await store.get(key("a")) == b"alpha"  # tried again through the client
    assert await store.get(key("a")) == b"alpha"


async def test_an_interrupted_lookup_never_hands_its_reply_to_the_next(store: RedisStore) -> None:
    """A lookup cancelled between sending GET and reading the reply (a store timeout does
    that) leaves the reply on its connection; the next lookup must not read it."""
    await store.set(key("a"), b"alpha")
    await store.set(key("b"), b"beta")
    for _ in range(50):
        task = asyncio.create_task(store.get(key("a")))
        await asyncio.sleep(0)  # sent, not read
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert await store.get(key("b")) == b"beta"


async def test_many_concurrent_lookups_each_get_their_own_value(store: RedisStore) -> None:
    names = [f"k{i}" for i in range(60)]  # more than the store keeps, fewer than the pool's 100
    for name in names:
        await store.set(key(name), name.encode())
    got = await asyncio.gather(*(store.get(key(name)) for name in names))
    assert got == [name.encode() for name in names]


def test_a_store_serves_lookups_in_one_event_loop_after_another(redis_url: str) -> None:
    store = from_url(f"{redis_url}?prefix=t-{uuid.uuid4().hex[:10]}")

    async def round_trip(value: bytes) -> bytes | None:
        await store.set(key("a"), value)
        return await store.get(key("a"))

    assert asyncio.run(round_trip(b"one")) == b"one"
    assert asyncio.run(round_trip(b"two")) == b"two"  # the first loop's sockets are dropped
    asyncio.run(store.clear())
