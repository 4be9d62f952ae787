"""The key: normalization rules, the settings table, and explanations."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from agents import ModelSettings
from agents.models.interface import ModelTracing

from agentcache import SETTINGS_POLICY, KeyEncodingError, ModelCall, explain_difference
from agentcache.keys import canonical_json, input_json, settings_part, to_jsonable

DOCS = Path(__file__).parents[2] / "docs" / "keys.md"


def call(**overrides: Any) -> ModelCall:
    args: dict[str, Any] = {
        "system_instructions": "be brief",
        "input": "hi",
        "model_settings": ModelSettings(),
        "tools": [],
        "output_schema": None,
        "handoffs": [],
        "tracing": ModelTracing.DISABLED,
        "previous_response_id": None,
        "conversation_id": None,
        "prompt": None,
        "streamed": False,
        "model_identity": {"class": "x.Model"},
        "namespace": "default",
    }
    args.update(overrides)
    return ModelCall(**args)


def test_every_sdk_setting_is_classified_in_code_and_docs() -> None:
    fields = {f.name for f in dataclasses.fields(ModelSettings)}
    assert fields - SETTINGS_POLICY.keys() == set(), "classify the new field in SETTINGS_POLICY"
    documented = dict(re.findall(r"^\| `(\w+)` \| (yes|no) \|", DOCS.read_text(), re.M))
    assert documented == {k: "yes" if v[0] else "no" for k, v in SETTINGS_POLICY.items()}


def test_unknown_settings_fields_go_into_the_key() -> None:
    @dataclasses.dataclass
    class NewerSettings(ModelSettings):
        creativity_dial: int | None = None

    part = settings_part(NewerSettings(creativity_dial=7))
    assert part == {"creativity_dial": 7}


def test_settings_outside_the_key_do_not_change_it() -> None:
    base = call(model_settings=ModelSettings(temperature=0.5))
    other = call(
        model_settings=ModelSettings(
            temperature=0.5, metadata={"a": "b"}, store=True, timeout=3, extra_headers={"x": "1"}
        )
    )
    assert base.key == other.key
    assert call(model_settings=ModelSettings(temperature=0.6)).key != base.key


def test_prompt_cache_key_is_dropped_from_extra_args() -> None:
    a = call(model_settings=ModelSettings(extra_args={"prompt_cache_key": "run-1", "seed": 1}))
    b = call(model_settings=ModelSettings(extra_args={"prompt_cache_key": "run-2", "seed": 1}))
    c = call(model_settings=ModelSettings(extra_args={"prompt_cache_key": "run-3"}))
    assert a.key == b.key
    assert c.key == call().key


def test_ids_dropped_and_call_ids_renumbered_by_first_appearance() -> None:
    items = [
        {"role": "user", "content": "x"},
        {
            "type": "function_call",
            "id": "fc_9",
            "call_id": "call_Z",
            "name": "f",
            "arguments": "{}",
        },
        {
            "type": "function_call",
            "id": "fc_8",
            "call_id": "call_A",
            "name": "g",
            "arguments": "{}",
        },
        {"type": "function_call_output", "call_id": "call_A", "output": "1"},
        {"type": "function_call_output", "call_id": "call_Z", "output": "2"},
    ]
    part = json.loads(input_json(items))
    assert [i.get("call_id") for i in part] == [None, "call#0", "call#1", "call#1", "call#0"]
    assert all("id" not in i for i in part)
    # swapping which output belongs to which call IS a different conversation
    swapped = [*items[:3], {**items[3], "call_id": "call_Z"}, {**items[4], "call_id": "call_A"}]
    assert json.loads(input_json(swapped)) != part


def test_string_input_equals_its_list_form() -> None:
    assert call(input="hi").key == call(input=[{"role": "user", "content": "hi"}]).key


def test_canonical_json_is_stable() -> None:
    assert canonical_json(to_jsonable({"b": 1.0, "a": [0.5, -0.0]}, "x")) == b'{"a":[0.5,0],"b":1}'
    assert (
        call(model_settings=ModelSettings(temperature=1)).key
        == call(model_settings=ModelSettings(temperature=1.0)).key
    )
    with pytest.raises(KeyEncodingError, match=r"extra_args\.x.*finite"):
        call(model_settings=ModelSettings(extra_args={"x": float("nan")})).key  # noqa: B018


def test_namespace_extras_and_model_are_in_the_key() -> None:
    base = call()
    assert call(namespace="other").key != base.key
    assert call(key_extras={"prompt_version": 2}).key != base.key
    assert call(model_identity={"class": "x.Other"}).key != base.key
    assert call(tracing=ModelTracing.ENABLED).key == base.key
    assert base.key.namespace == "default" and re.fullmatch(r"[0-9a-f]{64}", base.key.digest)
    assert "hi" not in str(base.key)


def test_explain_difference_names_the_parts() -> None:
    a = call(model_settings=ModelSettings(temperature=0.2), input="hello")
    b = call(model_settings=ModelSettings(temperature=0.9), input="hello!")
    paths = [d.path for d in explain_difference(a, b)]
    assert paths == ["input[0].content", "settings.temperature"]
    assert str(explain_difference(a, b)[1]) == "settings.temperature: 0.2 != 0.9"
    assert explain_difference(a, a) == []
