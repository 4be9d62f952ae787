"""Property 2: what changes the answer changes the key; what a provider re-mints does not.

A collision is the one failure a cache cannot recover from: the caller silently gets another
call's answer. Each test draws a keyable call, changes one part of it, and checks the key
against an independent notion of "the same request": a reference normal form written here
(sorted keys, tuples as lists, ``1.0`` as ``1`` in configuration values, as docs/keys.md
promises), not the library's own encoder. Item ``id``s and tool ``call_id``s are the
exceptions the other way: runs of one conversation differ only there, so they must not
change the key, while which calls pair with which outputs must.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

from agents import FunctionTool
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from agentcache.call import ModelCall
from tests.fuzz.profile import examples
from tests.fuzz.strategies import (
    ALNUM,
    SETTINGS_OUTSIDE_KEY,
    build_call,
    call_specs,
    clean_items,
    clean_json,
    clean_text,
    finite_floats,
    ids,
    item_reference,
    modest_floats,
    settings_in_key,
    settings_kwargs,
    tool_names,
    tool_spec,
    word,
)

IN_KEY = settings_in_key(modest_floats)


def digest(spec: dict[str, Any], **changes: Any) -> str:
    return build_call(spec, **changes).key.digest


def reference(value: Any, *, drop_none: bool = False) -> str:
    """The reference normal form of a configuration value (settings, extras) as JSON text.

    ``drop_none`` also forgets ``None`` members, which mean "not set" in settings objects: used
    only to decide that a change is real, where forgetting more is the cautious side.
    """
    return json.dumps(_normal(value, drop_none), sort_keys=True, ensure_ascii=False)


def _normal(value: Any, drop_none: bool) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, BaseModel):
        return _normal(value.model_dump(mode="json", exclude_none=True), drop_none)
    if isinstance(value, dict):
        return {k: _normal(v, drop_none) for k, v in value.items() if not (drop_none and v is None)}
    if isinstance(value, (list, tuple)):
        return [_normal(v, drop_none) for v in value]
    return value


@settings(max_examples=examples(40))
@given(
    spec=call_specs(
        settings=settings_kwargs(finite_floats),
        extras=st.dictionaries(clean_text(max_size=8), clean_json(floats=finite_floats)),
    )
)
def test_clean_calls_are_keyable(spec: dict[str, Any]) -> None:
    """Finite numbers of any size, text without lone surrogates and JSON-shaped data always
    make a key: a call the cache cannot key is a call it never caches. (The other tests draw
    configuration floats below 1e18, so that this one alone reports a failure here.)"""
    call = build_call(spec)
    try:
        key = call.key
    except Exception as exc:
        raise AssertionError(f"a clean call could not be keyed: {exc!r}") from exc
    assert len(key.digest) == 64
    assert digest(spec) == key.digest


# -- input --------------------------------------------------------------------------------


def _text_slots(item: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Paths to the answer-changing strings of one input item."""
    kind = item.get("type", "message")
    if kind == "message":
        content = item["content"]
        if isinstance(content, str):
            return [("content",), ("role",)]
        return [("content", i, "text") for i in range(len(content))] + [("role",)]
    if kind == "function_call":
        return [("arguments",), ("name",)]
    if kind == "function_call_output":
        return [("output",)]
    if kind == "reasoning":
        return [("summary", i, "text") for i in range(len(item["summary"]))]
    return []


def _get(item: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        item = item[step]
    return item


def _set(item: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        item = item[step]
    item[path[-1]] = value


@settings(max_examples=examples(40))
@given(spec=call_specs(items=clean_items()), data=st.data())
def test_changing_the_text_of_an_input_item_changes_the_key(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    before = digest(spec)
    if isinstance(spec["input"], str):
        changed: Any = data.draw(clean_text().filter(lambda t: t != spec["input"]))
    else:
        changed = copy.deepcopy(spec["input"])
        slots = [(i, p) for i, item in enumerate(changed) for p in _text_slots(item)]
        assume(slots)
        index, path = data.draw(st.sampled_from(slots), label="slot")
        old = _get(changed[index], path)
        if path == ("role",):
            new = data.draw(st.sampled_from(["user", "system", "developer", "assistant"]))
        else:
            new = data.draw(clean_text(max_size=30))
        assume(new != old)
        _set(changed[index], path, new)
    assert digest(spec, input=changed) != before


@settings(max_examples=examples(20))
@given(spec=call_specs(), data=st.data())
def test_changing_the_instructions_changes_the_key(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    old = spec["instructions"]
    new = data.draw((st.none() | clean_text(max_size=40)).filter(lambda t: t != old))
    assert digest(spec, instructions=new) != digest(spec)


# -- settings -------------------------------------------------------------------------------


@st.composite
def setting_change(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(IN_KEY)))
    return name, draw(IN_KEY[name])


def _settings_reference(name: str, value: Any) -> str:
    if name in ("extra_args", "extra_body") and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "prompt_cache_key"} or None
    return reference(value, drop_none=True)


@settings(max_examples=examples(40))
@given(spec=call_specs(), change=setting_change())
def test_changing_an_answer_changing_setting_changes_the_key(
    spec: dict[str, Any], change: tuple[str, Any]
) -> None:
    name, value = change
    old = spec["settings"].get(name)
    assume(_settings_reference(name, value) != _settings_reference(name, old))
    assert digest(spec, settings={**spec["settings"], name: value}) != digest(spec)


@st.composite
def volatile_setting_change(draw: st.DrawFn) -> dict[str, Any]:
    """Settings outside the key, or a provider prompt-cache hint inside extra_args/body."""
    name = draw(st.sampled_from([*sorted(SETTINGS_OUTSIDE_KEY), "prompt_cache_key"]))
    if name != "prompt_cache_key":
        return {name: draw(SETTINGS_OUTSIDE_KEY[name])}
    return {draw(st.sampled_from(["extra_args", "extra_body"])): {"prompt_cache_key": draw(ids)}}


@settings(max_examples=examples(25))
@given(spec=call_specs(), change=volatile_setting_change())
def test_settings_outside_the_key_do_not_change_it(
    spec: dict[str, Any], change: dict[str, Any]
) -> None:
    merged = dict(spec["settings"])
    for name, value in change.items():
        if name in ("extra_args", "extra_body"):
            merged[name] = {**(merged.get(name) or {}), **value}
        else:
            merged[name] = value
    assert digest(spec, settings=merged) == digest(spec)


# -- tools --------------------------------------------------------------------------------


@st.composite
def tool_change(draw: st.DrawFn, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool list with one definition changed, added or removed."""
    functions = [i for i, t in enumerate(tools) if t["kind"] == "function"]
    actions = ["add"] + (["name", "description", "schema", "strict", "remove"] if functions else [])
    action = draw(st.sampled_from(actions), label="action")
    changed = copy.deepcopy(tools)
    if action == "add":
        changed.insert(draw(st.integers(0, len(changed))), draw(tool_spec()))
        return changed
    index = draw(st.sampled_from(functions), label="tool")
    tool = changed[index]
    if action == "remove":
        del changed[index]
    elif action == "strict":
        tool["strict"] = not tool["strict"]
    elif action == "schema":
        props = tool["schema"]["properties"]
        name = draw(st.text("abcdefgh", min_size=1, max_size=8), label="property")
        old = props.get(name)
        new = {"type": draw(st.sampled_from(["string", "number", "integer", "boolean", "array"]))}
        if draw(st.booleans()):
            new["description"] = draw(clean_text())
        assume(new != old)
        props[name] = new
        tool["schema"]["required"] = sorted(props)
    else:
        new_value = draw(clean_text(min_size=1) if action == "description" else tool_names)
        assume(new_value != tool[action])
        tool[action] = new_value
    return changed


@settings(max_examples=examples(30))
@given(spec=call_specs(), data=st.data())
def test_changing_a_tool_definition_changes_the_key(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    tools = data.draw(tool_change(spec["tools"]), label="tools")
    names = [t.get("name") for t in tools if t["kind"] == "function"]
    assume(len(names) == len(set(names)))  # the SDK would refuse duplicate names anyway
    assert digest(spec, tools=tools) != digest(spec)


def _rebuilt(call: ModelCall) -> ModelCall:
    """A new call of the same arguments and the same tool objects (the next turn of a run)."""
    fields = {f.name: getattr(call, f.name) for f in dataclasses.fields(call) if f.init}
    fields.pop("state")
    return ModelCall(**fields)


@settings(max_examples=examples(20))
@given(
    spec=call_specs(tools=st.lists(tool_spec(), min_size=1, max_size=3)),
    data=st.data(),
)
def test_renaming_or_redescribing_a_live_tool_changes_the_key(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    """Tool digests are memoized per live tool object; an edit of the tool's name or
    description in place (a new schema dict assigned, too) must not be served from the memo."""
    call = build_call(spec)
    before = call.key.digest
    tool = data.draw(st.sampled_from(call.tools), label="tool")
    assert isinstance(tool, FunctionTool)
    field = data.draw(st.sampled_from(["name", "description", "params_json_schema"]))
    if field == "params_json_schema":
        new: Any = {**tool.params_json_schema, "description": data.draw(clean_text(min_size=1))}
    elif field == "name":
        new = data.draw(tool_names)
    else:
        new = data.draw(clean_text(min_size=1))
    assume(new != getattr(tool, field))
    setattr(tool, field, new)
    names = [t.name for t in call.tools]
    assume(len(names) == len(set(names)))
    assert _rebuilt(call).key.digest != before


# -- namespace and key_extras -----------------------------------------------------------------


@settings(max_examples=examples(20))
@given(spec=call_specs(), namespace=clean_text(min_size=1, max_size=16))
def test_changing_the_namespace_changes_the_key(spec: dict[str, Any], namespace: str) -> None:
    assume(namespace != spec["namespace"])
    before, after = build_call(spec).key, build_call(spec, namespace=namespace).key
    assert after.digest != before.digest and after != before


def _twin(value: Any, data: st.DataObject) -> Any:
    """``value`` written another way that means the same: integral floats as ints and back,
    tuples for lists, dict keys in another order."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) < 2**53 and data.draw(st.booleans()):
        return float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value) if data.draw(st.booleans()) else value
    if isinstance(value, list):
        twin = [_twin(v, data) for v in value]
        return tuple(twin) if data.draw(st.booleans()) else twin
    if isinstance(value, dict):
        keys = data.draw(st.permutations(list(value)))
        return {k: _twin(value[k], data) for k in keys}
    return value


extras_values = st.dictionaries(clean_text(max_size=8), clean_json(max_leaves=6), max_size=3)


@settings(max_examples=examples(40))
@given(spec=call_specs(), data=st.data())
def test_key_extras_change_the_key_exactly_when_their_meaning_changes(
    spec: dict[str, Any], data: st.DataObject
) -> None:
    extras = data.draw(extras_values, label="extras")
    other = _twin(extras, data) if data.draw(st.booleans()) else data.draw(extras_values)
    same = reference(extras) == reference(other)
    keys_equal = digest(spec, key_extras=extras) == digest(spec, key_extras=other)
    assert keys_equal == same, f"reference says same={same}, keys say equal={keys_equal}"


# -- ids --------------------------------------------------------------------------------------


def _call_ids(items: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(i["call_id"] for i in items if isinstance(i.get("call_id"), str)))


@settings(max_examples=examples(30))
@given(items=clean_items(max_size=8), spec=call_specs(), data=st.data())
def test_item_ids_and_call_ids_do_not_change_the_key(
    items: list[dict[str, Any]], spec: dict[str, Any], data: st.DataObject
) -> None:
    """A re-run gets new ids from the provider everywhere: every ``id`` replaced, dropped or
    added, and the call ids renamed one to one (pairs stay pairs)."""
    old_call_ids = _call_ids(items)
    new_call_ids = data.draw(
        st.lists(
            word("call_", ALNUM, 6, 24),
            min_size=len(old_call_ids),
            max_size=len(old_call_ids),
            unique=True,
        ),
        label="new call ids",
    )
    renamed = dict(zip(old_call_ids, new_call_ids, strict=True))
    rerun = []
    for item in items:
        item = dict(item)
        if "call_id" in item:
            item["call_id"] = renamed[item["call_id"]]
        action = data.draw(st.sampled_from(["keep", "new", "drop", "new"]), label="id")
        if action == "new":
            item["id"] = data.draw(ids)
        elif action == "drop":
            item.pop("id", None)
        rerun.append(item)
    assert digest(spec, input=rerun) == digest(spec, input=items)


@settings(max_examples=examples(25))
@given(items=clean_items(max_size=8), spec=call_specs(), data=st.data())
def test_which_output_answers_which_call_changes_the_key(
    items: list[dict[str, Any]], spec: dict[str, Any], data: st.DataObject
) -> None:
    """Call ids are renumbered, not erased: two calls merged under one id are another
    conversation."""
    distinct = _call_ids(items)
    assume(len(distinct) >= 2)
    keep, merge = data.draw(st.permutations(distinct), label="pair")[:2]
    merged = [{**item, "call_id": keep} if item.get("call_id") == merge else item for item in items]
    assert digest(spec, input=merged) != digest(spec, input=items)


@settings(max_examples=examples(20))
@given(
    items=clean_items(max_size=4),
    spec=call_specs(),
    reference_item=item_reference(),
    position=st.integers(0, 4),
    other=ids,
)
def test_changing_which_item_a_reference_points_to_changes_the_key(
    items: list[dict[str, Any]],
    spec: dict[str, Any],
    reference_item: dict[str, Any],
    position: int,
    other: str,
) -> None:
    """An ``item_reference`` input item is only its ``id``: the provider replaces it with the
    stored item it names. Two references to different items are different requests."""
    assume(other != reference_item["id"])
    first = [*items[:position], reference_item, *items[position:]]
    second = [*items[:position], {**reference_item, "id": other}, *items[position:]]
    assert digest(spec, input=second) != digest(spec, input=first)
