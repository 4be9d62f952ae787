from __future__ import annotations

import logging
import time

from agents.items import ModelResponse

from ..call import ModelCall
from ..chain import ORDER_STATS, Handler, StageContext

log = logging.getLogger("agentcache")


class StatsStage:
    """Outermost: counts each call once, by the outcome the inner stages recorded."""

    name = "stats"
    order = ORDER_STATS

    def __init__(self, context: StageContext) -> None:
        self._stats = context.stats

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        try:
            return await call_next(call)
        finally:
            self.record(call)

    def record(self, call: ModelCall) -> None:
        """Count the call by the outcome the inner stages recorded (once it has one)."""
        state = call.state
        if state.outcome == "hit" and state.entry is not None:
            took = time.perf_counter() - state.started
            entry = state.entry
            self._stats.hit(state.layer or "exact", entry.total_tokens, entry.elapsed - took)
        elif state.outcome == "bypass":
            self._stats.count("bypasses", state.bypass_reason or "unknown")
        else:
            self._stats.miss()
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "agentcache: %s layer=%s reason=%s key=%s",
                state.outcome,
                state.layer,
                state.bypass_reason,
                call.key if state.outcome != "bypass" else None,
            )
