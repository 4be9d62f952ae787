"""Why two prompts would or would not share a semantic hit: ``agentcache semantic A B``.

For calibrating a threshold and writing a guard: the similarity the configured vectorizer
gives, the verdict of every guard (built-in and plugin), not only the first veto, the
verifier's probability and, with a judge configured, what it said; the verdict is the stage's
own decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentcache.plugins import Plugins, get_plugins

from .config import SemanticConfig
from .guards import verdict_of
from .index import normalize
from .judge import Judge, Verdict, route
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
    judged: Verdict | None = None
    """With a judge, when the score is in its band: what it said."""
    band: str = "serve"
    """With a judge: ``route``'s fate of the score (``refuse``, ``judge`` or ``serve``)."""

    @property
    def hits(self) -> bool:
        """Whether a cached ``cached`` prompt would answer ``new`` (in the same context)."""
        judged = self.judged is None or self.judged.answer == "yes"
        return (
            self.similarity >= self.threshold
            and self.decision.refused_by is None
            and self.band != "refuse"
            and judged
        )

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
        if self.judged is not None:
            error = f" ({self.judged.error})" if self.judged.error else ""
            lines.append(
                f"  {'judge':<14} {self.judged.answer}{error}, {self.judged.seconds:.2f} s"
            )
        elif self.band != "serve":
            lines.append(f"  {'judge':<14} not asked (the score is under its band)")
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
    judge = config.judge
    cutoff = config.min_probability if judge is None else config.judge_band[0]
    decision = decide(new, cached, similarity, guards, verifier, cutoff)
    hard = frozenset(verifier.hard_vetoes) if verifier else frozenset()
    band, judged = "serve", None
    if judge is not None and decision.refused_by is None:
        score = similarity if decision.probability is None else decision.probability
        band = route(score, config.judge_band)
        if band == "judge" and similarity >= config.threshold:
            judged = await Judge(judge, config.judge_timeout)(new, cached)
    return MatchReport(similarity, config.threshold, verdicts, decision, hard, judged, band)
