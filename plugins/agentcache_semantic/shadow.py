"""Shadow mode's question: would the cached answer have served this caller as well as the live
one did? Identical answers agree. Otherwise the tool calls must be the same, and the texts must
say the same thing: close in embedding space (``SemanticConfig.shadow_agreement``) and let
through by the same guards that protect prompts ("Canberra" vs "Sydney", 21 vs 12 degrees).
Sampled wording differences are not disagreements; a different fact is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agentcache.guard import with_timeout

from .guards import Guard, check
from .index import normalize
from .vectorizer import Embed


def signature(output: Sequence[Any]) -> list[tuple[str, str]]:
    """What an answer says, without ids: texts, and tool calls with their arguments."""
    sig: list[tuple[str, str]] = []
    for item in output:
        kind = getattr(item, "type", "")
        if kind == "message":
            text = "".join(
                getattr(p, "text", "") or getattr(p, "refusal", "") for p in item.content
            )
            sig.append((kind, " ".join(text.split())))
        elif kind == "function_call":
            sig.append((f"call:{item.name}", item.arguments))
    return sig


async def compare(
    live: Sequence[Any],
    cached: Sequence[Any],
    embed: Embed,
    guards: Sequence[tuple[str, Guard]],
    agreement: float,
    timeout: float,
) -> dict[str, Any]:
    """``{"agreed": bool, "answer_similarity": float, "answer_differs": reason}``."""
    a, b = signature(live), signature(cached)
    if a == b:
        return {"agreed": True, "answer_similarity": 1.0}
    if [s for s in a if s[0] != "message"] != [s for s in b if s[0] != "message"]:
        return {"agreed": False, "answer_differs": "tool_calls"}
    text_a = " ".join(t for kind, t in a if kind == "message")
    text_b = " ".join(t for kind, t in b if kind == "message")
    if not text_a or not text_b:
        return {"agreed": False, "answer_differs": "text"}
    va = normalize(await with_timeout(embed(text_a), timeout))
    vb = normalize(await with_timeout(embed(text_b), timeout))
    similarity = round(float(np.dot(va, vb)), 4)
    vetoed = check(text_a, text_b, guards).vetoed_by
    if vetoed is None and similarity < agreement:
        vetoed = "similarity"
    result: dict[str, Any] = {"agreed": vetoed is None, "answer_similarity": similarity}
    return result if vetoed is None else {**result, "answer_differs": vetoed}
