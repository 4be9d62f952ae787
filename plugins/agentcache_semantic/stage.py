"""The semantic lookup stage: after an exact miss, a guarded near-duplicate may answer."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from agents.items import ModelResponse

from agentcache import CacheKey, ModelCall
from agentcache.chain import ORDER_SEMANTIC, Handler, StageContext
from agentcache.entry import CorruptEntry, Entry, decode
from agentcache.guard import fired_late, with_timeout
from agentcache.response import to_response
from agentcache.tracing import STEP_SEMANTIC_LOOKUP

from .bound import ErrorBound
from .config import SemanticConfig
from .guards import Guard
from .index import Candidate, InProcessIndex, Vector, VectorIndex, normalize
from .judge import Judge, route
from .scope import Scope, semantic_scope
from .shadow import compare
from .vectorizer import Embed, warmup
from .verifier import Decision, builtin, decide

BOUND_FLOOR = 0.5
"""With ``max_error`` and the verifier, candidates under this probability are refused outright;
the ones above are served or explored as the learned bound says."""

INDEX_TRIES = 3
"""How often indexing an answer's prompt is tried when its timeouts are this process's own lag
(a burst of stored answers on a busy loop), as the guard tries a write."""

log = logging.getLogger("agentcache.semantic")


class _Skipped(Exception):
    """The search is skipped, not failed."""


class SemanticStage:
    name = "semantic"
    order = ORDER_SEMANTIC

    def __init__(
        self,
        context: StageContext,
        config: SemanticConfig,
        index: VectorIndex,
        embed: Embed,
        guards: Sequence[tuple[str, Guard]],
        space: str = "",
    ) -> None:
        self._store, self._stats, self._background = (
            context.store,
            context.stats,
            context.background,
        )
        self._tracer, self._replay_usage = context.tracer, context.config.replay_usage
        self._ttl, self._budget = context.config.ttl, context.config.store_timeout
        self.config, self.index, self._embed, self._guards = config, index, embed, guards
        self._local_index = isinstance(index, InProcessIndex)
        """Searched in this process: no store I/O, so the store's failures do not skip it."""
        self._verifier = builtin() if config.verifier else None
        self._bound = None if config.max_error is None else ErrorBound(
            config.max_error, self._store, self._stats, embed, guards,
            config.shadow_agreement, config.embed_timeout,
        )  # fmt: skip
        """With ``max_error``: a candidate the learned bound does not cover is explored."""
        self._floor = config.min_probability
        if self._bound is not None and self._floor is None:
            self._floor = BOUND_FLOOR  # the learned bound decides above it
        self._judge = None if config.judge is None else Judge(
            config.judge, config.judge_timeout, self._stats,
            concurrency=config.judge_concurrency,
        )  # fmt: skip
        if self._judge is not None:
            self._judge.share(
                self._store,
                lambda coro, what: self._background.spawn(coro, what, run_waits=False),
                config.judge_id,
            )
        """With a judge: candidates in ``judge_band`` are served only when it says yes."""
        if self._judge is not None and self._verifier is not None:
            self._floor = config.judge_band[0]  # the verifier refuses under the band
        self._space = space.encode()
        """The embedding space's name (``vectorizer.identify``), mixed into every context."""

    @property
    def bound(self) -> ErrorBound | None:
        """The ``max_error`` bound, if any (``clear`` makes it forget what it learned)."""
        return self._bound

    async def warmup(self) -> None:
        """Wait for the vectorizer: a local model, loading since the stage was built."""
        await warmup(self._embed)

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        if not call.cacheable or call.controls.skip_read:
            return await call_next(call)
        scope = semantic_scope(call)
        if scope is None:
            return await call_next(call)
        context = hashlib.sha256(self._space + b"\n" + scope.fingerprint.encode()).hexdigest()
        vector, match, slow, searched = None, None, False, 0.0
        try:
            with self._tracer.span(STEP_SEMANTIC_LOOKUP, call):
                vector = normalize(
                    await with_timeout(self._embed(scope.text), self.config.embed_timeout)
                )
                if self._store.call_failed and not self._local_index:
                    raise _Skipped  # the store failed this call: a remote index would wait too
                searched = time.monotonic()
                candidates = await with_timeout(
                    self.index.search(
                        call.namespace, context, vector, self.config.top_k, self.config.threshold
                    ),
                    self._budget,
                )
                searched = 0.0  # (a timeout after this is not the search's)
                match = await self._match(call, scope, candidates)
        except _Skipped:
            pass
        except Exception as exc:  # fail open: a broken vectorizer or index is a miss
            slow = isinstance(exc, TimeoutError)
            if slow and searched and fired_late(searched, self._budget, time.monotonic()):
                # The search's timer fired late: this process's own load, not the store's
                # (a miss all the same, counted apart as the guard counts it).
                self._stats.count("errors", "semantic_loop_lag")
            else:
                if slow and vector is not None and not self._local_index:
                    self._store.fail_call()  # one timeout per call: the rest skips the store
                self._stats.count("errors", "semantic")
                self._store.warn("semantic", "semantic lookup failed (%r); answering exactly", exc)
        if match is not None:
            entry, candidate, verdict, judged = match
            passed = verdict.passed + (("judge",) if judged else ())
            decision = {
                "layer": "semantic",
                "prompt": scope.text,
                "matched_prompt": candidate.prompt,
                "similarity": round(candidate.similarity, 4),
                "guards": passed,
                **(
                    {}
                    if verdict.probability is None
                    else {"probability": round(verdict.probability, 4)}
                ),
                **judged,
            }
            call.state.info.update(decision)
            score = candidate.similarity if verdict.probability is None else verdict.probability
            explore = self._bound is not None and not await self._bound.serve(
                call.namespace, score, candidate.digest
            )
            if explore:
                self._stats.explain({**decision, "explored": True})
            elif not self.config.shadow:
                call.state.outcome, call.state.layer, call.state.entry = "hit", "semantic", entry
                self._stats.explain(decision)
                # The similarity at INFO; the prompts only at DEBUG (logs are shipped and
                # kept; the prompts are the users' words, stats().recent has them in process).
                log.info(
                    "agentcache: semantic hit %.3f (guards: %s)",
                    candidate.similarity,
                    ",".join(passed),
                )
                log.debug("agentcache: semantic hit %r ~ %r", scope.text, candidate.prompt)
                return to_response(entry, replay_usage=self._replay_usage)
        response = await call_next(call)
        if match is not None and explore and self._bound is not None:  # learned off the path
            learn = self._bound.learn(
                call.namespace, score, candidate.digest, response.output, match[0]
            )
            self._background.spawn(learn, "semantic_bound", run_waits=False)
        elif match is not None:  # shadow mode: judged off the caller's path
            self._background.spawn(
                self._shadow(decision, response.output, match[0]),
                "semantic_shadow",
                run_waits=False,
            )
        if call.state.entry is not None and (vector is not None or slow):
            ttl = call.controls.ttl or self._ttl
            add = self._index(call.namespace, context, vector, scope.text, call.key.digest, ttl)
            # The exact entry is what a run must not lose; its run need not wait for this.
            self._background.spawn(add, "semantic_index", run_waits=False)
        return response

    async def _index(
        self, namespace: str, context: str, vector: Vector | None, text: str, digest: str,
        ttl: float | None,
    ) -> None:  # fmt: skip
        """Index a stored answer's prompt; embedding it here if the lookup was too slow to
        (a model still loading), so the answer is not lost to later near-duplicates. Off the
        caller's path, that embedding may take four times ``embed_timeout``."""
        if vector is None:
            vector = normalize(await with_timeout(self._embed(text), 4 * self.config.embed_timeout))
        for tries_left in range(INDEX_TRIES - 1, -1, -1):
            started = time.monotonic()
            try:
                await with_timeout(
                    self.index.add(namespace, context, vector, text, digest, ttl), self._budget
                )
                return
            except (TimeoutError, asyncio.TimeoutError):
                # A timer that fired late (this process's own load) says nothing about the
                # store: counted apart, as the guard counts it, and tried again.
                if not tries_left or not fired_late(started, self._budget, time.monotonic()):
                    raise
                self._stats.count("errors", "semantic_index_loop_lag")

    async def _shadow(self, decision: dict[str, Any], live: Any, entry: Entry) -> None:
        cached = to_response(entry).output
        config = self.config
        verdict = await compare(
            live, cached, self._embed, self._guards, config.shadow_agreement, config.embed_timeout
        )
        self._stats.count("semantic", "shadow_agree" if verdict["agreed"] else "shadow_disagree")
        self._stats.explain({**decision, "shadow": True, **verdict})

    async def _match(
        self, call: ModelCall, scope: Scope, candidates: list[Candidate]
    ) -> tuple[Entry, Candidate, Decision, dict[str, Any]] | None:
        """The first candidate that may answer, its entry, its decision and, when the judge
        was asked, its verdict (``{"judge": "yes", "judge_seconds": ...}``)."""
        for candidate in candidates:
            if candidate.digest == call.key.digest:
                continue  # the exact entry itself: the exact layer already missed it
            verdict = decide(
                scope.text, candidate.prompt, candidate.similarity, self._guards,
                self._verifier, self._floor,
            )  # fmt: skip
            probability = verdict.probability
            if verdict.refused_by is not None:
                self._stats.count("semantic", f"vetoed:{verdict.refused_by}")
                self._refused(scope, candidate, probability, verdict.refused_by, verdict.guard)
                continue
            score = candidate.similarity if probability is None else probability
            band = "serve" if self._judge is None else route(score, self.config.judge_band)
            if band == "refuse":  # without the verifier: the cosine is under the band
                self._stats.count("semantic", "vetoed:judge_band")
                self._refused(scope, candidate, probability, "judge_band", "judge_band")
                continue
            raw = await self._store.get(CacheKey(call.namespace, candidate.digest))
            try:
                entry = decode(raw) if raw is not None else None
            except CorruptEntry:
                entry = None
            if entry is None or entry.expired() or entry.digest != candidate.digest:
                self._background.spawn(
                    self.index.delete(call.namespace, candidate.digest), "semantic_index"
                )
                continue
            judged: dict[str, Any] = {}
            if band == "judge" and self._judge is not None:  # asked once the entry is there
                # a verdict lives as long as the entry it is about (at least a second)
                ttl = None if entry.expires_at is None else max(entry.expires_at - time.time(), 1)
                said = await self._judge(scope.text, candidate.prompt, call.namespace, ttl)
                judged = {"judge": said.answer, "judge_seconds": round(said.seconds, 4)}
                judged.update({"judge_remembered": True} if said.remembered else {})
                self._stats.count("semantic", f"judge_{said.answer}")
                if said.error is not None:
                    judged["judge_error"] = said.error
                    self._store.warn(
                        "semantic_judge", "semantic judge failed (%s); no hit", said.error
                    )
                if said.answer != "yes":
                    self._refused(scope, candidate, probability, "judge", "judge", **judged)
                    continue
            return entry, candidate, verdict, judged
        return None

    def _refused(
        self, scope: Scope, candidate: Candidate, probability: float | None, reason: str,
        guard: str | None, **extra: Any,
    ) -> None:  # fmt: skip
        """Keep a refused candidate's details in ``stats().recent``."""
        self._stats.explain(
            {
                "layer": "semantic",
                "vetoed": reason,
                "guard": guard,
                "prompt": scope.text,
                "matched_prompt": candidate.prompt,
                "similarity": round(candidate.similarity, 4),
                **({} if probability is None else {"probability": round(probability, 4)}),
                **extra,
            }
        )
