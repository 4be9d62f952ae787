"""Entries from SDK responses and back: the half of the codec that needs the Agents SDK.

``agentcache.entry`` (the versioned JSON) imports no SDK, so tools that only read a store (the
command line) start fast; turning an entry into a real ``ModelResponse`` lives here.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Union, get_args

from agents.items import ModelResponse, TResponseOutputItem
from agents.usage import Usage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic import Field, TypeAdapter

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
