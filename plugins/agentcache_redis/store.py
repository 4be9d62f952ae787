"""``RedisStore``: entries in Redis or Redis Cluster, through the async redis-py client only.

Key layout: ``{prefix}:{namespace}:{{digest}}`` for an entry and the same name plus ``:lock``
for its single-flight lock. The namespace is percent-encoded, so it never holds ``:``, braces
or glob characters: the hash tag is always the digest (an entry and its lock live in one
cluster slot), and ``SCAN MATCH`` patterns cannot catch another namespace or a lock. Key names
carry no prompt text, only the SHA-256 digest.

Value layout: one header byte, ``0x00`` (raw) or ``0x01`` (zlib), then the bytes. Anything
else, or a broken zlib stream, is garbage: it is deleted and reported as ``BadValue``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Union
from urllib.parse import quote, unquote

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError

from agentcache.config import check_int
from agentcache.stores.base import BadValue, CacheKey

from .hot import HotCommands

Client = Union[Redis, RedisCluster]  # noqa: UP007 - a runtime alias, Python 3.10
log = logging.getLogger("agentcache.redis")

RAW, ZLIB = b"\x00", b"\x01"
_UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# KEYS: the entry, its lock (one hash tag: one cluster slot). 2: the entry is there (no lock
# taken); 1: the caller now holds the lock; 0: another caller does.
_LOCK_UNLESS_STORED = """
if redis.call('exists', KEYS[1]) == 1 then return 2 end
if redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
STORED, LOCKED, HELD = 2, 1, 0
_GLOB = re.compile(r"([*?\[\]\\])")


class RedisStore:
    """A :class:`~agentcache.Store` over an existing ``redis.asyncio`` client (or one built by
    :func:`agentcache_redis.from_url`), with TTL by ``SET PX``, compression above
    ``compress_min_bytes``, values over ``max_value_bytes`` (before compression, which also
    bounds what a read inflates) not stored, and
    ``clear``/``size`` by ``SCAN`` over every master. A client passed in is not closed by
    ``close()``; one the store built is.
    """

    def __init__(
        self,
        client: Client,
        *,
        prefix: str = "agentcache",
        compress_min_bytes: int = 1024,
        max_value_bytes: int = 16 * 1024 * 1024,
        scan_count: int = 500,
        owns_client: bool = False,
    ) -> None:
        if client.get_encoder().decode_responses:
            raise ValueError("RedisStore needs a client with decode_responses=False (bytes)")
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"prefix must be non-empty and without braces, got {prefix!r}")
        check_int("compress_min_bytes", compress_min_bytes, minimum=0)
        check_int("max_value_bytes", max_value_bytes, minimum=1)
        check_int("scan_count", scan_count, minimum=1)
        self.client = client
        self.prefix = prefix
        self.cluster = isinstance(client, RedisCluster)
        self._compress_min = compress_min_bytes
        self._max_value = max_value_bytes
        self._scan_count = scan_count
        self._owns_client = owns_client
        self._closed = False
        self._unlock = client.register_script(_UNLOCK)
        self._lock_unless_stored = client.register_script(_LOCK_UNLESS_STORED)
        self._hot = HotCommands(client) if HotCommands.usable(client) else None
        # The hot commands (GET, SET): on the store's own connections when it can have them.
        self._execute: Callable[..., Awaitable[Any]] = (
            client.execute_command if self._hot is None else self._hot.execute
        )
        self._names: dict[str, str] = {}  # namespace -> its key prefix, quoted once
        # Not ready: a cluster's topology is unknown, or a client of ours has no closer yet.
        self._ready = not (self.cluster or owns_client)
        self._init_lock = asyncio.Lock()
        self._closer: AsyncGenerator[None, None] | None = None

    async def _ensure_ready(self) -> None:
        """Discover a cluster's topology once, before any command: redis-py's async cluster
        client can hand a half-made connection to concurrent first commands otherwise. And
        give a client we built a closer in the running event loop."""
        async with self._init_lock:
            if not self._ready:
                if self.cluster:
                    await self.client.initialize()
                if self._owns_client:
                    self._closer = self._close_with_loop()
                    await self._closer.__anext__()
                self._ready = True

    async def _close_with_loop(self) -> AsyncGenerator[None, None]:
        """An async generator the event loop finalizes when it shuts down (``asyncio.run``
        does), closing the connections this store opened in it: a script that ends without
        ``close()`` leaves no unclosed-connection warnings, and a later loop reconnects."""
        try:
            yield
        finally:
            self._ready, self._init_lock = False, asyncio.Lock()
            with contextlib.suppress(Exception):
                if self._hot is not None:
                    await self._hot.close()
                if isinstance(self.client, RedisCluster):
                    await self.client.aclose()
                else:
                    await self.client.connection_pool.disconnect()

    def key_name(self, key: CacheKey) -> str:
        head = self._names.get(key.namespace)
        if head is None:
            if len(self._names) >= 1024:
                self._names.clear()
            head = self._names[key.namespace] = f"{self.prefix}:{quote(key.namespace, safe='')}:"
        return f"{head}{{{key.digest}}}"

    def lock_name(self, key: CacheKey) -> str:
        return self.key_name(key) + ":lock"

    async def get(self, key: CacheKey) -> bytes | None:
        if not self._ready:
            await self._ensure_ready()
        name = self.key_name(key)
        raw = await self._execute("GET", name)
        if raw is None:
            return None
        if not isinstance(raw, bytes):
            raise TypeError("the client decodes responses; RedisStore needs bytes")
        head, body = raw[:1], raw[1:]
        try:
            if head == RAW:
                return body
            if head == ZLIB:
                inflate = zlib.decompressobj()
                value = inflate.decompress(body, self._max_value)
                if inflate.unconsumed_tail or not inflate.eof:
                    raise zlib.error("truncated, or larger than max_value_bytes")
                return value
            raise ValueError(f"unknown header byte {head!r}")
        except (ValueError, zlib.error) as exc:
            await self.client.unlink(self.key_name(key))
            raise BadValue("corrupt_value", f"{key}: unreadable value ({exc})") from None

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        data = RAW + value
        if len(value) >= self._compress_min:
            packed = zlib.compress(value, 1)
            if len(packed) < len(value):
                data = ZLIB + packed
        name = self.key_name(key)
        if not self._ready:
            await self._ensure_ready()
        if len(value) > self._max_value:
            log.debug("not storing %s: %d bytes > max_value_bytes", key, len(value))
            await self.client.unlink(name)  # set replaces: the old value must not linger
            return
        expiry = () if ttl is None else ("PX", max(1, round(ttl * 1000)))
        await self._execute("SET", name, data, *expiry)

    async def delete(self, key: CacheKey) -> None:
        if not self._ready:
            await self._ensure_ready()
        await self.client.unlink(self.key_name(key))

    async def clear(self, namespace: str | None = None) -> int:
        """UNLINK in batches of ``scan_count`` as SCAN finds them: one round trip per batch."""
        if not self._ready:
            await self._ensure_ready()
        removed, batch = 0, []
        async for name in self._scan(namespace):
            batch.append(name)
            if len(batch) >= self._scan_count:
                removed += await self.client.unlink(*batch)
                batch = []
        if batch:
            removed += await self.client.unlink(*batch)
        return removed

    async def size(self, namespace: str | None = None) -> int:
        """Live entries (SCAN skips expired keys); in a cluster, summed over every master."""
        if not self._ready:
            await self._ensure_ready()
        return sum([1 async for _ in self._scan(namespace)])

    async def keys(self, namespace: str | None = None) -> AsyncIterator[CacheKey]:
        """The keys of live entries (of one namespace), by SCAN; locks are not entries."""
        if not self._ready:
            await self._ensure_ready()
        start = len(self.prefix.encode()) + 1
        async for name in self._scan(namespace):
            ns, _, tagged = name[start:].decode().partition(":")
            yield CacheKey(unquote(ns), tagged.strip("{}"))

    async def _scan(self, namespace: str | None) -> AsyncIterator[bytes]:
        ns = "*" if namespace is None else quote(namespace, safe="")
        prefix = _GLOB.sub(r"\\\1", self.prefix)
        match = f"{prefix}:{ns}:{{*}}"
        # "*" for the namespace would also match a longer prefix ("app" vs "app:v2"); an
        # encoded namespace holds no ":", so exactly one ":" follows our prefix in our keys.
        start = len(self.prefix.encode()) + 1
        async for name in self.client.scan_iter(match=match, count=self._scan_count):
            if namespace is not None or name.count(b":", start) == 1:
                yield name

    async def try_lock(self, key: CacheKey, token: str, ttl: float) -> bool:
        """``SET lock token NX PX``: True when this caller now holds the key's lock."""
        name = self.lock_name(key)
        if not self._ready:
            await self._ensure_ready()
        return bool(await self.client.set(name, token, nx=True, px=max(1, round(ttl * 1000))))

    async def lock_unless_stored(self, key: CacheKey, token: str, ttl: float) -> int:
        """The lock and the re-check of a miss in one round trip: ``STORED`` when the entry is
        there (no lock taken), ``LOCKED`` when this caller now holds the key's lock, ``HELD``
        when another caller does."""
        if not self._ready:
            await self._ensure_ready()
        names, px = [self.key_name(key), self.lock_name(key)], max(1, round(ttl * 1000))
        return int(await self._run_script(self._lock_unless_stored, names, [token, px]))

    async def unlock(self, key: CacheKey, token: str) -> bool:
        """Delete the lock only if ``token`` still holds it (not a later holder's lock)."""
        return bool(await self._run_script(self._unlock, [self.lock_name(key)], [token]))

    async def _run_script(self, script: Any, keys: list[str], args: list[str | int]) -> Any:
        """A miss's scripts on the hot connections too (the pool's cost is per command, and a
        miss sends two); ``EVAL`` once where the server does not know the script yet."""
        if self._hot is None:  # a cluster routes by the keys: through its client
            return await script(keys=keys, args=args)
        try:
            return await self._hot.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:  # a new or restarted server; EVAL also caches it there
            return await self._hot.execute("EVAL", script.script, len(keys), *keys, *args)

    async def close(self) -> None:
        if self._hot is not None:
            await self._hot.close()
        if self._owns_client and not self._closed:
            self._closed = True
            await self.client.aclose()
