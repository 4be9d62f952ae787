from __future__ import annotations

import dataclasses
import functools
import logging
import time
from datetime import datetime, timezone
from importlib import metadata

from agents.items import ModelResponse
from openai.types.responses import ResponseOutputMessage, ResponseOutputRefusal

from ..call import ModelCall
from ..chain import ORDER_STORE, Handler, StageContext
from ..entry import Entry, encode
from ..keys import KEY_VERSION
from ..response import entry_from_response
from ..tracing import STEP_STORE_WRITE

log = logging.getLogger("agentcache")


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


@functools.cache
def _sdk_version() -> str:
    try:
        return metadata.version("openai-agents")
    except metadata.PackageNotFoundError:  # pragma: no cover - a vendored SDK
        return "unknown"


class StoreStage:
    """Calls on toward the model, then writes the answer in the background.

    Encoding and the size check run in the background task too: the caller gets the response
    as soon as the model returns it. With ``options={"record_requests": True}`` an entry also
    keeps the normalized request it answers and where it came from (``options["record_meta"]``
    plus versions, model and time): recordings committed for tests must be reviewable, while a
    production cache does not keep prompts by default (size, and privacy).
    """

    name = "store"
    order = ORDER_STORE

    def __init__(self, context: StageContext) -> None:
        self._store = context.store
        self._stats = context.stats
        self._background = context.background
        self._config = context.config
        self._tracer = context.tracer
        self._record = bool(context.config.options.get("record_requests"))
        self._record_meta = dict(context.config.options.get("record_meta") or {})

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
        elapsed = time.perf_counter() - started
        try:
            entry = entry_from_response(response, call.key.digest, elapsed, ttl)
        except Exception:  # an item the codec cannot hold: the caller still gets its answer
            self._stats.count("not_stored", "unencodable")
            log.debug("agentcache: answer for %s not stored: unencodable", call.key, exc_info=True)
            return response
        call.state.entry = entry
        call.state.write = self._background.spawn(self._write(call, entry, ttl), "store_write")
        return response

    async def _write(self, call: ModelCall, entry: Entry, ttl: float | None) -> None:
        with self._tracer.span(STEP_STORE_WRITE, call):
            try:
                raw = encode(self._recorded(call, entry) if self._record else entry)
            except (TypeError, ValueError):  # lone surrogates, ints past 64 bits...
                self._stats.count("not_stored", "unencodable")
                log.debug("agentcache: %s not stored: unencodable", call.key, exc_info=True)
                return
            if len(raw) > self._config.max_entry_bytes:
                self._stats.count("not_stored", "too_large")
            elif await self._store.set(call.key, raw, ttl):
                self._stats.stored()

    def _recorded(self, call: ModelCall, entry: Entry) -> Entry:
        """The entry with what it answers and its provenance (in the background: the request
        is re-read from the call, which the caller no longer waits on)."""
        meta = {
            **self._record_meta,
            "key_version": KEY_VERSION,
            "sdk_version": _sdk_version(),
            "model": dict(call.model_identity),
            "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        return dataclasses.replace(entry, request=call.key_parts, meta=meta)
