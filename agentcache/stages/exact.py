from __future__ import annotations

from contextlib import nullcontext

from agents.items import ModelResponse

from ..call import ModelCall
from ..chain import ORDER_EXACT, Handler, StageContext
from ..entry import CorruptEntry, Entry, decode
from ..response import to_response
from ..tracing import NULL_TRACER, STEP_LOOKUP

# Decoded entries kept by their bytes: a hot entry is parsed once, not on every hit. Bounded by
# count and by the bytes they were decoded from (a decoded entry holds a few times that), so
# this cache never holds more than a small, fixed amount next to the store; a very large entry
# is decoded on every hit rather than crowd out the hot ones.
DECODED_MAX_ENTRIES = 1024
DECODED_MAX_BYTES = 4 * 1024 * 1024
DECODED_MAX_ENTRY_BYTES = 256 * 1024


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
        self._traced = context.tracer is not NULL_TRACER
        self._replay_usage = context.config.replay_usage
        # The memory store hands back the same bytes object, so the lookup is an identity
        # check; other stores' equal bytes find the entry by value.
        self._decoded: dict[bytes, Entry] = {}
        self._decoded_bytes = 0

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        response = await self.lookup(call)
        return await call_next(call) if response is None else response

    async def lookup(self, call: ModelCall) -> ModelResponse | None:
        """The hit's response (``call.state`` says so), or ``None``: the call goes on."""
        state = call.state
        if state.outcome == "bypass" or call.controls.skip_read:
            return None
        key = call.key
        span = self._tracer.span(STEP_LOOKUP, call) if self._traced else None
        if span is None or type(span) is nullcontext:  # no span: not even the no-op `with`
            raw = await self._store.get(key)
        else:
            with span:
                raw = await self._store.get(key)
        if raw is None:
            return None
        try:
            entry = self._decoded.get(raw)
            decoded = entry is None
            if entry is None:
                entry = decode(raw)
            if entry.digest != key.digest:
                raise CorruptEntry(f"entry for {entry.digest[:12]} stored under {key}")
            if not entry.expired():
                response = to_response(entry, replay_usage=self._replay_usage)
                if decoded:
                    self._remember(raw, entry)
                state.outcome, state.layer, state.entry = "hit", "exact", entry
                return response
        except CorruptEntry as exc:
            self._stats.count("errors", "corrupt_entry")
            self._store.warn("corrupt_entry", "%s: %s; removed", key, exc)
        # Awaited, not in the background: a background delete could land after this
        # call's fresh answer was written under the same key, and remove it.
        await self._store.delete(key)
        return None

    def _remember(self, raw: bytes, entry: Entry) -> None:
        size = len(raw)
        if size > DECODED_MAX_ENTRY_BYTES:
            return
        if (
            len(self._decoded) >= DECODED_MAX_ENTRIES
            or self._decoded_bytes + size > DECODED_MAX_BYTES
        ):
            self._decoded.clear()
            self._decoded_bytes = 0
        self._decoded[raw] = entry
        self._decoded_bytes += size
