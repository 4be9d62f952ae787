"""A cached answer as a Responses event stream, the way the live API would have sent it.

``Runner.run_streamed`` builds the turn from ``response.output_item.done`` and
``response.completed``; UIs render the ``*.delta`` events. Both must look live: every item is
opened (``output_item.added``, in progress and empty), filled by deltas (text, refusal, function
call arguments, reasoning summary and reasoning text), closed (``*.done``, ``output_item.done``
with the full item), and the stream ends with ``response.completed`` carrying the full
``Response``. Sequence numbers increase from 0. Text deltas are cut into ``chunk_chars``-sized
pieces (whole characters, never split inside one).

Items with no delta events of their own (hosted tool calls and the like) are replayed as
``added`` then ``done``. The replayed ``Response`` carries id, output, status and usage; it does
not echo the request configuration (tools, instructions) a live response would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, get_args

from agents.items import ModelResponse, TResponseOutputItem, TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
    ResponseStreamEvent,
    ResponseUsage,
)

# Event classes by their ``type`` tag: validating through the whole union would try its ~60
# members in turn (openai's discriminator marker is not pydantic's).
_EVENTS: dict[str, Any] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in get_args(get_args(ResponseStreamEvent)[0])
}


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _response(response: ModelResponse, model: str, status: str, output: list[Any]) -> Response:
    u = response.usage
    usage = None
    if status == "completed":
        usage = ResponseUsage(
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            total_tokens=u.total_tokens,
            input_tokens_details=u.input_tokens_details,
            output_tokens_details=u.output_tokens_details,
        )
        # The Runner counts this many requests for the turn (it assumes 1 without it): a hit
        # then adds exactly what ``get_response`` would, zero unless usage is replayed.
        object.__setattr__(usage, "_agents_sdk_request_count", u.requests)
    resp = Response(
        id=response.response_id or "",
        created_at=time.time(),
        model=model,
        object="response",
        output=output,
        parallel_tool_calls=True,
        tool_choice="auto",
        tools=[],
        status=status,  # type: ignore[arg-type]
        usage=usage,
    )
    if response.response_id is None:  # the SDK boundary allows a missing id; Response does not
        object.__setattr__(resp, "id", None)
    return resp


def _opened(item: TResponseOutputItem) -> TResponseOutputItem:
    """The item as ``output_item.added`` announces it: in progress, nothing filled in yet."""
    if isinstance(item, ResponseOutputMessage):
        return item.model_copy(update={"content": [], "status": "in_progress"})
    if isinstance(item, ResponseFunctionToolCall):
        return item.model_copy(update={"arguments": "", "status": "in_progress"})
    if isinstance(item, ResponseReasoningItem):
        content: list[Any] | None = [] if item.content is not None else None
        update = {"summary": [], "content": content, "encrypted_content": None}
        return item.model_copy(update={**update, "status": "in_progress"})
    return item


def replay_events(
    response: ModelResponse, *, model: str = "agentcache-replay", chunk_chars: int = 32
) -> Iterator[TResponseStreamEvent]:
    """Yield the events of ``response`` one at a time (lazily: the first one is cheap)."""
    seq = 0

    def ev(type: str, **fields: Any) -> TResponseStreamEvent:
        nonlocal seq
        event: TResponseStreamEvent = _EVENTS[type](type=type, sequence_number=seq, **fields)
        seq += 1
        return event

    started = _response(response, model, "in_progress", [])
    yield ev("response.created", response=started)
    yield ev("response.in_progress", response=started)
    for index, item in enumerate(response.output):
        yield ev("response.output_item.added", output_index=index, item=_opened(item))
        where = {"output_index": index, "item_id": getattr(item, "id", None)}
        if isinstance(item, ResponseOutputMessage):
            for ci, part in enumerate(item.content):
                yield from _content_part(ev, part, {**where, "content_index": ci}, chunk_chars)
        elif isinstance(item, ResponseFunctionToolCall):
            where["item_id"] = item.id or item.call_id
            for piece in _chunks(item.arguments, chunk_chars):
                yield ev("response.function_call_arguments.delta", **where, delta=piece)
            yield ev(
                "response.function_call_arguments.done",
                **where,
                arguments=item.arguments,
                name=item.name,
            )
        elif isinstance(item, ResponseReasoningItem):
            for si, summary in enumerate(item.summary):
                at = {**where, "summary_index": si}
                yield ev("response.reasoning_summary_part.added", **at, part=_text_part(""))
                for piece in _chunks(summary.text, chunk_chars):
                    yield ev("response.reasoning_summary_text.delta", **at, delta=piece)
                yield ev("response.reasoning_summary_text.done", **at, text=summary.text)
                yield ev(
                    "response.reasoning_summary_part.done", **at, part=_text_part(summary.text)
                )
            for ci, content in enumerate(item.content or []):
                at = {**where, "content_index": ci}
                for piece in _chunks(content.text, chunk_chars):
                    yield ev("response.reasoning_text.delta", **at, delta=piece)
                yield ev("response.reasoning_text.done", **at, text=content.text)
        # A copy: live streams hand the Runner distinct objects here and in the final response.
        yield ev("response.output_item.done", output_index=index, item=item.model_copy(deep=True))
    yield ev(
        "response.completed", response=_response(response, model, "completed", response.output)
    )


def _text_part(text: str) -> dict[str, str]:
    return {"type": "summary_text", "text": text}


def _content_part(ev: Any, part: Any, at: dict[str, Any], chunk_chars: int) -> Iterator[Any]:
    if isinstance(part, ResponseOutputText):
        yield ev(
            "response.content_part.added",
            **at,
            part=part.model_copy(update={"text": "", "annotations": [], "logprobs": []}),
        )
        for piece in _chunks(part.text, chunk_chars):
            yield ev("response.output_text.delta", **at, delta=piece, logprobs=[])
        for ai, annotation in enumerate(part.annotations):
            yield ev(
                "response.output_text.annotation.added",
                **at,
                annotation_index=ai,
                annotation=annotation.model_dump(),
            )
        logprobs = [lp.model_dump() for lp in part.logprobs or []]
        yield ev("response.output_text.done", **at, text=part.text, logprobs=logprobs)
    elif isinstance(part, ResponseOutputRefusal):
        yield ev("response.content_part.added", **at, part=part.model_copy(update={"refusal": ""}))
        for piece in _chunks(part.refusal, chunk_chars):
            yield ev("response.refusal.delta", **at, delta=piece)
        yield ev("response.refusal.done", **at, refusal=part.refusal)
    yield ev("response.content_part.done", **at, part=part)
