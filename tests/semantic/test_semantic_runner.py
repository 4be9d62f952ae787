"""The semantic layer through ``Runner.run`` with the real local MiniLM model."""

from __future__ import annotations

from typing import Any

from agentcache_semantic import LocalModel, SemanticConfig
from agents import Agent, RunConfig, Runner
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.testing import assistant_message
from agents.usage import Usage

from agentcache import CachedModel
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
    assert cached.stats().semantic == {"shadow_disagree": 1}  # the echo answers differ
