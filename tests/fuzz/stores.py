"""The stores the fuzz tests write to, made fresh for each example.

Every example gets its own stores (and its own Redis connection, on its own event loop): a
value left by one example can never explain another's result. Redis is the real server of
the test session (``redis_url``), isolated by a key prefix unique to the example and cleared
by that prefix afterwards, never flushed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from agentcache_redis import RedisStore
from redis.asyncio import Redis

from agentcache import FileStore, MemoryStore, SignedStore
from agentcache.stores.base import Store

SECRET = "fuzz-signing-secret-0123456789abcdef"
STORE_NAMES = ("memory", "file", "signed", "redis")


@dataclass
class Stores:
    memory: MemoryStore
    file: FileStore
    signed: SignedStore
    signed_inner: MemoryStore
    redis_store: RedisStore | None
    redis_client: Redis | None

    @property
    def redis(self) -> RedisStore:
        assert self.redis_store is not None, "made without a redis_url"
        return self.redis_store

    def by_name(self, name: str) -> Store:
        store: Store = getattr(self, name)
        return store


@asynccontextmanager
async def fresh_stores(root: Path, redis_url: str | None = None) -> AsyncIterator[Stores]:
    """Fresh stores; Redis only with ``redis_url`` (a test that does not need the server does
    not depend on it)."""
    run = uuid.uuid4().hex[:12]
    client = Redis.from_url(redis_url) if redis_url else None
    signed_inner = MemoryStore()
    stores = Stores(
        memory=MemoryStore(),
        file=FileStore(root / run),
        signed=SignedStore(signed_inner, SECRET),
        signed_inner=signed_inner,
        redis_store=RedisStore(client, prefix=f"fuzz-{run}") if client else None,
        redis_client=client,
    )
    try:
        yield stores
    finally:
        if client is not None:
            await stores.redis.clear()
            await client.aclose()
