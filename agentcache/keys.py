"""The cache key: a pure function of the normalized call.

Everything that can change the model's answer is in the key; volatile identifiers are not.
The key is built in two steps so that it can be explained: :func:`key_parts` gives a JSON-like
dict of named parts, :func:`digest` hashes its canonical JSON with SHA-256, and
:func:`diff_parts` tells which parts of two calls differ.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import math
import operator
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from agents.handoffs import Handoff
from agents.model_settings import ModelSettings
from agents.models.openai_responses import Converter
from agents.tool import FunctionTool, Tool
from pydantic import BaseModel

# Re-exported: they live in keydiff, which the command line imports without the SDK.
from .keydiff import KeyDifference as KeyDifference
from .keydiff import diff_parts as diff_parts

KEY_VERSION = 1
"""Bumped whenever normalization changes, so old entries stop matching instead of lying."""

Json = Any  # None | bool | int | float | str | list[Json] | dict[str, Json]


class KeyEncodingError(TypeError):
    """A value in the call cannot be put into a key; ``path`` names the field."""

    def __init__(self, path: str, value: object, why: str = "") -> None:
        self.path = path
        detail = why or f"a value of type {type(value).__qualname__} has no JSON form"
        super().__init__(f"cannot build a cache key: {path}: {detail}")


# ModelSettings fields: in the key or not, and why. docs/keys.md renders the same table, and a
# test fails when the installed SDK has a field that is missing here. A field this table does not
# know goes into the key (the safe side: a needless miss, never a wrong hit).
SETTINGS_POLICY: Mapping[str, tuple[bool, str]] = {
    "temperature": (True, "sampling changes the answer"),
    "top_p": (True, "sampling changes the answer"),
    "frequency_penalty": (True, "sampling changes the answer"),
    "presence_penalty": (True, "sampling changes the answer"),
    "tool_choice": (True, "decides whether and which tool is called"),
    "parallel_tool_calls": (True, "decides how many tool calls one turn may hold"),
    "truncation": (True, "decides which context the model sees"),
    "max_tokens": (True, "can cut the answer short"),
    "reasoning": (True, "effort and summaries change the output items"),
    "verbosity": (True, "changes the length of the answer"),
    "metadata": (False, "tags for the provider's dashboards; the model never sees them"),
    "store": (False, "whether the provider keeps the response; not the answer"),
    "prompt_cache_retention": (False, "provider-side prefix cache policy; not the answer"),
    "include_usage": (False, "asks for a usage chunk; the answer is the same"),
    "response_include": (True, "adds data (logprobs, sources, encrypted reasoning) to the output"),
    "top_logprobs": (True, "adds logprobs to the output"),
    "extra_query": (True, "arbitrary request parameters (e.g. an API version) may change it"),
    "extra_body": (True, "arbitrary request fields may change it (minus prompt_cache_key)"),
    "extra_headers": (
        False,
        "transport headers (auth, tracing ids); use key_extras if one matters",
    ),
    "extra_args": (True, "arbitrary request arguments may change it (minus prompt_cache_key)"),
    "retry": (False, "runner-side retry policy; the answer is the same"),
    "context_management": (True, "server-side compaction changes the context the model sees"),
    "prompt_cache_options": (False, "provider-side prefix cache policy; not the answer"),
    "preserve_raw_usage": (False, "only keeps a raw usage snapshot"),
    "timeout": (False, "bounds the attempt; a completed answer is the same"),
}

# A provider prompt-cache routing hint. The Runner generates a fresh one per run, so keeping it
# would make every re-run miss; it never changes the answer.
_VOLATILE_REQUEST_FIELDS = frozenset({"prompt_cache_key"})
_VOLATILE_SETTINGS = frozenset({"extra_args", "extra_body"})


class _NotPlain(Exception):
    """Raised by the fast path when a value needs the general conversion."""


def _plain(value: object) -> Json:
    """The hot path for data that is already JSON-shaped: exact type checks, no paths."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is dict:
        out = {}
        for k, v in value.items():  # type: ignore[attr-defined]
            if type(k) is not str:
                raise _NotPlain
            out[k] = _plain(v)
        return out
    if t is list or t is tuple:
        return [_plain(v) for v in value]  # type: ignore[attr-defined]
    if isinstance(value, float) and t is float and math.isfinite(value) and not value.is_integer():
        return value
    raise _NotPlain


def to_jsonable(value: object, path: str) -> Json:
    """Convert ``value`` to plain JSON data with stable floats, or raise naming ``path``."""
    try:
        return _plain(value)
    except _NotPlain:
        return _to_jsonable(value, path)


def _to_jsonable(value: object, path: str) -> Json:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise KeyEncodingError(path, value, f"{value!r} is not a finite number")
        # 1.0 and 1 are the same setting; -0.0 and 0.0 too (within what JSON ints hold here).
        return int(value) if value.is_integer() and -(2**63) <= value < 2**64 else value
    if isinstance(value, Mapping):
        out: dict[str, Json] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise KeyEncodingError(f"{path}[{k!r}]", k, "mapping keys must be strings")
            out[k] = _to_jsonable(v, f"{path}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, BaseModel):
        return _to_jsonable(value.model_dump(mode="json", exclude_unset=True), path)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _to_jsonable({k: v for k, v in fields.items() if v is not None}, path)
    if isinstance(value, enum.Enum):
        return _to_jsonable(value.value, path)
    raise KeyEncodingError(path, value)


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def canonical_json(value: Json) -> bytes:
    """Sorted keys, no whitespace, UTF-8: one byte string per value.

    orjson, because this runs on every call and is ten times faster than ``json`` here; for
    plain JSON data the bytes are the same as ``json.dumps(sort_keys=True, separators=(",",
    ":"), ensure_ascii=False)``, except that floats use orjson's shortest form (``1e16``).
    """
    return orjson.dumps(value, option=_ORJSON_OPTIONS)


def digest_of(value: Json) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def _without_volatile(value: Json) -> Json:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in _VOLATILE_REQUEST_FIELDS} or None
    return value


_settings_fields: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _settings_plan(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    """The names of a settings class's fields that are in the key, and one C getter for all
    of them (per class, not per call: fields are a class's, and SETTINGS_POLICY is constant)."""
    plan = _settings_fields.get(cls)
    if plan is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if SETTINGS_POLICY.get(f.name, (True, "unknown field: kept, to be safe"))[0]
        )
        if len(names) > 1:
            getter: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*names)
        else:  # attrgetter of one name returns the value, not a tuple
            getter = lambda s: tuple(getattr(s, n) for n in names)  # noqa: E731
        plan = _settings_fields[cls] = (names, getter)
    return plan


def settings_part(settings: ModelSettings) -> dict[str, Json]:
    """Answer-changing settings; ``None`` values are left out so new SDK fields keep old keys.

    Read afresh on every call (about a microsecond): ``ModelSettings`` is mutable, so nothing
    derived from one object may be reused after the caller changed it."""
    names, getter = _settings_plan(type(settings))
    out: dict[str, Json] = {}
    for name, value in zip(names, getter(settings), strict=True):
        if value is None:
            continue
        t = type(value)
        if t is str or t is bool or t is int:  # exact types: what to_jsonable returns as is
            out[name] = value
            continue
        encoded = to_jsonable(value, f"model_settings.{name}")
        if name in _VOLATILE_SETTINGS:
            encoded = _without_volatile(encoded)
        if encoded is not None:
            out[name] = encoded
    return out


# Exact types whose equal values have equal JSON, given the type (True == 1 == 1.0 do not: the
# types are part of the fingerprint below). Floats only where the key normalizes them (settings:
# 0.0 and -0.0 are equal floats that orjson writes apart).
_ATOM_TYPES = frozenset({str, int, bool, type(None)})
_SETTING_TYPES = _ATOM_TYPES | {float}
_head_cache: dict[tuple[Any, ...], bytes] = {}


def head_fingerprint(
    model_identity: Mapping[str, Any],
    namespace: str,
    key_extras: Mapping[str, Any] | None,
    instructions: str | None,
    settings: ModelSettings,
    output_schema: object,
    prompt: object,
    previous_response_id: str | None,
    conversation_id: str | None,
) -> tuple[Any, ...] | None:
    """A value that determines the canonical JSON of a call's head (every key part but tools
    and input), or ``None`` when the call has parts it cannot vouch for.

    It holds the parts themselves, never an object's identity: each is an immutable plain
    value (with its exact type), so an equal fingerprint means equal JSON, and a settings
    object the caller changed in place gets a new fingerprint. Calls with an output schema,
    a prompt, key extras, or a setting that is not a plain value (a dict, a ``Reasoning``)
    are not fingerprinted: their head is built afresh every time."""
    if key_extras is not None or output_schema is not None or prompt is not None:
        return None
    values = _settings_plan(type(settings))[1](settings)
    types = tuple(map(type, values))
    if not _SETTING_TYPES.issuperset(types):
        return None
    rest = (
        *model_identity.values(),
        namespace,
        instructions,
        previous_response_id,
        conversation_id,
    )
    rest_types = tuple(map(type, rest))
    if not _ATOM_TYPES.issuperset(rest_types):
        return None
    return (type(settings), values, types, tuple(model_identity), rest, rest_types)


def head_json(fingerprint: tuple[Any, ...] | None, head: Callable[[], Json]) -> bytes:
    """The canonical JSON of ``head()``, remembered by ``fingerprint`` (see above)."""
    if fingerprint is None:
        return canonical_json(head())
    cached = _head_cache.get(fingerprint)
    if cached is None:
        cached = canonical_json(head())
        if len(_head_cache) >= 1024:
            _head_cache.clear()
        _head_cache[fingerprint] = cached
    return cached


_ORDINALS = tuple(f"call#{n}" for n in range(64))


def input_json(input: str | Sequence[Any]) -> bytes:
    """Canonical JSON of the input items, without item ``id``s and with ``call_id``s replaced
    by first-seen ordinals.

    Ids are assigned by the provider per run; two runs of the same conversation differ only
    there, and the pairing of a tool call with its output survives the renumbering. Only the
    top level of each item is copied; the JSON encoder walks the rest (objects it does not
    know, such as pydantic models, go through :func:`to_jsonable`). Input values are hashed as
    written: unlike settings, ``1.0`` and ``1`` in a message are different text for the model.
    """
    items: Sequence[Any] = [{"content": input, "role": "user"}] if isinstance(input, str) else input
    ordinals: dict[str, str] = {}
    normalized: list[Any] = []
    append = normalized.append
    for i, item in enumerate(items):
        if type(item) is dict:  # the Runner's items: a branch of exact checks, no ABC
            call_id = item.get("call_id")
            if "id" in item and len(item) > 1 and item.get("type") != "item_reference":
                item = item.copy()  # copied only when something changes
                del item["id"]
            elif call_id is None:
                append(item)
                continue
            else:
                item = item.copy()
        else:
            if isinstance(item, BaseModel):
                item = to_jsonable(item, f"input[{i}]")
            if not isinstance(item, Mapping):
                append(item)
                continue
            if "call_id" not in item and "id" not in item:
                append(item)  # (the encoder's fallback converts it)
                continue
            item = dict(item)  # a Mapping that is not a dict, with a field to change: copied
            call_id = item.get("call_id")
            if "id" in item and len(item) > 1 and item.get("type") != "item_reference":
                del item["id"]
        # An item reference's id is all it says (``{"type": "item_reference", "id": ...}``, or
        # a bare ``{"id": ...}``): kept.
        if type(call_id) is str or isinstance(call_id, str):
            ordinal = ordinals.get(call_id)
            if ordinal is None:
                n = len(ordinals)
                ordinal = ordinals[call_id] = _ORDINALS[n] if n < len(_ORDINALS) else f"call#{n}"
            item["call_id"] = ordinal
        append(item)
    try:
        return orjson.dumps(normalized, default=_encode_other, option=_ORJSON_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):
        to_jsonable(normalized, "input")  # raises KeyEncodingError naming the field
        raise


def _encode_other(value: object) -> Json:
    return to_jsonable(value, "input")


_tools_cache: dict[tuple[Any, ...], tuple[tuple[weakref.ref[Any], ...], Json, str]] = {}


def _fingerprint(obj: object) -> tuple[Any, ...]:
    """Cheap identity of a tool or handoff: catches a replaced name, description or schema."""
    if type(obj) is FunctionTool:  # the common case, without the generic lookups
        return (
            id(obj),
            obj.name,
            obj.description,
            id(obj.params_json_schema),
            obj.strict_json_schema,
        )
    return (
        id(obj),
        getattr(obj, "name", None) or getattr(obj, "tool_name", None),
        getattr(obj, "description", None) or getattr(obj, "tool_description", None),
        id(getattr(obj, "params_json_schema", None) or getattr(obj, "input_json_schema", None)),
        getattr(obj, "strict_json_schema", None),
    )


def tools_part(tools: Sequence[Tool], handoffs: Sequence[Handoff[Any, Any]]) -> tuple[Json, str]:
    """The tool definitions as the Responses API receives them (handoffs are function tools),
    and their digest.

    The SDK's own converter is the most faithful record of what the model sees: names,
    descriptions, JSON schemas, strictness and hosted tools' configuration. Agents pass the
    same tool objects on every turn, so the result is memoized per set of live tool objects
    (held weakly). Tool definitions are treated as immutable once used, as the SDK does:
    replace a tool rather than edit its schema dict in place.
    """
    objects = (*tools, *handoffs)
    signature = tuple(
        [
            # _fingerprint's common case inlined: one frame for all the tools, not one each
            (id(o), o.name, o.description, id(o.params_json_schema), o.strict_json_schema)
            if type(o) is FunctionTool
            else _fingerprint(o)
            for o in objects
        ]
    )
    cached = _tools_cache.get(signature)
    if cached is not None:
        # The signature holds each object's id; the weak references tell a live object from
        # a new one that reuses a dead one's id.
        for ref, obj in zip(cached[0], objects, strict=True):
            if ref() is not obj:
                break
        else:
            return cached[1], cached[2]
    part: Json = None
    if objects:
        converted = Converter.convert_tools(list(tools), list(handoffs))
        part = to_jsonable({"tools": converted.tools, "include": converted.includes}, "tools")
    result = (part, digest_of(part))
    try:
        refs = tuple(weakref.ref(o) for o in objects)
    except TypeError:  # not weak-referenceable: correct, just not memoized
        return result
    if len(_tools_cache) >= 256:
        _tools_cache.clear()
    _tools_cache[signature] = (refs, *result)
    return result


def model_identity(model: object) -> dict[str, Json]:
    """Class, model name and base URL where the model exposes them."""
    identity: dict[str, Json] = {"class": f"{type(model).__module__}.{type(model).__qualname__}"}
    name = getattr(model, "model", None)
    if isinstance(name, str):
        identity["name"] = name
    client = getattr(model, "_client", None)
    base_url = getattr(client, "base_url", None)
    if base_url is not None:
        identity["base_url"] = str(base_url)
    return identity
