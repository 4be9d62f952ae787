from __future__ import annotations

from agents.items import ModelResponse

from ..call import ModelCall
from ..chain import ORDER_EXACT, Handler, StageContext
from ..entry import CorruptEntry, Entry, decode
from ..response import to_response
from ..tracing import STEP_LOOKUP


class ExactLookupStage:
    """Answers from the store when the exact key is there, readable and fresh.

    A corrupt, misfiled or expired entry is a miss and is deleted before the call goes on.
    """

    name = "exact"
    order = ORDER_EXACT

    def __init__(self, context: StageContext) -> None:
        self._store = context.store
        self._stats = context.stats
        self._tracer = context.tracer
        self._replay_usage = context.config.replay_usage
        # Decoded entries by their bytes: a hot entry is parsed once, not on every hit (the
        # memory store hands back the same bytes object, so the lookup is an identity check).
        self._decoded: dict[bytes, Entry] = {}

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        if not call.cacheable or call.controls.skip_read:
            return await call_next(call)
        key = call.key
        with self._tracer.span(STEP_LOOKUP, call):
            raw = await self._store.get(key)
        if raw is not None:
            try:
                entry = self._decoded.get(raw) or decode(raw)
                if entry.digest != key.digest:
                    raise CorruptEntry(f"entry for {entry.digest[:12]} stored under {key}")
                if not entry.expired():
                    response = to_response(entry, replay_usage=self._replay_usage)
                    self._remember(raw, entry)
                    call.state.outcome, call.state.layer, call.state.entry = "hit", "exact", entry
                    return response
            except CorruptEntry as exc:
                self._stats.count("errors", "corrupt_entry")
                self._store.warn("corrupt_entry", "%s: %s; removed", key, exc)
            # Awaited, not in the background: a background delete could land after this
            # call's fresh answer was written under the same key, and remove it.
            await self._store.delete(key)
        return await call_next(call)

    def _remember(self, raw: bytes, entry: Entry) -> None:
        if len(self._decoded) >= 1024:
            self._decoded.clear()
        self._decoded[raw] = entry
