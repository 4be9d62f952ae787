"""The call span, the step spans and the metrics of one cached model.

Everything that touches OpenTelemetry here is guarded: an exception inside tracing code is
logged once and swallowed, never seen by the agent run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any

from agents.items import ModelResponse
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import (
    CallbackOptions,
    Histogram,
    Meter,
    MeterProvider,
    NoOpMeterProvider,
    Observation,
)
from opentelemetry.trace import (
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
    TracerProvider,
)
from opentelemetry.util.types import AttributeValue

from agentcache import __version__
from agentcache.call import ModelCall
from agentcache.chain import ORDER_TRACING, Handler
from agentcache.config import CacheConfig

try:  # the proxy handed out before a meter provider is set; private, so guarded
    from opentelemetry.metrics import _internal as _metrics_internal
    from opentelemetry.metrics._internal import _ProxyMeterProvider
except ImportError:  # pragma: no cover - depends on the opentelemetry-api version
    _ProxyMeterProvider = NoOpMeterProvider  # type: ignore[misc,assignment]
    _metrics_internal = None  # type: ignore[assignment]

log = logging.getLogger("agentcache.otel")

INSTRUMENTATION_NAME = "agentcache"
CAPTURE_CONTENT_ENV = "AGENTCACHE_OTEL_CAPTURE_CONTENT"

ATTR_OUTCOME = "agentcache.outcome"
ATTR_LAYER = "agentcache.layer"
ATTR_BYPASS_REASON = "agentcache.bypass_reason"
ATTR_SIMILARITY = "agentcache.similarity"
ATTR_KEY = "agentcache.key"
ATTR_NAMESPACE = "agentcache.namespace"
ATTR_STREAMED = "agentcache.streamed"
ATTR_TOKENS_SAVED = "agentcache.tokens_saved"
ATTR_SECONDS_SAVED = "agentcache.seconds_saved"
ATTR_ABANDONED = "agentcache.abandoned"
KEY_PREFIX_LENGTH = 12

_NULL: AbstractContextManager[None] = nullcontext()
_NO_TRACING = (ProxyTracerProvider, NoOpTracerProvider)
_NO_METRICS = (_ProxyMeterProvider, NoOpMeterProvider)
_warned = False


def _swallow(where: str) -> None:
    """Log the first failure inside tracing code with its traceback, later ones quietly."""
    global _warned
    if not _warned:
        _warned = True
        log.warning("agentcache.otel: %s failed; telemetry skipped (logged once)", where,
                    exc_info=True)  # fmt: skip
    else:
        log.debug("agentcache.otel: %s failed", where, exc_info=True)


def _global_tracer_provider() -> object:
    """``trace.get_tracer_provider()``, without its per-call environment lookup.

    The public function checks ``os.environ`` on every call while no provider is set (about
    0.5 us); the module global it returns says the same for the price of an attribute read.
    Anything unexpected (another API version, providers configured by environment variable)
    takes the public path.
    """
    provider = getattr(trace, "_TRACER_PROVIDER", _UNSET)
    if provider is None and not _PROVIDERS_FROM_ENV:
        return _NO_PROVIDER
    return trace.get_tracer_provider() if provider is None or provider is _UNSET else provider


def _global_meter_provider() -> object:
    """``metrics.get_meter_provider()``, the same way."""
    provider = getattr(_metrics_internal, "_METER_PROVIDER", _UNSET)
    if provider is None and not _PROVIDERS_FROM_ENV:
        return _NO_PROVIDER
    return metrics.get_meter_provider() if provider is None or provider is _UNSET else provider


def _no_global_providers() -> bool:
    """Certainly no global tracer or meter provider (the lookups above would say "none")."""
    return (
        getattr(trace, "_TRACER_PROVIDER", _UNSET) is None
        and getattr(_metrics_internal, "_METER_PROVIDER", _UNSET) is None
        and not _PROVIDERS_FROM_ENV
    )


_UNSET = object()
_NO_PROVIDER = object()  # "none configured", in both lookups
_PROVIDERS_FROM_ENV = bool(
    {"OTEL_PYTHON_TRACER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER"} & set(os.environ)
)


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


class _Instruments:
    """The instruments of one meter provider, shared by every cached model that uses it.

    ``agentcache.calls`` and ``agentcache.tokens_saved`` are asynchronous (observable)
    counters: a call only bumps a tally here, and the SDK reads the tallies when it collects.
    Only the duration histogram, which has no asynchronous form, is recorded on each call.
    """

    def __init__(self, meter: Meter) -> None:
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str | None, str | None], int] = {}
        self._tokens: dict[str, int] = {}
        meter.create_observable_counter(
            "agentcache.calls",
            callbacks=[self._observe_calls],
            unit="{call}",
            description="Model calls by cache outcome, layer and bypass reason",
        )
        meter.create_observable_counter(
            "agentcache.tokens_saved",
            callbacks=[self._observe_tokens],
            unit="{token}",
            description="Tokens the original calls behind cache hits cost (not billed again)",
        )
        self.duration: Histogram = meter.create_histogram(
            "agentcache.call.duration",
            unit="s",
            description="Duration of a model call through the cache, by outcome",
        )

    def count(self, outcome: str, layer: str | None, reason: str | None, tokens: int) -> None:
        labels = (outcome, layer, reason)
        with self._lock:
            self._calls[labels] = self._calls.get(labels, 0) + 1
            if tokens and layer is not None:
                self._tokens[layer] = self._tokens.get(layer, 0) + tokens

    def _observe_calls(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            tallies = list(self._calls.items())
        observations = []
        for (outcome, layer, reason), count in tallies:
            attributes: dict[str, AttributeValue] = {ATTR_OUTCOME: outcome}
            if layer is not None:
                attributes[ATTR_LAYER] = layer
            if reason is not None:
                attributes[ATTR_BYPASS_REASON] = reason
            observations.append(Observation(count, attributes))
        return observations

    def _observe_tokens(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            tallies = list(self._tokens.items())
        return [Observation(tokens, {ATTR_LAYER: layer}) for layer, tokens in tallies]


# One set of instruments per meter provider: creating them again for a second model would
# make the SDK warn about a duplicate instrument and ignore the second model's callbacks.
_instruments_by_provider: weakref.WeakKeyDictionary[object, _Instruments] = (
    weakref.WeakKeyDictionary()
)
_instruments_lock = threading.Lock()


def _shared_instruments(provider: Any) -> _Instruments:
    with _instruments_lock:
        try:
            found = _instruments_by_provider.get(provider)
        except TypeError:  # not weakly referenceable: no sharing
            return _Instruments(provider.get_meter(INSTRUMENTATION_NAME, __version__))
        if found is None:
            found = _Instruments(provider.get_meter(INSTRUMENTATION_NAME, __version__))
            _instruments_by_provider[provider] = found
        return found


class Telemetry:
    """The ``Tracer`` for the steps, and the state the call stage shares, for one model.

    Providers are looked up on every call (one ``isinstance`` check when none is configured);
    the tracer and the instruments are made once per provider.
    """

    def __init__(self, config: CacheConfig) -> None:
        self.config = config
        options: Mapping[str, Any] = config.options
        self.capture_content = _flag(
            options.get("otel_capture_content", os.environ.get(CAPTURE_CONTENT_ENV, ""))
        )
        self.agents_span = _flag(options.get("otel_agents_span", False))
        self.in_process_steps = _flag(options.get("otel_in_process_steps", False))
        self.skip_store_steps = False
        """Set once the store is known: its lookups and writes do no I/O (a memory store), so
        they get no span of their own unless ``otel_in_process_steps`` asks for them."""
        self._tracer_provider: TracerProvider | None = options.get("otel_tracer_provider")
        self._meter_provider: MeterProvider | None = options.get("otel_meter_provider")
        self.unconfigured = not (self.agents_span or self._tracer_provider or self._meter_provider)
        """No provider or span of its own: it traces only once a global provider is set."""
        self._tracer_for: tuple[object, trace.Tracer | None] = (None, None)
        self._instruments_for: tuple[object, _Instruments | None] = (None, None)
        self._static_for: tuple[object, dict[str, AttributeValue]] = (None, {})

    # -- providers --

    def tracer(self) -> trace.Tracer | None:
        """The tracer, or ``None`` while no real tracer provider is configured."""
        provider = self._tracer_provider or _global_tracer_provider()
        seen, tracer = self._tracer_for
        if provider is seen:
            return tracer
        tracer = None
        if provider is not _NO_PROVIDER and not isinstance(provider, _NO_TRACING):
            try:
                tracer = provider.get_tracer(INSTRUMENTATION_NAME, __version__)  # type: ignore[attr-defined]
            except Exception:
                _swallow("getting a tracer")  # and not again for this provider
        self._tracer_for = (provider, tracer)
        return tracer

    def instruments(self) -> _Instruments | None:
        """The instruments, or ``None`` while no real meter provider is configured."""
        provider = self._meter_provider or _global_meter_provider()
        seen, instruments = self._instruments_for
        if provider is seen:
            return instruments
        instruments = None
        if provider is not _NO_PROVIDER and not isinstance(provider, _NO_METRICS):
            try:
                instruments = _shared_instruments(provider)
            except Exception:
                _swallow("creating the instruments")  # and not again for this provider
        self._instruments_for = (provider, instruments)
        return instruments

    # -- the Tracer protocol: one child span per I/O step --

    def use_store(self, store: object) -> None:
        """Called with the model's store when its chain is built."""
        inner = getattr(store, "store", store)  # the GuardedStore's wrapped store
        self.skip_store_steps = bool(getattr(inner, "in_process", False)) and not (
            self.in_process_steps
        )

    def span(self, step: str, call: ModelCall) -> AbstractContextManager[Any]:
        if self.skip_store_steps and step in _STORE_STEPS:
            return _NULL
        try:
            tracer = self.tracer()
        except Exception:
            _swallow("tracer lookup")
            return _NULL
        if tracer is None:
            return _NULL
        return _StepSpan(tracer, step)

    # -- attributes --

    def static_attributes(self, call: ModelCall) -> dict[str, AttributeValue]:
        """The model's GenAI attributes; the identity object is the same for every call."""
        identity = call.model_identity
        seen, attributes = self._static_for
        if identity is seen:
            return attributes
        attributes = {"gen_ai.operation.name": "chat"}
        name = identity.get("name") or identity.get("id")
        if isinstance(name, str):
            attributes["gen_ai.request.model"] = name
        cls = identity.get("class")
        if isinstance(cls, str) and (cls.startswith(("agents.models.openai", "openai."))):
            attributes["gen_ai.system"] = "openai"
        self._static_for = (identity, attributes)
        return attributes


class _StepSpan:
    """A child span around one step, current while the step runs (so its own spans nest)."""

    __slots__ = ("_name", "_span", "_step", "_token", "_tracer")

    def __init__(self, tracer: trace.Tracer, step: str) -> None:
        self._tracer = tracer
        self._step = step
        self._name = _STEP_NAMES.get(step) or f"agentcache.{step}"
        self._span: Span | None = None
        self._token: object = None

    def __enter__(self) -> None:
        try:
            span = self._tracer.start_span(self._name, kind=SpanKind.INTERNAL)
            self._token = otel_context.attach(trace.set_span_in_context(span))
            self._span = span
        except Exception:
            _swallow(f"opening the {self._step} span")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self._span
        if span is None:
            return
        try:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            _mark_exception(span, exc)
            span.end()
        except Exception:
            _swallow(f"closing the {self._step} span")


_STORE_STEPS = frozenset({"lookup", "store_write"})
_STEP_NAMES = {
    step: f"agentcache.{step}" for step in ("lookup", "semantic_lookup", "store_write", "model")
}


def _mark_exception(span: Span, exc: BaseException | None) -> None:
    if exc is None:
        return
    if isinstance(exc, asyncio.CancelledError):
        # Not a failure of ours: the consumer stopped (an abandoned stream, a timeout).
        span.set_attribute(ATTR_ABANDONED, True)
        return
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


class TelemetryStage:
    """Outermost stage (``ORDER_TRACING``): the span of the whole call and its metrics."""

    name = "otel"
    order = ORDER_TRACING

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def idle(self) -> bool:
        """Nothing configured (no tracer or meter provider, no Agents SDK span): ``handle``
        would only pass the call on, so the model's chain may leave this stage out of it."""
        telemetry = self.telemetry
        if telemetry.unconfigured and _no_global_providers():
            return True  # the common case, without the provider lookups
        return (
            not telemetry.agents_span
            and telemetry.tracer() is None
            and telemetry.instruments() is None
        )

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        telemetry = self.telemetry
        try:
            tracer = telemetry.tracer()
            instruments = telemetry.instruments()
        except Exception:
            _swallow("provider lookup")
            return await call_next(call)
        if tracer is None and instruments is None and not telemetry.agents_span:
            return await call_next(call)  # nothing configured: stay out of the way
        record = _CallRecord(telemetry, tracer, instruments, call)
        try:
            response = await call_next(call)
        except asyncio.CancelledError:
            record.finish(call, None, abandoned=True)
            raise
        except BaseException as exc:
            record.finish(call, None, error=exc)
            raise
        record.finish(call, response)
        return response


class _CallRecord:
    """The span (and the SDK custom span, if asked for) of one call, from start to finish."""

    __slots__ = ("_agents_span", "_instruments", "_span", "_started", "_telemetry", "_token")

    def __init__(
        self,
        telemetry: Telemetry,
        tracer: trace.Tracer | None,
        instruments: _Instruments | None,
        call: ModelCall,
    ) -> None:
        self._telemetry = telemetry
        self._instruments = instruments
        self._started = time.perf_counter()
        self._span: Span | None = None
        self._token: object = None
        self._agents_span: Any = None
        try:
            if tracer is not None:
                name = "agentcache.stream_response" if call.streamed else "agentcache.get_response"
                attributes = dict(telemetry.static_attributes(call))
                attributes[ATTR_NAMESPACE] = call.namespace
                attributes[ATTR_STREAMED] = call.streamed
                attributes.update(_request_attributes(call))
                if telemetry.capture_content:
                    attributes.update(_input_content(call))
                span = tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes)
                self._token = otel_context.attach(trace.set_span_in_context(span))
                self._span = span
            if telemetry.agents_span:
                from agents.tracing import custom_span

                self._agents_span = custom_span("agentcache", {"namespace": call.namespace})
                self._agents_span.start(mark_as_current=True)
        except Exception:
            _swallow("opening the call span")

    def finish(
        self,
        call: ModelCall,
        response: ModelResponse | None,
        *,
        error: BaseException | None = None,
        abandoned: bool = False,
    ) -> None:
        took = time.perf_counter() - self._started
        # Unwind what was made current first, whatever fails later.
        if self._token is not None:
            try:
                otel_context.detach(self._token)  # type: ignore[arg-type]
            except Exception:
                _swallow("detaching the call span")
        outcome = "error" if error is not None else call.state.outcome
        facts: dict[str, AttributeValue] = {ATTR_OUTCOME: outcome}
        try:
            facts = _facts(call, outcome, took, abandoned)
        except Exception:
            _swallow("reading the call state")
        if self._agents_span is not None:
            try:
                self._agents_span.span_data.data.update(facts)
                if error is not None:
                    self._agents_span.set_error({"message": type(error).__name__, "data": None})
            except Exception:
                _swallow("filling the Agents SDK span")
            try:
                self._agents_span.finish(reset_current=True)
            except Exception:
                _swallow("finishing the Agents SDK span")
        try:
            self._end_span(facts, response, error)
        except Exception:
            _swallow("closing the call span")
        try:
            self._record_metrics(call, outcome, facts, took)
        except Exception:
            _swallow("recording metrics")

    def _end_span(
        self,
        facts: dict[str, AttributeValue],
        response: ModelResponse | None,
        error: BaseException | None,
    ) -> None:
        span = self._span
        if span is None:
            return
        if response is not None:
            facts = {**facts, **_response_attributes(response, facts[ATTR_OUTCOME] == "hit")}
            if self._telemetry.capture_content:
                facts.update(_output_content(response))
        span.set_attributes(facts)  # one call: the SDK takes a lock and cleans them together
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    def _record_metrics(
        self, call: ModelCall, outcome: str, facts: dict[str, AttributeValue], took: float
    ) -> None:
        instruments = self._instruments
        if instruments is None:
            return
        state = call.state
        layer = (state.layer or "exact") if outcome == "hit" else None
        tokens_saved = facts.get(ATTR_TOKENS_SAVED)
        tokens = tokens_saved if isinstance(tokens_saved, int) else 0
        instruments.count(outcome, layer, state.bypass_reason, tokens)
        instruments.duration.record(took, _DURATION_LABELS.get(outcome) or {ATTR_OUTCOME: outcome})


_DURATION_LABELS: dict[str, dict[str, AttributeValue]] = {
    outcome: {ATTR_OUTCOME: outcome} for outcome in ("hit", "miss", "bypass", "error")
}


def _facts(
    call: ModelCall, outcome: str, took: float, abandoned: bool
) -> dict[str, AttributeValue]:
    """What the chain decided, as span attributes (and the SDK custom span's data)."""
    state = call.state
    facts: dict[str, AttributeValue] = {ATTR_OUTCOME: outcome}
    if state.layer is not None:
        facts[ATTR_LAYER] = state.layer
    if state.bypass_reason is not None:
        facts[ATTR_BYPASS_REASON] = state.bypass_reason
    key = call.__dict__.get("key")  # never computed here: a bypassed call may have none
    if key is not None:
        facts[ATTR_KEY] = key.digest[:KEY_PREFIX_LENGTH]
    similarity = state.info.get("similarity")  # recorded by the semantic layer
    if isinstance(similarity, (int, float)):
        facts[ATTR_SIMILARITY] = float(similarity)
    if outcome == "hit" and state.entry is not None:
        facts[ATTR_TOKENS_SAVED] = state.entry.total_tokens
        facts[ATTR_SECONDS_SAVED] = max(state.entry.elapsed - took, 0.0)
    if abandoned:
        facts[ATTR_ABANDONED] = True
    return facts


def _request_attributes(call: ModelCall) -> dict[str, AttributeValue]:
    settings = call.model_settings
    attributes: dict[str, AttributeValue] = {}
    if settings.temperature is not None:
        attributes["gen_ai.request.temperature"] = settings.temperature
    if settings.top_p is not None:
        attributes["gen_ai.request.top_p"] = settings.top_p
    if settings.max_tokens is not None:
        attributes["gen_ai.request.max_tokens"] = settings.max_tokens
    return attributes


def _response_attributes(response: ModelResponse, hit: bool) -> dict[str, AttributeValue]:
    usage = response.usage
    attributes: dict[str, AttributeValue] = {
        # What this call was billed: zero for a hit unless replay_usage is on.
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
    }
    if response.response_id and not hit:  # a hit's id is that of the original answer
        attributes["gen_ai.response.id"] = response.response_id
    return attributes


def _json(value: Any) -> str:
    def default(obj: Any) -> Any:
        dump = getattr(obj, "model_dump", None)
        return dump(mode="json", exclude_unset=True) if callable(dump) else str(obj)

    return json.dumps(value, default=default, ensure_ascii=False)


def _input_content(call: ModelCall) -> dict[str, AttributeValue]:
    items = call.input
    messages = [{"role": "user", "content": items}] if isinstance(items, str) else items
    attributes: dict[str, AttributeValue] = {"gen_ai.input.messages": _json(messages)}
    if call.system_instructions:
        attributes["gen_ai.system_instructions"] = call.system_instructions
    return attributes


def _output_content(response: ModelResponse) -> dict[str, AttributeValue]:
    return {"gen_ai.output.messages": _json(response.output)}
