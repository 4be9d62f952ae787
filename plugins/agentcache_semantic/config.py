"""``CachedModel(model, semantic=True)`` or ``semantic=SemanticConfig(...)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from agentcache.config import check_bool, check_int, check_number

from .guards import BUILTIN_GUARDS, OPTIONAL_GUARDS, Guard
from .index import VectorIndex
from .judge import check as check_judge
from .vectorizer import check as check_vectorizer

if TYPE_CHECKING:
    from agentcache.plugins import Plugins


@dataclass(frozen=True)
class SemanticConfig:
    threshold: float = 0.80
    """Cosine similarity (0..1) a candidate needs before the guards look at it."""
    top_k: int = 3
    """Candidates checked, best first; the first one every guard lets through answers."""
    shadow: bool = False
    """Decide, but still call the model and count whether the answers agreed (calibration)."""
    shadow_agreement: float = 0.90
    """In shadow mode, the cosine two differing answer texts need (besides the same tool calls
    and no guard veto) to count as agreeing."""
    vectorizer: Any = None
    """A callable (sync or async), a RedisVL vectorizer, None for the local model, or "onnx" /
    "onnx-int8" for the local model run by onnxruntime. Checked here; loaded in the background
    once a cached model uses it (``await cached.warmup()`` waits for it)."""
    embed_timeout: float = 5.0
    """Seconds an embedding may take (the first one loads a local model) before the lookup
    gives up and the call goes on as a plain miss (its answer is still indexed: embedded again
    in the background, for up to four times as long)."""
    guards: Sequence[str] | None = None
    """Built-in guards to run (default: all); plugin guards always run."""
    verifier: bool = True
    """Read both prompts of a candidate with the learned verifier (``verifier.py``): the
    guards become its features, and only those that rarely fire on real paraphrases still veto
    outright. False: every guard vetoes, and the threshold alone decides the rest."""
    min_probability: float | None = None
    """The verifier's acceptance probability (default: the one shipped with its weights, 0.95;
    lower serves more paraphrases and more near-misses)."""
    max_error: float | None = None
    """A bound on the rate of wrong semantic hits (0.01: one in a hundred), learned from your
    traffic (``bound.py``): until the evidence covers a candidate, the model is called and its
    answer compared with the cached one, and a candidate is served only where the observed
    wrong rate's upper bound is under ``max_error``. None: the verifier's cutoff decides."""
    index: VectorIndex | None = None
    """A vector index object; default: RedisVL when the store is Redis, else in-process."""
    judge: Any = None
    """A second opinion for uncertain candidates (``judge.py``): an SDK ``Model`` instance
    (your cheapest; asked whether one answer would fully and correctly answer both prompts,
    "yes" or "no"), or a callable ``(new_prompt, cached_prompt) -> bool`` (sync or async).
    Asked only for candidates that passed the hard vetoes with a score in ``judge_band``,
    once per prompt pair (verdicts are remembered, and kept in the store for the other
    processes that share it); its calls show in
    ``stats().spent["semantic_judge"]``. None: no judge."""
    judge_band: tuple[float, float] = (0.5, 1.0)
    """With a judge, ``(low, high)``: a candidate scoring under ``low`` is refused, one in
    ``[low, high)`` is judged, one at or above ``high`` is served without asking. The score is
    the verifier's probability (the band replaces ``min_probability``), or the cosine
    similarity with ``verifier=False``. The default judges every candidate the verifier gives
    even odds or better: the verifier is sure of some near-misses too (a perfect judge over
    ``[0.5, 0.99)`` leaves 1 to 10% of the hits wrong on the probe holdouts; over
    ``[0.5, 1.0)``, none). A higher ``high`` costs calls, not hits."""
    judge_timeout: float = 5.0
    """Seconds the judge may take. A judge that fails, times out or answers neither yes nor no
    refuses the candidate: the call goes on to the model, as on any miss. After 3 failures in
    a row it is not asked for a second (then up to 30 s, doubling while it keeps failing):
    a judge that is down costs a few timeouts, not one per lookup."""
    judge_concurrency: int = 8
    """Judge calls in flight at once (per event loop). A lookup waits for a slot up to
    ``judge_timeout`` (then the call has its own ``judge_timeout``); one that gets no slot in
    time is refused (``judge_skipped``), and that is not a judge failure. So a burst of
    distinct near-duplicates (a cold cache under load) reaches the judge's provider a few calls
    at a time, not all at once."""

    judge_id: str | None = None
    """Who the judge is, for the verdicts kept in the store: processes share a verdict only
    when their judges have the same id. None: a ``Model``'s class, model name and base URL, or
    a callable's qualified name (the class's, for an object), so give each differently
    configured object of one class its own id."""

    def __post_init__(self) -> None:
        for name in ("threshold", "shadow_agreement"):
            value = getattr(self, name)
            check_number(name, value)
            if value > 1.0:
                raise ValueError(f"{name} is a cosine similarity in (0, 1], got {value!r}")
        check_bool("shadow", self.shadow)
        check_bool("verifier", self.verifier)
        if self.max_error is not None:
            check_number("max_error", self.max_error)
            if self.max_error >= 1.0:
                raise ValueError(f"max_error is a rate in (0, 1), got {self.max_error!r}")
        if self.min_probability is not None:
            check_number("min_probability", self.min_probability)
            if self.min_probability >= 1.0:
                raise ValueError(f"min_probability is in (0, 1), got {self.min_probability!r}")
        check_number("embed_timeout", self.embed_timeout)
        check_int("top_k", self.top_k, minimum=1)
        if self.guards is not None and (
            isinstance(self.guards, str) or not all(isinstance(g, str) for g in self.guards)
        ):
            raise ValueError(f"guards must be a list of guard names, got {self.guards!r}")
        unknown = set(self.guards or ()) - set(BUILTIN_GUARDS) - set(OPTIONAL_GUARDS)
        if unknown:
            known = sorted({*BUILTIN_GUARDS, *OPTIONAL_GUARDS})
            raise ValueError(f"unknown guards {sorted(unknown)}; known: {known}")
        check_vectorizer(self.vectorizer)
        self._check_judge()
        index = self.index
        missing = [m for m in ("add", "search", "delete") if not callable(getattr(index, m, None))]
        if index is not None and missing:
            raise ValueError(
                f"index must be a vector index (async add, search, delete; missing: "
                f"{', '.join(missing)}), got {self.index!r}; None picks one for the store"
            )

    def _check_judge(self) -> None:
        check_judge(self.judge)
        band = self.judge_band
        numbers = (
            isinstance(band, (tuple, list))
            and len(band) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in band)
        )
        if not numbers or not 0.0 <= band[0] <= band[1] <= 1.0:  # NaN fails this too
            raise ValueError(
                f"judge_band must be two scores (low, high) with 0 <= low <= high <= 1, "
                f"got {band!r}"
            )
        object.__setattr__(self, "judge_band", (float(band[0]), float(band[1])))
        check_number("judge_timeout", self.judge_timeout)
        check_int("judge_concurrency", self.judge_concurrency, minimum=1)
        if self.judge_id is not None and (not isinstance(self.judge_id, str) or not self.judge_id):
            raise ValueError(f"judge_id must be a non-empty string or None, got {self.judge_id!r}")
        if self.judge is not None and self.min_probability is not None:
            raise ValueError(
                "min_probability and judge: with a judge, judge_band's (low, high) replaces "
                "the verifier's cutoff; set judge_band instead"
            )
        if self.judge is not None and self.max_error is not None:
            raise ValueError("max_error and judge both decide the uncertain candidates; choose one")

    def guard_list(self, plugins: Plugins | None) -> list[tuple[str, Guard]]:
        """The built-in guards selected by ``guards`` (default: all), then every plugin's."""
        names = self.guards if self.guards is not None else list(BUILTIN_GUARDS)
        known = {**BUILTIN_GUARDS, **OPTIONAL_GUARDS}
        extra = plugins.semantic_guards().items() if plugins is not None else ()
        return [(name, known[name]) for name in names] + list(extra)

    @classmethod
    def from_option(cls, value: Any) -> SemanticConfig | None:
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = [f.name for f in fields(cls)]
            unknown = [k for k in value if k not in known]
            if unknown:
                raise ValueError(f"unknown semantic settings {unknown}; known: {known}")
            return cls(**value)
        raise TypeError(
            f"semantic= takes True, False, None, a dict of SemanticConfig settings or a "
            f"SemanticConfig, got {value!r} ({type(value).__name__})"
        )
