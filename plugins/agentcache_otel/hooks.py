"""The hook implementations that the ``agentcache`` entry point registers."""

from __future__ import annotations

from collections.abc import Iterable

from agentcache.chain import Stage, StageContext
from agentcache.config import CacheConfig
from agentcache.hookspecs import hookimpl
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
