"""OpenTelemetry spans and metrics for agentcache (``pip install "agentcache-middleware[otel]"``).

Loaded through the ``agentcache`` entry-point group. It uses the *global* OpenTelemetry tracer
and meter providers (``opentelemetry.trace.set_tracer_provider`` /
``opentelemetry.metrics.set_meter_provider``), read on every call, so configuring OpenTelemetry
after the cached model was built works too. Until a real provider is configured it does
nothing beyond one ``isinstance`` check per call.

Per model call, one span ``agentcache.get_response`` (or ``agentcache.stream_response``) with
a child span per I/O step (``agentcache.lookup``, ``agentcache.semantic_lookup``,
``agentcache.store_write``, ``agentcache.model``), and three instruments: ``agentcache.calls``
(by outcome and layer), ``agentcache.tokens_saved`` and ``agentcache.call.duration``.

Options (``CachedModel(..., options={...})``):

- ``otel_capture_content`` (default ``False``, or env ``AGENTCACHE_OTEL_CAPTURE_CONTENT=1``):
  record the input items and the answer as ``gen_ai.input.messages`` /
  ``gen_ai.output.messages`` on the call span. Off by default: prompts stay out of traces.
- ``otel_agents_span`` (default ``False``): also add a custom span to the Agents SDK's own
  trace (``agents.tracing.custom_span``) so SDK trace viewers show cache hits.
- ``otel_in_process_steps`` (default ``False``): the exact lookup and the store write of an
  in-process store (the default memory store) do no I/O and get no span of their own; set it
  to see them anyway. Lookups and writes of other stores always get one.
- ``otel_tracer_provider`` / ``otel_meter_provider``: use these providers instead of the
  global ones (tests, or an application that keeps several).
"""

from __future__ import annotations

# The entry point is ``agentcache_otel:hooks [otel]``. Importing this package imports
# opentelemetry, so without the extra the plugin fails to load with an install hint
# (``agentcache plugins`` shows it) and agentcache runs without it.
from . import hooks
from ._telemetry import (
    ATTR_ABANDONED,
    ATTR_BYPASS_REASON,
    ATTR_KEY,
    ATTR_LAYER,
    ATTR_NAMESPACE,
    ATTR_OUTCOME,
    ATTR_SIMILARITY,
    ATTR_TOKENS_SAVED,
    CAPTURE_CONTENT_ENV,
    INSTRUMENTATION_NAME,
    Telemetry,
    TelemetryStage,
)

__all__ = [
    "ATTR_ABANDONED",
    "ATTR_BYPASS_REASON",
    "ATTR_KEY",
    "ATTR_LAYER",
    "ATTR_NAMESPACE",
    "ATTR_OUTCOME",
    "ATTR_SIMILARITY",
    "ATTR_TOKENS_SAVED",
    "CAPTURE_CONTENT_ENV",
    "INSTRUMENTATION_NAME",
    "Telemetry",
    "TelemetryStage",
    "hooks",
]
