"""agentcache: a caching middleware chain for OpenAI Agents SDK models.

Usage::

    from agentcache import CachedModel
    result = await Runner.run(agent, "...", run_config=RunConfig(model=CachedModel(model)))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentcache_semantic.config import SemanticConfig as SemanticConfig

    from .call import CallState, ModelCall, explain_difference
    from .chain import Handler, Stage, StageContext, build_chain
    from .config import CacheConfig
    from .control import Controls, namespace, no_cache, no_store, refresh, ttl
    from .entry import CorruptEntry, Entry
    from .guard import CircuitBreaker, GuardedStore
    from .hookspecs import hookimpl
    from .keys import KEY_VERSION, SETTINGS_POLICY, KeyDifference, KeyEncodingError
    from .model import CachedModel, CachedModelProvider
    from .plugins import Plugins, PluginStatus, get_plugins
    from .recording import RecordingMissing, ToolRecordingMissing
    from .stats import Stats, StatsSnapshot
    from .stores.base import BadValue, CacheKey, Store
    from .stores.file import FileStore
    from .stores.memory import MemoryStore
    from .stores.signed import SignedStore
    from .tools import CachedToolError, ToolCache, ToolCall, cached_tool
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
    "CachedToolError",
    "CallState",
    "CircuitBreaker",
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
    "ToolCache",
    "ToolCall",
    "ToolRecordingMissing",
    "Tracer",
    "build_chain",
    "cached_tool",
    "explain_difference",
    "get_plugins",
    "hookimpl",
    "namespace",
    "no_cache",
    "no_store",
    "refresh",
    "ttl",
]

# Names are imported on first use (PEP 562), so ``import agentcache`` (and the command line,
# which only reads stores) does not pay for importing the Agents SDK.
_LAZY: dict[str, str] = {
    "BadValue": ".stores.base",
    "CacheConfig": ".config",
    "CacheKey": ".stores.base",
    "CachedModel": ".model",
    "CachedModelProvider": ".model",
    "CachedToolError": ".tools",
    "CallState": ".call",
    "CircuitBreaker": ".guard",
    "Controls": ".control",
    "CorruptEntry": ".entry",
    "Entry": ".entry",
    "FileStore": ".stores.file",
    "GuardedStore": ".guard",
    "Handler": ".chain",
    "KEY_VERSION": ".keys",
    "KeyDifference": ".keys",
    "KeyEncodingError": ".keys",
    "MemoryStore": ".stores.memory",
    "ModelCall": ".call",
    "NULL_TRACER": ".tracing",
    "PluginStatus": ".plugins",
    "Plugins": ".plugins",
    "RecordingMissing": ".recording",
    "SETTINGS_POLICY": ".keys",
    "SignedStore": ".stores.signed",
    "Stage": ".chain",
    "StageContext": ".chain",
    "Stats": ".stats",
    "StatsSnapshot": ".stats",
    "Store": ".stores.base",
    "ToolCache": ".tools",
    "ToolCall": ".tools",
    "ToolRecordingMissing": ".recording",
    "Tracer": ".tracing",
    "build_chain": ".chain",
    "cached_tool": ".tools",
    "explain_difference": ".call",
    "get_plugins": ".plugins",
    "hookimpl": ".hookspecs",
    "namespace": ".control",
    "no_cache": ".control",
    "no_store": ".control",
    "refresh": ".control",
    "ttl": ".control",
}


# Names from the extras' plugins: not in ``__all__`` (``from agentcache import *`` must work
# without them), imported on first use with the install hint if the extra is missing.
_FROM_EXTRAS: dict[str, tuple[str, str]] = {
    "SemanticConfig": ("agentcache_semantic.config", "semantic"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
    elif name in _FROM_EXTRAS:
        module, extra = _FROM_EXTRAS[name]
        try:
            value = getattr(importlib.import_module(module), name)
        except ImportError as exc:
            raise ImportError(
                f"agentcache.{name} needs the {extra} extra: "
                f"pip install 'agentcache-middleware[{extra}]' ({exc})",
                name=module,
            ) from exc
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_FROM_EXTRAS})
