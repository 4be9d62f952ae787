"""The entry codec: versioned JSON in, real SDK objects out. Never pickle.

An entry holds what the model answered (output items dumped exactly as set, so a replayed turn
produces the same next-turn input as the live one), its usage and what it cost in time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args

import orjson
from agents.items import ModelResponse, TResponseOutputItem
from agents.usage import Usage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic import Field, TypeAdapter

ENTRY_FORMAT = "agentcache.entry"
ENTRY_VERSION = 1


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


class CorruptEntry(ValueError):
    """Stored bytes that are not a readable entry of this version; treated as a miss."""


@dataclass(frozen=True)
class Entry:
    digest: str
    output: list[dict[str, Any]]
    usage: dict[str, Any]
    response_id: str | None
    created_at: float
    expires_at: float | None
    elapsed: float
    """Seconds the original call took: what a hit saves."""
    request: dict[str, Any] | None = None
    """The normalized request this entry answers (``ModelCall.key_parts``), kept only when
    the model asks (``options={"record_requests": True}``): a recording reviewed in a pull
    request must say what it answers; a production cache need not hold every prompt twice."""
    meta: dict[str, Any] | None = None
    """Where a recording came from (test, key and SDK versions, model, ``recorded_at``), kept
    with ``request``. Both are optional: entries without them, older ones included, decode."""

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at

    @property
    def total_tokens(self) -> int:
        return int(self.usage.get("total_tokens", 0))


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


def encode(entry: Entry) -> bytes:
    doc = {
        "format": ENTRY_FORMAT,
        "version": ENTRY_VERSION,
        "digest": entry.digest,
        "created_at": entry.created_at,
        "expires_at": entry.expires_at,
        "elapsed": entry.elapsed,
        "response_id": entry.response_id,
        "usage": entry.usage,
        "output": entry.output,
    }
    # Written only when present, so an entry without them is byte for byte what it was.
    if entry.request is not None:
        doc["request"] = entry.request
    if entry.meta is not None:
        doc["meta"] = entry.meta
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def decode(raw: bytes) -> Entry:
    """Parse and check an entry; anything unexpected raises :class:`CorruptEntry`."""
    try:
        doc = orjson.loads(raw)
        if doc.get("format") != ENTRY_FORMAT or doc.get("version") != ENTRY_VERSION:
            raise CorruptEntry(f"not an {ENTRY_FORMAT} v{ENTRY_VERSION}")
        entry = Entry(
            digest=str(doc["digest"]),
            output=list(doc["output"]),
            usage=dict(doc["usage"]),
            response_id=doc["response_id"],
            created_at=float(doc["created_at"]),
            expires_at=None if doc["expires_at"] is None else float(doc["expires_at"]),
            elapsed=float(doc["elapsed"]),
            request=_optional_dict(doc.get("request"), "request"),
            meta=_optional_dict(doc.get("meta"), "meta"),
        )
    except CorruptEntry:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # JSONDecodeError is one
        raise CorruptEntry(f"unreadable entry: {exc}") from exc
    return entry


def _optional_dict(value: Any, name: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise CorruptEntry(f"{name} is not an object")


def to_response(entry: Entry, *, replay_usage: bool = False) -> ModelResponse:
    """A real ``ModelResponse`` with fresh SDK pydantic items (callers may mutate them).

    Usage is zero unless ``replay_usage``: nothing was billed for a hit.
    """
    try:
        output = _output_items.validate_python(entry.output)
    except ValueError as exc:
        raise CorruptEntry(f"output items do not validate: {exc}") from exc
    usage = Usage()
    if replay_usage:
        u = entry.usage
        usage = Usage(
            requests=u.get("requests", 1),
            input_tokens=u.get("input_tokens", 0),
            output_tokens=u.get("output_tokens", 0),
            total_tokens=u.get("total_tokens", 0),
            input_tokens_details=InputTokensDetails.model_validate(u["input_tokens_details"]),
            output_tokens_details=OutputTokensDetails.model_validate(u["output_tokens_details"]),
        )
    return ModelResponse(output=output, usage=usage, response_id=entry.response_id)
