"""Why two prompts would or would not share a semantic hit: ``agentcache semantic A B``.

For calibrating a threshold and writing a guard: the similarity the configured vectorizer
gives, and the verdict of every guard (built-in and plugin), not only the first veto.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agentcache.plugins import Plugins, get_plugins

from .config import SemanticConfig
from .guards import verdict_of
from .index import normalize
from .vectorizer import resolve


@dataclass(frozen=True)
class MatchReport:
    similarity: float
    threshold: float
    verdicts: tuple[tuple[str, str | None], ...]
    """Each guard's name and its veto reason (``None``: passed), in the order they run."""

    @property
    def hits(self) -> bool:
        """Whether a cached ``cached`` prompt would answer ``new`` (in the same context)."""
        return self.similarity >= self.threshold and all(v is None for _, v in self.verdicts)

    def __str__(self) -> str:
        above = "at or above" if self.similarity >= self.threshold else "BELOW"
        lines = [f"similarity {self.similarity:.3f} ({above} the threshold {self.threshold})"]
        lines += [
            f"  {name:<14} {'pass' if v is None else 'VETO ' + v}" for name, v in self.verdicts
        ]
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
    return MatchReport(float(np.dot(a, b)), config.threshold, verdicts)
