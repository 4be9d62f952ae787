"""The storage contract every backend implements.

A store moves opaque bytes (an encoded :class:`~agentcache.entry.Entry`) under a
:class:`CacheKey`. It knows nothing about models, keys or the entry format: the codec and the
cache policy live above it, so a new backend is a small class and the one contract suite in
``tests/contract`` tells whether it is right.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable


class BadValue(Exception):
    """The store answered, but what it holds under the key must not be served (garbage bytes,
    a bad signature). The store has already removed it; ``GuardedStore`` turns this into a miss
    counted as ``stats().errors[kind]``, without tripping the circuit breaker (the store is up).
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class CacheKey(NamedTuple):
    """Where an entry lives: a tenant namespace and the SHA-256 hex digest of the call.

    Key names never carry prompt text; the digest is a one-way hash of the normalized call.
    """

    namespace: str
    digest: str

    def __str__(self) -> str:
        return f"{self.namespace}:{self.digest}"


@runtime_checkable
class Store(Protocol):
    """An async byte store with per-entry TTL.

    Contract (checked by ``tests/contract/test_store_contract.py``):

    * ``get`` returns exactly the bytes last ``set`` under the key, or ``None`` when absent or
      expired. An expired entry is never returned.
    * ``set`` replaces any previous value; ``ttl`` is seconds from now (``None``: no expiry).
    * ``delete`` of a missing key is not an error.
    * ``clear(namespace)`` removes every entry of that namespace (all entries when ``None``) and
      returns how many it removed; ``size(namespace)`` counts live entries.
    * Every method is safe under concurrent use from many tasks.
    * Optional class attribute ``in_process = True``: the store never waits on I/O (like
      ``MemoryStore``), so ``GuardedStore`` skips the per-call time budget for it.
    * Backend failures raise ordinary exceptions; the caller (``GuardedStore``) turns them into
      misses, so stores do not swallow errors themselves. A value that is there but unusable
      raises :class:`BadValue` after the store removed it.
    """

    async def get(self, key: CacheKey) -> bytes | None: ...

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None: ...

    async def delete(self, key: CacheKey) -> None: ...

    async def clear(self, namespace: str | None = None) -> int: ...

    async def size(self, namespace: str | None = None) -> int: ...

    async def close(self) -> None: ...
