"""In-process LRU store: the default backend, and on the hot path of every cached call.

The dict is guarded by a :class:`threading.Lock`, not an :class:`asyncio.Lock`: no critical
section awaits, so a plain lock is cheaper and also keeps one store correct when it is shared by
event loops in several threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from urllib.parse import parse_qsl, urlsplit

from agentcache.stores.base import CacheKey

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
        self._entries: OrderedDict[CacheKey, tuple[bytes, float | None]] = OrderedDict()
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
        with self._lock:
            item = self._entries.get(key)
            if item is None:
                return None
            if item[1] is not None and item[1] <= self._clock():
                self._pop(key)
                return None
            self._entries.move_to_end(key)
            return item[0]

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        expires_at = None if ttl is None else self._clock() + ttl
        with self._lock:
            self._pop(key)
            if len(value) > self._max_bytes:
                return
            self._entries[key] = (value, expires_at)
            self._nbytes += len(value)
            while len(self._entries) > self._max_entries or self._nbytes > self._max_bytes:
                _, (evicted, _) = self._entries.popitem(last=False)
                self._nbytes -= len(evicted)

    async def delete(self, key: CacheKey) -> None:
        with self._lock:
            self._pop(key)

    async def clear(self, namespace: str | None = None) -> int:
        return self._sweep(namespace, remove=True)

    async def size(self, namespace: str | None = None) -> int:
        return self._sweep(namespace, remove=False)

    async def close(self) -> None:
        """Nothing to release: the entries live and die with the process."""

    async def keys(self, namespace: str | None = None) -> AsyncIterator[CacheKey]:
        """The keys held (of one namespace), expired-but-unpurged ones included."""
        with self._lock:
            found = [k for k in self._entries if namespace is None or k.namespace == namespace]
        for key in found:
            yield key

    def _pop(self, key: CacheKey) -> None:
        item = self._entries.pop(key, None)
        if item is not None:
            self._nbytes -= len(item[0])

    def _sweep(self, namespace: str | None, *, remove: bool) -> int:
        """Purge expired entries, then count (and optionally remove) the live ones in scope."""
        now = self._clock()
        live = 0
        with self._lock:
            for key, (_, expires_at) in list(self._entries.items()):
                if expires_at is not None and expires_at <= now:
                    self._pop(key)
                elif namespace is None or key.namespace == namespace:
                    live += 1
                    if remove:
                        self._pop(key)
        return live
