"""The entry codec: real SDK items back, exactly as set; anything unreadable is CorruptEntry."""

from __future__ import annotations

import json

import pytest
from agents.items import ModelResponse
from agents.testing import assistant_message, function_call
from agents.usage import Usage
from openai.types.responses import (
    ResponseFileSearchToolCall,
    ResponseFunctionWebSearch,
    ResponseOutputRefusal,
    ResponseReasoningItem,
)
from openai.types.responses.response_function_web_search import ActionSearch
from openai.types.responses.response_reasoning_item import Summary

from agentcache.entry import CorruptEntry, decode, encode
from agentcache.response import entry_from_response, to_response

ITEMS = [
    assistant_message("hello"),
    function_call("lookup", {"q": "x"}, call_id="call_1"),
    ResponseReasoningItem(
        id="rs_1", type="reasoning", summary=[Summary(text="thinking", type="summary_text")]
    ),
    ResponseFunctionWebSearch(
        id="ws_1",
        status="completed",
        type="web_search_call",
        action=ActionSearch(type="search", query="q"),
    ),
    ResponseFileSearchToolCall(
        id="fs_1", queries=["q"], status="completed", type="file_search_call"
    ),
]


def roundtrip(response: ModelResponse, **kw: bool) -> ModelResponse:
    return to_response(decode(encode(entry_from_response(response, "ab", 0.1, None))), **kw)


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: i.type)
def test_items_come_back_as_the_same_sdk_types(item: object) -> None:
    original = ModelResponse(output=[item], usage=Usage(), response_id="r")  # type: ignore[list-item]
    back = roundtrip(original)
    assert type(back.output[0]) is type(item)
    assert back.output == original.output
    assert back.output[0].model_fields_set == item.model_fields_set  # type: ignore[attr-defined]
    assert back.to_input_items() == original.to_input_items()  # next turn's key is the same


def test_refusal_message_round_trips() -> None:
    message = assistant_message("x")
    message.content = [ResponseOutputRefusal(refusal="no", type="refusal")]
    assert roundtrip(ModelResponse(output=[message], usage=Usage(), response_id=None)).output == [
        message
    ]


def test_usage_zero_by_default_and_replayed_on_request() -> None:
    usage = Usage(requests=1, input_tokens=7, output_tokens=3, total_tokens=10)
    response = ModelResponse(output=[assistant_message("a")], usage=usage, response_id=None)
    assert roundtrip(response).usage.total_tokens == 0
    replayed = roundtrip(response, replay_usage=True).usage
    assert (replayed.input_tokens, replayed.output_tokens, replayed.total_tokens) == (7, 3, 10)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x80\x81 not utf-8",
        b'{"format": "agentcache.entry", "version": 1',
        b'{"format": "agentcache.entry", "version": 999}',
        b'{"format": "something.else", "version": 1}',
        b'{"format": "agentcache.entry", "version": 1, "digest": "ab"}',
        b"[1, 2, 3]",
    ],
)
def test_unreadable_entries_are_corrupt(raw: bytes) -> None:
    with pytest.raises(CorruptEntry):
        decode(raw)


def test_items_that_do_not_validate_are_corrupt() -> None:
    entry = entry_from_response(
        ModelResponse(output=[assistant_message("a")], usage=Usage(), response_id=None),
        "ab",
        0,
        None,
    )
    doc = json.loads(encode(entry))
    doc["output"] = [{"type": "message", "content": "not a list"}]
    with pytest.raises(CorruptEntry):
        to_response(decode(json.dumps(doc).encode()))
