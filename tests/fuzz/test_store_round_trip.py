"""Property 4: an answer comes back from every store exactly as the model gave it.

A hit must be indistinguishable from the live answer: the same items, field for field, so the
Runner builds the same next turn from it. Each drawn ``ModelResponse`` goes the whole way a
cached answer goes (entry, encoded bytes, ``store.set``, ``store.get``, decoded entry, SDK
response) through the memory, file, signed and Redis stores, and must equal the original by
``model_dump()``. The byte stores hand back the very bytes; the file store keeps entries as
reviewable JSON and so only promises the same entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agents.items import ModelResponse
from agents.usage import Usage
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import ResponseOutputMessage, ResponseOutputText
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from agentcache.entry import decode, encode
from agentcache.response import entry_from_response, to_response
from agentcache.stores.base import CacheKey
from tests.fuzz.profile import examples
from tests.fuzz.runs import run
from tests.fuzz.stores import STORE_NAMES, fresh_stores
from tests.fuzz.strategies import clean_text, dumped, hex64, huge_text, ids, output_items

tokens = st.integers(0, 2**31)
usages = st.builds(
    lambda requests, i, o, cached, written, reasoning: Usage(
        requests=requests,
        input_tokens=i,
        output_tokens=o,
        total_tokens=i + o,
        input_tokens_details=InputTokensDetails(cached_tokens=cached, cache_write_tokens=written),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning),
    ),
    st.integers(0, 5),
    tokens,
    tokens,
    tokens,
    tokens,
    tokens,
)
responses = st.builds(
    lambda output, usage, response_id: ModelResponse(
        output=output, usage=usage, response_id=response_id
    ),
    output_items(),
    usages,
    st.none() | ids,
)
keys = st.builds(
    CacheKey,
    # At most 19 characters (16 and 3 sprinkled): percent-encoded, 21 astral ones would pass
    # the file system's 255-byte limit on a directory name.
    clean_text(min_size=1, max_size=16),
    hex64,
)


@pytest.fixture(scope="module")
def file_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-round-trip")


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "requests": usage.requests,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "input_tokens_details": usage.input_tokens_details.model_dump(),
        "output_tokens_details": usage.output_tokens_details.model_dump(),
    }


async def _round_trip(
    root: Path, redis_url: str, response: ModelResponse, key: CacheKey, ttl: float | None
) -> None:
    expected = dumped(response.output)
    entry = entry_from_response(response, key.digest, elapsed=0.125, ttl=ttl)
    raw = encode(entry)
    async with fresh_stores(root, redis_url) as stores:
        for name in STORE_NAMES:
            store = stores.by_name(name)
            await store.set(key, raw, ttl)
            got = await store.get(key)
            assert got is not None, f"{name}: nothing came back"
            if name != "file":
                assert got == raw, f"{name}: other bytes came back"
            back = decode(got)
            assert back == entry, f"{name}: another entry came back"
            replayed = to_response(back, replay_usage=True)
            assert dumped(replayed.output) == expected, f"{name}: other output items"
            assert replayed.response_id == response.response_id, name
            assert _usage(replayed.usage) == _usage(response.usage), name
            await store.delete(key)
            assert await store.get(key) is None, f"{name}: delete left the entry"


@settings(max_examples=examples(25))
@given(response=responses, key=keys, ttl=st.none() | st.integers(60, 10**6))
def test_an_answer_comes_back_from_every_store_as_it_went_in(
    file_root: Path, redis_url: str, response: ModelResponse, key: CacheKey, ttl: int | None
) -> None:
    run(_round_trip(file_root, redis_url, response, key, ttl))


def _huge_answer(text: str) -> ModelResponse:
    message = ResponseOutputMessage(
        id="msg_huge",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )
    return ModelResponse(output=[message], usage=Usage(), response_id="resp_huge")


@settings(max_examples=examples(2))
@given(text=huge_text(), key=keys)
def test_megabytes_come_back_from_every_store(
    file_root: Path, redis_url: str, text: str, key: CacheKey
) -> None:
    run(_round_trip(file_root, redis_url, _huge_answer(text), key, None))
