"""A cached response replayed as events: every event valid, every item opened and closed."""

from __future__ import annotations

from typing import Any

from agents.items import ModelResponse
from agents.testing import assistant_message, function_call
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionWebSearch,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseStreamEvent,
)
from openai.types.responses.response_output_text import AnnotationURLCitation
from pydantic import TypeAdapter

from agentcache.replay import replay_events

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def response() -> ModelResponse:
    cited = ResponseOutputText(
        type="output_text",
        text="See the docs.",
        annotations=[
            AnnotationURLCitation(
                type="url_citation",
                url="https://example.com",
                title="d",
                start_index=4,
                end_index=8,
            )
        ],
    )
    refusal = ResponseOutputRefusal(type="refusal", refusal="Not that part.")
    message = ResponseOutputMessage(
        id="msg_2", type="message", role="assistant", status="completed", content=[cited, refusal]
    )
    search = ResponseFunctionWebSearch.model_validate(
        {
            "id": "ws_1",
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "query": "q"},
        }
    )
    call = function_call("lookup", {"q": "x" * 50}, call_id="call_1")
    call.id = None  # providers may omit it: the events then use the call_id, as the SDK does
    return ModelResponse(
        output=[search, call, assistant_message("a" * 70, item_id="msg_1"), message],
        usage=Usage(requests=1, input_tokens=3, output_tokens=4, total_tokens=7),
        response_id="resp_1",
    )


def test_every_event_is_valid_and_numbered() -> None:
    events = list(replay_events(response(), model="m", chunk_chars=32))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    for event in events:  # re-validating the dump gives the same event back
        assert EVENTS.validate_python(event.model_dump(by_alias=True)) == event


def test_items_deltas_and_final_response() -> None:
    original = response()
    events = list(replay_events(original, model="m", chunk_chars=32))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert (
        types.count("response.output_item.added") == types.count("response.output_item.done") == 4
    )

    text = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert [len(t) for t in text] == [32, 32, 6, 13]  # "a" * 70, then "See the docs."
    args = [e for e in events if e.type.startswith("response.function_call_arguments.")]
    assert {e.item_id for e in args} == {"call_1"}
    assert "".join(e.delta for e in args[:-1]) == args[-1].arguments == original.output[1].arguments
    assert [e.type for e in events if "refusal" in e.type] == [
        "response.refusal.delta",
        "response.refusal.done",
    ]
    assert sum(e.type == "response.output_text.annotation.added" for e in events) == 1

    added = [e.item for e in events if e.type == "response.output_item.added"]
    assert added[2].status == "in_progress" and added[2].content == []
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert done == original.output and done[0] is not original.output[0]

    final = events[-1].response
    assert final.id == "resp_1" and final.model == "m" and final.status == "completed"
    assert final.output == original.output
    assert final.usage is not None and final.usage.total_tokens == 7
