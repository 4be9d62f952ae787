"""The verifier: a small learned classifier that reads both prompts of a candidate match.

A cosine threshold alone cannot tell "How do I start learning a new language?" (a paraphrase,
cosine 0.78) from "What was the former capital of Australia?" (a near-miss, cosine 0.87), and
the guards alone, used as vetoes, refuse two in five real paraphrases (a name written in lower
case, one content word swapped for a synonym). Here each guard's verdict is one feature among
others (the similarity, word and name overlap, edit distance, lengths), and a logistic
regression trained on labelled pairs weighs them: ``probability(new, cached, similarity)`` is
the chance that the cached answer answers the new prompt.

The weights ship as ``verifier.json`` next to this file, written by
``scripts/train_verifier.py`` (the training data, the held-out sets and the numbers are listed
in the file itself). Features are cheap (pure Python, about 0.1 ms a pair), so every candidate
above ``SemanticConfig.threshold`` is read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import guards as g

WEIGHTS = Path(__file__).with_name("verifier.json")

_GUARD_NAMES = (*g.BUILTIN_GUARDS, *g.OPTIONAL_GUARDS)
_GUARDS = {**g.BUILTIN_GUARDS, **g.OPTIONAL_GUARDS}

FEATURES: tuple[str, ...] = (
    "bias",
    "cosine",
    "cosine_above_0.9",
    *(f"veto:{name}" for name in _GUARD_NAMES),
    "content_jaccard",
    "content_changed",
    "content_swapped",
    "near_copy_changed",
    "sequence_similarity",
    "length_ratio",
    "short_prompt",
    "names_changed",
    "first_word_differs",
)
"""The feature vector's columns, in order (``verifier.json`` names them too: a file trained on
another list is refused rather than misread)."""


def features(new: str, cached: str, similarity: float) -> list[float]:
    """One pair's feature vector (columns: ``FEATURES``). Symmetric in the two prompts."""
    vetoes = [float(g.verdict_of(n, _GUARDS[n], new, cached) is not None) for n in _GUARD_NAMES]
    a, b = g._content(new), g._content(cached)
    union = a | b
    jaccard = len(a & b) / len(union) if union else 1.0
    wa, wb = g._words(new), g._words(cached)
    shorter, longer = sorted((len(wa), len(wb)))
    names = g._entities(new) ^ g._entities(cached)
    first = (wa[:1] or [""])[0] != (wb[:1] or [""])[0]
    sequence = g._similarity(new, cached)
    changed = min(len(union - (a & b)), 6) / 6
    return [
        1.0,
        similarity,
        max(0.0, similarity - 0.9) * 10,
        *vetoes,
        jaccard,
        changed,
        1.0 if a - b and b - a else 0.0,
        changed if sequence >= g.NEAR_COPY_RATIO else 0.0,
        sequence,
        shorter / longer if longer else 1.0,
        1.0 if shorter <= 4 else 0.0,
        min(len(names), 3) / 3,
        1.0 if first else 0.0,
    ]


@dataclass(frozen=True)
class Verifier:
    """Logistic regression over ``features``. ``cutoff`` is the default acceptance probability;
    ``hard_vetoes`` are the guards that refuse outright (they rarely fire on real paraphrases),
    the others only weigh in."""

    weights: tuple[float, ...]
    cutoff: float
    hard_vetoes: tuple[str, ...] = ()

    def probability(self, new: str, cached: str, similarity: float) -> float:
        z = sum(w * x for w, x in zip(self.weights, features(new, cached, similarity), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def from_file(cls, path: Path = WEIGHTS) -> Verifier:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path} was trained on other features; retrain it")
        return cls(
            tuple(float(w) for w in data["weights"]),
            float(data["cutoff"]),
            tuple(data["hard_vetoes"]),
        )


@lru_cache(maxsize=1)
def builtin() -> Verifier:
    """The shipped weights, read once."""
    return Verifier.from_file()


def fit(
    rows: Sequence[Sequence[float]], labels: Sequence[int], weights: Sequence[float],
    l2: float = 1.0, steps: int = 50,
) -> list[float]:  # fmt: skip
    """Weighted, L2-regularized logistic regression by Newton's method (numpy only at
    training time: ``scripts/train_verifier.py``)."""
    import numpy as np

    x = np.asarray(rows, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(weights, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (s * (p - y)) + penalty * w
        hess = (x * (s * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return [float(v) for v in w]


@dataclass(frozen=True)
class Decision:
    """Whether a candidate may answer, and why not: a guard's veto reason or ``"verifier"``."""

    refused_by: str | None
    guard: str | None
    """The guard that refused (``"verifier"`` for the classifier)."""
    passed: tuple[str, ...]
    probability: float | None


def decide(
    new: str, cached: str, similarity: float, guards: Sequence[tuple[str, g.Guard]],
    verifier: Verifier | None, cutoff: float | None = None,
) -> Decision:  # fmt: skip
    """Without a verifier every guard vetoes. With one, only its hard vetoes and the plugins'
    guards veto (in ``guards``' order), and ``entities`` when the names are swapped (each
    prompt names something the other does not); then the classifier's probability must reach
    ``cutoff`` (default: the verifier's own)."""
    swaps = verifier is not None and any(n == "entities" for n, _ in guards)
    if verifier is not None:
        guards = [(n, f) for n, f in guards if n in verifier.hard_vetoes or n not in _GUARDS]
    verdict = g.check(new, cached, guards)
    if verdict.vetoed_by is not None:
        return Decision(verdict.vetoed_by, guards[len(verdict.passed)][0], verdict.passed, None)
    if verifier is None:
        return Decision(None, None, verdict.passed, None)
    if swaps and g.entity_swap(new, cached):  # a feature only when one side adds a name
        return Decision("entity", "entities", verdict.passed, None)
    p = verifier.probability(new, cached, similarity)
    if p < (verifier.cutoff if cutoff is None else cutoff):
        return Decision("verifier", "verifier", verdict.passed, p)
    return Decision(None, None, (*verdict.passed, "verifier"), p)
