"""Streamed calls run through the same chain, the same keys and the same entries as unary ones.

Stages never see a stream. The chain of a streamed call runs in its own task and returns a
``ModelResponse`` like any other call, while the *caller's* task does the streaming:

* **Miss** (or a bypass): when the chain reaches the inner model, its terminal handler hands
  over to the caller through a :class:`LiveStream` and waits. The caller's iterator opens the
  inner model's stream and pulls it event by event, in the caller's own task and context, so
  the inner model observes exactly what it would unwrapped: the same task (the SDK marks it
  when a ``ModelSettings.timeout`` cancels it), the same cancellations, ``aclose`` when the
  caller stops early. A :class:`StreamRecorder` watches the events go by; when the stream ends
  the chain gets what it amounted to (only a stream that ended with ``response.completed`` may
  be stored), or its error, or a cancellation (nothing is stored).
* **Hit** (or a single-flight follower): the chain returns without reaching the model, so the
  cached response is replayed as a Responses event stream (:mod:`agentcache.replay`),
  optionally paced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from agents.items import ModelResponse, TResponseStreamEvent
from agents.usage import Usage, _response_usage_to_usage
from openai.types.responses import Response
from pydantic import BaseModel

from .call import LiveStream, ModelCall
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
        kind = getattr(event, "type", None)
        if not isinstance(event, BaseModel) or not isinstance(kind, str):
            # The SDK passes on whatever a model yields; we pass it on too, but a stream we
            # could not replay faithfully is not stored.
            self.failure = "untyped_event"
        elif kind == "response.completed":
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


OpenStream = Callable[[], AsyncIterator[TResponseStreamEvent]]
Settle = Callable[[ModelResponse, bool], ModelResponse]


async def stream_call(
    chain: Handler,
    call: ModelCall,
    open_stream: OpenStream,
    settle: Settle,
    replay: ReplayOptions,
) -> AsyncIterator[TResponseStreamEvent]:
    """Run ``call`` through ``chain`` and yield the events the caller should see.

    ``settle(response, hit)`` sees every answer before the caller does (tool call ids).
    """
    live = call.state.live = LiveStream()
    task = asyncio.ensure_future(chain(call))  # a task, with a copy of the caller's context
    task.add_done_callback(_retrieve)
    first: list[asyncio.Future[Any]] = [task, live.started]
    try:
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if not live.started.done():
            response = settle(task.result(), True)  # a hit, or the chain's own exception
            replayed: Iterable[TResponseStreamEvent] = replay_events(
                response, model=replay.model, chunk_chars=replay.chunk_chars
            )
            delay = 0.0
            if replay.delay:
                replayed = list(replayed)
                delay = _pace(replayed, replay.delay, call)
            for event in replayed:
                if delay and event.type.endswith(".delta"):
                    await asyncio.sleep(delay)
                yield event
            return
        # The chain reached the model: stream it here, in the caller's task.
        recorder = StreamRecorder()
        events = open_stream()
        try:
            async for event in events:
                recorder.see(event)
                yield event
        except Exception as exc:
            traceback = exc.__traceback__
            live.ended.set_exception(exc)
            # The chain sees the failure first (single-flight followers, stats, spans); its
            # frames must not end up in the traceback the caller gets.
            await asyncio.wait([task])
            exc.__traceback__ = traceback
            raise
        except BaseException:
            live.ended.cancel()  # cancelled or closed early: the chain stores nothing
            raise
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:  # as the Runner does: a stream stopped early is closed now
                await aclose()
        result = recorder.result()
        settle(result[0], False)
        live.ended.set_result(result)
        await asyncio.wait([task])  # the stages finish (the write is scheduled)
    finally:
        if not task.done():
            task.cancel()  # the caller stopped: nothing is stored
            await asyncio.wait([task])  # its stages have counted and traced the call


def _pace(events: list[TResponseStreamEvent], delay: float, call: ModelCall) -> float:
    """The delay per delta, shortened so that a paced replay takes at most half the call's
    ``ModelSettings.timeout``: a typing effect must never turn a hit into a timeout."""
    timeout = getattr(call.model_settings, "timeout", None)  # newer SDKs only
    if not timeout:
        return delay
    deltas = sum(1 for event in events if event.type.endswith(".delta"))
    return min(delay, timeout / 2 / deltas) if deltas else delay


def _retrieve(task: asyncio.Future[ModelResponse]) -> None:
    """Mark the chain task's outcome as seen: it reached the caller another way, or nobody
    is left to see it (the caller stopped)."""
    if not task.cancelled():
        task.exception()
