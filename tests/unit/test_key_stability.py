"""The key bytes are a stored format: the same call must get the same key in every release.

Each case below is a call whose digest (and whose ``key_parts``) were recorded with
``KEY_VERSION`` 1. A change that moves any of them makes users' caches and committed recordings
miss: either it is a bug, or the change is deliberate and ``KEY_VERSION`` must be bumped (and
these digests re-recorded with it).

The second half checks that what the hot path memoizes (tools) or recomputes cheaply (settings,
input) never serves a stale part after the caller mutated an object it passed before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest
from agents import Agent, AgentOutputSchema, ModelSettings, WebSearchTool, function_tool, handoff
from agents.model_settings import MCPToolChoice
from agents.models.interface import ModelTracing
from agents.testing import assistant_message, function_call
from openai.types.responses import ResponseFunctionToolCall
from openai.types.shared import Reasoning
from pydantic import BaseModel

from agentcache import ModelCall
from agentcache.keys import (
    KEY_VERSION,
    canonical_json,
    digest_of,
    input_json,
    settings_part,
    tools_part,
)


@function_tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city.

    Args:
        city: The city.
        unit: celsius or fahrenheit.
    """
    return city


@function_tool
def convert(celsius: float) -> float:
    """Celsius to Fahrenheit."""
    return celsius


class Answer(BaseModel):
    city: str
    temperature: float


_billing = Agent(name="billing", instructions="Handle billing.")


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
        "model_identity": {"class": "x.Model", "name": "gpt-test"},
        "namespace": "default",
    }
    args.update(overrides)
    return ModelCall(**args)


def conversation() -> list[Any]:
    return [
        {"role": "user", "content": "Weather in Paris, in F?"},
        function_call("get_weather", {"city": "Paris"}, call_id="call_9", item_id="fc_9")
        .model_dump(exclude_unset=True),
        {"type": "function_call_output", "call_id": "call_9", "output": "sunny, 21"},
        {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "convert",
         "arguments": "{\"celsius\": 21.0}"},
        {"type": "function_call_output", "call_id": "call_2", "output": 69.8},
        assistant_message("69.8F and sunny.", item_id="msg_1").model_dump(exclude_unset=True),
        {"role": "user", "content": [{"type": "input_text", "text": "merci \u00e9 \U0001f600"}]},
    ]  # fmt: skip


CASES: dict[str, Callable[[], ModelCall]] = {
    "minimal": lambda: call(),
    "no_instructions": lambda: call(system_instructions=None),
    "string_equals_list": lambda: call(input=[{"role": "user", "content": "hi"}]),
    "conversation": lambda: call(input=conversation()),
    "pydantic_items": lambda: call(
        input=[
            {"role": "user", "content": "go"},
            function_call("convert", {"celsius": 1.0}, call_id="call_x", item_id="fc_x"),
            assistant_message("done", item_id="msg_x"),
        ]
    ),
    "mapping_items": lambda: call(
        input=[MappingProxyType({"role": "user", "content": "hi", "id": "m1"})]
    ),
    "mapping_items_floats": lambda: call(
        input=[
            MappingProxyType({"role": "user", "content": "x", "call_id": None, "n": 1.0}),
            MappingProxyType({"role": "user", "content": "y", "n": 2.0}),
            {"role": "user", "content": "z", "call_id": None, "n": 3.0},
        ]
    ),
    "mapping_bare_id_float": lambda: call(
        input=[MappingProxyType({"id": 1e16}), {"role": "user", "content": "x", "n": 1e16}]
    ),
    "input_floats_as_written": lambda: call(
        input=[{"role": "user", "content": "x", "n": 1.0, "m": [1, 2.5, -0.0, True, None]}]
    ),
    "non_string_call_id": lambda: call(
        input=[{"type": "function_call_output", "call_id": 7, "output": "1", "id": "x"}]
    ),
    "nested_ids_kept": lambda: call(
        input=[{"role": "user", "content": [{"type": "input_text", "text": "t", "id": "keep"}]}]
    ),
    "settings_sampling": lambda: call(
        model_settings=ModelSettings(
            temperature=0.2, top_p=1.0, frequency_penalty=0.5, presence_penalty=-0.5, max_tokens=300
        )
    ),
    "settings_integral_float": lambda: call(model_settings=ModelSettings(temperature=1)),
    "settings_integral_float_b": lambda: call(model_settings=ModelSettings(temperature=1.0)),
    "settings_choices": lambda: call(
        model_settings=ModelSettings(
            tool_choice="required",
            parallel_tool_calls=False,
            truncation="auto",
            verbosity="low",
            top_logprobs=3,
            response_include=["reasoning.encrypted_content"],
        )
    ),
    "settings_mcp_tool_choice": lambda: call(
        model_settings=ModelSettings(tool_choice=MCPToolChoice(server_label="s", name="t"))
    ),
    "settings_reasoning": lambda: call(
        model_settings=ModelSettings(reasoning=Reasoning(effort="low", summary="auto"))
    ),
    "settings_extras": lambda: call(
        model_settings=ModelSettings(
            extra_args={"prompt_cache_key": "run-1", "seed": 7, "nested": {"a": [1.0, 2]}},
            extra_body={"prompt_cache_key": "x"},
            extra_query={"api-version": "2025-01-01"},
            extra_headers={"x-trace": "abc"},
            metadata={"team": "a"},
            store=True,
            timeout=3.0,
        )
    ),
    "tools": lambda: call(tools=[get_weather, convert]),
    "tools_reordered": lambda: call(tools=[convert, get_weather]),
    "hosted_tool": lambda: call(tools=[WebSearchTool()]),
    "handoff": lambda: call(handoffs=[handoff(_billing)]),
    "output_schema": lambda: call(output_schema=AgentOutputSchema(Answer)),
    "output_schema_str": lambda: call(output_schema=AgentOutputSchema(str)),
    "prompt": lambda: call(prompt={"id": "pmpt_1", "version": "2", "variables": {"v": "w"}}),
    "server_state": lambda: call(previous_response_id="resp_1", conversation_id="conv_1"),
    "namespace": lambda: call(namespace="tenant-a"),
    "extras": lambda: call(key_extras={"prompt_version": 2, "ratio": 2.0}),
    "model_id": lambda: call(model_identity={"id": "pinned"}),
    "streamed_same_key": lambda: call(streamed=True, tracing=ModelTracing.ENABLED),
}

GOLDEN: dict[str, tuple[str, str]] = {  # name: (key digest, sha256 of canonical key_parts)
    "conversation": (
        "53f0ef4afea59b3231a5422f00a658f77691f59ac044afcf02f70ee5b4c59d62",
        "61ddc36464008036fd4a62c20163ac08a75dd0c1f5a3cf709f5abc4be0d88161",
    ),
    "extras": (
        "32ecf5155a8a87b96700fb3a3426b379c9be1c32fc4388618461c9bca9274ca0",
        "b2c0c010551717a654a8462eeb6d0ed60bc27f464743d7d612b5e6b0746e77ed",
    ),
    "handoff": (
        "16038ea47e25a639b8e75e411d16296777df8d5438ec959e89d9525a7846a98b",
        "dc0f7dc1447ebe79f0c9d7b863b552947478768da7d232c43f6df4179dbd8064",
    ),
    "hosted_tool": (
        "e385e6ac9f0c4b54750ab23fec05f2324b7a72f68c7457ed96155baca3d62c05",
        "8c9ca97e4375f3d3b3d7b2e4fbb04a5b5373acbcb7f328930d18c3fe5749bd2e",
    ),
    "input_floats_as_written": (
        "1f54d71f4df3da9cfd1317a00a399a2f9bc60b8c79f0e83eaa5465ce1124ee5d",
        "2d0cb6ef0afeca78ac366e6b61d162fa2d7d9c5da002997266fc299182e4cf2d",
    ),
    "mapping_items": (
        "6a12eb9660e5167f47c53e102294e8a56d4de75013fee08861e21f8c8186ba10",
        "dce44b01db7c84ee6e36d92ee4ee62d02a95aff9d81ba24adaa3f97ac86e65ad",
    ),
    "mapping_items_floats": (
        "264855938812acbab7ee19596faaaf1eb29deaa9772905582454e45d2f2b42e0",
        "43efcfd423a12362e32ce1e829f444d563b7c96be0e8d4ac9297cefb023ed3a1",
    ),
    "mapping_bare_id_float": (
        "cdba23f032eec2ad7617913775817c04866e064df4e441386895e3c5b39c1b97",
        "a553ab2395f13cc633b400ffe68efd1aca099adaaa7e05077091d93277065459",
    ),
    "minimal": (
        "6a12eb9660e5167f47c53e102294e8a56d4de75013fee08861e21f8c8186ba10",
        "dce44b01db7c84ee6e36d92ee4ee62d02a95aff9d81ba24adaa3f97ac86e65ad",
    ),
    "model_id": (
        "2e3285374bfc7c6a1696cc143fcec794f4d7f419a3f07fa7922ebb5daf626030",
        "7c095ac8b759b21efe13187cce75ee94c2ca8c267c70eae5b04a3287062a956a",
    ),
    "namespace": (
        "eeba37076915be132d375e332970cd4ebb162abb6db0e7d104bb63ccbfc55ea8",
        "be5790623d49d39b00d84af4908e747ba3664bbad45704882118dbe86d028141",
    ),
    "nested_ids_kept": (
        "10d34bafc7898f724901a754c0a470b16db60d2e5e6b9e2ea26c18585e6159fd",
        "7ec51d9dda3eae6b1f1440300487a58bda809d53c475558db4937f3b87869268",
    ),
    "no_instructions": (
        "c3f43d3d607d886e130a8b680b82bcaf4c60fcd8ddf9a4cdcf73906c40acb1ac",
        "0d40fa08e9cc4f9acdc7dd1bd7c8ff7f9901d69f5834744289998c1058e9b0f8",
    ),
    "non_string_call_id": (
        "fa3169e8c210b8b07d3f7999b7a3e38fbad48a85d66f554e31ff21867246ccc0",
        "7895511ddf490e14664429ea002cf96d64b6ce1212c827a938c82656e585ea2c",
    ),
    "output_schema": (
        "cf399dcf4eb36fe964fc6e2816fee7dbc152aaa0faef0e7405b159d5bcac3eb8",
        "f4131fb08aef0d2db7d6d7297dfdd9b7292d2d4c8c8f54c7ab9d366d9b96b0dd",
    ),
    "output_schema_str": (
        "6a12eb9660e5167f47c53e102294e8a56d4de75013fee08861e21f8c8186ba10",
        "dce44b01db7c84ee6e36d92ee4ee62d02a95aff9d81ba24adaa3f97ac86e65ad",
    ),
    "prompt": (
        "7f0ade97ac7e7642381e33e6c22699bf3055af8556c2c838dc7ac4c9157c529a",
        "468be34f5769f205a357182f1d783f59dead785002543aa237869934ec94140c",
    ),
    "pydantic_items": (
        "d75540e7208b12b18b9270ca97cbd83c11abc7ad14303088d786187d69562956",
        "39cb45f6711416c21042678e2e76e756988b0737fc6941eed5af0a0836a01889",
    ),
    "server_state": (
        "9982dcb2008cf74082a7337afb91d19a637ed33638ed5d192c9da5c382c3f743",
        "15bfb26ced74dc89a0c846f42629bd9f5478c49d3bc3727284dc1db167857dc4",
    ),
    "settings_choices": (
        "a2e7eace7804e49efcab01828d51d67a025611d2f345575484d81ef3ebf4053a",
        "4ea73dae10c6e3b67c2e3ef707bee783bf86c092fa977f77d5f18f1e5425fea6",
    ),
    "settings_extras": (
        "0f343e2c3e6f434be4925b0da79eae240e546e59816a472fde57a7ef4d1dcf76",
        "75d38f297b13bfa28a4c813f16258394053fdcea8cd2c2dc477915f3272d5c14",
    ),
    "settings_integral_float": (
        "9f5b03f3f0d866fb33426012b11c75a0e7514eb2c78143f4c970654379570451",
        "47a45cac58f2b4c5ac7ec14ae72125f7c0d0d1974caf510730359cb08d70357d",
    ),
    "settings_integral_float_b": (
        "9f5b03f3f0d866fb33426012b11c75a0e7514eb2c78143f4c970654379570451",
        "47a45cac58f2b4c5ac7ec14ae72125f7c0d0d1974caf510730359cb08d70357d",
    ),
    "settings_mcp_tool_choice": (
        "98c3432ff6816851f44cce25ef0edb95e6f1d7265ab361bb38681ab38698873f",
        "716c9a411bc088e5559307d913305b66dfd1bafc1933ac35e457f36761d602f3",
    ),
    "settings_reasoning": (
        "c6c6e480a5c1e131887ca3a51daf71496b4f3d85f006433997dada245db51db4",
        "059c4d23c6dd9d50bd1217fabe597d789934193354964eb6dfe7280c602bbace",
    ),
    "settings_sampling": (
        "c69a4929bf447f3e4fbe418b1bbd3b546ea2e616b449cd3c6e814a4f9c894afe",
        "fa865641b8fe7b1f565c9942abbf6762dd9b7813278406e5f6934b80c6f4a55c",
    ),
    "streamed_same_key": (
        "6a12eb9660e5167f47c53e102294e8a56d4de75013fee08861e21f8c8186ba10",
        "dce44b01db7c84ee6e36d92ee4ee62d02a95aff9d81ba24adaa3f97ac86e65ad",
    ),
    "string_equals_list": (
        "6a12eb9660e5167f47c53e102294e8a56d4de75013fee08861e21f8c8186ba10",
        "dce44b01db7c84ee6e36d92ee4ee62d02a95aff9d81ba24adaa3f97ac86e65ad",
    ),
    "tools": (
        "86ace1711c47b58462f17decbd2589f835fedb10fc2325f27056faab25d47a21",
        "d8aa9997fb6dba569927b643f1330affab016429ae9b6c670ee2eee116d4462b",
    ),
    "tools_reordered": (
        "c60722b7f45af2994cbc42250d0becb8a9365b5dabec202f50a2e19885c82145",
        "537ae06764e73b423ea115e97a8d2ab8e85ab69ec2281ffa986871e6a0376991",
    ),
}


def test_key_version_is_the_recorded_one() -> None:
    assert KEY_VERSION == 1, "re-record GOLDEN with the new version (and say so in the changelog)"


@pytest.mark.parametrize("name", sorted(CASES))
def test_key_is_unchanged(name: str) -> None:
    c = CASES[name]()
    parts = hashlib.sha256(canonical_json(c.key_parts)).hexdigest()
    assert (c.key.digest, parts) == GOLDEN[name]


def test_every_case_is_recorded() -> None:
    assert set(GOLDEN) == set(CASES)


def test_equal_calls_share_a_key_and_occurrence_splits_it() -> None:
    assert CASES["minimal"]().key == CASES["string_equals_list"]().key
    assert CASES["settings_integral_float"]().key == CASES["settings_integral_float_b"]().key
    assert CASES["streamed_same_key"]().key == CASES["minimal"]().key
    second = call()
    second.state.occurrence = 2
    assert second.request_digest == call().request_digest
    assert second.key != call().key
    assert second.key_parts["occurrence"] == 2


# -- nothing the hot path reuses may go stale --------------------------------------------------


def test_mutated_settings_object_changes_the_key() -> None:
    settings = ModelSettings(temperature=0.2)
    first = call(model_settings=settings).key
    settings.temperature = 0.3
    assert call(model_settings=settings).key != first
    settings.temperature = 0.2
    assert call(model_settings=settings).key == first
    settings.extra_args = {"seed": 1}
    seeded = call(model_settings=settings).key
    assert seeded != first
    settings.extra_args["seed"] = 2  # in place
    assert call(model_settings=settings).key not in (first, seeded)
    settings.reasoning = Reasoning(effort="low")
    low = call(model_settings=settings).key
    settings.reasoning.effort = "high"  # in place, on a pydantic object
    assert call(model_settings=settings).key != low


def test_settings_types_are_not_confused() -> None:
    """``True == 1`` in Python, but not in JSON: they are different settings (the SDK
    converts at construction, not on assignment)."""
    settings = ModelSettings(top_logprobs=1)
    as_int = canonical_json(settings_part(settings))
    settings.top_logprobs = True
    assert canonical_json(settings_part(settings)) == b'{"top_logprobs":true}' != as_int


def test_mutated_input_items_change_the_key() -> None:
    items = conversation()
    first = call(input=items).key
    items[2]["output"] = "rainy, 12"
    assert call(input=items).key != first
    items[2]["output"] = "sunny, 21"
    assert call(input=items).key == first
    items[0]["content"] = "Weather in Lyon, in F?"
    assert call(input=items).key != first
    items.append({"role": "user", "content": "more"})
    assert call(input=items[:-1]).key != first  # still the Lyon edit
    model_item = function_call("convert", {"celsius": 1.0}, call_id="c", item_id="i")
    assert isinstance(model_item, ResponseFunctionToolCall)
    before = call(input=[model_item]).key
    model_item.arguments = '{"celsius": 2.0}'
    assert call(input=[model_item]).key != before


def test_replaced_tool_definition_changes_the_key() -> None:
    @function_tool
    def lookup(order_id: str) -> str:
        """Look an order up."""
        return order_id

    before = tools_part([lookup], [])[1]
    lookup.description = "Look an order up by its id."
    after = tools_part([lookup], [])[1]
    assert after != before
    lookup.params_json_schema = {**lookup.params_json_schema, "title": "other"}
    assert tools_part([lookup], [])[1] not in (before, after)


def uncached_digest(c: ModelCall) -> str:
    """The request digest as defined, computed without anything the hot path remembers."""
    h = hashlib.sha256(canonical_json(c._head))
    h.update(b"\ntools:" + digest_of(c._tools[0]).encode() + b"\ninput:" + input_json(c.input))
    return h.hexdigest()


def test_remembered_heads_follow_every_change() -> None:
    """The head's JSON is remembered by a fingerprint of plain values with their types; an
    object changed in place, or a value equal in Python but not in JSON, must not reuse it."""
    settings = ModelSettings(temperature=0.2)
    identity: dict[str, Any] = {"class": "x.Model", "name": "gpt-test"}
    seen: set[str] = set()

    def check(**overrides: Any) -> None:
        c = call(model_settings=settings, model_identity=identity, **overrides)
        assert c.request_digest == uncached_digest(c)
        seen.add(c.request_digest)

    check()
    for value in (0.3, 1, 1.0, True, 0, -0.0, False, None, 0.2):
        settings.temperature = value
        check()
    for name in ("gpt-other", 1, 1.0, True, 0.0, -0.0, "gpt-test"):
        identity["name"] = name
        check()
    identity["base_url"] = "https://example.com/v1"
    check()
    del identity["base_url"]
    settings.tool_choice = "required"
    check()
    settings.extra_args = {"seed": 1}  # not a plain value: built afresh
    check()
    settings.extra_args["seed"] = 2
    check()
    settings.extra_args = None
    settings.metadata = {"a": "b"}  # outside the key: changes nothing
    check()
    for instructions in ("a", None, 1, True, 1.0):
        check(system_instructions=instructions)
    check(namespace="other")
    check(previous_response_id="r", conversation_id=None)
    check(previous_response_id=None, conversation_id="r")
    check(key_extras={"v": 1})
    check(key_extras={"v": True})
    check(prompt={"id": "p"})
    check(output_schema=AgentOutputSchema(Answer))
    # 29 distinct heads above (temperature 1 and 1.0 are one setting; the repeats are repeats)
    assert len(seen) == 29


def test_model_call_init_takes_every_field() -> None:
    """``ModelCall.__init__`` is written out (one dict, not 16 frozen setattrs): it must keep
    taking every field, in order, so ``dataclasses.replace`` and callers keep working."""
    params = list(inspect.signature(ModelCall.__init__).parameters)[1:]
    assert params == [f.name for f in dataclasses.fields(ModelCall)]
    c = call(key_extras={"v": 1})
    assert all(getattr(c, f.name) is not None for f in dataclasses.fields(ModelCall)[-2:])
    other = dataclasses.replace(c, namespace="other")
    assert other.namespace == "other" and other.key_extras == {"v": 1} and other.key != c.key
