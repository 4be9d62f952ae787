"""Entries from SDK responses and back: the half of the codec that needs the Agents SDK.

``agentcache.entry`` (the versioned JSON) imports no SDK, so tools that only read a store (the
command line) start fast; turning an entry into a real ``ModelResponse`` lives here.

A hit hands out objects the caller owns: the Runner and user code mutate responses, and no
change to one hit's response may show in another's or in the entry. The output items are
validated afresh from the entry's JSON on every hit (pydantic-core builds them faster than a
Python copy of once-validated items could); the usage and the ``ModelResponse`` around them,
whose constructors re-validate and run default factories, are copied from validated templates.
"""

from __future__ import annotations

import copy
import time
from typing import Annotated, Any, Union, get_args

from agents.items import ModelResponse, TResponseOutputItem
from agents.usage import Usage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic import BaseModel, Field, TypeAdapter

from .entry import CorruptEntry, Entry


def _output_items_adapter() -> TypeAdapter[list[TResponseOutputItem]]:
    """Validate output items by their ``type`` tag. The SDK's union carries openai's own
    discriminator marker, which pydantic ignores and then tries all 28 members in turn (about
    10x slower); fall back to the plain union if a future SDK makes the tags ambiguous."""
    members = get_args(get_args(TResponseOutputItem)[0])
    try:
        tagged: Any = Annotated[Union[members], Field(discriminator="type")]  # noqa: UP007
        return TypeAdapter(list[tagged])
    except Exception:  # pragma: no cover - depends on the SDK version
        return TypeAdapter(list[TResponseOutputItem])


_output_items = _output_items_adapter()

# -- fresh objects without re-validating what was validated ---------------------------------------
#
# The output items are validated from the entry's JSON on every hit: pydantic-core builds them
# in Rust about twice as fast as a Python-level deep copy of once-validated items (fresh() below;
# pickle is slower still), and each hit gets its own objects for free. What surrounds them is
# another matter: ``Usage()`` and the pydantic dataclass ``ModelResponse`` re-validate their
# fields and run default factories on every construction (about as long as the items take), so
# they are built from validated templates instead.

_set = object.__setattr__
_ATOMS = frozenset({str, int, float, bool, type(None), bytes})


def _fresh_model(model: BaseModel) -> BaseModel:
    """What pydantic's ``BaseModel.__deepcopy__`` does (the same four slots), with the values
    copied by :func:`fresh` instead of ``copy.deepcopy``."""
    cls = type(model)
    new = cls.__new__(cls)
    _set(new, "__dict__", {k: _fresh(v) for k, v in model.__dict__.items()})
    extra = model.__pydantic_extra__
    _set(new, "__pydantic_extra__", None if extra is None else _fresh(extra))
    _set(new, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    private = getattr(model, "__pydantic_private__", None)
    _set(new, "__pydantic_private__", None if private is None else copy.deepcopy(private))
    return new


def _fresh(value: Any) -> Any:
    t: Any = type(value)
    if t in _ATOMS:
        return value
    if t is list:
        return [v if type(v) in _ATOMS else _fresh(v) for v in value]
    if t is dict:
        return {k: v if type(v) in _ATOMS else _fresh(v) for k, v in value.items()}
    if isinstance(value, BaseModel):
        return _fresh_model(value)
    if t is tuple:
        return tuple(_fresh(v) for v in value)
    if hasattr(t, "__dataclass_fields__") and hasattr(value, "__dict__"):  # a dataclass
        new = t.__new__(t)
        new.__dict__.update({k: _fresh(v) for k, v in value.__dict__.items()})
        return new
    return copy.deepcopy(value)  # anything else (an enum is returned as is)


def fresh(value: Any) -> Any:
    """A deep copy of validated SDK data (pydantic models, pydantic or plain dataclasses, lists,
    dicts): every mutable object is new, immutable values are shared, nothing is re-validated.
    Sharing between parts of ``value`` is not preserved (validated JSON has none)."""
    return _fresh(value) if _FAITHFUL else copy.deepcopy(value)


def _copies_faithfully() -> bool:
    """Checked once at import: if a pydantic or SDK release changed how a model or the usage
    keeps its state, copies fall back to ``copy.deepcopy`` rather than hand out broken ones."""
    try:
        sample: list[Any] = _output_items.validate_python(
            [
                {
                    "id": "m",
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": "t", "annotations": []}],
                    "unknown_extra": {"x": [1]},
                }
            ]
        )
        copied = _fresh(sample)
        usage = Usage(requests=1, input_tokens=2, output_tokens=3, total_tokens=5)
        usage_copy = _fresh(usage)
        return (
            copied == sample
            and copied[0] is not sample[0]
            and copied[0].content[0] is not sample[0].content[0]
            and copied[0].model_fields_set == sample[0].model_fields_set
            and copied[0].model_dump(exclude_unset=True) == sample[0].model_dump(exclude_unset=True)
            and type(usage_copy) is Usage
            and usage_copy == usage
            and usage_copy.input_tokens_details is not usage.input_tokens_details
            and usage_copy.request_usage_entries is not usage.request_usage_entries
        )
    except Exception:  # pragma: no cover - depends on the pydantic version
        return False


_FAITHFUL = _copies_faithfully()


class _UsageTemplate:
    """Fresh copies of one validated ``Usage``, made the cheap way: plain values shared, each
    pydantic detail model rebuilt by its own validator (in Rust) from its dump, anything else
    deep-copied. The first copy is checked against the template: if it differs (a future SDK),
    copies are made by :func:`fresh` instead."""

    __slots__ = ("_atoms", "_models", "_others", "_template")

    def __init__(self, template: Usage) -> None:
        self._template = template
        self._atoms: dict[str, Any] = {}
        self._models: list[tuple[str, Any, dict[str, Any]]] = []
        self._others: dict[str, Any] | None = {}
        try:
            fields = vars(template)
            self._atoms = {k: v for k, v in fields.items() if type(v) in _ATOMS}
            for k, v in fields.items():
                if isinstance(v, BaseModel):
                    dump = v.model_dump(exclude_unset=True)
                    self._models.append((k, type(v).__pydantic_validator__, dump))
                elif k not in self._atoms:
                    self._others[k] = v
            copied = self._copy()
            same = (
                copied == template
                and all(
                    getattr(copied, k).model_fields_set == getattr(template, k).model_fields_set
                    for k, _, _ in self._models
                )
                and all(getattr(copied, k) is not v for k, v in self._others.items())
            )
        except Exception:  # pragma: no cover - depends on the SDK version
            same = False
        if not same:  # pragma: no cover - depends on the SDK version
            self._others = None

    def _copy(self) -> Usage:
        usage = Usage.__new__(Usage)
        fields = usage.__dict__
        fields.update(self._atoms)
        for name, validator, dump in self._models:
            fields[name] = validator.validate_python(dump)
        for name, value in self._others.items():  # type: ignore[union-attr]
            fields[name] = [] if type(value) is list and not value else fresh(value)
        return usage

    def __call__(self) -> Usage:
        if self._others is None:  # pragma: no cover - see __init__
            result: Usage = fresh(self._template)
            return result
        return self._copy()


_zero_usage = _UsageTemplate(Usage())


def _response_fields() -> dict[str, Any] | None:
    """The ``ModelResponse`` fields a hit does not set, at their defaults, if every default is
    immutable: then a response is built as a plain instance with those fields (the items and
    usage in it are already validated), without the pydantic dataclass re-validating them."""
    try:
        template = ModelResponse(output=[], usage=Usage(), response_id=None)
        fields = vars(template)
    except Exception:  # pragma: no cover - a future pydantic without instance dicts
        return None
    rest = {k: v for k, v in fields.items() if k not in ("output", "usage", "response_id")}
    if all(type(v) in _ATOMS for v in rest.values()):
        return rest
    return None  # pragma: no cover - a future SDK with a mutable default: use the constructor


_RESPONSE_DEFAULTS = _response_fields()


def _model_response(output: list[Any], usage: Usage, response_id: str | None) -> ModelResponse:
    if _RESPONSE_DEFAULTS is None:  # pragma: no cover - see _response_fields
        return ModelResponse(output=output, usage=usage, response_id=response_id)
    response = ModelResponse.__new__(ModelResponse)
    fields = response.__dict__
    fields.update(_RESPONSE_DEFAULTS)
    fields["output"], fields["usage"], fields["response_id"] = output, usage, response_id
    return response


_USAGE_ATTR = "_agentcache_usage"


def _replayed_usage(entry: Entry) -> _UsageTemplate:
    """The entry's usage as a validated ``Usage`` template, built once and kept on the (frozen)
    entry: entries are never changed once built (``dataclasses.replace`` makes a new one)."""
    template: _UsageTemplate | None = entry.__dict__.get(_USAGE_ATTR)
    if template is None:
        u = entry.usage
        try:
            usage = Usage(
                requests=u.get("requests", 1),
                input_tokens=u.get("input_tokens", 0),
                output_tokens=u.get("output_tokens", 0),
                total_tokens=u.get("total_tokens", 0),
                input_tokens_details=InputTokensDetails.model_validate(u["input_tokens_details"]),
                output_tokens_details=OutputTokensDetails.model_validate(
                    u["output_tokens_details"]
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptEntry(f"usage does not validate: {exc}") from exc
        template = _UsageTemplate(usage)
        _set(entry, _USAGE_ATTR, template)
    return template


def entry_from_response(
    response: ModelResponse, digest: str, elapsed: float, ttl: float | None
) -> Entry:
    now = time.time()
    u = response.usage
    usage = {
        "requests": u.requests,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "input_tokens_details": u.input_tokens_details.model_dump(mode="json"),
        "output_tokens_details": u.output_tokens_details.model_dump(mode="json"),
    }
    return Entry(
        digest=digest,
        output=[item.model_dump(mode="json", exclude_unset=True) for item in response.output],
        usage=usage,
        response_id=response.response_id,
        created_at=now,
        expires_at=None if ttl is None else now + ttl,
        elapsed=elapsed,
    )


def to_response(entry: Entry, *, replay_usage: bool = False) -> ModelResponse:
    """A real ``ModelResponse`` with fresh SDK pydantic items: every mutable part is the
    caller's own (the Runner mutates responses), so no change to it shows in another hit's
    response, or in the entry.

    Usage is zero unless ``replay_usage``: nothing was billed for a hit.
    """
    try:
        output = _output_items.validate_python(entry.output)
    except ValueError as exc:
        raise CorruptEntry(f"output items do not validate: {exc}") from exc
    usage = _replayed_usage(entry)() if replay_usage else _zero_usage()
    response_id = entry.response_id
    if response_id is not None and type(response_id) is not str:
        raise CorruptEntry(f"response_id is not a string: {response_id!r}")
    return _model_response(output, usage, response_id)
