"""agentcache: a caching middleware chain for OpenAI Agents SDK models.

Usage::

    from agentcache import CachedModel
    result = await Runner.run(agent, "...", run_config=RunConfig(model=CachedModel(model)))
"""

from .call import CallState, ModelCall, explain_difference
from .chain import Handler, Stage, StageContext, build_chain
from .config import CacheConfig
from .control import Controls, namespace, no_cache, no_store, refresh, ttl
from .entry import CorruptEntry, Entry
from .guard import GuardedStore
from .hookspecs import hookimpl
from .keys import KEY_VERSION, SETTINGS_POLICY, KeyDifference, KeyEncodingError
from .model import CachedModel, CachedModelProvider
from .plugins import Plugins, PluginStatus, get_plugins
from .recording import RecordingMissing
from .stats import Stats, StatsSnapshot
from .stores.base import BadValue, CacheKey, Store
from .stores.file import FileStore
from .stores.memory import MemoryStore
from .stores.signed import SignedStore
from .tracing import NULL_TRACER, Tracer

__version__ = "0.1.0"

__all__ = [
    "KEY_VERSION",
    "NULL_TRACER",
    "SETTINGS_POLICY",
    "BadValue",
    "CacheConfig",
    "CacheKey",
    "CachedModel",
    "CachedModelProvider",
    "CallState",
    "Controls",
    "CorruptEntry",
    "Entry",
    "FileStore",
    "GuardedStore",
    "Handler",
    "KeyDifference",
    "KeyEncodingError",
    "MemoryStore",
    "ModelCall",
    "PluginStatus",
    "Plugins",
    "RecordingMissing",
    "SignedStore",
    "Stage",
    "StageContext",
    "Stats",
    "StatsSnapshot",
    "Store",
    "Tracer",
    "build_chain",
    "explain_difference",
    "get_plugins",
    "hookimpl",
    "namespace",
    "no_cache",
    "no_store",
    "refresh",
    "ttl",
]
