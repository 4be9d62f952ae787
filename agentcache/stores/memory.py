"""In-process LRU store: the default backend, and on the hot path of every cached call.

The dict is guarded by a :class:`threading.Lock`, not an :class:`asyncio.Lock`: no critical
section awaits, so a plain lock is cheaper and also keeps one store correct when it is shared by
event loops in several threads.

Memory: what the store holds beyond the values themselves is about 245 bytes per entry (the
``OrderedDict`` slot and links, the key, the value's object header), so a 900-byte entry costs
1.27x its size and a 600-byte one (about the smallest real entry) 1.41x. A key is kept as one
string, digest then namespace, rather than a ``CacheKey`` tuple holding two, and a TTL lives in
a side table only for the entries that have one. Every operation is O(1), eviction included
(the least recently used entry is the first of the ``OrderedDict``); ``clear``, ``size`` and
``keys`` walk the entries.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qsl, urlsplit

from agentcache.stores.base import CacheKey


def _slot(key: CacheKey) -> str | CacheKey:
    """The dict key for ``key``: its 64-character digest followed by its namespace, one string
    (every key the cache makes); any other key is kept as it is (a tuple never equals a
    string, so the two kinds cannot collide)."""
    namespace, digest = key
    if type(digest) is str and type(namespace) is str:  # (inlined in get: keep them the same)
        if len(digest) == 64:
            return digest + namespace
    elif isinstance(digest, str) and isinstance(namespace, str) and len(digest) == 64:
        return "".join((digest, namespace))  # str subclasses: the slot of the equal plain key
    return key


def _key(slot: str | CacheKey) -> CacheKey:
    if type(slot) is str:
        return CacheKey(slot[64:], slot[:64])
    return CacheKey(*slot)


def _namespace(slot: str | CacheKey) -> str:
    return slot[64:] if type(slot) is str else slot[0]


_MAX_ENTRIES = 10_000
_MAX_BYTES = 256 * 1024 * 1024


class MemoryStore:
    """LRU bounded by entry count and by total value bytes, with per-entry TTL.

    Expired entries are never returned; they are purged when touched or evicted as least
    recently used. A value larger than ``max_bytes`` cannot fit even in an empty store, so it is
    not stored (and any previous value under its key is dropped, as ``set`` replaces it).
    """

    in_process = True
    """Never awaits I/O, so ``GuardedStore`` skips the per-call timer for it."""

    def __init__(
        self,
        max_entries: int = _MAX_ENTRIES,
        max_bytes: int = _MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, limit in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if limit < 1:
                raise ValueError(f"{name} must be >= 1, got {limit}")
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str | CacheKey, bytes] = OrderedDict()
        self._expires: dict[str | CacheKey, float] = {}
        """Expiry times (on ``clock``) of the entries that have a TTL."""
        self._nbytes = 0
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """Build from ``memory://`` with optional ``?max_entries=N&max_bytes=N``."""
        parts = urlsplit(url)
        if parts.scheme != "memory" or parts.netloc or parts.path or parts.fragment:
            raise ValueError(f"expected memory://[?max_entries=N&max_bytes=N], got {url!r}")
        limits = {"max_entries": _MAX_ENTRIES, "max_bytes": _MAX_BYTES}
        for name, raw in parse_qsl(parts.query, keep_blank_values=True):
            if name not in limits:
                raise ValueError(f"unknown memory:// parameter {name!r}; known: {sorted(limits)}")
            try:
                limits[name] = int(raw)
            except ValueError:
                raise ValueError(f"memory:// parameter {name}={raw!r} is not an integer") from None
        return cls(limits["max_entries"], limits["max_bytes"])

    @property
    def nbytes(self) -> int:
        """Total bytes of the values held, expired-but-unpurged ones included (what is bounded)."""
        return self._nbytes

    async def get(self, key: CacheKey) -> bytes | None:
        namespace, digest = key  # _slot, inlined on the hot path
        if type(digest) is str and type(namespace) is str and len(digest) == 64:
            slot: str | CacheKey = digest + namespace
        else:
            slot = _slot(key)
        with self._lock:
            value = self._entries.get(slot)
            if value is None:
                return None
            if self._expires:
                expires_at = self._expires.get(slot)
                if expires_at is not None and expires_at <= self._clock():
                    self._pop(slot)
                    return None
            self._entries.move_to_end(slot)
            return value

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        slot = _slot(key)
        expires_at = None if ttl is None else self._clock() + ttl
        with self._lock:
            self._pop(slot)
            if len(value) > self._max_bytes:
                return
            self._entries[slot] = value
            if expires_at is not None:
                self._expires[slot] = expires_at
            self._nbytes += len(value)
            while len(self._entries) > self._max_entries or self._nbytes > self._max_bytes:
                evicted, old = self._entries.popitem(last=False)  # the least recently used
                self._nbytes -= len(old)
                if self._expires:
                    self._expires.pop(evicted, None)

    async def delete(self, key: CacheKey) -> None:
        slot = _slot(key)
        with self._lock:
            self._pop(slot)

    async def clear(self, namespace: str | None = None) -> int:
        return self._sweep(namespace, remove=True)

    async def size(self, namespace: str | None = None) -> int:
        return self._sweep(namespace, remove=False)

    async def close(self) -> None:
        """Nothing to release: the entries live and die with the process."""

    async def keys(self, namespace: str | None = None) -> AsyncIterator[CacheKey]:
        """The keys held (of one namespace), expired-but-unpurged ones included."""
        with self._lock:
            slots = list(self._entries)
        for slot in slots:
            key = _key(slot)
            if namespace is None or key.namespace == namespace:
                yield key

    def _pop(self, slot: str | CacheKey) -> None:
        value = self._entries.pop(slot, None)
        if value is not None:
            self._nbytes -= len(value)
            if self._expires:
                self._expires.pop(slot, None)

    def _sweep(self, namespace: str | None, *, remove: bool) -> int:
        """Purge expired entries, then count (and optionally remove) the live ones in scope."""
        now = self._clock()
        live = 0
        with self._lock:
            for slot, expires_at in list(self._expires.items()):
                if expires_at <= now:
                    self._pop(slot)
            for slot in list(self._entries):
                if namespace is None or _namespace(slot) == namespace:
                    live += 1
                    if remove:
                        self._pop(slot)
        return live
