"""The hook implementations that the ``agentcache`` entry point registers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentcache.chain import Stage, StageContext
from agentcache.config import CacheConfig
from agentcache.hookspecs import OptionCheck, hookimpl
from agentcache.tracing import Tracer

from ._telemetry import Telemetry, TelemetryStage


@hookimpl
def agentcache_tracer(config: CacheConfig) -> Tracer:
    return Telemetry(config)


@hookimpl
def agentcache_stages(context: StageContext) -> Iterable[Stage]:
    # The tracer hook ran first, for the same model: its Telemetry is context.tracer, or one
    # of the tracers combined into it. Share it so the step spans and the call span agree.
    tracers = getattr(context.tracer, "tracers", (context.tracer,))
    telemetry = next(
        (t for t in tracers if isinstance(t, Telemetry) and t.config is context.config), None
    )
    telemetry = telemetry or Telemetry(context.config)
    telemetry.use_store(context.store)
    return [TelemetryStage(telemetry)]


def _flag(value: Any) -> None:
    if not isinstance(value, (bool, str)):
        raise TypeError(f"expected True, False or a string such as '1', got {value!r}")


def _provider(method: str) -> OptionCheck:
    def check(value: Any) -> None:
        if value is not None and not callable(getattr(value, method, None)):
            raise TypeError(f"expected an OpenTelemetry provider with {method}(), got {value!r}")

    return check


@hookimpl
def agentcache_options() -> Mapping[str, OptionCheck]:
    return {
        "otel_capture_content": _flag,
        "otel_agents_span": _flag,
        "otel_in_process_steps": _flag,
        "otel_tracer_provider": _provider("get_tracer"),
        "otel_meter_provider": _provider("get_meter"),
    }
