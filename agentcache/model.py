"""``CachedModel`` and ``CachedModelProvider``: the SDK-facing surface.

A ``CachedModel`` *is* an ``agents.Model``: pass it as ``RunConfig(model=...)`` or
``Agent(model=...)``. It builds a frozen :class:`ModelCall` per call and hands it to the chain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelProvider, ModelTracing
from agents.retry import ModelRetryAdvice, ModelRetryAdviceRequest
from agents.tool import Tool
from openai.types.responses.response_prompt_param import ResponsePromptParam

from .background import Background
from .call import ModelCall
from .chain import ORDER_EXACT, ORDER_SINGLE_FLIGHT, Stage, StageContext
from .config import CacheConfig, check_int
from .control import current_controls
from .guard import CircuitBreaker, GuardedStore
from .keys import model_identity
from .plugins import Plugins, get_plugins
from .runs import Runs
from .stages import BypassStage, ExactLookupStage, SingleFlightStage, StatsStage, StoreStage
from .stages.folded import fold_builtin_stages
from .stats import Stats, StatsSnapshot
from .stores.base import Store
from .stores.memory import MemoryStore
from .stream import ReplayOptions, stream_call
from .tracing import STEP_MODEL


def _resolve_store(store: Store | str | None, plugins: Plugins) -> tuple[Store, bool]:
    """The store, and whether we created it (and so must close it)."""
    if isinstance(store, Store):
        return store, False
    if store is not None and not isinstance(store, str):
        raise TypeError(f"store must be a Store, a URL or None, got {store!r}")
    return (plugins.resolve_store(store) if store else MemoryStore()), True


class CachedModel(Model):
    """Wraps any SDK ``Model``; repeated calls are answered from the cache.

    ``store`` is a store object or a URL (``memory://``, ``file://PATH``, or a plugin's scheme);
    the default is an in-memory LRU store. ``model_id`` replaces the detected model identity in
    the key (class, model name, base URL) when you want entries to survive a change of class.
    """

    def __init__(
        self,
        model: Model,
        *,
        store: Store | str | None = None,
        namespace: str | None = None,
        key_extras: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        enabled: bool = True,
        replay_usage: bool = False,
        store_timeout: float = 0.25,
        max_entry_bytes: int = 4 * 1024 * 1024,
        model_id: str | None = None,
        stream_chunk_chars: int = 32,
        stream_delay: float = 0.0,
        semantic: Any = None,
        circuit: CircuitBreaker | None = None,
        options: Mapping[str, Any] | None = None,
        plugins: Plugins | None = None,
        stats: Stats | None = None,
        history: int = 32,
    ) -> None:
        if not isinstance(model, Model):
            raise TypeError(f"CachedModel wraps an agents.Model, got {type(model).__qualname__}")
        if circuit is not None and not isinstance(circuit, CircuitBreaker):
            raise TypeError(f"circuit must be a CircuitBreaker, got {circuit!r}")
        if model_id is not None and not (isinstance(model_id, str) and model_id.strip()):
            raise ValueError(f"model_id must be a non-blank string or None, got {model_id!r}")
        check_int("history", history, minimum=0)
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(f"options must be a mapping, got {options!r}")
        self.model = model
        self.config = CacheConfig(
            namespace="default" if namespace is None else namespace,
            ttl=ttl,
            enabled=enabled,
            replay_usage=replay_usage,
            max_entry_bytes=max_entry_bytes,
            store_timeout=store_timeout,
            key_extras=key_extras,
            stream_chunk_chars=stream_chunk_chars,
            stream_delay=stream_delay,
            options={**(options or {}), **({"semantic": semantic} if semantic is not None else {})},
        )
        self.plugins = plugins or get_plugins()
        self.plugins.check_options(self.config.options)
        self.store, self._owns_store = _resolve_store(store, self.plugins)
        self._stats = stats or Stats()
        self._runs = Runs()
        self._background = Background(self._stats, track=self._runs.track)
        self.guarded_store = GuardedStore(
            self.store, self._stats, timeout=store_timeout, circuit=circuit
        )
        self.tracer = self.plugins.tracer(self.config)
        context = StageContext(
            self.guarded_store,
            self._stats,
            self.config,
            self._background,
            self.tracer,
            self.plugins,
        )
        extras = self.plugins.stages(context)
        exact = ExactLookupStage(context)
        # A plugin stage between the lookup and single-flight (the semantic lookup) can hold a
        # call while another's flight lands: single-flight then looks again, where it is cheap.
        between = any(ORDER_EXACT < stage.order < ORDER_SINGLE_FLIGHT for stage in extras)
        recheck = between and bool(getattr(self.store, "in_process", False))
        builtins = (
            StatsStage(context),
            BypassStage(context, self.plugins.bypass_reason),
            exact,
            SingleFlightStage(context, recheck=exact.lookup if recheck else None),
            StoreStage(context),
        )
        self.stages: list[Stage] = [*builtins, *extras]
        # The built-in stages' chain written out by hand, taken while the plugins' stages have
        # nothing to do (see agentcache.stages.folded); the same steps as the folded chain.
        chain = fold_builtin_stages(*builtins, extras, self._call_model)
        self._chain = self.guarded_store.per_call(chain)
        self._identity = {"id": model_id} if model_id else model_identity(model)
        name = self._identity.get("name") or model_id
        self._replay = ReplayOptions(
            model=name if isinstance(name, str) else ReplayOptions.model,
            chunk_chars=stream_chunk_chars,
            delay=stream_delay,
        )
        self.count_occurrence: Callable[[str], int] = self._runs.occurrence
        """Numbers repeated identical requests (1, 2, ...; see ``agentcache.runs``): per run by
        default; the pytest plugin numbers them per test, so re-runs replay in recorded order."""
        self.recent_calls: deque[ModelCall] = deque(maxlen=history)
        """The last calls, to ask :func:`agentcache.explain_difference` why two keys differ."""

    def _call(self, sdk_args: tuple[Any, ...], streamed: bool) -> ModelCall:
        """``sdk_args``: the ten SDK arguments in signature order."""
        controls = current_controls()
        call = ModelCall(
            *sdk_args,
            streamed=streamed,
            model_identity=self._identity,
            namespace=controls.namespace or self.config.namespace,
            key_extras=self.config.key_extras,
            controls=controls,
        )
        if self.config.enabled and not controls.no_cache:
            try:  # noqa: SIM105 - contextlib.suppress is two more Python calls per call
                call.state.occurrence = self.count_occurrence(call.request_digest)
            except Exception:  # an unkeyable call: the bypass stage names the reason
                pass
        self.recent_calls.append(call)
        return call

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> ModelResponse:
        sdk_args = (
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            previous_response_id,
            conversation_id,
            prompt,
        )
        call = self._call(sdk_args, streamed=False)
        response = await self._chain(call)
        return self._runs.settle(response, hit=call.state.outcome == "hit")

    async def _call_model(self, call: ModelCall) -> ModelResponse:
        """The end of the chain. A streamed call is streamed by its caller, in the caller's
        task, while this waits for what the stream amounted to (see ``agentcache.stream``)."""
        with self.tracer.span(STEP_MODEL, call):
            live = call.state.live
            if live is None:
                args, kwargs = call.sdk_args()
                return await self.model.get_response(*args, **kwargs)
            response, call.state.unstorable = await live.run()
            return response

    def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: ResponsePromptParam | None = None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        """Same chain, keys and entries as ``get_response``; a hit is replayed as events."""
        sdk_args = (
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            previous_response_id,
            conversation_id,
            prompt,
        )
        call = self._call(sdk_args, streamed=True)
        args, kwargs = call.sdk_args()
        return stream_call(
            self._chain,
            call,
            lambda: self.model.stream_response(*args, **kwargs),
            self._runs.settle,
            self._replay,
        )

    def stats(self) -> StatsSnapshot:
        return self._stats.snapshot()

    async def flush(self) -> None:
        """Wait for background writes (tests, and scripts about to exit)."""
        await self._background.flush()

    async def clear(self, namespace: str | None = None) -> int:
        """Remove this namespace's entries (every namespace's with ``namespace=None``), and what
        plugins keep about them (the semantic layer's indexed prompts); how many entries."""
        await self.flush()
        removed = await self.store.clear(namespace)
        for clear in self.plugins.store_clearers(self.store):
            await clear(namespace)
        return removed

    async def warmup(self) -> None:
        """Get the stages ready before the first call: the semantic layer's local embedding
        model, loading in the background since the model was built, is loaded when this returns
        (an error if it cannot be). Without it, the first lookups may wait for it and miss."""
        for stage in self.stages:
            warmup = getattr(stage, "warmup", None)
            if warmup is not None:
                await warmup()

    async def close(self) -> None:
        await self.flush()
        if self._owns_store:
            await self.store.close()
        await self.model.close()

    # -- forwarded to the inner model, which the Runner would otherwise have talked to --

    def get_retry_advice(self, request: ModelRetryAdviceRequest) -> ModelRetryAdvice | None:
        return self.model.get_retry_advice(request)

    async def _cleanup_on_run_end(self, owner: object) -> None:
        """The Runner's end of a run: the run's entries land before ``Runner.run`` returns."""
        await self._runs.end(owner)
        await self.model._cleanup_on_run_end(owner)

    def _supports_default_prompt_cache_key(self) -> bool:
        supports = getattr(self.model, "_supports_default_prompt_cache_key", None)
        return bool(supports()) if callable(supports) else False

    # -- the wrapper takes the inner model's path through the SDK --

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        """The inner model's class, as ``wrapt.ObjectProxy`` does: the SDK decides some
        behaviour by ``isinstance(model, OpenAIChatCompletionsModel)``, and a wrapped model
        must take the same branch as the bare one. ``isinstance(x, CachedModel)`` and
        ``type(x)`` still see the wrapper (``isinstance`` checks the real type first)."""
        return type(self.model)

    def __copy__(self) -> CachedModel:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CachedModel:
        """A cached model is a handle on a shared cache (a store, stats, background writes):
        copying run items that hold the agent, and so the model, keeps the same handle, as a
        copy of an SDK model shares its HTTP client."""
        return self

    def __getattr__(self, name: str) -> Any:
        # Optional attributes the Runner or user code reads off the model (getattr with a
        # default) see the inner model's. Dunders and our own unset attributes are not forwarded.
        if name.startswith("__") or name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)


class CachedModelProvider(ModelProvider):
    """Caches every model a provider hands out: ``RunConfig(model_provider=...)``.

    One store and one stats object are shared by all the provider's models.
    """

    def __init__(
        self, provider: ModelProvider, *, store: Store | str | None = None, **options: Any
    ) -> None:
        self.provider = provider
        self.plugins: Plugins = options.pop("plugins", None) or get_plugins()
        # Check every option now, not at the first get_model deep inside a run: a model built
        # on a throwaway memory store raises what a real one would.
        CachedModel(_Unbuilt(), store=MemoryStore(), plugins=self.plugins, **options)
        self.store, self._owns_store = _resolve_store(store, self.plugins)
        self._stats = Stats()
        self._options = options
        self._models: dict[str | None, CachedModel] = {}

    def get_model(self, model_name: str | None) -> Model:
        model = self._models.get(model_name)
        if model is None:
            inner = self.provider.get_model(model_name)
            model = CachedModel(
                inner, store=self.store, plugins=self.plugins, stats=self._stats, **self._options
            )
            self._models[model_name] = model
        return model

    def stats(self) -> StatsSnapshot:
        return self._stats.snapshot()

    async def flush(self) -> None:
        for model in self._models.values():
            await model.flush()

    async def aclose(self) -> None:
        await self.flush()
        if self._owns_store:
            await self.store.close()
        await self.provider.aclose()


class _Unbuilt(Model):
    """Stands in for a provider's model while its options are checked; never called."""

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        raise NotImplementedError

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        raise NotImplementedError
