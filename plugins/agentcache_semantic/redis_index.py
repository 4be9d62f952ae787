"""The semantic index in Redis, through RedisVL: shared by every process that shares the store.

One hash per indexed prompt, ``{prefix}:{namespace}:{digest}``, holding the prompt, the entry
digest, the namespace and context fingerprint (tag fields: the search filters on both exactly)
and the float32 vector. Expiry is the hash's own ``PEXPIRE``, set once when the prompt is indexed:
unlike RedisVL's ``SemanticCache.check()``, a hit never extends it. The search index is created
on first use with the vectorizer's dimensions.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

import numpy as np
from redisvl.index import AsyncSearchIndex
from redisvl.query import VectorQuery
from redisvl.query.filter import Tag
from redisvl.schema import IndexSchema

from .index import Candidate, Vector, normalize

_GLOB = re.compile(r"([*?\[\]\\])")
_BATCH = 500


class RedisVLIndex:
    def __init__(
        self, client: Any, *, name: str = "agentcache-semantic", prefix: str = "agentcache-sem"
    ) -> None:
        self.client, self.name, self.prefix = client, name, prefix
        self._index: AsyncSearchIndex | None = None
        self._lock = asyncio.Lock()

    async def _ready(self, dims: int) -> AsyncSearchIndex:
        if self._index is not None:
            return self._index
        async with self._lock:
            if self._index is None:
                schema = IndexSchema.from_dict({
                    "index": {"name": self.name, "prefix": self.prefix, "storage_type": "hash"},
                    "fields": [
                        {"name": "namespace", "type": "tag"},
                        {"name": "context", "type": "tag"},
                        {"name": "digest", "type": "tag"},
                        {"name": "prompt", "type": "text"},
                        {"name": "embedding", "type": "vector", "attrs": {
                            "dims": dims, "distance_metric": "cosine", "algorithm": "flat",
                            "datatype": "float32"}},
                    ],
                })  # fmt: skip
                index = AsyncSearchIndex(schema, redis_client=self.client, owns_client=False)
                if not await index.exists():
                    await index.create(overwrite=False)
                self._index = index
        return self._index

    def _key(self, namespace: str, digest: str) -> str:
        return f"{self.prefix}:{quote(namespace, safe='')}:{digest}"

    async def add(
        self,
        namespace: str,
        fingerprint: str,
        vector: Vector,
        prompt: str,
        digest: str,
        ttl: float | None,
    ) -> None:
        """One round trip: the hash and its expiry in one ``MULTI`` (RedisVL's ``load`` would
        write the hash alone, and the expiry is a second round trip: twice the commands for
        every answer stored, and a hash without an expiry if the second one is lost)."""
        v = normalize(vector)
        await self._ready(len(v))
        key = self._key(namespace, digest)
        doc = {"namespace": namespace, "context": fingerprint, "digest": digest,
               "prompt": prompt, "embedding": v.astype(np.float32).tobytes()}  # fmt: skip
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping=doc)
        if ttl is not None:
            pipe.pexpire(key, max(1, round(ttl * 1000)))
        try:
            await pipe.execute()
        except Exception:
            self._index = None  # a restarted server may have lost the index: check next time
            raise

    async def search(
        self, namespace: str, fingerprint: str, vector: Vector, k: int, min_similarity: float
    ) -> list[Candidate]:
        v = normalize(vector)
        index = await self._ready(len(v))
        query = VectorQuery(
            v.tolist(), "embedding", return_fields=["prompt", "digest"], num_results=k,
            filter_expression=(Tag("namespace") == namespace) & (Tag("context") == fingerprint),
        )  # fmt: skip
        try:
            rows = await index.query(query)
        except Exception:
            self._index = None  # dropped, or a restarted server lost it: make it again next time
            raise
        found = []
        for row in rows:
            similarity = 1.0 - float(row["vector_distance"])  # cosine distance is 1 - cosine
            if similarity >= min_similarity:
                found.append(Candidate(row["prompt"], row["digest"], similarity))
        return found

    async def delete(self, namespace: str, digest: str) -> None:
        await self.client.unlink(self._key(namespace, digest))

    async def clear(self, namespace: str | None = None) -> int:
        """Remove the namespace's indexed prompts (every namespace's with ``None``): UNLINK in
        batches as SCAN finds them. The search index itself stays."""
        ns = "*" if namespace is None else quote(namespace, safe="")  # no glob characters
        removed, batch = 0, []
        prefix = _GLOB.sub(r"\\\1", self.prefix)
        match = f"{prefix}:{ns}:*"
        async for key in self.client.scan_iter(match=match, count=_BATCH):
            batch.append(key)
            if len(batch) >= _BATCH:
                removed += await self.client.unlink(*batch)
                batch = []
        if batch:
            removed += await self.client.unlink(*batch)
        return int(removed)
