"""``SemanticConfig(max_error=δ)``: explore until the evidence covers a candidate, serve only
inside the learned bound, remember entries that answered wrong, keep what was learned in the
store (memory and Redis)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from agentcache_semantic.bound import CALIBRATION, EDGES, Calibration, wilson_upper
from agents import ModelResponse, RunConfig, Runner
from agents.models.interface import Model
from agents.testing import assistant_message
from agents.usage import Usage

from agentcache import CachedModel, CacheKey, MemoryStore, SemanticConfig
from tests.cli.conftest import run_cli
from tests.semantic.test_semantic_runner import EMBED, agent

QUESTION = "What is the capital of Australia?"
PARAPHRASES = [
    "What's the capital city of Australia?",
    "Which city is the capital of Australia?",
    "What city is Australia's capital?",
    "Tell me the capital of Australia.",
    "What is the Australian capital?",
]


class Answers(Model):
    """The same answer for every paraphrase; ``answer`` can be changed to make them disagree."""

    def __init__(self) -> None:
        self.calls, self.answer = 0, "Canberra is the capital."

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self.calls += 1
        return ModelResponse(
            output=[assistant_message(self.answer)], usage=Usage(requests=1), response_id=None
        )

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


async def ask(cached: CachedModel, prompt: str) -> Any:
    result = await Runner.run(agent(), prompt, run_config=RunConfig(model=cached))
    await cached.flush()
    return result.final_output


def test_wilson_upper_bound() -> None:
    assert wilson_upper(0, 0) == 1.0
    assert wilson_upper(0, 300) < 0.01 < wilson_upper(0, 200)
    assert wilson_upper(5, 100) > 0.05 > 5 / 200


def test_the_served_region_needs_evidence_and_an_entry_that_was_wrong_is_not_served() -> None:
    rng = random.Random(1)
    calibration = Calibration()
    assert not calibration.serve(0.999, "d", 0.05, rng)  # nothing seen: explore
    for _ in range(100):
        calibration.observe(0.999, "other", True)
    top = len(EDGES)
    assert calibration.covered(top, 0.05) and not calibration.covered(top - 1, 0.05)
    assert sum(calibration.serve(0.999, "d", 0.05, rng) for _ in range(200)) > 150  # rechecks
    assert not calibration.serve(0.96, "d", 0.05, rng)  # a bin without evidence
    calibration.observe(0.999, "d", False)  # this entry answered wrong at 0.999
    assert not any(calibration.serve(0.999, "d", 0.05, rng) for _ in range(50))
    assert Calibration.loads(calibration.dumps()) == calibration


@pytest.mark.parametrize("bad", [0, 1.0, 2, "0.01", True])
def test_max_error_is_checked(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="max_error"):
        SemanticConfig(max_error=bad)  # type: ignore[arg-type]


async def test_explores_through_the_runner_and_learns_from_the_answers() -> None:
    inner = Answers()
    store = MemoryStore()
    config = SemanticConfig(vectorizer=EMBED.embed, embed_timeout=60, max_error=0.5)
    cached = CachedModel(inner, store=store, semantic=config)
    await ask(cached, QUESTION)
    # a paraphrase with a candidate but no evidence: explored (the model answers), compared
    assert await ask(cached, PARAPHRASES[0]) == "Canberra is the capital."
    assert inner.calls == 2
    stats = cached.stats().semantic
    assert stats["bound_explored"] == 1 and stats["bound_agree"] == 1
    assert (await store.get(CacheKey("default", CALIBRATION))) is not None
    # with evidence in every bin (as another process would have stored it), served
    evidence = Calibration(seen=[100] * (len(EDGES) + 1))
    await store.set(CacheKey("default", CALIBRATION), evidence.dumps())
    fresh = CachedModel(inner, store=store, semantic=config)  # reads the stored calibration
    calls = inner.calls
    for prompt in PARAPHRASES[1:]:
        await ask(fresh, prompt)
    assert fresh.stats().semantic.get("bound_served", 0) >= 2  # one in 20 is rechecked
    assert inner.calls < calls + len(PARAPHRASES) - 1


async def test_answers_that_disagree_keep_the_bound_closed() -> None:
    inner = Answers()
    cached = CachedModel(
        inner, semantic=SemanticConfig(vectorizer=EMBED.embed, embed_timeout=60, max_error=0.2)
    )
    await ask(cached, QUESTION)
    inner.answer = "It is 42."  # the live answers now differ from the cached one
    for prompt in PARAPHRASES:
        assert await ask(cached, prompt) == "It is 42."  # never the cached Canberra answer
    stats = cached.stats().semantic
    assert stats.get("bound_served", 0) == 0 and stats["bound_disagree"] >= 1


async def test_the_calibration_is_kept_in_redis(redis_url: str) -> None:
    namespace = f"bound-{uuid.uuid4().hex[:8]}"
    config = SemanticConfig(vectorizer=EMBED.embed, embed_timeout=60, max_error=0.5)
    cached = CachedModel(Answers(), store=redis_url, namespace=namespace, semantic=config)
    await ask(cached, QUESTION)
    await ask(cached, PARAPHRASES[0])
    raw = await cached.store.get(CacheKey(namespace, CALIBRATION))
    assert raw is not None and sum(Calibration.loads(raw).seen) >= 1
    await cached.close()


async def test_the_calibration_is_kept_in_a_file_store(tmp_path: Any) -> None:
    """The file store takes only digests as keys: the calibration's key is one."""
    config = SemanticConfig(vectorizer=EMBED.embed, embed_timeout=60, max_error=0.5)
    cached = CachedModel(Answers(), store=f"file://{tmp_path}", semantic=config)
    await ask(cached, QUESTION)
    await ask(cached, PARAPHRASES[0])
    raw = await cached.store.get(CacheKey("default", CALIBRATION))
    assert raw is not None and sum(Calibration.loads(raw).seen) >= 1
    assert cached.stats().errors == {}
    checked = run_cli("verify", store=f"file://{tmp_path}")
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_clear_forgets_what_the_process_learned() -> None:
    """The calibration is in the store under the namespace, so ``clear`` removes it there; the
    copy this process kept must go too, or the bound serves on evidence that is gone."""
    inner = Answers()
    store = MemoryStore()
    evidence = Calibration(seen=[100] * (len(EDGES) + 1))
    await store.set(CacheKey("default", CALIBRATION), evidence.dumps())
    config = SemanticConfig(vectorizer=EMBED.embed, embed_timeout=60, max_error=0.5)
    cached = CachedModel(inner, store=store, semantic=config)
    await ask(cached, QUESTION)
    await ask(cached, PARAPHRASES[0])  # reads the stored evidence (served, or one recheck)
    before = dict(cached.stats().semantic)
    assert before.get("bound_served", 0) + before.get("bound_explored", 0) == 1
    await cached.clear("default")
    assert await store.get(CacheKey("default", CALIBRATION)) is None
    await ask(cached, QUESTION)
    for prompt in PARAPHRASES[1:3]:  # two observations cover no bin at 0.5: explored
        await ask(cached, prompt)
    after = cached.stats().semantic
    assert after.get("bound_served", 0) == before.get("bound_served", 0)
    assert after["bound_explored"] == before.get("bound_explored", 0) + 2
