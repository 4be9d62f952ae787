"""Tool results, cached like model answers, for the tools you name.

A cached model answer replays the model's tool call and the Runner then runs the tool for real.
``cached_tool(tool)`` returns a copy of a ``FunctionTool`` (same name, description, schema,
strictness, guardrails, approval and timeout settings) whose invocations go through the cache:
the same stores, guarded store, TTLs, namespaces, per-call controls and stats as models.

* **Key.** SHA-256 over the canonical JSON of: a ``kind: "tool"`` marker (tool entries never
  share a digest with model entries), the key version, the namespace, the tool's name, the
  digest of its parameters' JSON schema, the user's ``version``, and the arguments: parsed,
  keys sorted (order is irrelevant), the declared ``volatile`` top-level arguments dropped, or
  whatever ``key(arguments)`` returns.
* **Entry.** Versioned JSON (``agentcache.tool`` v1), never pickle. An output is stored only
  when it has an exact JSON form: JSON values, the SDK's ``ToolOutputText`` /
  ``ToolOutputImage`` / ``ToolOutputFileContent``, or lists of them; anything else is returned
  and not stored (``not_stored["tool_unencodable"]``).
* **Errors.** An error is an exception raised by the tool's function (the SDK's
  ``failure_error_function`` turns it into the model-visible error text *after* the cache, so
  the cache sees the exception, never that text), a timeout, or an output ``is_error(output)``
  flags. Errors are not stored unless ``cache_errors=True``; a stored exception is raised again
  on a hit as :class:`CachedToolError` with the original message, so the SDK formats it as it
  formatted the original.
* **What the Runner sees.** The cache sits where the tool's function is called: approvals,
  input guardrails and timeouts run before it, output guardrails, ``tool_use_behavior`` and
  tool-use tracking after it, on a hit as on a live call.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import orjson
from agents.tool import FunctionTool, Tool, ToolOutputFileContent, ToolOutputImage, ToolOutputText

from .config import CacheConfig, check_namespace, check_number
from .control import Controls, current_controls
from .entry import CorruptEntry
from .guard import CircuitBreaker, GuardedStore
from .model import _resolve_store
from .plugins import Plugins, get_plugins
from .stats import Stats, StatsSnapshot
from .stores.base import CacheKey, Store

if TYPE_CHECKING:
    from agents import Agent

    from .model import CachedModel

log = logging.getLogger("agentcache")
A = TypeVar("A", bound="Agent[Any]")

TOOL_ENTRY_FORMAT = "agentcache.tool"
TOOL_ENTRY_VERSION = 1
TOOL_KEY_VERSION = 1
STEP_TOOL = "tool"
"""The tracer step around a cached tool call (the OpenTelemetry span ``agentcache.tool``)."""
_OPTIONS = frozenset(("ttl", "key", "namespace", "volatile", "version", "cache_errors", "is_error"))
_IMPL_MARKERS = ("__agents_prepare_arguments__", "__agents_function_tool_wrapped_callable__")
"""What the SDK reads off a function tool's implementation (approval-time argument
preparation, ``tool.__wrapped__``): the cached implementation carries them on."""
_SDK_OUTPUTS: dict[str, Any] = {
    cls.__name__: cls for cls in (ToolOutputText, ToolOutputImage, ToolOutputFileContent)
}


class CachedToolError(Exception):
    """A tool exception stored with ``cache_errors=True``, raised again on a hit."""

    def __init__(self, message: str, type_name: str) -> None:
        super().__init__(message)
        self.type_name = type_name


@dataclass(frozen=True)
class ToolCall:
    """One invocation of a cached tool, as the ``agentcache_tool_bypass`` hook sees it."""

    tool: str
    arguments: Any
    """The parsed JSON arguments the model sent (usually a dict)."""
    namespace: str
    controls: Controls
    context: Any
    """The SDK's ``ToolContext`` (``tool_call_id``, ``context``...) the tool was called with."""
    parts: dict[str, Any] = field(repr=False)
    """The named key parts (what ``explain_difference`` style diffs compare)."""

    @functools.cached_property
    def key(self) -> CacheKey:
        digest = hashlib.sha256(orjson.dumps(self.parts, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return CacheKey(self.namespace, digest)


@dataclass(frozen=True)
class _Spec:
    """One wrapped tool: its identity in the key and its options."""

    name: str
    schema_digest: str
    ttl: float | None
    key: Callable[[Any], Any] | None
    namespace: str | None
    volatile: frozenset[str]
    version: str | int
    cache_errors: bool
    is_error: Callable[[Any], bool] | None


class ToolCache:
    """Where cached tools keep their results: a store, stats, a namespace and a default TTL.

    ``tools`` is a policy: the names of the tools to cache, or a mapping of names to
    ``cached_tool`` options; :meth:`agent` and :meth:`wrap_tools` wrap exactly those.
    ``ToolCache.of(cached_model)`` shares a cached model's store, breaker, stats and tracer.
    """

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        namespace: str | None = None,
        ttl: float | None = None,
        enabled: bool = True,
        store_timeout: float = 0.25,
        max_entry_bytes: int = 4 * 1024 * 1024,
        circuit: CircuitBreaker | None = None,
        tools: Iterable[str] | Mapping[str, Mapping[str, Any]] | None = None,
        plugins: Plugins | None = None,
        stats: Stats | None = None,
        guarded_store: GuardedStore | None = None,
    ) -> None:
        self.config = CacheConfig(
            namespace="default" if namespace is None else namespace,
            ttl=ttl,
            enabled=enabled,
            store_timeout=store_timeout,
            max_entry_bytes=max_entry_bytes,
        )
        self.plugins = plugins or get_plugins()
        self._stats = stats or Stats()
        if guarded_store is not None:
            self.store, self._owns_store = guarded_store.store, False
            self.guarded_store = guarded_store
        else:
            self.store, self._owns_store = _resolve_store(store, self.plugins)
            self.guarded_store = GuardedStore(
                self.store, self._stats, timeout=store_timeout, circuit=circuit
            )
        self.tracer = self.plugins.tracer(self.config)
        self.policy: dict[str, dict[str, Any]] = {}
        for name in tools or ():
            options = dict(tools[name]) if isinstance(tools, Mapping) else {}
            _check_options(options)
            self.policy[name] = options
        self.record: Mapping[str, Any] | None = None
        """Keep the key parts and this metadata in each entry (recordings for tests)."""
        self.on_miss: Callable[[ToolCall], None] | None = None
        """Called before a missed call runs the tool; replay mode raises from it."""
        self.count_occurrence: Callable[[str], int] | None = None
        """Numbers repeated identical calls (recordings replay them in recorded order)."""
        self._flights: dict[CacheKey, asyncio.Future[bytes | None]] = {}

    @classmethod
    def of(cls, model: CachedModel, **kwargs: Any) -> ToolCache:
        """A tool cache on ``model``'s store, breaker, stats and tracer, in its namespace."""
        kwargs.setdefault("namespace", model.config.namespace)
        kwargs.setdefault("ttl", model.config.ttl)
        cache = cls(
            guarded_store=model.guarded_store, stats=model._stats, plugins=model.plugins, **kwargs
        )
        cache.tracer = model.tracer
        return cache

    def stats(self) -> StatsSnapshot:
        return self._stats.snapshot()

    async def close(self) -> None:
        """Close the store if this cache built it from a URL."""
        if self._owns_store:
            await self.store.close()

    # -- wrapping --

    def wrap(self, tool: FunctionTool, **options: Any) -> FunctionTool:
        """A copy of ``tool`` whose results are cached (see :func:`cached_tool`)."""
        if not isinstance(tool, FunctionTool):
            raise TypeError(f"only a FunctionTool can be cached, got {type(tool).__qualname__}")
        _check_options(options)
        volatile = options.get("volatile", ())
        volatile = frozenset([volatile] if isinstance(volatile, str) else volatile)
        declared = set(tool.params_json_schema.get("properties") or ())
        if volatile - declared:
            raise ValueError(
                f"volatile names arguments {sorted(volatile - declared)} that {tool.name!r} "
                f"does not declare (it has {sorted(declared)})"
            )
        if options.get("ttl") is not None:
            check_number("ttl", options["ttl"])
        if options.get("namespace") is not None:
            check_namespace(options["namespace"])
        for name in ("key", "is_error"):
            if options.get(name) is not None and not callable(options[name]):
                raise TypeError(f"{name} must be callable, got {options[name]!r}")
        schema = orjson.dumps(tool.params_json_schema, option=orjson.OPT_SORT_KEYS)
        spec = _Spec(
            name=tool.name,
            schema_digest=hashlib.sha256(schema).hexdigest(),
            ttl=options.get("ttl"),
            key=options.get("key"),
            namespace=options.get("namespace"),
            volatile=volatile,
            version=options.get("version", 1),
            cache_errors=bool(options.get("cache_errors", False)),
            is_error=options.get("is_error"),
        )
        wrapped = copy.copy(tool)  # FunctionTool.__copy__ keeps every field and flag
        invoker: Any = wrapped.on_invoke_tool
        impl = getattr(invoker, "_invoke_tool_impl", None)
        if impl is not None and hasattr(invoker, "__agents_bind_function_tool__"):
            # A function_tool: cache the function below the SDK's failure handling, so an
            # exception is seen as one (and formatted by the tool's failure_error_function).
            async def cached_impl(ctx: Any, arguments: str) -> Any:
                return await self._invoke(spec, ctx, arguments, lambda: impl(ctx, arguments))

            for marker in _IMPL_MARKERS:
                if hasattr(impl, marker):
                    setattr(cached_impl, marker, getattr(impl, marker))
            new = type(invoker)(cached_impl, invoker._on_handled_error)
            if getattr(invoker, "__agents_sync_function_tool__", False):
                new.__agents_sync_function_tool__ = True
            wrapped.on_invoke_tool = new.__agents_bind_function_tool__(wrapped)
        else:  # any other FunctionTool: what it raises or returns is what the Runner gets

            @functools.wraps(invoker)  # same signature: the SDK picks the context type by it
            async def cached_invoke(ctx: Any, arguments: str) -> Any:
                return await self._invoke(spec, ctx, arguments, lambda: invoker(ctx, arguments))

            wrapped.on_invoke_tool = cached_invoke
        return wrapped

    def wrap_tools(self, tools: Iterable[Tool]) -> list[Tool]:
        """``tools`` with those the policy names wrapped; the others unchanged."""
        return [
            self.wrap(t, **self.policy[t.name])
            if isinstance(t, FunctionTool) and t.name in self.policy
            else t
            for t in tools
        ]

    def agent(self, agent: A) -> A:
        """A clone of ``agent`` whose tools named by the policy are cached."""
        return cast(A, agent.clone(tools=self.wrap_tools(agent.tools)))

    # -- one invocation --

    def _call(self, spec: _Spec, ctx: Any, arguments: str, controls: Controls) -> ToolCall:
        args = orjson.loads(arguments or "{}")
        if isinstance(args, dict) and spec.volatile:
            args = {k: v for k, v in args.items() if k not in spec.volatile}
        if spec.key is not None:
            args = spec.key(args)
        namespace = controls.namespace or spec.namespace or self.config.namespace
        parts = {
            "v": TOOL_KEY_VERSION,
            "kind": "tool",
            "namespace": namespace,
            "tool": spec.name,
            "schema": spec.schema_digest,
            "version": spec.version,
            "args": args,
        }
        orjson.dumps(parts)  # a key() result without a JSON form fails here
        call = ToolCall(spec.name, args, namespace, controls, ctx, parts)
        if self.count_occurrence is None:
            return call
        parts = {**parts, "occurrence": self.count_occurrence(call.key.digest)}
        return ToolCall(spec.name, args, namespace, controls, ctx, parts)

    def _bypass(self, spec: _Spec, ctx: Any, arguments: str) -> ToolCall | str:
        controls = current_controls()
        if not self.config.enabled:
            return "disabled"
        if controls.no_cache:
            return "no_cache"
        try:
            call = self._call(spec, ctx, arguments, controls)
        except Exception as exc:  # unparsable arguments, a key() that raised or returned junk
            self.guarded_store.warn("tool_key", "tool %s: no key (%r); not cached", spec.name, exc)
            return "unkeyable_arguments"
        try:
            reason: str | None = self.plugins.pm.hook.agentcache_tool_bypass(call=call)
        except Exception as exc:
            self._stats.count("errors", "tool_bypass_hook")
            self.guarded_store.warn("tool_bypass_hook", "a tool bypass rule raised %r", exc)
            return "bypass_hook_error"
        return reason if reason is not None else call

    async def _invoke(
        self, spec: _Spec, ctx: Any, arguments: str, run: Callable[[], Awaitable[Any]]
    ) -> Any:
        call = self._bypass(spec, ctx, arguments)
        if isinstance(call, str):
            self._stats.count("tool_bypasses", call)
            return await run()
        with self.tracer.span(STEP_TOOL, cast(Any, call)):
            return await self._cached(spec, call, run)

    async def _cached(self, spec: _Spec, call: ToolCall, run: Callable[[], Awaitable[Any]]) -> Any:
        if not call.controls.skip_read:
            found = await self._decoded(call.key, await self.guarded_store.get(call.key))
            if found is not None and (found.get("error") is None or spec.cache_errors):
                return self._hit(found)
            flight = self._flights.get(call.key)
            if flight is not None:  # the same call is running: wait for its result
                found = await self._decoded(call.key, await asyncio.shield(flight))
                if found is not None:
                    return self._hit(found)
        if self.on_miss is not None:
            self.on_miss(call)
        self._stats.tool_miss()
        flight = asyncio.get_running_loop().create_future()
        self._flights.setdefault(call.key, flight)
        raw: bytes | None = None
        started = time.perf_counter()
        try:
            try:
                output = await run()
            except Exception as exc:
                if spec.cache_errors:
                    error = {"type": type(exc).__name__, "message": str(exc)}
                    raw = await self._store(spec, call, started, None, error)
                else:
                    self._stats.count("not_stored", "tool_error")
                raise
            if spec.is_error is not None and spec.is_error(output) and not spec.cache_errors:
                self._stats.count("not_stored", "tool_error")
                return output
            encoded = _encode(output)
            if encoded is None:
                self._stats.count("not_stored", "tool_unencodable")
            else:
                raw = await self._store(spec, call, started, encoded, None)
            return output
        finally:
            if self._flights.get(call.key) is flight:
                del self._flights[call.key]
            flight.set_result(raw)

    async def _store(
        self,
        spec: _Spec,
        call: ToolCall,
        started: float,
        output: dict[str, Any] | None,
        error: dict[str, str] | None,
    ) -> bytes | None:
        """Encode and write the entry; the bytes, for the calls that waited on this one."""
        now = time.time()
        ttl = call.controls.ttl or spec.ttl or self.config.ttl
        doc: dict[str, Any] = {
            "format": TOOL_ENTRY_FORMAT,
            "version": TOOL_ENTRY_VERSION,
            "digest": call.key.digest,
            "tool": spec.name,
            "created_at": now,
            "expires_at": None if ttl is None else now + ttl,
            "elapsed": time.perf_counter() - started,
            "output": output,
            "error": error,
        }
        if self.record is not None:
            doc["request"] = call.parts
            doc["meta"] = {
                **self.record,
                "tool": spec.name,
                "key_version": TOOL_KEY_VERSION,
                "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
        raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        if call.controls.skip_write:
            return raw
        if len(raw) > self.config.max_entry_bytes:
            self._stats.count("not_stored", "tool_too_large")
        elif await self.guarded_store.set(call.key, raw, ttl):
            self._stats.tool_stored()
        return raw

    async def _decoded(self, key: CacheKey, raw: bytes | None) -> dict[str, Any] | None:
        if raw is None:
            return None
        try:
            doc = orjson.loads(raw)
            if doc.get("format") != TOOL_ENTRY_FORMAT or doc.get("version") != TOOL_ENTRY_VERSION:
                raise CorruptEntry(f"not an {TOOL_ENTRY_FORMAT} v{TOOL_ENTRY_VERSION}")
            expires = doc.get("expires_at")
            if expires is not None and time.time() >= float(expires):
                return None
            if doc.get("error") is None:
                doc["value"] = _decode(doc["output"])
            return cast("dict[str, Any]", doc)
        except Exception as exc:  # a corrupt entry is a miss, and is removed
            self._stats.count("errors", "corrupt_entry")
            self.guarded_store.warn("corrupt_entry", "tool entry %s unreadable (%s)", key, exc)
        await self.guarded_store.delete(key)
        return None

    def _hit(self, doc: dict[str, Any]) -> Any:
        self._stats.tool_hit(float(doc.get("elapsed") or 0.0))
        error = doc.get("error")
        if error is not None:
            raise CachedToolError(str(error.get("message")), str(error.get("type")))
        return doc["value"]


def _check_options(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ValueError(f"unknown tool cache option(s) {unknown}; known: {sorted(_OPTIONS)}")


def _is_json(value: Any) -> bool:
    """Exactly a JSON value: a round trip gives back the same types (no tuples, no str
    subclasses, no NaN)."""
    kind = type(value)
    if kind in (str, int, bool) or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_is_json(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _is_json(v) for k, v in value.items())
    return False


def _encode(value: Any) -> dict[str, Any] | None:
    """A tool output as tagged JSON, or ``None`` when it has no exact JSON form."""
    if _is_json(value):
        try:
            orjson.dumps(value)  # integers beyond 64 bits have no JSON form here
        except TypeError:
            return None
        return {"json": value}
    kind = type(value)
    if _SDK_OUTPUTS.get(kind.__name__) is kind:
        return {"sdk": kind.__name__, "value": value.model_dump(mode="json", exclude_unset=True)}
    if kind is list:
        items = [_encode(v) for v in value]
        return None if any(i is None for i in items) else {"list": items}
    return None


def _decode(doc: dict[str, Any]) -> Any:
    if "json" in doc:
        return doc["json"]
    if "sdk" in doc:
        return _SDK_OUTPUTS[doc["sdk"]].model_validate(doc["value"])
    if "list" in doc:
        return [_decode(d) for d in doc["list"]]
    raise CorruptEntry("unknown output encoding")


@overload
def cached_tool(tool: FunctionTool, /, **options: Any) -> FunctionTool: ...


@overload
def cached_tool(tool: None = None, /, **options: Any) -> Callable[[FunctionTool], FunctionTool]: ...


def cached_tool(
    tool: FunctionTool | None = None,
    /,
    *,
    cache: ToolCache | None = None,
    store: Store | str | None = None,
    **options: Any,
) -> FunctionTool | Callable[[FunctionTool], FunctionTool]:
    """Cache ``tool``'s results: ``cached_tool(tool, ttl=..., key=..., namespace=...,
    volatile=(...), version=..., cache_errors=False, is_error=None)``, or as a decorator over
    ``@function_tool``. Results go to ``cache`` (a :class:`ToolCache`), else to ``store`` (a
    store or URL; default: a new in-memory store for this tool)."""
    _check_options(options)
    if cache is not None and store is not None:
        raise ValueError("give cached_tool a cache or a store, not both")

    def wrap(tool: FunctionTool) -> FunctionTool:
        return (cache or ToolCache(store)).wrap(tool, **options)

    return wrap if tool is None else wrap(tool)
