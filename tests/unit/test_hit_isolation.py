"""Every hit hands out objects of its own: changing one hit's response (as the Runner and user
code do) never shows in another hit's, in the entry, or in what the next hit replays.

The hit path builds the usage and the ``ModelResponse`` from validated templates instead of
constructing them afresh, so these tests also check that what it builds is the same as what the
SDK's constructors build.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from agents import Agent, ModelSettings, RunConfig, Runner, function_tool
from agents.items import ModelResponse
from agents.testing import ScriptedModel, assistant_message, function_call
from agents.usage import Usage
from openai.types.responses import ResponseOutputMessage, ResponseOutputText
from openai.types.responses.response_output_text import AnnotationURLCitation
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic import BaseModel

from agentcache import CachedModel
from agentcache.entry import Entry, decode, encode
from agentcache.response import entry_from_response, fresh, to_response
from agentcache.stages import exact

ANSWER = "Sunny, 21 °C in Paris."


def message(text: str = ANSWER) -> ResponseOutputMessage:
    item = assistant_message(text, item_id="msg_1")
    assert isinstance(item, ResponseOutputMessage)
    part = item.content[0]
    assert isinstance(part, ResponseOutputText)
    part.annotations = [
        AnnotationURLCitation(
            type="url_citation", url="https://example.com", title="t", start_index=0, end_index=5
        )
    ]
    return item


def stored_entry(**response: Any) -> Entry:
    usage = Usage(requests=1, input_tokens=7, output_tokens=3, total_tokens=10)
    original = ModelResponse(
        output=response.get("output") or [message(), function_call("f", {"a": 1}, call_id="c1")],
        usage=usage,
        response_id="resp_1",
    )
    return decode(encode(entry_from_response(original, "ab" * 32, 0.5, None)))


def mutable_parts(value: Any, path: str = "response") -> Iterator[tuple[str, Any]]:
    """Every mutable object reachable from a response: models, dataclasses, lists, dicts."""
    if isinstance(value, BaseModel):
        yield path, value
        for name, v in value.__dict__.items():
            yield from mutable_parts(v, f"{path}.{name}")
        if value.__pydantic_extra__ is not None:
            yield from mutable_parts(value.__pydantic_extra__, f"{path}.<extra>")
    elif isinstance(value, (ModelResponse, Usage)):
        yield path, value
        for name, v in vars(value).items():
            yield from mutable_parts(v, f"{path}.{name}")
    elif isinstance(value, list):
        yield path, value
        for i, v in enumerate(value):
            yield from mutable_parts(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        yield path, value
        for k, v in value.items():
            yield from mutable_parts(v, f"{path}[{k!r}]")


def assert_share_nothing_mutable(a: Any, b: Any) -> None:
    mine = {id(obj): path for path, obj in mutable_parts(a)}
    shared = [path for path, obj in mutable_parts(b) if id(obj) in mine]
    assert shared == [], f"shared between two hits: {shared}"


@pytest.mark.parametrize("replay_usage", [False, True])
def test_two_hits_share_no_mutable_object(replay_usage: bool) -> None:
    entry = stored_entry()
    first = to_response(entry, replay_usage=replay_usage)
    second = to_response(entry, replay_usage=replay_usage)
    assert first.output == second.output and first.usage == second.usage
    assert_share_nothing_mutable(first, second)


def test_mutating_a_hit_changes_no_other_hit_nor_the_entry() -> None:
    entry = stored_entry()
    stored = decode(encode(entry)).output
    pristine = to_response(entry, replay_usage=True)
    first = to_response(entry, replay_usage=True)

    item = first.output[0]
    assert isinstance(item, ResponseOutputMessage)
    part = item.content[0]
    assert isinstance(part, ResponseOutputText)
    part.text = "changed"
    part.annotations.append(part.annotations[0])
    citation = part.annotations[0]
    assert isinstance(citation, AnnotationURLCitation)
    citation.url = "https://changed.example"
    item.content.append(part)
    item.id = "msg_changed"
    first.output.append(item)
    first.usage.input_tokens = 999
    first.usage.input_tokens_details.cached_tokens = 5
    first.usage.request_usage_entries.append(object())  # type: ignore[arg-type]
    first.response_id = "resp_changed"

    again = to_response(entry, replay_usage=True)
    assert again.output == pristine.output
    assert again.usage == pristine.usage
    assert again.response_id == "resp_1"
    assert entry.output == stored  # the entry's JSON is untouched


@pytest.mark.parametrize("replay_usage", [False, True])
def test_built_from_templates_equals_built_by_the_sdk(replay_usage: bool) -> None:
    entry = stored_entry()
    response = to_response(entry, replay_usage=replay_usage)
    assert type(response) is ModelResponse and type(response.usage) is Usage
    if replay_usage:  # as entries were always replayed: the stored details, validated
        u = entry.usage
        usage = Usage(
            requests=u["requests"],
            input_tokens=u["input_tokens"],
            output_tokens=u["output_tokens"],
            total_tokens=u["total_tokens"],
            input_tokens_details=InputTokensDetails.model_validate(u["input_tokens_details"]),
            output_tokens_details=OutputTokensDetails.model_validate(u["output_tokens_details"]),
        )
    else:
        usage = Usage()
    expected = ModelResponse(output=list(response.output), usage=usage, response_id="resp_1")
    assert response == expected
    assert vars(response).keys() == vars(expected).keys()
    for ours, theirs in [
        (response.usage.input_tokens_details, usage.input_tokens_details),
        (response.usage.output_tokens_details, usage.output_tokens_details),
    ]:
        assert type(ours) is type(theirs)
        assert ours.model_dump(exclude_unset=True) == theirs.model_dump(exclude_unset=True)
    # the next turn's input (and so its key) is what the live response gives
    assert (
        response.to_input_items()
        == ModelResponse(
            output=[item for item in response.output], usage=Usage(), response_id=None
        ).to_input_items()
    )


def test_fresh_copies_models_lists_and_dicts_and_keeps_what_was_set() -> None:
    original = message()
    original.__pydantic_extra__ = {"vendor": {"trace": [1, 2]}}  # an extra field, as openai keeps
    copy = fresh([original])[0]
    assert copy == original and copy is not original
    assert copy.model_fields_set == original.model_fields_set
    assert copy.model_dump(exclude_unset=True) == original.model_dump(exclude_unset=True)
    assert_share_nothing_mutable(copy, original)


def test_corrupt_usage_or_response_id_is_a_corrupt_entry() -> None:
    from agentcache.entry import CorruptEntry

    entry = stored_entry()
    broken = Entry(**{**vars(entry), "usage": {"requests": 1}})  # no token details
    with pytest.raises(CorruptEntry):
        to_response(broken, replay_usage=True)
    assert to_response(broken).usage == Usage()  # not replayed: not read
    with pytest.raises(CorruptEntry):
        to_response(Entry(**{**vars(entry), "response_id": 5}))


# -- through the Runner ---------------------------------------------------------------------------


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


async def test_runner_mutating_a_hit_does_not_change_the_next_run() -> None:
    inner = ScriptedModel(
        [
            [function_call("get_weather", {"city": "Paris"}, call_id="call_a")],
            [message()],
        ]
    )
    cached = CachedModel(inner)
    agent = Agent(
        name="weather",
        instructions="Use the tool.",
        tools=[get_weather],
        model_settings=ModelSettings(temperature=0.2),
    )

    async def run() -> Any:
        result = await Runner.run(agent, "Weather in Paris?", run_config=RunConfig(model=cached))
        await cached.flush()
        return result

    live = await run()
    first = await run()  # answered by hits
    assert cached.stats().hits == 2
    expected = [[item.model_dump() for item in r.output] for r in first.raw_responses]

    # Change everything the first hit run handed out, as a caller may.
    for response in first.raw_responses:
        for item in response.output:
            for _, obj in mutable_parts(item):
                if isinstance(obj, ResponseOutputText):
                    obj.text = "tampered"
                    obj.annotations.clear()
                elif isinstance(obj, BaseModel) and hasattr(obj, "arguments"):
                    obj.arguments = '{"city": "Lyon"}'
        response.output.append(response.output[0])
        response.usage.requests = 42
    for run_item in first.new_items:
        raw = run_item.raw_item
        if isinstance(raw, ResponseOutputMessage):
            raw.content.clear()

    second = await run()
    assert cached.stats().hits == 4 and len(inner.calls) == 2
    assert [[item.model_dump() for item in r.output] for r in second.raw_responses] == expected
    assert second.final_output == live.final_output == ANSWER
    for a, b in zip(first.raw_responses, second.raw_responses, strict=True):
        assert_share_nothing_mutable(a, b)


# -- the exact stage's decoded entries are bounded -----------------------------------------------


async def test_decoded_entries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exact, "DECODED_MAX_ENTRIES", 3)
    monkeypatch.setattr(exact, "DECODED_MAX_BYTES", 10_000)
    monkeypatch.setattr(exact, "DECODED_MAX_ENTRY_BYTES", 5_000)
    inner = ScriptedModel([[assistant_message(f"answer {i}" + "x" * 40 * i)] for i in range(8)])
    inner_big = ScriptedModel([[assistant_message("y" * 6_000)]])
    cached = CachedModel(inner)
    stage = next(s for s in cached.stages if isinstance(s, exact.ExactLookupStage))
    for i in range(8):
        await cached.get_response(f"q{i}", [], ModelSettings(), [], None, [], None)  # type: ignore[arg-type]
    await cached.flush()
    for _ in range(2):
        for i in range(8):
            await cached.get_response(f"q{i}", [], ModelSettings(), [], None, [], None)  # type: ignore[arg-type]
            assert len(stage._decoded) <= 3 and stage._decoded_bytes <= 10_000
            assert stage._decoded_bytes == sum(map(len, stage._decoded))
    big = CachedModel(inner_big)
    big_stage = next(s for s in big.stages if isinstance(s, exact.ExactLookupStage))
    for _ in range(3):
        await big.get_response("big", [], ModelSettings(), [], None, [], None)  # type: ignore[arg-type]
        await big.flush()
    assert big.stats().hits == 2 and big_stage._decoded == {}  # too large to keep decoded
