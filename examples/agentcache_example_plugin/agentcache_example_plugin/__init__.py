"""An example agentcache plugin: one bypass rule, one chain stage and one store scheme.

The module itself is the plugin: ``pyproject.toml`` points the ``agentcache`` entry point at it,
and agentcache registers it with pluggy, which finds the ``@hookimpl`` functions below by name.
Each hook shows one way a third party extends the cache without touching agentcache's code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

from agents.items import ModelResponse, TResponseInputItem

from agentcache import Handler, MemoryStore, ModelCall, Stage, StageContext, hookimpl
from agentcache.chain import ORDER_BYPASS, ORDER_STATS
from agentcache.hookspecs import StoreFactory

__all__ = [
    "SCHEME",
    "VOLATILE_PROMPT",
    "CallCounterStage",
    "example_memory_store",
    "is_volatile",
    "last_user_text",
]

# Prompts whose right answer changes from one call to the next, so a cached answer is wrong:
# the explicit "[no-cache]" marker, and questions about the current time or date.
VOLATILE_PROMPT = re.compile(
    r"""
      \[no-cache\]                                   # explicit opt-out written into the prompt
    | \bwhat\s+time\s+is\s+it\b                      # "what time is it in Lisbon?"
    | \bwhat(?:'s|\u2019s|\s+is)\s+the\s+(?:date|time)\b  # "what's the date", "what is the time"
    | \btoday(?:'s|\u2019s|s)\s+date\b               # "today's date"
    | \bwhat\s+day\s+is\s+(?:it|today)\b             # "what day is it?"
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _text(content: object) -> str:
    """The text of a message's content: a string, or a list of parts carrying ``"text"``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(items: str | list[TResponseInputItem]) -> str | None:
    """The text of the last user message (a bare string input is one), or ``None``.

    Only the last one counts: an earlier "what time is it?" is already answered in the history,
    and the history is part of the cache key, so the turns after it are safe to cache.
    """
    if isinstance(items, str):
        return items
    for item in reversed(items):
        message: object = item  # a TypedDict union; read it as the plain dict it is at run time
        if isinstance(message, dict) and message.get("role") == "user":
            return _text(message.get("content"))
    return None


def is_volatile(items: str | list[TResponseInputItem]) -> bool:
    """Whether the last user message opts out of caching or asks for the current time/date."""
    text = last_user_text(items)
    return text is not None and VOLATILE_PROMPT.search(text) is not None


@hookimpl
def agentcache_bypass(call: ModelCall) -> str | None:
    # Runs on every call, so it only scans one message with one precompiled regex.
    return "volatile_prompt" if is_volatile(call.input) else None


class CallCounterStage:
    """Counts completed calls by outcome (``hit``, ``miss``, ``bypass``) in :attr:`counts`.

    Its order puts it inside the stats stage and outside the bypass stage, so by the time
    ``call_next`` returns every inner stage has written ``call.state.outcome``. A call that
    raises is not counted: there is no outcome to report. One instance per ``CachedModel``.
    """

    name = "example_call_counter"
    order = (ORDER_STATS + ORDER_BYPASS) // 2

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        response = await call_next(call)
        outcome = call.state.outcome
        self.counts[outcome] = self.counts.get(outcome, 0) + 1  # no await: atomic in the loop
        return response


@hookimpl
def agentcache_stages(context: StageContext) -> list[Stage]:
    # A stage that needed the store or the options would read them from ``context``.
    return [CallCounterStage()]


SCHEME = "example-memory"


def example_memory_store(url: str) -> MemoryStore:
    """``example-memory://?max_entries=N``: agentcache's LRU store under a plugin's scheme.

    Unknown or malformed parameters raise ``ValueError`` rather than being ignored, so a typo in
    a deployment's URL fails at startup instead of silently running with the default size.
    """
    parts = urlsplit(url)
    if parts.scheme != SCHEME or parts.netloc or parts.path or parts.fragment:
        raise ValueError(f"expected {SCHEME}://[?max_entries=N], got {url!r}")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - {"max_entries"})
    if unknown:
        raise ValueError(f"unknown {SCHEME}:// parameter(s) {unknown}; known: ['max_entries']")
    if "max_entries" not in params:
        return MemoryStore()
    try:
        max_entries = int(params["max_entries"])
    except ValueError:
        raise ValueError(
            f"{SCHEME}:// max_entries={params['max_entries']!r} is not an integer"
        ) from None
    return MemoryStore(max_entries=max_entries)


@hookimpl
def agentcache_store_schemes() -> Mapping[str, StoreFactory]:
    return {SCHEME: example_memory_store}
