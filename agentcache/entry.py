"""The entry codec: versioned JSON in, real SDK objects out. Never pickle.

An entry holds what the model answered (output items dumped exactly as set, so a replayed turn
produces the same next-turn input as the live one), its usage and what it cost in time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

ENTRY_FORMAT = "agentcache.entry"
ENTRY_VERSION = 1


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
            response_id=_optional_str(doc["response_id"], "response_id"),
            created_at=float(doc["created_at"]),
            expires_at=None if doc["expires_at"] is None else float(doc["expires_at"]),
            elapsed=float(doc["elapsed"]),
            request=_optional_dict(doc.get("request"), "request"),
            meta=_optional_dict(doc.get("meta"), "meta"),
        )
        if not entry.output:  # never written (an empty answer is not stored): not ours
            raise CorruptEntry("no output items")
        tokens = entry.usage.get("total_tokens", 0)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise CorruptEntry(f"usage.total_tokens is not a count: {tokens!r}")
    except CorruptEntry:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # JSONDecodeError is one
        raise CorruptEntry(f"unreadable entry: {exc}") from exc
    return entry


def _optional_str(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise CorruptEntry(f"{name} is not a string")


def _optional_dict(value: Any, name: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise CorruptEntry(f"{name} is not an object")
