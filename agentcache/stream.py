"""Streamed calls run through the same chain, the same keys and the same entries as unary ones.

Stages never see a stream. The chain of a streamed call runs in its own task and returns a
``ModelResponse`` like any other call; the caller's iterator is fed through a side channel:

* **Miss:** the terminal handler pulls the inner model's stream and hands each event to the
  caller as it arrives, pull-paced (the next event is read from the model only when the caller
  asks for it, exactly as without the cache). A :class:`StreamRecorder` watches the events go by;
  only a stream that ended with ``response.completed`` becomes a storable response. An error
  reaches the caller as the model raised it; a caller that stops (closes the iterator, cancels
  the run) cancels the chain task, so nothing is stored.
* **Hit** (or a single-flight follower): no live event was sent, so the cached response is
  replayed as a Responses event stream (:mod:`agentcache.replay`), optionally paced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from agents.items import ModelResponse, TResponseStreamEvent
from agents.usage import Usage, _response_usage_to_usage
from openai.types.responses import Response

from .call import ModelCall
from .chain import Handler
from .replay import replay_events

# Stream events that end a stream without an answer, and the ``not_stored`` reason they give.
_FAILURES = {
    "response.failed": "stream_failed",
    "response.incomplete": "stream_incomplete",
    "error": "stream_error",
    "response.error": "stream_error",
}


class StreamRecorder:
    """Says what a live stream amounted to, the way the Runner reads it."""

    def __init__(self) -> None:
        self.completed: Response | None = None
        self.failure: str | None = None
        self.done_items: list[Any] = []

    def see(self, event: TResponseStreamEvent) -> None:
        kind = event.type
        if kind == "response.completed":
            self.completed = event.response  # type: ignore[union-attr]
        elif kind == "response.output_item.done":
            self.done_items.append(event.item)  # type: ignore[union-attr]
        elif kind in _FAILURES:
            self.failure = _FAILURES[kind]

    def result(self) -> tuple[ModelResponse, str | None]:
        """The response, and why it must not be stored (``None`` when it may be)."""
        done = self.completed
        if done is None or self.failure is not None:
            reason = self.failure or "stream_not_completed"
            return ModelResponse(
                output=list(self.done_items), usage=Usage(), response_id=None
            ), reason
        # As the Runner does: some backends leave the final output empty and send the items
        # only in ``output_item.done`` events.
        output = list(done.output) or list(self.done_items)
        usage = _response_usage_to_usage(done.usage) if done.usage else Usage()
        request_id = getattr(done, "_request_id", None)
        return ModelResponse(
            output=output, usage=usage, response_id=done.id, request_id=request_id
        ), None


@dataclass(frozen=True)
class ReplayOptions:
    model: str = "agentcache-replay"
    """The ``model`` field of the replayed ``Response``."""
    chunk_chars: int = 32
    delay: float = 0.0
    """Seconds to wait before each delta event of a replay (a typing effect); 0 is off."""


_DONE: Any = object()


async def stream_call(
    chain: Handler, call: ModelCall, replay: ReplayOptions
) -> AsyncIterator[TResponseStreamEvent]:
    """Run ``call`` through ``chain`` and yield the events the caller should see."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def send(event: TResponseStreamEvent) -> None:
        queue.put_nowait(event)
        await queue.join()  # wait until the caller has taken it and asked for the next one

    async def run() -> ModelResponse:
        try:
            return await chain(call)
        finally:  # not a done callback: that would cost the caller one more loop iteration
            queue.put_nowait(_DONE)

    call.state.sink = send
    task = asyncio.create_task(run())  # with a copy of the caller's context
    live = False
    try:
        while (item := await queue.get()) is not _DONE:
            live = True
            yield item
            queue.task_done()
        response = task.result()  # the chain's exception, as the model raised it
        if not live:
            for event in replay_events(
                response, model=replay.model, chunk_chars=replay.chunk_chars
            ):
                if replay.delay and event.type.endswith(".delta"):
                    await asyncio.sleep(replay.delay)
                yield event
    finally:
        if not task.done():
            task.cancel()  # the caller stopped: the model stream is closed, nothing is stored
            await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # raised to the caller above, or the caller left: retrieved
