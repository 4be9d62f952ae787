from __future__ import annotations

import time

from agents.items import ModelResponse
from openai.types.responses import ResponseOutputMessage, ResponseOutputRefusal

from ..call import ModelCall
from ..chain import ORDER_STORE, Handler, StageContext
from ..entry import Entry, encode, entry_from_response
from ..tracing import STEP_STORE_WRITE


def unstorable_reason(response: ModelResponse) -> str | None:
    """Answers not worth replaying: nothing at all, or only a refusal."""
    if not response.output:
        return "empty_output"
    if all(
        isinstance(item, ResponseOutputMessage)
        and all(isinstance(part, ResponseOutputRefusal) for part in item.content)
        for item in response.output
    ):
        return "refusal"
    return None


class StoreStage:
    """Calls on toward the model, then writes the answer in the background.

    Encoding and the size check run in the background task too: the caller gets the response
    as soon as the model returns it.
    """

    name = "store"
    order = ORDER_STORE

    def __init__(self, context: StageContext) -> None:
        self._store = context.store
        self._stats = context.stats
        self._background = context.background
        self._config = context.config
        self._tracer = context.tracer

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        if not call.cacheable or call.controls.skip_write:
            return await call_next(call)
        started = time.perf_counter()
        response = await call_next(call)
        reason = call.state.unstorable or unstorable_reason(response)
        if reason is not None:
            self._stats.count("not_stored", reason)
            return response
        ttl = call.controls.ttl or self._config.ttl
        entry = entry_from_response(response, call.key.digest, time.perf_counter() - started, ttl)
        call.state.entry = entry
        call.state.write = self._background.spawn(self._write(call, entry, ttl), "store_write")
        return response

    async def _write(self, call: ModelCall, entry: Entry, ttl: float | None) -> None:
        with self._tracer.span(STEP_STORE_WRITE, call):
            raw = encode(entry)
            if len(raw) > self._config.max_entry_bytes:
                self._stats.count("not_stored", "too_large")
            elif await self._store.set(call.key, raw, ttl):
                self._stats.stored()
