"""HMAC signing for any store, so a tampered shared cache is detected instead of served.

Whoever can write to a shared cache (Redis, a directory) could otherwise make every agent that
reads it replay an answer of their choosing. ``SignedStore`` prefixes each value with an
HMAC-SHA256 over the key *and* the value: a changed value, a value moved under another key or
namespace, or an unsigned value all fail the check. Such a value is deleted and reported as
``BadValue("bad_signature")``, which ``GuardedStore`` counts in ``stats().errors`` as a miss.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from .base import BadValue, CacheKey, Store

_MAGIC = b"acs1"
_MAC_SIZE = hashlib.sha256().digest_size


def _as_bytes(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(raw) < 16:
        raise ValueError("the signing secret must be at least 16 bytes")
    return raw


class SignedStore:
    """Wraps ``inner``; entries are signed with ``secret`` and checked on every read.

    ``previous_secrets`` are still accepted when reading, so a secret can be rotated without
    dropping the cache; new writes always use ``secret``.
    """

    def __init__(
        self, inner: Store, secret: str | bytes, previous_secrets: Sequence[str | bytes] = ()
    ) -> None:
        self.inner = inner
        self._secret = _as_bytes(secret)
        self._accepted = [self._secret, *(_as_bytes(s) for s in previous_secrets)]
        self.in_process = bool(getattr(inner, "in_process", False))

    def _mac(self, secret: bytes, key: CacheKey, value: bytes) -> bytes:
        mac = hmac.new(secret, digestmod=hashlib.sha256)
        mac.update(f"{len(key.namespace)}:{key.namespace}:{key.digest}:".encode())
        mac.update(value)
        return mac.digest()

    async def get(self, key: CacheKey) -> bytes | None:
        raw = await self.inner.get(key)
        if raw is None:
            return None
        head, value = raw[: len(_MAGIC) + _MAC_SIZE], raw[len(_MAGIC) + _MAC_SIZE :]
        if head.startswith(_MAGIC):
            mac = head[len(_MAGIC) :]
            for secret in self._accepted:
                if hmac.compare_digest(mac, self._mac(secret, key, value)):
                    return value
        await self.inner.delete(key)
        raise BadValue("bad_signature", f"{key}: missing or bad signature")

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        await self.inner.set(key, _MAGIC + self._mac(self._secret, key, value) + value, ttl)

    async def delete(self, key: CacheKey) -> None:
        await self.inner.delete(key)

    async def clear(self, namespace: str | None = None) -> int:
        return await self.inner.clear(namespace)

    async def size(self, namespace: str | None = None) -> int:
        return await self.inner.size(namespace)

    async def close(self) -> None:
        await self.inner.close()
