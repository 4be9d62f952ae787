"""An error bound the user sets: ``SemanticConfig(max_error=0.01)``.

A fixed threshold gives no promise about the rate of wrong hits on someone else's traffic. In
the spirit of vCache (Schroeder et al., "vCache: Verified Semantic Prompt Caching"), the
acceptance is learned online from the traffic itself, and a candidate is served only where the
evidence says the wrong-hit rate stays under the bound:

- A candidate that the bound does not yet cover is *explored*: the model is called (as on a
  miss) and, off the caller's path, its answer is compared with the cached one (the shadow
  mode's comparison). Each comparison is one observation: the candidate's score (the verifier's
  probability, or the cosine without a verifier) and whether the answers agreed.
- Scores are pooled in bins per namespace. A bin is served once its own observed wrong rate
  has a one-sided 95% (Wilson) upper bound at or under ``max_error`` (with no wrong answer
  seen: about 50 observations for 0.05, 270 for 0.01); until then its candidates are explored.
  In a served bin, one candidate in ``RECHECK`` is still explored, so it keeps being measured
  on the traffic it serves.
- Per entry, the highest score at which its answer was observed wrong is kept: that entry is
  never served at or below it (an entry-specific threshold, as in the paper).

An exploration costs no extra model call (a refused candidate calls the model anyway), only the
comparison and the hit it might have been. The state is small (bins and one float per entry that
was ever wrong), kept in the cache store under the namespace (``CALIBRATION``), so every process
on a shared Redis learns from all of them; concurrent writers may lose a few observations,
never serve outside the bound they read.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentcache.stores.base import CacheKey

from .guards import Guard
from .shadow import compare
from .vectorizer import Embed

if TYPE_CHECKING:
    from agentcache.entry import Entry
    from agentcache.guard import GuardedStore
    from agentcache.stats import Stats

EDGES = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
"""Bin edges over the score (the verifier's probability or the cosine, both 0..1)."""
RECHECK = 20
"""One served-region candidate in this many is explored instead of served."""
Z = 1.645
"""One-sided 95% for the Wilson upper bound."""
FORMAT = "agentcache.semantic-calibration"
CALIBRATION = hashlib.sha256(FORMAT.encode()).hexdigest()
"""The store key (in each namespace) holding the learned state: a digest, as every store
expects (the file store refuses anything else), that no request hashes to."""
MAX_ENTRIES = 10_000
"""Entries whose worst score is kept (the oldest are forgotten): the state stays under 1 MB."""


def wilson_upper(wrong: int, seen: int, z: float = Z) -> float:
    """An upper confidence bound of a rate observed as ``wrong`` of ``seen`` (1.0 if unseen)."""
    if seen == 0:
        return 1.0
    p = wrong / seen
    centre = p + z * z / (2 * seen)
    margin = z * math.sqrt(p * (1 - p) / seen + z * z / (4 * seen * seen))
    return min(1.0, (centre + margin) / (1 + z * z / seen))


@dataclass
class Calibration:
    seen: list[int] = field(default_factory=lambda: [0] * (len(EDGES) + 1))
    wrong: list[int] = field(default_factory=lambda: [0] * (len(EDGES) + 1))
    worst: dict[str, float] = field(default_factory=dict)
    """Entry digest -> the highest score at which its answer was observed wrong."""

    @staticmethod
    def bin(score: float) -> int:
        return bisect.bisect_right(EDGES, score)

    def covered(self, k: int, max_error: float) -> bool:
        """Whether bin ``k``'s observed wrong rate has an upper bound within ``max_error``.
        Judged per bin, so the served mix stays within the bound whatever share of the
        traffic each bin gets (a pooled rate would let a well-observed bin vouch for a bad
        one)."""
        return wilson_upper(self.wrong[k], self.seen[k]) <= max_error

    def serve(self, score: float, digest: str, max_error: float, rng: random.Random) -> bool:
        if not self.covered(self.bin(score), max_error):
            return False
        if score <= self.worst.get(digest, -1.0):
            return False
        return rng.randrange(RECHECK) != 0

    def observe(self, score: float, digest: str, agreed: bool) -> None:
        k = self.bin(score)
        self.seen[k] += 1
        if not agreed:
            self.wrong[k] += 1
            self.worst[digest] = max(score, self.worst.get(digest, -1.0))
            if len(self.worst) > MAX_ENTRIES:  # the oldest first: dicts keep insertion order
                del self.worst[next(iter(self.worst))]

    def merge(self, other: Calibration) -> None:
        """Fold in what another process stored (counts add up once: call with a fresh read)."""
        self.seen = [max(a, b) for a, b in zip(self.seen, other.seen, strict=True)]
        self.wrong = [max(a, b) for a, b in zip(self.wrong, other.wrong, strict=True)]
        for digest, score in other.worst.items():
            self.worst[digest] = max(score, self.worst.get(digest, -1.0))

    def dumps(self) -> bytes:
        data = {
            "format": FORMAT,
            "edges": EDGES,
            "seen": self.seen,
            "wrong": self.wrong,
            "worst": self.worst,
        }
        return json.dumps(data).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Calibration:
        data = json.loads(raw)
        if tuple(data["edges"]) != EDGES:
            return cls()  # binned differently: start over rather than misread
        return cls(list(data["seen"]), list(data["wrong"]), dict(data["worst"]))


class ErrorBound:
    """The semantic stage's side of ``max_error``: serve or explore, and learn from each
    exploration. One calibration per namespace, read from the store on first use."""

    def __init__(
        self, max_error: float, store: GuardedStore, stats: Stats, embed: Embed,
        guards: Sequence[tuple[str, Guard]], agreement: float, timeout: float,
        rng: random.Random | None = None,
    ) -> None:  # fmt: skip
        self.max_error, self._store, self._stats = max_error, store, stats
        self._compare = (embed, guards, agreement, timeout)
        self._rng = rng or random.Random()
        self._known: dict[str, Calibration] = {}

    async def _calibration(self, namespace: str) -> Calibration:
        known = self._known.get(namespace)
        if known is None:
            raw = await self._store.get(CacheKey(namespace, CALIBRATION))
            try:
                known = Calibration.loads(raw) if raw is not None else Calibration()
            except (ValueError, KeyError, TypeError):
                known = Calibration()
            self._known[namespace] = known
        return known

    async def forget(self, namespace: str | None) -> None:
        """Drop what this process learned for ``namespace`` (every namespace with None): the
        store's copy goes with the namespace's entries on ``clear``, and a copy kept here
        would keep serving on evidence that is gone (and write it back at the next lesson)."""
        if namespace is None:
            self._known.clear()
        else:
            self._known.pop(namespace, None)

    async def serve(self, namespace: str, score: float, digest: str) -> bool:
        calibration = await self._calibration(namespace)
        served = calibration.serve(score, digest, self.max_error, self._rng)
        self._stats.count("semantic", "bound_served" if served else "bound_explored")
        return served

    async def learn(
        self, namespace: str, score: float, digest: str, live: Sequence[Any], entry: Entry
    ) -> None:
        """Off the caller's path: did the cached answer agree with the live one? Counted, and
        the namespace's calibration is merged with the stored one and written back."""
        from agentcache.response import to_response

        embed, guards, agreement, timeout = self._compare
        cached = to_response(entry).output
        verdict = await compare(live, cached, embed, guards, agreement, timeout)
        calibration = await self._calibration(namespace)
        calibration.observe(score, digest, bool(verdict["agreed"]))
        self._stats.count("semantic", "bound_agree" if verdict["agreed"] else "bound_disagree")
        key = CacheKey(namespace, CALIBRATION)
        raw = await self._store.get(key)
        if raw is not None:
            with contextlib.suppress(ValueError, KeyError, TypeError):  # unreadable: ours wins
                calibration.merge(Calibration.loads(raw))
        await self._store.set(key, calibration.dumps(), None)
