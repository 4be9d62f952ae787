"""agentcache's Redis extra: a Redis / Redis Cluster store and cross-process single-flight.

Installed with ``pip install 'agentcache-middleware[redis]'`` and loaded through the
``agentcache`` entry-point group, so ``import agentcache`` never imports redis. It registers the
store URL schemes ``redis://``, ``rediss://``, ``redis+cluster://`` and ``rediss+cluster://``,
and adds :class:`RedisFlightStage` to every cached model whose store is a :class:`RedisStore`
(directly or under a :class:`~agentcache.SignedStore`) unless ``options={"redis_flight":
False}``.
"""

from __future__ import annotations

from . import hooks
from .flight import ORDER_REDIS_FLIGHT, RedisFlightStage
from .hooks import find_redis_store
from .store import RedisStore
from .url import SCHEMES, from_url

__all__ = [
    "ORDER_REDIS_FLIGHT",
    "SCHEMES",
    "RedisFlightStage",
    "RedisStore",
    "find_redis_store",
    "from_url",
    "hooks",
]
