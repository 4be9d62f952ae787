"""Counters for what the cache did, readable at any time as an immutable snapshot."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RECENT_DECISIONS = 50


@dataclass(frozen=True)
class StatsSnapshot:
    """What the cache did since the model was created (or since ``reset``).

    ``tokens_saved`` and ``seconds_saved`` are what the original calls behind the hits cost:
    a hit bills nothing, so this is the money and time the cache returned to you.
    """

    hits: int = 0
    misses: int = 0
    stores: int = 0
    hits_by_layer: Mapping[str, int] = field(default_factory=dict)
    bypasses: Mapping[str, int] = field(default_factory=dict)
    not_stored: Mapping[str, int] = field(default_factory=dict)
    errors: Mapping[str, int] = field(default_factory=dict)
    semantic: Mapping[str, int] = field(default_factory=dict)
    """What the semantic layer decided: ``vetoed:<guard reason>``, ``shadow_agree``..."""
    recent: tuple[Mapping[str, Any], ...] = ()
    """The last decisions a layer explained (a semantic hit: the prompt, the matched prompt,
    the similarity and the guards that passed), oldest first, at most ``RECENT_DECISIONS``."""
    tokens_saved: int = 0
    seconds_saved: float = 0.0
    tool_hits: int = 0
    """Cached tool calls answered from the store (``agentcache.cached_tool``)."""
    tool_misses: int = 0
    tool_stores: int = 0
    tool_bypasses: Mapping[str, int] = field(default_factory=dict)
    """Why tool calls skipped the cache: ``no_cache``, ``unkeyable_arguments``..."""
    tool_seconds_saved: float = 0.0
    """What the tool calls behind the tool hits took."""
    spent: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """What a layer spent deciding, by name (``semantic_judge``: the semantic judge's model
    calls): ``calls``, ``seconds`` and ``tokens``. The cost of the cache's own work, to weigh
    against ``tokens_saved`` and ``seconds_saved``."""

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits over lookups; bypassed calls never looked, so they do not count."""
        return self.hits / self.lookups if self.lookups else 0.0


class Stats:
    """Thread-safe counters. One instance may be shared by every model of a provider."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._hits = 0
            self._misses = 0
            self._stores = 0
            self._tokens_saved = 0
            self._seconds_saved = 0.0
            self._tool = [0, 0, 0]  # hits, misses, stores
            self._tool_seconds_saved = 0.0
            self._recent: deque[Mapping[str, Any]] = deque(maxlen=RECENT_DECISIONS)
            self._spent: dict[str, list[float]] = {}  # name -> [calls, seconds, tokens]
            self._counters: dict[str, Counter[str]] = {
                name: Counter()
                for name in (
                    "hits_by_layer",
                    "bypasses",
                    "not_stored",
                    "errors",
                    "semantic",
                    "tool_bypasses",
                )
            }

    def hit(self, layer: str, tokens_saved: int, seconds_saved: float) -> None:
        with self._lock:
            self._hits += 1
            self._counters["hits_by_layer"][layer] += 1
            self._tokens_saved += tokens_saved
            self._seconds_saved += max(seconds_saved, 0.0)

    def miss(self) -> None:
        with self._lock:
            self._misses += 1

    def stored(self) -> None:
        with self._lock:
            self._stores += 1

    def tool_hit(self, seconds_saved: float) -> None:
        with self._lock:
            self._tool[0] += 1
            self._tool_seconds_saved += max(seconds_saved, 0.0)

    def tool_miss(self) -> None:
        with self._lock:
            self._tool[1] += 1

    def tool_stored(self) -> None:
        with self._lock:
            self._tool[2] += 1

    def count(self, kind: str, name: str) -> None:
        """Count a named event of ``kind``: bypasses, not_stored, errors, semantic or
        tool_bypasses."""
        with self._lock:
            self._counters[kind][name] += 1

    def spend(self, name: str, seconds: float, tokens: int = 0) -> None:
        """Count one call a layer made on its own account (a judge's model call, say), with
        what it took (``StatsSnapshot.spent``)."""
        with self._lock:
            spent = self._spent.setdefault(name, [0, 0.0, 0])
            spent[0] += 1
            spent[1] += max(seconds, 0.0)
            spent[2] += max(tokens, 0)

    def explain(self, decision: Mapping[str, Any]) -> None:
        """Keep a decision's details among the recent ones (``StatsSnapshot.recent``)."""
        with self._lock:
            self._recent.append(dict(decision))

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                hits=self._hits,
                misses=self._misses,
                stores=self._stores,
                tokens_saved=self._tokens_saved,
                seconds_saved=self._seconds_saved,
                tool_hits=self._tool[0],
                tool_misses=self._tool[1],
                tool_stores=self._tool[2],
                tool_seconds_saved=self._tool_seconds_saved,
                recent=tuple(self._recent),
                spent={
                    name: {"calls": calls, "seconds": seconds, "tokens": tokens}
                    for name, (calls, seconds, tokens) in self._spent.items()
                },
                **{name: dict(c) for name, c in self._counters.items()},
            )
