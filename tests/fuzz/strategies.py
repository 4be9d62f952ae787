"""Strategies for the fuzz tests, and the builders that turn drawn data into SDK objects.

A call is drawn as a *spec*: plain, picklable data (dicts, strings, numbers, pydantic items)
that ``build_call`` turns into a ``ModelCall`` with real tool, handoff and output-schema
objects. Specs, not calls, are what cross into the key workers of the hash-seed test: SDK tool
objects hold closures and cannot be pickled, and building the objects on each side is also
what a fresh process really does.

Two families of values: *clean* ones are what a working provider and a sane caller produce
(text of every plane without lone surrogates, finite numbers, JSON-shaped data), so every such
call must be keyable; *wild* ones add what a str, a float or a dict can hold but JSON cannot
(lone surrogates, NaN, infinities, integers past 64 bits, bytes, non-string keys, sets, very
deep nesting, odd and unknown items), for which building a key may fail but must fail cleanly.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
from typing import Any

from agents import (
    Agent,
    AgentOutputSchema,
    FileSearchTool,
    FunctionTool,
    ModelSettings,
    WebSearchTool,
    handoff,
)
from agents.models.interface import ModelTracing
from hypothesis import strategies as st
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputRefusal,
    ResponseOutputText,
    ResponseReasoningItem,
)
from openai.types.responses.response_output_text import AnnotationURLCitation
from openai.types.responses.response_reasoning_item import Content, Summary
from openai.types.shared import Reasoning
from pydantic import BaseModel

from agentcache.call import ModelCall
from agentcache.keys import model_identity

# -- text ------------------------------------------------------------------------------------

SPECIAL_CHARS = [
    "\x00",  # NUL
    "\x7f",
    "\u200b",  # zero-width space
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2028",  # line separator: legal in JSON, not in JavaScript source
    "\ufeff",  # byte order mark
    "\U0001f600",
    "\U0010ffff",  # the last code point
    "\\",
    '"',
    "\n",
    "\r",
]
LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]


def _sprinkle(text: str, extras: list[tuple[int, str]]) -> str:
    for position, extra in extras:
        at = position % (len(text) + 1)
        text = text[:at] + extra + text[at:]
    return text


# Text is drawn by the fast single-alphabet path and then sprinkled with a few characters
# that matter here (drawing each character from a union of alphabets is ten times slower).
_clean_extra = st.one_of(
    st.sampled_from(SPECIAL_CHARS),
    st.integers(0x10000, 0x10FFFF).map(chr),  # any astral plane, private use included
)
_wild_extra = st.one_of(
    _clean_extra,
    st.sampled_from(LONE_SURROGATES),
    st.integers(0xD800, 0xDFFF).map(chr),
)


def _text(extra: st.SearchStrategy[str], min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.builds(
        _sprinkle,
        st.text(st.characters(exclude_categories=["Cs"]), min_size=min_size, max_size=max_size),
        st.lists(st.tuples(st.integers(0, 64), extra), max_size=3 if max_size else 0),
    )


def clean_text(min_size: int = 0, max_size: int = 16) -> st.SearchStrategy[str]:
    """Text a provider can send and JSON can carry: every plane, no lone surrogates."""
    return _text(_clean_extra, min_size, max_size)


def wild_text(min_size: int = 0, max_size: int = 16) -> st.SearchStrategy[str]:
    """Anything a Python str holds, lone surrogates included."""
    return _text(_wild_extra, min_size, max_size)


def huge_text() -> st.SearchStrategy[str]:
    """One to three million characters: a short drawn pattern repeated (drawing megabytes
    character by character would be slow)."""
    return st.builds(
        lambda pattern, size: (pattern * (size // len(pattern) + 1))[:size],
        clean_text(min_size=1, max_size=8),
        st.integers(1_000_000, 3_000_000),
    )


# -- numbers ---------------------------------------------------------------------------------

ODD_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324, 1e308, 1e16, 2.0**64, 1.0]
odd_floats = st.one_of(st.sampled_from(ODD_FLOATS), st.floats())
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
modest_floats = st.floats(-1e18, 1e18)
"""Finite floats whose integral values fit in 64 bits (see ``test_clean_calls_are_keyable``)."""
odd_ints = st.one_of(
    st.integers(),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**40]),
)


# -- JSON-shaped data ------------------------------------------------------------------------


def clean_json(
    max_leaves: int = 12, floats: st.SearchStrategy[float] = modest_floats
) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**53), 2**53),
        floats,
        clean_text(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(clean_text(max_size=8), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


class Color(enum.Enum):
    RED = "red"
    LEVEL = 3


class Note(BaseModel):
    text: str
    score: float | None = None


@dataclasses.dataclass
class Point:
    x: float
    y: float | None = None


def nest(value: Any, depth: int, kind: str) -> Any:
    """``value`` inside ``depth`` lists or single-key dicts."""
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


def deep(max_depth: int) -> st.SearchStrategy[Any]:
    """Nesting past orjson's limit of 254 levels and, with ``max_depth`` above 1000, past
    Python's recursion limit."""
    return st.builds(
        nest,
        st.one_of(st.none(), st.integers(), wild_text(max_size=4)),
        st.one_of(
            st.integers(1, 8), st.sampled_from([253, 254, 255, 256, 300]), st.integers(1, max_depth)
        ),
        st.sampled_from(["list", "dict"]),
    )


def wild_json(max_leaves: int = 12, max_depth: int = 400) -> st.SearchStrategy[Any]:
    """Values that may have no JSON form, or a JSON form that loses information."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        odd_ints,
        odd_floats,
        wild_text(),
        st.binary(max_size=12),
        st.sampled_from(list(Color)),
        st.builds(Note, text=wild_text(), score=st.none() | odd_floats),
        st.builds(Point, x=odd_floats, y=st.none() | odd_floats),
    )
    keys = st.one_of(
        wild_text(max_size=8),
        wild_text(max_size=8),
        st.integers(),
        st.none(),
        st.binary(max_size=4),
    )
    return st.one_of(
        st.recursive(
            scalars,
            lambda inner: st.one_of(
                st.lists(inner, max_size=4),
                st.tuples(inner, inner),
                st.dictionaries(keys, inner, max_size=4),
                st.frozensets(st.one_of(st.integers(), wild_text(max_size=4)), max_size=3),
            ),
            max_leaves=max_leaves,
        ),
        deep(max_depth),
    )


# -- input items -----------------------------------------------------------------------------

HEX = "0123456789abcdef"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def word(prefix: str, alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """``prefix`` and a run of ``alphabet`` (faster to draw than ``from_regex``)."""
    return st.text(alphabet, min_size=min_size, max_size=max_size).map(lambda t: prefix + t)


hex64 = st.text(HEX, min_size=64, max_size=64)
ids = st.one_of(
    st.builds(
        str.__add__, st.sampled_from(["msg_", "fc_", "rs_"]), st.text(HEX, min_size=6, max_size=24)
    ),
    clean_text(min_size=1, max_size=12),
)
call_ids = st.one_of(
    st.sampled_from(["call_a", "call_b", "call_c"]),  # a small pool, so outputs pair with calls
    word("call_", ALNUM, 4, 16),
)
tool_names = st.text(ALNUM + "_-", min_size=1, max_size=21)


def json_arguments(
    values: st.SearchStrategy[Any], keys: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[str]:
    """Function-call arguments as the model sends them: a JSON object as text. Values JSON
    cannot hold are written as their repr, NaN and infinities as Python's json writes them."""
    keys = keys if keys is not None else clean_text(max_size=8)
    return st.dictionaries(keys, values, max_size=4).map(
        lambda d: json.dumps(d, ensure_ascii=False, default=repr, skipkeys=True)
    )


def _maybe_id(item: dict[str, Any], item_id: str | None) -> dict[str, Any]:
    if item_id is not None:
        item["id"] = item_id
    return item


def user_message(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    parts = st.lists(text.map(lambda t: {"type": "input_text", "text": t}), min_size=1, max_size=3)
    return st.builds(
        lambda role, content, typed: {
            "role": role,
            "content": content,
            **({"type": "message"} if typed else {}),
        },
        st.sampled_from(["user", "system", "developer"]),
        st.one_of(text, parts),
        st.booleans(),
    )


def assistant_message(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda t, item_id: {
            "type": "message",
            "role": "assistant",
            "id": item_id,
            "status": "completed",
            "content": [{"type": "output_text", "text": t, "annotations": []}],
        },
        text,
        ids,
    )


def function_call_item(arguments: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda name, args, call_id, item_id: _maybe_id(
            {"type": "function_call", "call_id": call_id, "name": name, "arguments": args},
            item_id,
        ),
        tool_names,
        arguments,
        call_ids,
        st.none() | ids,
    )


def function_output_item(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda call_id, output, item_id: _maybe_id(
            {"type": "function_call_output", "call_id": call_id, "output": output}, item_id
        ),
        call_ids,
        text,
        st.none() | ids,
    )


def reasoning_input_item(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda item_id, summary: {
            "type": "reasoning",
            "id": item_id,
            "summary": [{"type": "summary_text", "text": s} for s in summary],
        },
        ids,
        st.lists(text, max_size=2),
    )


def item_reference() -> st.SearchStrategy[dict[str, Any]]:
    """A reference to an item the provider stored: its ``id`` is its whole content."""
    return st.builds(lambda ref: {"type": "item_reference", "id": ref}, ids)


def clean_items(max_size: int = 5) -> st.SearchStrategy[list[dict[str, Any]]]:
    text = clean_text()
    return st.lists(
        st.one_of(
            user_message(text),
            assistant_message(text),
            function_call_item(json_arguments(clean_json(max_leaves=4))),
            function_output_item(text),
            reasoning_input_item(text),
        ),
        min_size=1,
        max_size=max_size,
    )


def _with_extra(item: dict[str, Any], extra: dict[Any, Any]) -> dict[Any, Any]:
    return {**item, **extra}


@st.composite
def _nulled(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """``base`` items with some fields, ``type`` and ``role`` included, set to ``None``."""
    item = draw(base)
    fields = draw(st.lists(st.sampled_from(sorted(item)), min_size=1))
    return {k: (None if k in fields else v) for k, v in item.items()}


def _output_message(text: str, extra: dict[str, Any]) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="msg_in",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
        **extra,
    )


def wild_items(max_size: int = 5, max_depth: int = 400) -> st.SearchStrategy[list[Any]]:
    """Input lists a caller could hand the Runner by mistake or by design: items with extra
    fields of any value, unknown ``type``s, ``None`` in any field, pydantic items (with extra
    fields too), items that are not dicts at all, arguments that are not JSON text."""
    text = wild_text()
    values = wild_json(max_leaves=6, max_depth=max_depth)
    # Arguments are text written by json.dumps, which stops at Python's recursion limit.
    arguments = json_arguments(
        wild_json(max_leaves=6, max_depth=min(max_depth, 800)), wild_text(max_size=8)
    )
    base = st.one_of(
        user_message(text),
        assistant_message(text),
        function_call_item(st.one_of(arguments, text)),
        function_output_item(text),
        reasoning_input_item(text),
        item_reference(),
    )
    extras = st.dictionaries(st.one_of(wild_text(max_size=8), st.integers()), values, max_size=3)
    odd = st.one_of(
        st.builds(_with_extra, base, extras),
        _nulled(base),
        st.builds(
            lambda t, extra: {"type": t, **extra},
            wild_text(max_size=12),
            st.dictionaries(wild_text(max_size=8), values, max_size=3),
        ),
        st.builds(
            lambda name, args, call_id: {
                "type": "function_call",
                "call_id": call_id,
                "name": name,
                "arguments": args,  # a dict where the API wants JSON text
            },
            tool_names,
            st.dictionaries(wild_text(max_size=8), values, max_size=3),
            call_ids,
        ),
        st.builds(_output_message, text, st.dictionaries(st.sampled_from(["x_a", "x_b"]), values)),
        st.builds(
            lambda t: ResponseOutputMessage.model_construct(
                id=None, type="message", role="assistant", status=None, content=[t]
            ),
            text,
        ),
        st.one_of(st.none(), st.integers(), text, values),  # not an item at all
    )
    return st.lists(st.one_of(base, odd), min_size=1, max_size=max_size)


# -- tools, handoffs, output schemas -------------------------------------------------------


async def _never_called(_ctx: Any, _args: str) -> str:
    raise AssertionError("key tests never run a tool")


def tool_spec(text: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    text = text if text is not None else clean_text()
    prop = st.fixed_dictionaries(
        {"type": st.sampled_from(["string", "number", "integer", "boolean"])},
        optional={"description": text},
    )
    schema = st.builds(
        lambda props: {
            "type": "object",
            "properties": props,
            "required": sorted(props),
            "additionalProperties": False,
        },
        st.dictionaries(tool_names, prop, max_size=3),
    )
    return st.fixed_dictionaries(
        {
            "kind": st.just("function"),
            "name": tool_names,
            "description": text,
            "schema": schema,
            "strict": st.booleans(),
        }
    )


hosted_tool_spec = st.one_of(
    st.fixed_dictionaries(
        {"kind": st.just("web_search"), "size": st.sampled_from(["low", "medium", "high"])}
    ),
    st.fixed_dictionaries(
        {
            "kind": st.just("file_search"),
            "stores": st.lists(word("vs_", HEX, 4, 8), min_size=1),
            "results": st.none() | st.integers(1, 50),
            "include": st.booleans(),
        }
    ),
)


def build_tool(spec: dict[str, Any]) -> Any:
    kind = spec["kind"]
    if kind == "web_search":
        return WebSearchTool(search_context_size=spec["size"])
    if kind == "file_search":
        return FileSearchTool(
            vector_store_ids=spec["stores"],
            max_num_results=spec["results"],
            include_search_results=spec["include"],
        )
    return FunctionTool(
        name=spec["name"],
        description=spec["description"],
        params_json_schema=spec["schema"],
        on_invoke_tool=_never_called,
        strict_json_schema=spec["strict"],
    )


class Flight(BaseModel):
    origin: str
    destination: str
    seats: int


@dataclasses.dataclass
class Forecast:
    city: str
    celsius: float


OUTPUT_TYPES: dict[str, Any] = {"flight": Flight, "forecast": Forecast, "ints": list[int]}


def build_output_schema(name: str | None) -> AgentOutputSchema | None:
    return None if name is None else AgentOutputSchema(OUTPUT_TYPES[name])


# -- settings --------------------------------------------------------------------------------


def settings_in_key(floats: st.SearchStrategy[float]) -> dict[str, st.SearchStrategy[Any]]:
    """A drawn value for each answer-changing ``ModelSettings`` field exercised here."""
    return {
        "temperature": floats,
        "top_p": floats,
        "frequency_penalty": floats,
        "presence_penalty": floats,
        "max_tokens": st.integers(1, 2**31),
        "tool_choice": st.sampled_from(["auto", "required", "none", "get_weather"]),
        "parallel_tool_calls": st.booleans(),
        "truncation": st.sampled_from(["auto", "disabled"]),
        "verbosity": st.sampled_from(["low", "medium", "high"]),
        "top_logprobs": st.integers(0, 20),
        "reasoning": st.builds(
            Reasoning,
            effort=st.sampled_from(["minimal", "low", "medium", "high"]),
            summary=st.none() | st.sampled_from(["auto", "concise", "detailed"]),
        ),
        "response_include": st.lists(
            st.sampled_from(["reasoning.encrypted_content", "message.output_text.logprobs"]),
            min_size=1,
            max_size=2,
            unique=True,
        ),
        "extra_body": st.dictionaries(
            clean_text(min_size=1, max_size=8), clean_json(4), min_size=1
        ).filter(lambda d: set(d) != {"prompt_cache_key"}),
        "extra_args": st.dictionaries(
            clean_text(min_size=1, max_size=8), clean_json(4), min_size=1
        ).filter(lambda d: set(d) != {"prompt_cache_key"}),
    }


SETTINGS_OUTSIDE_KEY: dict[str, st.SearchStrategy[Any]] = {
    "metadata": st.dictionaries(clean_text(max_size=8), clean_text(max_size=8), max_size=3),
    "store": st.booleans(),
    "include_usage": st.booleans(),
    "prompt_cache_retention": st.sampled_from(["in_memory", "24h"]),
    "extra_headers": st.dictionaries(
        word("x-", "abcdefgh", 1, 8), clean_text(max_size=8), max_size=3
    ),
    "timeout": st.floats(0.001, 600),
    "preserve_raw_usage": st.booleans(),
}


def _some_of(fields: dict[str, st.SearchStrategy[Any]], most: int) -> st.SearchStrategy[Any]:
    """A dict with up to ``most`` of ``fields``, each drawn from its strategy (cheaper to draw
    and to shrink than a fixed dictionary with every field optional)."""
    return st.lists(st.sampled_from(sorted(fields)), max_size=most, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({n: fields[n] for n in names})
    )


def settings_kwargs(
    floats: st.SearchStrategy[float] = modest_floats,
) -> st.SearchStrategy[dict[str, Any]]:
    return _some_of({**settings_in_key(floats), **SETTINGS_OUTSIDE_KEY}, 4)


def wild_settings_kwargs() -> st.SearchStrategy[dict[str, Any]]:
    values = wild_json(max_leaves=6)
    return _some_of(
        {
            "temperature": odd_floats,
            "top_p": odd_floats,
            "frequency_penalty": odd_floats,
            "max_tokens": odd_ints,
            "extra_body": st.dictionaries(wild_text(max_size=8), values, max_size=3),
            "extra_args": st.dictionaries(wild_text(max_size=8), values, max_size=3),
            "extra_query": st.dictionaries(wild_text(max_size=8), values, max_size=3),
            "metadata": st.dictionaries(wild_text(max_size=8), wild_text(max_size=8), max_size=2),
        },
        3,
    )


# -- whole calls -----------------------------------------------------------------------------

IDENTITIES = ["scripted", "responses", "chat"]


@functools.cache
def build_identity(kind: str) -> dict[str, Any]:
    """A model identity computed from a real model object, as ``CachedModel`` does (once per
    kind: making an OpenAI client takes a tenth of a second)."""
    if kind == "scripted":
        from agents.testing import ScriptedModel

        return model_identity(ScriptedModel([]))
    from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="sk-fuzz-not-a-key", base_url="https://llm.example/v1")
    cls = OpenAIResponsesModel if kind == "responses" else OpenAIChatCompletionsModel
    return model_identity(cls(model="gpt-fuzz", openai_client=client))


def call_specs(
    *,
    text: st.SearchStrategy[str] | None = None,
    items: st.SearchStrategy[Any] | None = None,
    settings: st.SearchStrategy[dict[str, Any]] | None = None,
    tools: st.SearchStrategy[list[dict[str, Any]]] | None = None,
    extras: st.SearchStrategy[Any] | None = None,
    namespaces: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Everything ``build_call`` needs, as plain data (clean values unless told otherwise)."""
    text = text if text is not None else clean_text()
    return st.fixed_dictionaries(
        {
            "instructions": st.none() | text,
            "input": st.one_of(text, items if items is not None else clean_items()),
            "settings": settings if settings is not None else settings_kwargs(),
            "tools": tools
            if tools is not None
            else st.lists(st.one_of(tool_spec(), hosted_tool_spec), max_size=2),
            "handoffs": st.lists(
                st.tuples(word("A", ALNUM[10:] + " ", 0, 12), text),
                max_size=1,
            ),
            "output_schema": st.none() | st.sampled_from(sorted(OUTPUT_TYPES)),
            "identity": st.sampled_from(IDENTITIES),
            "namespace": namespaces if namespaces is not None else clean_text(1, 16),
            "key_extras": st.none()
            | (
                extras
                if extras is not None
                else st.dictionaries(clean_text(max_size=8), clean_json(4), max_size=3)
            ),
            "prompt": st.none()
            | st.fixed_dictionaries(
                {"id": word("pmpt_", HEX, 4, 4)},
                optional={
                    "version": st.sampled_from(["1", "2"]),
                    "variables": st.dictionaries(
                        st.text("abcdefgh", min_size=1, max_size=6),
                        clean_text(max_size=8),
                        max_size=2,
                    ),
                },
            ),
            "streamed": st.booleans(),
        }
    )


def build_call(spec: dict[str, Any], **changes: Any) -> ModelCall:
    """A fresh ``ModelCall`` from a spec: new tool, handoff and schema objects every time."""
    spec = {**spec, **changes}
    handoffs = [
        handoff(Agent(name=name, handoff_description=description))
        for name, description in spec["handoffs"]
    ]
    return ModelCall(
        spec["instructions"],
        spec["input"],
        ModelSettings(**spec["settings"]),
        [build_tool(t) for t in spec["tools"]],
        build_output_schema(spec["output_schema"]),
        handoffs,
        ModelTracing.DISABLED,
        None,
        None,
        spec["prompt"],
        streamed=spec["streamed"],
        model_identity=build_identity(spec["identity"]),
        namespace=spec["namespace"],
        key_extras=spec["key_extras"],
    )


def key_outcome(spec: dict[str, Any]) -> tuple[str, str]:
    """``("key", digest)``, or ``("error", exception type)`` when the key cannot be built."""
    try:
        return "key", build_call(spec).key.digest
    except Exception as exc:
        return "error", type(exc).__qualname__


# -- output items ----------------------------------------------------------------------------


def _annotation(text: str, url: str, start: int, length: int) -> AnnotationURLCitation:
    return AnnotationURLCitation(
        type="url_citation", url=url, title=text, start_index=start, end_index=start + length
    )


def output_items(
    text: st.SearchStrategy[str] | None = None,
    arguments: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[list[Any]]:
    """Output items as a provider returns them: messages (text, citations, refusals), function
    calls with JSON arguments, reasoning items with summaries, content and encrypted content."""
    text = text if text is not None else clean_text(max_size=60)
    args = arguments if arguments is not None else clean_json(max_leaves=8)
    annotation = st.builds(
        _annotation,
        text,
        st.just("https://example.org/é?q=1"),
        st.integers(0, 99),
        st.integers(0, 99),
    )
    part = st.one_of(
        st.builds(
            lambda t, notes: ResponseOutputText(type="output_text", text=t, annotations=notes),
            text,
            st.lists(annotation, max_size=2),
        ),
        st.builds(lambda t: ResponseOutputRefusal(type="refusal", refusal=t), text),
    )
    message = st.builds(
        lambda item_id, status, content: ResponseOutputMessage(
            id=item_id, type="message", role="assistant", status=status, content=content
        ),
        ids,
        st.sampled_from(["completed", "in_progress", "incomplete"]),
        st.lists(part, min_size=1, max_size=3),
    )
    call = st.builds(
        lambda name, a, call_id, item_id, status: ResponseFunctionToolCall(
            type="function_call",
            name=name,
            arguments=json.dumps(a, ensure_ascii=False),
            call_id=call_id,
            **({"id": item_id} if item_id is not None else {}),
            **({"status": status} if status is not None else {}),
        ),
        tool_names,
        st.dictionaries(clean_text(max_size=8), args, max_size=4),
        call_ids,
        st.none() | ids,
        st.none() | st.sampled_from(["completed", "in_progress", "incomplete"]),
    )
    reasoning = st.builds(
        lambda item_id, summary, content, encrypted: ResponseReasoningItem(
            id=item_id,
            type="reasoning",
            summary=[Summary(type="summary_text", text=s) for s in summary],
            **(
                {"content": [Content(type="reasoning_text", text=c) for c in content]}
                if content is not None
                else {}
            ),
            **({"encrypted_content": encrypted} if encrypted is not None else {}),
        ),
        ids,
        st.lists(text, max_size=3),
        st.none() | st.lists(text, max_size=2),
        st.none() | st.text(ALNUM + "+/", max_size=64),
    )
    return st.lists(st.one_of(message, call, reasoning), min_size=1, max_size=5)


def dumped(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]
