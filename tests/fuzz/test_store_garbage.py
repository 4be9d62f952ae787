"""Property 5: whatever sits under a key in a store, the run is answered, and a bad value is
counted.

Stores are shared, outlive versions of this library and can be written by anyone with access:
a value under a call's key may be random bytes, text, JSON of another shape, or an entry with
one field of the wrong type. The promise (README, "Fail open") is that such a value is a miss:
the run succeeds, the inner model answers, the value is removed, and ``stats().errors`` counts
it so an operator can see the store holds garbage. Each test plants a drawn bad value under
the key of the run's first model call, then runs the agent through the real ``Runner``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import orjson
import pytest
from agents import Agent
from hypothesis import given, settings
from hypothesis import strategies as st

from agentcache import CachedModel, MemoryStore
from agentcache.stats import StatsSnapshot
from agentcache.stores.base import CacheKey, Store
from tests.fuzz.profile import examples
from tests.fuzz.runs import ANSWER, Outcome, answering, outcome, run
from tests.fuzz.stores import Stores, fresh_stores
from tests.fuzz.strategies import clean_json, clean_text, hex64, wild_text

NAMESPACE = "fuzz-garbage"
AGENT = Agent(name="fuzz", instructions="Answer briefly.")
PROMPT = "What is stored under my key?"

garbage_bytes = st.binary(max_size=512)


@pytest.fixture(scope="module")
def file_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-garbage")


async def first_key() -> CacheKey:
    """The key of the run's first model call (the one the planted value must answer)."""
    probe = CachedModel(answering(), store=MemoryStore(), namespace=NAMESPACE)
    await outcome(probe, AGENT, PROMPT, streamed=False)
    return probe.recent_calls[0].key


class Served(NamedTuple):
    first: Outcome
    """How the run over the planted value ended."""
    stats: StatsSnapshot
    """The cache's counters after it."""
    inner_calls: int
    """How many times the inner model answered it."""
    second: Outcome
    """How the next run of the same prompt ended."""
    second_hits: int
    """Hits in that next run: the fresh answer replaced the bad value."""


async def run_over(
    store: Store,
    plant: Callable[[CacheKey], Awaitable[None]],
    *,
    streamed: bool = False,
    replay_usage: bool = False,
) -> Served:
    """Plant a value under the first call's key, run the agent over ``store``, then run it
    again."""
    key = await first_key()
    await plant(key)
    inner = answering()
    cached = CachedModel(inner, store=store, namespace=NAMESPACE, replay_usage=replay_usage)
    first = await outcome(cached, AGENT, PROMPT, streamed=streamed)
    await cached.flush()
    stats, calls = cached.stats(), len(inner.calls)
    second = await outcome(cached, AGENT, PROMPT, streamed=streamed)
    return Served(first, stats, calls, second, cached.stats().hits - stats.hits)


def assert_counted_miss(served: Served) -> None:
    """Each way to fail on its own line: hypothesis then reports each one it finds (a crash
    and a served bad value are different bugs), not only the first."""
    first, stats = served.first, served.stats
    assert first[0] == "ok", f"the run raised {first[1]}"
    assert first == ("ok", ANSWER), f"the run got another answer than the model's: {first}"
    assert served.inner_calls == 1 and stats.hits == 0, "the planted value was served"
    assert sum(stats.errors.values()) >= 1, f"the bad value was not counted: {stats}"
    assert served.second == ("ok", ANSWER), "the run after it did not get a good answer"
    assert served.second_hits == 1, "the fresh answer did not replace the bad value"


# -- random bytes, in each store ------------------------------------------------------------


@settings(max_examples=examples(20))
@given(value=garbage_bytes, streamed=st.booleans())
def test_random_bytes_in_the_memory_store_are_a_counted_miss(value: bytes, streamed: bool) -> None:
    async def scenario() -> None:
        store = MemoryStore()
        assert_counted_miss(await run_over(store, lambda k: store.set(k, value), streamed=streamed))

    run(scenario())


@settings(max_examples=examples(20))
@given(value=garbage_bytes, signed=st.booleans())
def test_random_bytes_in_the_signed_store_are_a_counted_miss(
    file_root: Path, value: bytes, signed: bool
) -> None:
    """Unsigned bytes (written around the signature) and signed garbage (written through it)."""

    async def scenario() -> None:
        async with fresh_stores(file_root) as stores:
            target = stores.signed if signed else stores.signed_inner
            assert_counted_miss(await run_over(stores.signed, lambda k: target.set(k, value)))

    run(scenario())


@settings(max_examples=examples(20))
@given(value=garbage_bytes, raw=st.booleans())
def test_random_bytes_in_redis_are_a_counted_miss(
    file_root: Path, redis_url: str, value: bytes, raw: bool
) -> None:
    """Through ``RedisStore.set`` (a valid header, a garbage entry) and straight into Redis
    (any header byte, a broken zlib stream)."""

    async def scenario() -> None:
        async with fresh_stores(file_root, redis_url) as stores:

            async def plant(key: CacheKey) -> None:
                if raw:
                    assert stores.redis_client is not None
                    await stores.redis_client.set(stores.redis.key_name(key), value)
                else:
                    await stores.redis.set(key, value)

            assert_counted_miss(await run_over(stores.redis, plant))

    run(scenario())


# -- the file store: the file itself, or the entry in it ------------------------------------


def entry_file(stores: Stores, key: CacheKey) -> Path:
    """Where the file store keeps ``key``: ``{directory}/{namespace, percent-encoded}/
    {digest}.json`` (its documented layout)."""
    return stores.file.directory / quote(key.namespace, safe="") / f"{key.digest}.json"


async def _file_over(root: Path, content: bytes) -> Served:
    async with fresh_stores(root) as stores:

        async def plant(key: CacheKey) -> None:
            path = entry_file(stores, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

        return await run_over(stores.file, plant)


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@settings(max_examples=examples(15))
@given(content=garbage_bytes)
def test_a_file_of_random_bytes_is_a_counted_miss(file_root: Path, content: bytes) -> None:
    assert_counted_miss(run(_file_over(file_root, content)))


@settings(max_examples=examples(15))
@given(text=wild_text(max_size=200).filter(_not_json))
def test_a_file_of_text_that_is_not_json_is_a_counted_miss(file_root: Path, text: str) -> None:
    content = text.encode("utf-8", "surrogatepass")
    assert_counted_miss(run(_file_over(file_root, content)))


def _file_doc(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


wrong_file_docs = st.one_of(
    clean_json().filter(lambda v: not isinstance(v, dict)).map(lambda v: _file_doc({"v": v})),
    clean_json().map(lambda v: json.dumps(v).encode()),  # any JSON, most not an object
    st.builds(  # the file header with a wrong version, expiry or value
        lambda version, expires, body: _file_doc(
            {"agentcache_file": version, "expires_at": expires, **body}
        ),
        st.one_of(st.just(1), st.integers(2, 9), clean_text(max_size=4), st.none()),
        st.one_of(st.none(), clean_text(max_size=6), st.lists(st.integers(), max_size=2)),
        st.one_of(
            st.just({}),
            st.builds(lambda b: {"value_b64": b}, clean_text(max_size=12)),
            st.builds(lambda b: {"value_b64": b}, st.integers()),
        ),
    ),
)


@settings(max_examples=examples(15))
@given(content=wrong_file_docs)
def test_a_file_of_json_that_is_not_an_entry_file_is_a_counted_miss(
    file_root: Path, content: bytes
) -> None:
    assert_counted_miss(run(_file_over(file_root, content)))


@settings(max_examples=examples(15))
@given(
    value=st.one_of(
        clean_json().map(lambda v: {"value": v}),
        garbage_bytes.map(lambda b: {"value_b64": base64.b64encode(b).decode()}),
    )
)
def test_an_entry_file_holding_garbage_is_a_counted_miss(
    file_root: Path, value: dict[str, Any]
) -> None:
    """A well-formed file of this store whose value is not an entry."""
    content = _file_doc({"agentcache_file": 1, "expires_at": None, **value})
    assert_counted_miss(run(_file_over(file_root, content)))


# -- entries with one field of the wrong shape --------------------------------------------


def _not_a_number(value: Any) -> bool:
    if isinstance(value, (bool, int, float)):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return True
    return False


def _not_int_like(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError, OverflowError):
        return True
    return False


not_a_number = clean_json(max_leaves=3).filter(_not_a_number)
non_str = clean_json(max_leaves=3).filter(lambda v: v is not None and not isinstance(v, str))
non_dict = clean_json(max_leaves=3).filter(lambda v: v is not None and not isinstance(v, dict))

# One field of an entry, replaced by a value the entry format never holds there. Each value
# is wrong by construction, so each planted entry must be a counted miss.
WRONG_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "format": clean_json(max_leaves=2).filter(lambda v: v != "agentcache.entry"),
    "version": clean_json(max_leaves=2).filter(lambda v: v != 1),
    "digest": st.one_of(hex64, non_str),
    "created_at": not_a_number,
    "elapsed": not_a_number,
    "expires_at": not_a_number.filter(lambda v: v is not None),
    "response_id": non_str,
    "usage": st.one_of(st.none(), st.booleans(), st.integers(), st.floats(-1e9, 1e9)),
    "usage.total_tokens": clean_json(max_leaves=3).filter(_not_int_like),
    "usage.input_tokens_details": non_dict,
    "output": st.one_of(
        st.just([]),  # the cache never stores an empty answer
        st.integers(),
        st.lists(st.dictionaries(clean_text(max_size=6), clean_json(max_leaves=2)), min_size=1),
        st.lists(non_dict, min_size=1),
    ),
    "output.0.type": clean_text(max_size=12).filter(lambda v: v not in ("message", "reasoning")),
    "request": non_dict,
    "meta": non_dict,
}
REQUIRED = [
    "format",
    "version",
    "digest",
    "created_at",
    "expires_at",
    "elapsed",
    "response_id",
    "output",
    "usage",
]
READ_ONLY_WHEN_REPLAYING_USAGE = {"usage.input_tokens_details"}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""Instead of a wrong value: the field is left out."""


@st.composite
def broken_entries(draw: st.DrawFn) -> tuple[str, Any, bool]:
    """A field path and its wrong value (or ``MISSING`` for a required field), and whether the
    cached model replays usage (always, for the fields only that mode reads)."""
    replay_usage = draw(st.booleans(), label="replay_usage")
    if draw(st.integers(0, 5)) == 0:
        return draw(st.sampled_from(REQUIRED)), MISSING, replay_usage
    field = draw(st.sampled_from(sorted(WRONG_FIELDS)), label="field")
    replay_usage = replay_usage or field in READ_ONLY_WHEN_REPLAYING_USAGE
    return field, draw(WRONG_FIELDS[field], label="value"), replay_usage


def _break(doc: dict[str, Any], field: str, value: Any) -> None:
    *parents, last = field.split(".")
    target: Any = doc
    for step in parents:
        target = target[int(step)] if step.isdigit() else target[step]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value


@settings(max_examples=examples(40))
@given(broken=broken_entries(), streamed=st.booleans())
def test_an_entry_with_a_field_of_the_wrong_shape_is_a_counted_miss(
    broken: tuple[str, Any, bool], streamed: bool
) -> None:
    field, value, replay_usage = broken

    async def scenario() -> None:
        store = MemoryStore()
        model = CachedModel(answering(), store=store, namespace=NAMESPACE)
        await outcome(model, AGENT, PROMPT, streamed=False)
        await model.flush()
        key = model.recent_calls[0].key
        good = await store.get(key)
        assert good is not None
        doc = orjson.loads(good)
        _break(doc, field, value)
        planted = orjson.dumps(doc)

        async def plant(k: CacheKey) -> None:
            assert k == key
            await store.set(k, planted)

        result = await run_over(store, plant, streamed=streamed, replay_usage=replay_usage)
        assert_counted_miss(result)

    run(scenario())
