"""The entry format's optional request and meta, and the recordings' namespaces."""

from __future__ import annotations

import dataclasses
import json
import re

import orjson
import pytest
from agents import RunConfig, Runner
from agents.items import ModelResponse
from agents.testing import assistant_message
from agents.usage import Usage

from agentcache import KEY_VERSION, CachedModel, FileStore
from agentcache.entry import CorruptEntry, decode, encode
from agentcache.recording import namespace_for
from agentcache.response import entry_from_response
from agentcache.stores.file import _segment
from tests.support import TurnModel, weather_agent

RESPONSE = ModelResponse(output=[assistant_message("hi")], usage=Usage(), response_id="r")


def test_entries_without_request_and_meta_are_what_they_were() -> None:
    entry = entry_from_response(RESPONSE, "ab", 0.1, None)
    raw = encode(entry)
    assert b'"request"' not in raw and b'"meta"' not in raw
    assert decode(raw) == entry
    doc = orjson.loads(raw)
    assert set(doc) == {
        "format", "version", "digest", "created_at", "expires_at", "elapsed", "response_id",
        "usage", "output",
    }  # fmt: skip


def test_request_and_meta_round_trip_and_must_be_objects() -> None:
    entry = dataclasses.replace(
        entry_from_response(RESPONSE, "ab", 0.1, None), request={"v": 1}, meta={"test": "t"}
    )
    assert decode(encode(entry)) == entry
    doc = orjson.loads(encode(entry))
    doc["request"] = ["not", "an", "object"]
    with pytest.raises(CorruptEntry, match="request is not an object"):
        decode(orjson.dumps(doc))


async def test_a_production_cache_keeps_no_request(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cached = CachedModel(TurnModel(), store=FileStore(tmp_path))
    await Runner.run(weather_agent(), "Weather?", run_config=RunConfig(model=cached))
    await cached.flush()
    files = list(tmp_path.glob("*/*.json"))
    assert len(files) == 3
    assert all('"request"' not in f.read_text() and '"meta"' not in f.read_text() for f in files)


async def test_record_requests_keeps_the_key_parts_and_where_they_came_from(tmp_path) -> None:  # type: ignore[no-untyped-def]
    options = {"record_requests": True, "record_meta": {"test": "t.py::test"}}
    cached = CachedModel(TurnModel(), store=FileStore(tmp_path), options=options)
    await Runner.run(weather_agent(), "Weather?", run_config=RunConfig(model=cached))
    await cached.flush()
    calls = list(cached.recent_calls)
    for call in calls:
        (path,) = tmp_path.glob(f"*/{call.key.digest}.json")
        value = json.loads(path.read_text())["value"]
        assert value["request"] == call.key_parts
        meta = value["meta"]
        assert meta["test"] == "t.py::test" and meta["key_version"] == KEY_VERSION
        assert meta["model"] == {"class": "tests.support.TurnModel"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", meta["recorded_at"])
        assert re.fullmatch(r"\d+\.\d+\.\d+.*", meta["sdk_version"])


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("tests/test_x.py::test_y[param]", "tests-test_x.py-test_y-param-"),
        ("tests/test_x.py::TestA::test_b[a/b-..]", "tests-test_x.py-TestA-test_b-a-b-"),
        ("../up", "up-"),
        ("shared-weather", "shared-weather"),
        ("..", "-"),
    ],
)
def test_namespaces_are_readable_safe_directory_names(nodeid: str, expected: str) -> None:
    namespace = namespace_for(nodeid)
    assert namespace.startswith(expected)
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", namespace) and len(namespace) <= 109
    assert _segment(namespace) == namespace  # the directory is named exactly so
    assert namespace_for("t.py::test[a/b]") != namespace_for("t.py::test[a-b]")  # same slug
