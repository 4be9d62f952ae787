"""What a semantic match may differ in: only the text of the last user message.

Everything else (model, settings, instructions, tools, handoffs, output schema, earlier turns)
goes into a context fingerprint that candidates must share exactly; it is a filter, not a
similarity. A call whose last input item is not a user message (a tool result, a handoff) is
exact-only: its answer depends on data no embedding should blur.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

from agentcache import ModelCall, keys


class Scope(NamedTuple):
    text: str
    """The last user message's text: the only thing embedded."""
    fingerprint: str
    """SHA-256 of every key part except that text."""


def _user_text(item: Any) -> str | None:
    if not isinstance(item, dict) or item.get("role") != "user":
        return None
    if item.get("type", "message") != "message":
        return None
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "input_text" for p in content
    ):
        return "\n".join(str(p.get("text", "")) for p in content)
    return None  # images, files, audio: exact-only


def semantic_scope(call: ModelCall) -> Scope | None:
    """The scope of ``call``, or ``None`` when it must be answered by exact keys only."""
    if call.state.occurrence > 1:  # a request repeated within one run expects a new answer
        return None
    if isinstance(call.input, str):
        text, earlier = call.input, b"[]"
    else:
        if not call.input:
            return None
        text = _user_text(call.input[-1])  # type: ignore[assignment]
        if text is None:
            return None
        earlier = keys.input_json(call.input[:-1])
    if not text.strip():
        return None
    h = hashlib.sha256(keys.canonical_json(call._head))
    h.update(b"\ntools:" + call._tools[1].encode() + b"\nearlier:" + earlier)
    return Scope(text, h.hexdigest())
