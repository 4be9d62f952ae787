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
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from agents.handoffs import Handoff
from agents.model_settings import ModelSettings
from agents.models.openai_responses import Converter
from agents.tool import Tool
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
        # 1.0 and 1 are the same setting; -0.0 and 0.0 too.
        return int(value) if value.is_integer() else value
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


def settings_part(settings: ModelSettings) -> dict[str, Json]:
    """Answer-changing settings; ``None`` values are left out so new SDK fields keep old keys."""
    out: dict[str, Json] = {}
    for field in dataclasses.fields(settings):
        in_key, _why = SETTINGS_POLICY.get(field.name, (True, "unknown field: kept, to be safe"))
        value = getattr(settings, field.name)
        if not in_key or value is None:
            continue
        encoded = to_jsonable(value, f"model_settings.{field.name}")
        if field.name in ("extra_args", "extra_body"):
            encoded = _without_volatile(encoded)
        if encoded is not None:
            out[field.name] = encoded
    return out


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
    for i, item in enumerate(items):
        if type(item) is not dict:  # exact check first: ABC checks cost more than the copy
            if isinstance(item, BaseModel):
                item = to_jsonable(item, f"input[{i}]")
            if not isinstance(item, Mapping):
                normalized.append(item)
                continue
        if "id" in item or "call_id" in item:
            item = dict(item)
            item.pop("id", None)
            call_id = item.get("call_id")
            if isinstance(call_id, str):
                ordinal = ordinals.get(call_id)
                if ordinal is None:
                    ordinal = ordinals[call_id] = f"call#{len(ordinals)}"
                item["call_id"] = ordinal
        normalized.append(item)
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
    signature = tuple(_fingerprint(o) for o in objects)
    cached = _tools_cache.get(signature)
    if cached is not None and all(r() is o for r, o in zip(cached[0], objects, strict=True)):
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
