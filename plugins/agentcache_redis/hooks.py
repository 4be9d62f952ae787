"""The hook implementations the ``agentcache`` entry point registers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agentcache.chain import Stage, StageContext
from agentcache.config import check_bool, check_number
from agentcache.hookspecs import OptionCheck, StoreFactory, hookimpl
from agentcache.stores.base import Store

from .flight import FLIGHT_SECONDS, RedisFlightStage
from .store import RedisStore
from .url import SCHEMES, from_url


def find_redis_store(store: Store) -> RedisStore | None:
    """The RedisStore under any wrappers that expose their store as ``inner``."""
    seen: object = store
    while not isinstance(seen, RedisStore):
        seen = getattr(seen, "inner", None)
        if seen is None:
            return None
    return seen


@hookimpl
def agentcache_store_schemes() -> Mapping[str, StoreFactory]:
    return {scheme: from_url for scheme in SCHEMES}


@hookimpl
def agentcache_stages(context: StageContext) -> Iterable[Stage] | None:
    redis = find_redis_store(context.store.store)
    if redis is None or not context.config.options.get("redis_flight", True):
        return None
    return [RedisFlightStage(context, redis)]


@hookimpl
def agentcache_options() -> Mapping[str, OptionCheck]:
    def seconds(name: str) -> OptionCheck:
        return lambda value: check_number(name, value)

    return {
        "redis_flight": lambda value: check_bool("redis_flight", value),
        **{name: seconds(name) for name in FLIGHT_SECONDS},
    }
