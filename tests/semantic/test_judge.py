"""The judge through ``Runner.run`` with the real local MiniLM model: it decides the candidates
whose verifier probability is in ``judge_band``, either way, and whatever goes wrong with it
costs a hit, never a wrong answer or a failed run."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import numpy as np
import pytest
from agentcache_semantic import SemanticConfig
from agentcache_semantic.index import normalize
from agentcache_semantic.judge import INSTRUCTIONS, MAX_TOKENS, parse
from agentcache_semantic.judge import Judge as JudgeOf
from agentcache_semantic.verifier import builtin
from agents import RunConfig, Runner
from agents.testing import assistant_message
from agents.usage import Usage

from agentcache import CachedModel, MemoryStore
from agentcache.stats import Stats
from tests.cli.conftest import run_cli
from tests.semantic.test_semantic_runner import EMBED, EchoModel, agent, ask, cached_model
from tests.support import TurnModel

CACHED = "What is the capital of Australia?"
PARAPHRASE = "What's the capital city of Australia?"
"""The verifier alone serves it (probability about 0.99)."""
NEAR_MISS = "What was the former capital of Australia?"
"""The verifier alone refuses it (about 0.93, under the 0.95 cutoff)."""
EVERY_CANDIDATE = (0.0, 1.0)
"""A band every candidate that passes the hard vetoes falls in: the judge decides them all."""


async def probability(new: str, cached: str = CACHED) -> float:
    """The verifier's probability for the pair, at the similarity the stage computes."""
    a, b = normalize(await EMBED.embed(new)), normalize(await EMBED.embed(cached))
    return builtin().probability(new, cached, float(np.dot(a, b)))


class Judge:
    """A callable judge that says ``verdict`` (after ``delay`` seconds) and records the pairs
    it was asked about."""

    def __init__(self, verdict: Any, delay: float = 0.0) -> None:
        self.verdict, self.delay = verdict, delay
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, new: str, cached: str) -> Any:
        self.asked.append((new, cached))
        await asyncio.sleep(self.delay)
        if isinstance(self.verdict, Exception):
            raise self.verdict
        return self.verdict


def refusals(cached: CachedModel) -> list[dict[str, Any]]:
    return [dict(d) for d in cached.stats().recent if d.get("vetoed") == "judge"]


async def test_the_judge_refuses_a_candidate_the_verifier_would_serve() -> None:
    assert await probability(PARAPHRASE) >= builtin().cutoff  # the verifier alone serves it
    control = EchoModel()
    plain = cached_model(control)
    await ask(plain, CACHED)
    assert await ask(plain, PARAPHRASE) == f"answer to: {CACHED}" and control.calls == 1

    inner, judge = EchoModel(), Judge(False)
    cached = cached_model(inner, judge=judge, judge_band=EVERY_CANDIDATE)
    await ask(cached, CACHED)
    assert await ask(cached, PARAPHRASE) == f"answer to: {PARAPHRASE}"
    assert inner.calls == 2 and judge.asked == [(PARAPHRASE, CACHED)]
    stats = cached.stats()
    assert stats.semantic == {"judge_no": 1} and "semantic" not in stats.hits_by_layer
    (refusal,) = refusals(cached)
    assert refusal["judge"] == "no" and refusal["guard"] == "judge"
    assert (refusal["prompt"], refusal["matched_prompt"]) == (PARAPHRASE, CACHED)
    assert refusal["probability"] >= builtin().cutoff and 0.85 <= refusal["similarity"] < 1.0
    assert refusal["judge_seconds"] >= 0.0


async def test_the_judge_serves_a_candidate_the_verifier_refuses() -> None:
    assert await probability(NEAR_MISS) < builtin().cutoff  # the verifier alone refuses it
    inner = EchoModel()
    judge = lambda new, cached: True  # noqa: E731 - a sync judge: it runs in a worker thread
    cached = cached_model(inner, judge=judge, judge_band=EVERY_CANDIDATE)
    await ask(cached, CACHED)
    assert await ask(cached, NEAR_MISS) == f"answer to: {CACHED}"
    assert inner.calls == 1
    stats = cached.stats()
    assert stats.hits_by_layer == {"semantic": 1} and stats.semantic == {"judge_yes": 1}
    decision = stats.recent[-1]
    assert decision["judge"] == "yes" and decision["guards"][-1] == "judge"
    assert decision["probability"] < builtin().cutoff
    assert cached.recent_calls[-1].state.info["judge"] == "yes"


async def test_the_band_decides_which_candidates_the_judge_is_asked_about() -> None:
    """At or above the band: served unasked; under it: refused unasked, as by the verifier."""
    p = await probability(PARAPHRASE)
    assert 0.01 < p < 0.99  # room on either side (the margins: float32 similarities)
    for band, served in (((0.0, p - 0.005), True), ((p + 0.005, 1.0), False)):
        inner, judge = EchoModel(), Judge(not served)  # it would say the opposite
        cached = cached_model(inner, judge=judge, judge_band=band)
        await ask(cached, CACHED)
        answer = await ask(cached, PARAPHRASE)
        assert answer == f"answer to: {CACHED if served else PARAPHRASE}", band
        assert judge.asked == [] and "semantic_judge" not in cached.stats().spent
        if not served:
            assert cached.stats().semantic == {"vetoed:verifier": 1}


async def test_without_the_verifier_the_band_is_on_the_cosine() -> None:
    inner, judge = EchoModel(), Judge(False)
    cached = cached_model(inner, verifier=False, judge=judge)  # the default band, (0.5, 1.0)
    await ask(cached, CACHED)
    assert await ask(cached, PARAPHRASE) == f"answer to: {PARAPHRASE}"
    (refusal,) = refusals(cached)
    assert "probability" not in refusal and 0.5 <= refusal["similarity"] < 0.99
    assert judge.asked == [(PARAPHRASE, CACHED)]


def scripted(reply: str) -> TurnModel:
    usage = Usage(requests=1, input_tokens=70, output_tokens=2, total_tokens=72)
    return TurnModel([lambda ids: [assistant_message(reply)]], usage=usage)


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("Yes.", "yes"),
        ("**YES**", "yes"),
        ("no", "no"),
        ("No, one asks...", "no"),
        ("Maybe", "unclear"),
    ],
)
async def test_a_model_judge_is_asked_and_its_cost_counted(reply: str, verdict: str) -> None:
    model = scripted(reply)
    inner = EchoModel()
    cached = cached_model(inner, judge=model, judge_band=EVERY_CANDIDATE)
    await ask(cached, CACHED)
    answer = await ask(cached, NEAR_MISS)
    assert answer == f"answer to: {CACHED if verdict == 'yes' else NEAR_MISS}"
    assert inner.calls == (1 if verdict == "yes" else 2)
    (call,) = model.calls
    assert call["input"] == [
        {"role": "user", "content": f"Request 1: {NEAR_MISS}\nRequest 2: {CACHED}"}
    ]
    assert call["settings"].temperature == 0 and call["tools"] == []
    assert call["settings"].max_tokens == MAX_TOKENS
    stats = cached.stats()
    assert stats.semantic == {f"judge_{verdict}": 1}
    spent = stats.spent["semantic_judge"]
    assert spent["calls"] == 1 and spent["tokens"] == 72 and 0.0 < spent["seconds"] < 10.0


def test_spending_is_counted_by_name_and_reset() -> None:
    stats = Stats()
    stats.spend("semantic_judge", 0.5, 70)
    stats.spend("semantic_judge", 0.25)
    stats.spend("other", -1.0, -5)  # a clock that went back counts nothing
    snapshot = stats.snapshot()
    assert snapshot.spent == {
        "semantic_judge": {"calls": 2, "seconds": 0.75, "tokens": 70},
        "other": {"calls": 1, "seconds": 0.0, "tokens": 0},
    }
    stats.reset()
    assert stats.snapshot().spent == {} and snapshot.spent["other"]["calls"] == 1


def test_a_reply_is_read_by_its_first_word() -> None:
    replies = ("Yes", " yes, both", "NO.", "'no'", "Yes!", "nope", "", "I think")
    assert [parse(t) for t in replies] == [True, True, False, False, True, None, None, None]
    assert '"yes" or "no"' in INSTRUCTIONS


@pytest.mark.parametrize("kind", ["raises", "sleeps", "sleeps in a thread"])
async def test_a_failing_or_slow_judge_refuses_and_the_run_goes_on(kind: str) -> None:
    assert await probability(PARAPHRASE) >= builtin().cutoff  # served without a judge

    def sleepy(new: str, cached: str) -> bool:
        time.sleep(1.0)
        return True

    judge: Any = {
        "raises": Judge(RuntimeError("judge is down")),
        "sleeps": Judge(True, delay=30.0),
        "sleeps in a thread": sleepy,
    }[kind]
    inner = EchoModel()
    cached = cached_model(inner, judge=judge, judge_band=EVERY_CANDIDATE, judge_timeout=0.2)
    await ask(cached, CACHED)
    start = time.perf_counter()
    answer = await asyncio.wait_for(ask(cached, PARAPHRASE), 30)
    assert answer == f"answer to: {PARAPHRASE}" and inner.calls == 2
    assert time.perf_counter() - start < 5.0  # not the judge's 30 s
    stats = cached.stats()
    assert stats.semantic == {"judge_error": 1} and stats.errors == {}
    (refusal,) = refusals(cached)
    assert refusal["judge"] == "error"
    assert ("Timeout" if "sleeps" in kind else "judge is down") in refusal["judge_error"]
    assert stats.spent["semantic_judge"]["calls"] == 1
    # an error is not remembered: the same pair (in another context) is asked again
    await ask(cached, CACHED, instructions="Be brief.")
    await ask(cached, PARAPHRASE, instructions="Be brief.")
    assert cached.stats().semantic == {"judge_error": 2}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"judge": "yes"}, "judge must be None, an agents Model or a callable"),
        ({"judge": 1.0}, "judge must be None"),
        ({"judge": EchoModel}, "instance of EchoModel, not the class"),
        ({"judge": lambda new: True}, "judge must take two prompts"),
        ({"judge_band": (0.9, 0.5)}, "judge_band must be two scores"),
        ({"judge_band": (0, 2)}, "judge_band must be two scores"),
        ({"judge_band": (0.5,)}, "judge_band must be two scores"),
        ({"judge_band": "0.5, 0.9"}, "judge_band must be two scores"),
        ({"judge_band": (False, True)}, "judge_band must be two scores"),
        ({"judge_band": (float("nan"), 0.9)}, "judge_band must be two scores"),
        ({"judge_timeout": 0}, "judge_timeout must be a finite number > 0"),
        ({"judge_timeout": float("inf")}, "judge_timeout"),
        ({"judge_concurrency": 0}, "judge_concurrency"),
        ({"judge_concurrency": 2.5}, "judge_concurrency"),
        ({"judge": Judge(True), "min_probability": 0.9}, "set judge_band instead"),
        ({"judge": Judge(True), "max_error": 0.01}, "choose one"),
    ],
)
def test_bad_judge_settings_raise_at_construction(settings: dict[str, Any], named: str) -> None:
    with pytest.raises((TypeError, ValueError), match=named) as raised:
        CachedModel(EchoModel(), semantic=SemanticConfig(vectorizer=EMBED.embed, **settings))
    assert "\n" not in str(raised.value)
    with pytest.raises((TypeError, ValueError), match=named):
        CachedModel(EchoModel(), semantic={"vectorizer": EMBED.embed, **settings})


def test_good_judge_settings_are_taken() -> None:
    async def judge(new: str, cached: str) -> bool:
        return True

    for value in (None, judge, Judge(True), scripted("yes"), lambda new, cached: True):
        CachedModel(EchoModel(), semantic=SemanticConfig(vectorizer=EMBED.embed, judge=value))
    config = SemanticConfig(judge=judge, judge_band=[0, 1])  # type: ignore[arg-type]
    assert config.judge_band == (0.0, 1.0) and hash(config)


async def test_a_pair_is_judged_once() -> None:
    """Two contexts hold the same cached prompt: the same pair, asked in each (at once, then
    again), costs one judgement."""
    inner, judge = EchoModel(), Judge(True, delay=0.3)
    cached = cached_model(inner, judge=judge, judge_band=EVERY_CANDIDATE)
    contexts = ("Answer briefly.", "Be brief.", "Answer in one line.")
    for instructions in contexts:
        await ask(cached, CACHED, instructions=instructions)
    answers = await asyncio.gather(*(ask(cached, NEAR_MISS, i) for i in contexts[:2]))
    assert answers == [f"answer to: {CACHED}"] * 2
    assert judge.asked == [(NEAR_MISS, CACHED)]  # the concurrent two: one judgement
    assert await ask(cached, NEAR_MISS, contexts[2]) == f"answer to: {CACHED}"
    assert judge.asked == [(NEAR_MISS, CACHED)]  # remembered
    stats = cached.stats()
    assert inner.calls == 3 and stats.hits_by_layer == {"semantic": 3}
    assert stats.semantic == {"judge_yes": 3} and stats.spent["semantic_judge"]["calls"] == 1
    assert stats.recent[-1]["judge_remembered"] is True


async def test_a_streamed_turn_is_judged_like_any_other() -> None:
    """Stages never see a stream: the judge decides a Runner.run_streamed turn too, and a hit it
    allows is replayed as a stream (the inner model's stream_response would raise)."""
    assert await probability(NEAR_MISS) < builtin().cutoff  # the verifier alone refuses it
    inner, judge = EchoModel(), Judge(True)
    cached = cached_model(inner, judge=judge, judge_band=EVERY_CANDIDATE)
    await ask(cached, CACHED)
    result = Runner.run_streamed(agent(), NEAR_MISS, run_config=RunConfig(model=cached))
    kinds = [event.type async for event in result.stream_events()]
    assert result.final_output == f"answer to: {CACHED}" and "raw_response_event" in kinds
    assert inner.calls == 1 and judge.asked == [(NEAR_MISS, CACHED)]
    assert cached.stats().hits_by_layer == {"semantic": 1}


async def test_a_failing_judge_is_paused_then_asked_again() -> None:
    """Three failures in a row pause the judge (refused unasked, ``skipped``) for a second,
    doubling while retries fail; an answer closes it again."""
    now = [0.0]
    judge = Judge(RuntimeError("down"))
    ask_judge = JudgeOf(judge, 5.0, clock=lambda: now[0])
    answers = [(await ask_judge(f"q{i}", "c")).answer for i in range(5)]
    assert answers == ["error"] * 3 + ["skipped"] * 2 and len(judge.asked) == 3
    now[0] = 1.01  # the first pause is over: one retry, which fails: two seconds now
    assert (await ask_judge("q5", "c")).answer == "error" and len(judge.asked) == 4
    now[0] = 2.5
    assert (await ask_judge("q6", "c")).answer == "skipped"
    now[0] = 3.02
    judge.verdict = True  # back
    assert (await ask_judge("q7", "c")).answer == "yes"
    assert (await ask_judge("q8", "c")).answer == "yes" and len(judge.asked) == 6


async def test_through_the_runner_a_judge_that_is_down_stops_being_asked() -> None:
    inner, judge = EchoModel(), Judge(RuntimeError("provider down"))
    cached = cached_model(inner, judge=judge, judge_band=EVERY_CANDIDATE)
    await ask(cached, CACHED)
    for prompt in (PARAPHRASE, NEAR_MISS, "Which city is Australia's capital?", PARAPHRASE):
        assert await ask(cached, prompt) == f"answer to: {prompt}"  # the model answered
    stats = cached.stats().semantic
    assert len(judge.asked) == 3 and stats["judge_error"] == 3 and stats["judge_skipped"] >= 1


async def test_judge_calls_in_flight_are_capped() -> None:
    """Ten distinct pairs at once, three slots: never more than three calls in flight, and
    every pair is judged (each waits for a slot within the timeout)."""
    in_flight, most = [0], [0]

    async def judge(new: str, cached: str) -> bool:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        await asyncio.sleep(0.05)
        in_flight[0] -= 1
        return True

    ask_judge = JudgeOf(judge, 5.0, concurrency=3)
    verdicts = await asyncio.gather(*(ask_judge(f"q{i}", "c") for i in range(10)))
    assert [v.answer for v in verdicts] == ["yes"] * 10 and most[0] == 3


async def test_through_the_runner_a_busy_judge_skips_without_failing() -> None:
    """One slot, three distinct pairs at once: the first two are judged in turn; the third
    gets no slot within the timeout, so its run asks the model (``judge_skipped``), and a
    skip for lack of a slot does not count towards pausing the judge."""
    inner, judge = EchoModel(), Judge(True, delay=1.0)
    cached = cached_model(
        inner, judge=judge, judge_band=EVERY_CANDIDATE, judge_timeout=1.5, judge_concurrency=1
    )
    await ask(cached, CACHED)
    prompts = (PARAPHRASE, NEAR_MISS, "Which city is Australia's capital?")
    answers = await asyncio.gather(*(ask(cached, p) for p in prompts))
    assert sorted(a == f"answer to: {CACHED}" for a in answers) == [False, True, True]
    stats = cached.stats()
    assert stats.semantic == {"judge_yes": 2, "judge_skipped": 1} and len(judge.asked) == 2
    assert inner.calls == 2 and not stats.errors
    (skipped,) = [d for d in stats.recent if d.get("judge") == "skipped"]
    assert skipped["judge_error"].startswith("busy: 1 judge calls in flight")
    judge.delay = 0.0  # not paused: the next pair is asked at once, and it serves a hit
    await ask(cached, "What city is the capital of Australia?")
    assert len(judge.asked) == 3 and inner.calls == 2


# -- verdicts kept in the store: processes sharing it ask once per pair ------------------------


def on_redis(inner: EchoModel, url: str, namespace: str, judge: Any) -> CachedModel:
    config = SemanticConfig(vectorizer=EMBED.embed, judge=judge, judge_band=EVERY_CANDIDATE)
    return CachedModel(inner, store=url, namespace=namespace, semantic=config)


async def test_processes_sharing_redis_share_the_judges_verdicts(redis_url: str) -> None:
    """Two models with their own Redis clients (as two processes): the second finds the first's
    verdict in Redis and serves without asking; another judge asks for itself; a verdict in
    the store goes with ``clear``."""
    namespace, judge = f"judge-{uuid.uuid4().hex[:8]}", Judge(True)
    first = on_redis(EchoModel(), redis_url, namespace, judge)
    await ask(first, CACHED)
    assert await ask(first, NEAR_MISS) == f"answer to: {CACHED}"
    assert judge.asked == [(NEAR_MISS, CACHED)]
    second_inner = EchoModel()
    second = on_redis(second_inner, redis_url, namespace, Judge(False))  # its own instance
    # Judge(False) is another object of the same class: the same judge as far as the key
    # knows (a class is its identity); a different class or function asks for itself.
    assert await ask(second, NEAR_MISS) == f"answer to: {CACHED}" and second_inner.calls == 0
    stats = second.stats()
    assert stats.semantic == {"judge_yes": 1} and "semantic_judge" not in stats.spent
    assert stats.recent[-1]["judge_remembered"] is True

    async def other_judge(new: str, cached: str) -> bool:
        return False

    third_inner = EchoModel()
    third = on_redis(third_inner, redis_url, namespace, other_judge)
    assert await ask(third, NEAR_MISS) == f"answer to: {NEAR_MISS}"  # asked: it said no
    assert third.stats().semantic == {"judge_no": 1}
    checked = run_cli("verify", "--namespace", namespace, store=redis_url)
    assert checked.returncode == 0, checked.stdout + checked.stderr  # a verdict is no entry
    await first.clear(namespace)
    fourth = on_redis(EchoModel(), redis_url, namespace, judge)
    await ask(fourth, CACHED)
    assert await ask(fourth, NEAR_MISS) == f"answer to: {CACHED}"
    assert len(judge.asked) == 2  # the kept verdict went with the namespace
    for m in (first, second, third, fourth):
        await m.close()


async def test_a_paused_judge_still_finds_the_stores_verdicts() -> None:
    """A verdict another process kept serves while this process's judge is down and paused."""
    store, writes = MemoryStore(), []

    def spawn(coro: Any, what: str) -> None:
        writes.append(asyncio.ensure_future(coro))

    judge = Judge(True)
    first = JudgeOf(judge, 5.0)
    first.share(store, spawn)
    assert (await first(NEAR_MISS, CACHED)).answer == "yes"
    await asyncio.gather(*writes)
    judge.verdict = RuntimeError("provider down")
    second = JudgeOf(judge, 5.0)  # another process: nothing remembered in memory
    second.share(store, spawn)
    answers = [(await second(f"q{i}", CACHED)).answer for i in range(4)]
    assert answers == ["error"] * 3 + ["skipped"]  # paused
    said = await second(NEAR_MISS, CACHED)
    assert said.answer == "yes" and said.remembered and len(judge.asked) == 4


async def test_verdicts_are_kept_in_a_file_store(tmp_path: Any) -> None:
    """Every store takes the verdict's key (the file store takes only digests)."""
    judge, url = Judge(True), f"file://{tmp_path}"
    config = SemanticConfig(
        vectorizer=EMBED.embed, judge=judge, judge_band=EVERY_CANDIDATE, embed_timeout=60
    )
    first = CachedModel(EchoModel(), store=url, semantic=config)
    await ask(first, CACHED)
    assert await ask(first, NEAR_MISS) == f"answer to: {CACHED}"
    second = CachedModel(EchoModel(), store=first.store, semantic=config)  # its own judge
    assert await ask(second, NEAR_MISS) == f"answer to: {CACHED}"
    assert second.stats().hits_by_layer == {"semantic": 1}
    assert second.stats().recent[-1]["judge_remembered"] is True  # from the file store
    assert len(judge.asked) == 1 and first.stats().errors == second.stats().errors == {}
    checked = run_cli("verify", store=url)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = run_cli("ls", store=url).stdout
    assert listed.count("semantic:verdict") == 1, listed  # not shown as a model's answer


async def test_judges_of_one_class_share_verdicts_only_under_one_judge_id() -> None:
    """Two objects of one class configured differently are the same judge to the derived
    identity; ``judge_id`` tells them apart, and the same id shares again."""
    store, writes = MemoryStore(), []

    def spawn(coro: Any, what: str) -> None:
        writes.append(asyncio.ensure_future(coro))

    async def ask_once(judge: Judge, judge_id: str | None) -> Any:
        asking = JudgeOf(judge, 5.0)  # as in another process: nothing remembered in memory
        asking.share(store, spawn, judge_id)
        said = await asking(NEAR_MISS, CACHED)
        await asyncio.gather(*writes)
        return said.answer, said.remembered

    strict, lenient = Judge(False), Judge(True)
    assert await ask_once(strict, "strict") == ("no", False)
    assert await ask_once(lenient, "lenient") == ("yes", False)  # not strict's verdict
    assert await ask_once(Judge(True), "lenient") == ("yes", True)  # lenient's, from the store
    assert await ask_once(Judge(True), None) == ("yes", False)  # an id is never a derived name
    assert len(strict.asked) == len(lenient.asked) == 1


@pytest.mark.parametrize("bad", ["", 3])
def test_judge_id_is_checked(bad: object) -> None:
    with pytest.raises(ValueError, match="judge_id"):
        SemanticConfig(judge_id=bad)  # type: ignore[arg-type]
