from __future__ import annotations

from agents import set_tracing_disabled

# The SDK would try to export traces to the platform; tests have no key and need no traces.
set_tracing_disabled(True)
