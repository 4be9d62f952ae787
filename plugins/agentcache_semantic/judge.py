"""The judge: a second opinion, from a model that reads both prompts, before a semantic hit.

The verifier reads word features; some pairs it cannot tell apart ("the capital" and "the
former capital" differ in one word, as do many true paraphrases), and it is sure of some
near-misses too. A model that reads both prompts can tell them apart, at the cost of a call, so
the stage asks it about the candidates whose score is in ``SemanticConfig.judge_band`` (by
default every candidate the verifier gives even odds or better): only after an exact miss, and
far cheaper than the real call a refusal leads to. The judge is the user's cheapest ``Model``,
or any callable ``(new, cached) -> bool`` (sync or async). Whatever goes wrong (an error, a
timeout, an answer that is neither yes nor no) refuses the candidate: a judge may cost a hit,
never serve a wrong one.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import string
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from agents import ItemHelpers, ModelSettings
from agents.models.interface import Model, ModelTracing

from agentcache.guard import with_timeout
from agentcache.keys import model_identity
from agentcache.stats import Stats
from agentcache.stores.base import CacheKey

SPENT = "semantic_judge"
"""The name the judge's calls are counted under in ``StatsSnapshot.spent``."""
INSTRUCTIONS = (
    "You check a cache. Two requests follow. Would a single answer fully and correctly answer "
    'both requests? Reply with exactly one word: "yes" or "no".'
)
MAX_TOKENS = 8
"""The reply's length cap: "yes" or "no" is one token, and a model that starts explaining
would cost seconds for nothing (a reasoning model needs more: wrap it in a callable)."""
REMEMBERED = 4096
"""Verdicts kept, by prompt pair: a pair asked again (a popular question) costs no call."""
FAILURES = 3
"""Consecutive failures (errors, timeouts) after which the judge is not asked for a while."""
PAUSE = (1.0, 30.0)
"""The first pause after ``FAILURES``, and the longest (each failed retry doubles it): a judge
that is down costs a few timeouts, not one per lookup, and is asked again within 30 s."""
FORMAT = "agentcache.semantic-verdict"
VERDICT = FORMAT.encode() + b"\n"
"""Where verdicts are kept in the cache store: ``{namespace}`` / ``sha256(VERDICT, judge, new,
cached)`` (a digest, as every store expects), so every process on a shared store asks once per
pair."""
Answer = Literal["yes", "no", "unclear", "error", "skipped"]
JudgeFn = Callable[[str, str], bool | Awaitable[bool]]


def route(score: float, band: tuple[float, float]) -> Literal["refuse", "judge", "serve"]:
    """A candidate's fate by its score (the verifier's probability, else the cosine): under
    the band refused, in ``[low, high)`` judged, at or above ``high`` served unasked."""
    low, high = band
    return "refuse" if score < low else "judge" if score < high else "serve"


def check(judge: Any) -> None:
    """Raise ``TypeError`` naming what ``judge`` is, unless it is None, an SDK ``Model``
    instance or a callable taking the two prompts (found at configuration, not at a call)."""
    if judge is None or isinstance(judge, Model):
        return
    shown = f"{judge!r} ({type(judge).__name__})"
    if inspect.isclass(judge):
        raise TypeError(f"judge: pass an instance of {judge.__qualname__}, not the class")
    if not callable(judge):
        raise TypeError(
            "judge must be None, an agents Model or a callable (new_prompt, cached_prompt) -> "
            f"bool, got {shown}"
        )
    try:
        inspect.signature(judge).bind("new", "cached")
    except TypeError:
        raise TypeError(f"judge must take two prompts (new, cached), got {shown}") from None
    except ValueError:  # a builtin without a signature: its call will tell
        pass


def openai_compatible(base_url: str, model: str) -> Model:
    """A judge on an OpenAI-compatible chat completions server (the command line's and the
    benchmarks' ``--judge-url``); the key, if the server needs one, from ``OPENAI_API_KEY``."""
    from agents import OpenAIChatCompletionsModel
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "unused")
    return OpenAIChatCompletionsModel(model=model, openai_client=client)


def parse(text: str) -> bool | None:
    """A model's reply: its first word, "yes" or "no" (any case, punctuation aside)."""
    word = (text.split() or [""])[0].strip(string.punctuation + "*`'\"").lower()
    return {"yes": True, "no": False}.get(word)


@dataclass(frozen=True)
class Verdict:
    """One judgement: only ``"yes"`` serves the candidate."""

    answer: Answer
    seconds: float
    """What this caller waited (0 for a remembered verdict)."""
    remembered: bool = False
    error: str | None = None


class Judge:
    """Asks ``judge`` about a prompt pair within ``timeout`` seconds, at most ``concurrency``
    pairs at once per event loop; remembers the verdicts (not errors, which may pass) and asks
    once for concurrent calls on the same pair."""

    def __init__(
        self, judge: Model | JudgeFn, timeout: float, stats: Stats | None = None,
        clock: Callable[[], float] = time.monotonic, concurrency: int = 8,
    ) -> None:  # fmt: skip
        self.judge, self.timeout, self._stats, self._clock = judge, timeout, stats, clock
        self.concurrency = concurrency
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._slots = weakref.WeakKeyDictionary()
        self._failures, self._pause, self._paused_until = 0, PAUSE[0], 0.0
        self._store: Any = None
        self._spawn: Callable[[Any, str], object] = lambda coro, what: None
        self._identity = ""
        self._known: OrderedDict[tuple[str, str], Answer] = OrderedDict()
        self._lock = threading.Lock()  # models on other threads' loops may share a stage
        self._pending: dict[tuple[Any, str, str], asyncio.Future[tuple[Answer, str | None, bool]]]
        self._pending = {}

    def share(
        self, store: Any, spawn: Callable[[Any, str], object], judge_id: str | None = None
    ) -> None:
        """Keep verdicts in ``store`` too (a guarded store: its failures are misses), written
        by ``spawn`` off the caller's path: processes sharing a store ask once per pair, when
        their judges have the same ``judge_id`` (by default, derived from the judge)."""
        self._store, self._spawn = store, spawn
        judge = self.judge
        if judge_id is not None:
            name: object = {"judge_id": judge_id}  # never equal to a derived name
        elif isinstance(judge, Model):
            name = model_identity(judge)  # class, model name, base URL
        else:  # a function's (or a callable object's class's) full name
            named = judge if hasattr(judge, "__qualname__") else type(judge)
            name = f"{named.__module__}.{named.__qualname__}"
        self._identity = json.dumps(name, sort_keys=True)

    def _key(self, namespace: str, new: str, cached: str) -> CacheKey:
        pair = json.dumps([self._identity, INSTRUCTIONS, new, cached]).encode()
        return CacheKey(namespace, hashlib.sha256(VERDICT + pair).hexdigest())

    async def __call__(
        self, new: str, cached: str, namespace: str = "default", ttl: float | None = None
    ) -> Verdict:
        with self._lock:
            known = self._known.get((new, cached))
            if known is not None:
                self._known.move_to_end((new, cached))
                return Verdict(known, 0.0, remembered=True)
        key = (asyncio.get_running_loop(), new, cached)
        shared = self._pending.get(key)
        if shared is None:
            asking = self._recall_or_ask(new, cached, namespace, ttl)
            shared = self._pending[key] = asyncio.ensure_future(asking)
            shared.add_done_callback(lambda _: self._pending.pop(key, None))
        start = time.perf_counter()
        answer, error, stored = await asyncio.shield(shared)
        return Verdict(answer, time.perf_counter() - start, remembered=stored, error=error)

    async def _recall_or_ask(
        self, new: str, cached: str, namespace: str, ttl: float | None
    ) -> tuple[Answer, str | None, bool]:
        """The store's verdict if another process (or an earlier life of this one) has one,
        even while the judge is paused; else the judge's, kept in the store when it is a yes
        or a no."""
        key = None if self._store is None else self._key(namespace, new, cached)
        if key is not None:
            raw = await self._store.get(key)
            try:
                stored = json.loads(raw)["answer"] if raw is not None else None
            except (ValueError, TypeError, KeyError):
                stored = None  # unreadable: asked again, and overwritten
            if stored in ("yes", "no"):
                self._remember(new, cached, stored)
                return stored, None, True
        if self._failures >= FAILURES and self._clock() < self._paused_until:
            return "skipped", f"paused: failed {FAILURES} times in a row", False
        answer, error = await self._ask(new, cached)
        if key is not None and answer in ("yes", "no"):
            doc = json.dumps({"format": FORMAT, "answer": answer}).encode()
            self._spawn(self._store.set(key, doc, ttl), "semantic_judge")
        return answer, error, False

    async def _ask(self, new: str, cached: str) -> tuple[Answer, str | None]:
        """Wait for a slot (within the timeout), then ask. A burst of distinct pairs queues
        here instead of reaching the provider at once; a pair that gets no slot in time is
        skipped (refused), which says nothing about the judge's health, so it is no failure."""
        with self._lock:
            slots = self._slots.setdefault(
                asyncio.get_running_loop(), asyncio.Semaphore(self.concurrency)
            )
        try:
            await with_timeout(slots.acquire(), self.timeout)
        except TimeoutError:
            return "skipped", f"busy: {self.concurrency} judge calls in flight for {self.timeout} s"
        try:
            return await self._ask_now(new, cached)
        finally:
            slots.release()

    async def _ask_now(self, new: str, cached: str) -> tuple[Answer, str | None]:
        """Ask, with the whole timeout: a timeout then always means the judge was slow."""
        start, tokens = time.perf_counter(), 0
        judge = self.judge
        asking = (
            self._ask_model(judge, new, cached)
            if isinstance(judge, Model)
            else self._ask_callable(judge, new, cached)
        )
        try:
            said, tokens = await with_timeout(asking, self.timeout)
        except Exception as exc:  # a timeout, a provider error, a bug: refused, asked again
            self._failed()
            return "error", repr(exc)
        finally:
            if self._stats is not None:
                self._stats.spend(SPENT, time.perf_counter() - start, tokens)
        answer: Answer = "yes" if said is True else "no" if said is False else "unclear"
        self._failures, self._pause = 0, PAUSE[0]
        self._remember(new, cached, answer)
        return answer, None

    def _remember(self, new: str, cached: str, answer: Answer) -> None:
        with self._lock:
            self._known[new, cached] = answer
            if len(self._known) > REMEMBERED:
                self._known.popitem(last=False)

    def _failed(self) -> None:
        """Count a failure; from ``FAILURES`` in a row, pause (doubling while retries fail)."""
        self._failures += 1
        if self._failures >= FAILURES:
            if self._failures > FAILURES:
                self._pause = min(self._pause * 2, PAUSE[1])
            self._paused_until = self._clock() + self._pause

    @staticmethod
    async def _ask_model(model: Model, new: str, cached: str) -> tuple[object, int]:
        response = await model.get_response(
            system_instructions=INSTRUCTIONS,
            input=[{"role": "user", "content": f"Request 1: {new}\nRequest 2: {cached}"}],
            model_settings=ModelSettings(temperature=0, max_tokens=MAX_TOKENS),
            tools=[],
            output_schema=None,
            handoffs=[],
            tracing=ModelTracing.DISABLED,
            previous_response_id=None,
            conversation_id=None,
            prompt=None,
        )
        text = "".join(ItemHelpers.extract_text(item) or "" for item in response.output)
        return parse(text), response.usage.total_tokens

    @staticmethod
    async def _ask_callable(judge: JudgeFn, new: str, cached: str) -> tuple[object, int]:
        """A coroutine function is awaited; anything else runs in a worker thread (a sync
        judge that calls a service would block every run on the loop), and an awaitable it
        returns is awaited. Only a bool is a verdict."""
        if inspect.iscoroutinefunction(judge) or inspect.iscoroutinefunction(
            type(judge).__call__  # an object whose __call__ is async
        ):
            return await judge(new, cached), 0  # type: ignore[misc]
        said = await asyncio.to_thread(judge, new, cached)
        return (await said if inspect.isawaitable(said) else said), 0
