"""Why two prompts would or would not share a semantic hit: ``agentcache semantic A B``.

For calibrating a threshold and writing a guard: the similarity the configured vectorizer
gives, the verdict of every guard (built-in and plugin), not only the first veto, and the
verifier's probability; the verdict is the stage's own decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentcache.plugins import Plugins, get_plugins

from .config import SemanticConfig
from .guards import verdict_of
from .index import normalize
from .vectorizer import resolve
from .verifier import Decision, builtin, decide


@dataclass(frozen=True)
class MatchReport:
    similarity: float
    threshold: float
    verdicts: tuple[tuple[str, str | None], ...]
    """Each guard's name and its veto reason (``None``: passed), in the order they run."""
    decision: Decision
    """The stage's decision: hard vetoes, then the verifier (or every guard without one)."""
    hard: frozenset[str] = frozenset()
    """With the verifier: the guards whose veto is final (the others are its features)."""

    @property
    def hits(self) -> bool:
        """Whether a cached ``cached`` prompt would answer ``new`` (in the same context)."""
        return self.similarity >= self.threshold and self.decision.refused_by is None

    def __str__(self) -> str:
        above = "at or above" if self.similarity >= self.threshold else "BELOW"
        lines = [f"similarity {self.similarity:.3f} ({above} the threshold {self.threshold})"]
        for name, v in self.verdicts:
            soft = self.decision.probability is not None and name not in self.hard
            veto = ("feature: " if soft else "VETO ") + str(v)
            lines.append(f"  {name:<14} {'pass' if v is None else veto}")
        if self.decision.probability is not None:
            refused = self.decision.refused_by == "verifier"
            lines.append(
                f"  {'verifier':<14} probability {self.decision.probability:.3f}"
                + (" (below the cutoff)" if refused else "")
            )
        lines.append("verdict: " + ("HIT" if self.hits else "no hit"))
        return "\n".join(lines)


async def explain_match(
    new: str, cached: str, config: SemanticConfig | None = None, plugins: Plugins | None = None
) -> MatchReport:
    config = config or SemanticConfig()
    embed = resolve(config.vectorizer)
    a, b = normalize(await embed(new)), normalize(await embed(cached))
    guards = config.guard_list(plugins or get_plugins())
    verdicts = tuple((name, verdict_of(name, g, new, cached)) for name, g in guards)
    similarity = float(np.dot(a, b))
    verifier = builtin() if config.verifier else None
    decision = decide(new, cached, similarity, guards, verifier, config.min_probability)
    hard = frozenset(verifier.hard_vetoes) if verifier else frozenset()
    return MatchReport(similarity, config.threshold, verdicts, decision, hard)
