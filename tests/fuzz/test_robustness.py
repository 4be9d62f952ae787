"""Property 3: nothing a caller or a model can hand the cache makes it crash.

The promise is "never breaks an agent": a value the key cannot encode (a lone surrogate, NaN,
an integer past 64 bits, bytes, nesting deeper than any encoder goes, an item the SDK has
never heard of) bypasses the cache, and an answer the cache cannot store still reaches the
caller. So key building either returns a key or raises an ordinary exception, and a run
through ``CachedModel`` ends exactly as the same run on the bare model ends, with the inner
model answering what could not be cached and the bypass counted with its reason.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from agents import Agent, ModelSettings
from hypothesis import event, given, settings
from hypothesis import strategies as st
from openai.types.responses import ResponseOutputMessage, ResponseOutputText
from pydantic import ValidationError

from agentcache import CachedModel, KeyEncodingError, explain_difference
from tests.fuzz.profile import examples
from tests.fuzz.runs import ANSWER, answering, outcome, run
from tests.fuzz.strategies import (
    build_call,
    call_specs,
    clean_text,
    huge_text,
    output_items,
    wild_items,
    wild_json,
    wild_settings_kwargs,
    wild_text,
)

# Items built with ``model_construct`` around the wrong types are drawn on purpose; pydantic
# warns when the key dumps them, which is the point of drawing them, not news.
pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")

HEX64 = re.compile(r"[0-9a-f]{64}")
UNKEYABLE = ("key_error", "unkeyable_input")


def wild_call_specs(max_depth: int) -> st.SearchStrategy[dict[str, Any]]:
    return call_specs(
        text=wild_text(),
        items=wild_items(max_depth=max_depth),
        settings=wild_settings_kwargs(),
        extras=st.one_of(
            st.dictionaries(wild_text(max_size=8), wild_json(max_depth=max_depth), max_size=3),
            wild_json(max_depth=max_depth),  # not even a mapping
        ),
        namespaces=wild_text(min_size=1, max_size=12),
    )


@settings(max_examples=examples(40))
@given(spec=wild_call_specs(max_depth=3000))
def test_key_building_returns_a_key_or_raises_an_ordinary_exception(
    spec: dict[str, Any],
) -> None:
    """Past Python's recursion limit too: RecursionError is an ordinary exception, which the
    bypass stage catches; a KeyboardInterrupt-like escape or a wrong-looking key is not."""
    try:
        call = build_call(spec)
    except (ValidationError, TypeError):
        return  # ModelSettings refused the values: the SDK's business, not the key's
    try:
        key = call.key
    except Exception:
        again = build_call(spec)
        try:
            again.key  # noqa: B018 - the same call must fail the same way
        except Exception:
            return
        raise AssertionError("a key that failed once was built on a second try") from None
    assert HEX64.fullmatch(key.digest) and key.namespace == spec["namespace"]
    assert build_call(spec).key == key
    assert explain_difference(call, build_call(spec)) == []


# -- through the Runner --------------------------------------------------------------------


def _settings(kwargs: dict[str, Any]) -> ModelSettings:
    try:
        return ModelSettings(**kwargs)
    except (ValidationError, TypeError):
        return ModelSettings()


def _key_fails(call: Any) -> bool:
    try:
        call.key  # noqa: B018
    except Exception:
        return True
    return False


def _cached(inner: Any, key_extras: Any) -> CachedModel:
    """A cached model with these extras, or without when it rejects them (as documented:
    a bad ``key_extras`` raises ``KeyEncodingError`` when the model is made)."""
    try:
        return CachedModel(inner, key_extras=key_extras)
    except KeyEncodingError:
        return CachedModel(inner)


@settings(max_examples=examples(20))
@given(
    instructions=st.none() | wild_text(),
    input=st.one_of(wild_text(), wild_items(max_depth=300)),
    settings_kwargs=wild_settings_kwargs(),
    key_extras=st.none() | st.dictionaries(wild_text(max_size=8), wild_json(max_depth=300)),
    streamed=st.booleans(),
)
def test_a_call_the_cache_cannot_key_is_answered_by_the_inner_model(
    instructions: str | None,
    input: Any,
    settings_kwargs: dict[str, Any],
    key_extras: Any,
    streamed: bool,
) -> None:
    agent = Agent(name="fuzz", instructions=instructions, model_settings=_settings(settings_kwargs))

    async def scenario() -> None:
        bare_inner = answering()
        bare = await outcome(bare_inner, agent, copy.deepcopy(input), streamed=streamed)
        inner = answering()
        cached = _cached(inner, key_extras)
        first = await outcome(cached, agent, copy.deepcopy(input), streamed=streamed)
        await cached.flush()
        assert first == bare, "the cache changed how the run ended"
        if bare[0] != "ok":
            event(f"the bare run raised {bare[1]}")
            return
        assert len(inner.calls) == len(bare_inner.calls), "the inner model did not answer"
        stats = cached.stats()
        unkeyable = sum(1 for call in cached.recent_calls if _key_fails(call))
        assert stats.hits == 0
        assert sum(stats.bypasses.get(r, 0) for r in UNKEYABLE) == unkeyable, stats.bypasses
        assert stats.misses + sum(stats.bypasses.values()) == len(inner.calls)
        event("bypassed: " + (", ".join(sorted(stats.bypasses)) or "none"))

        second = await outcome(cached, agent, copy.deepcopy(input), streamed=streamed)
        await cached.flush()
        assert second == bare, "a second run through the cache ended differently"

    run(scenario())


def _message(text: str, extra: dict[str, Any]) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_out",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        **extra,
    )


_unjsonable = st.one_of(
    st.builds(object), st.binary(min_size=1, max_size=4), st.sets(st.integers())
)
odd_answers = st.one_of(
    output_items(text=wild_text()),  # lone surrogates, which no JSON encoder writes as UTF-8
    st.lists(
        st.builds(
            _message,
            wild_text(),
            st.dictionaries(
                st.sampled_from(["x_note", "x_score", "x_raw"]),
                st.one_of(wild_json(max_leaves=4, max_depth=300), _unjsonable),
                min_size=1,
            ),
        ),
        min_size=1,
        max_size=2,
    ),
    st.builds(
        lambda text: [
            ResponseOutputMessage.model_construct(
                id="msg_out",
                type="message",
                role="assistant",
                status=None,  # required by the schema, left out by a sloppy provider adapter
                content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
            )
        ],
        clean_text(min_size=1),
    ),
)


@settings(max_examples=examples(25))
@given(answer=odd_answers, streamed=st.booleans())
def test_an_answer_the_cache_cannot_store_still_reaches_the_caller(
    answer: list[Any], streamed: bool
) -> None:
    """Items with extra fields of any value, text with lone surrogates, required fields left
    ``None``: whatever the inner model returns, the caller gets what the bare model gives."""
    agent = Agent(name="fuzz")

    async def scenario() -> None:
        bare = await outcome(answering(answer), agent, "hello", streamed=streamed)
        cached = CachedModel(answering(answer))
        for attempt in ("first", "second"):
            got = await outcome(cached, agent, "hello", streamed=streamed)
            await cached.flush()
            if bare[0] == "ok":
                assert got[0] == "ok", f"the {attempt} run raised {got[1]} through the cache"
            assert got == bare, f"the {attempt} run through the cache ended differently"

    run(scenario())


@settings(max_examples=examples(3))
@given(big=huge_text(), where=st.sampled_from(["input", "instructions", "key_extras", "answer"]))
def test_megabytes_of_text_are_keyed_cached_and_replayed(big: str, where: str) -> None:
    agent = Agent(name="fuzz", instructions=big if where == "instructions" else "be brief")
    items = None
    if where == "answer":
        items = [_message(big, {})]
    extras = {"blob": big} if where == "key_extras" else None
    prompt = big if where == "input" else "hello"

    async def scenario() -> None:
        inner = answering(items)
        cached = CachedModel(inner, key_extras=extras, max_entry_bytes=64 * 1024 * 1024)
        first = await outcome(cached, agent, prompt, streamed=False)
        await cached.flush()
        second = await outcome(cached, agent, prompt, streamed=False)
        expected = big if where == "answer" else ANSWER
        assert first == second == ("ok", expected)
        assert len(inner.calls) == 1, "the second run was not a hit"
        assert cached.stats().hits == 1

    run(scenario())
