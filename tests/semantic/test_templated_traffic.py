"""Templated traffic: the same question about another day or another place.

Agents see many prompts built from one template ("What's the weather in {city} {day}?"). A
rewording of the template with another day or city is close in the embedding and to the
verifier, but its answer is another one. Found by the soak run (``scripts/soak.py``): about
one semantic hit in four on such traffic was wrong before these vetoes."""

from __future__ import annotations

import numpy as np
import pytest
from agentcache_semantic.index import normalize
from agentcache_semantic.verifier import builtin

from tests.semantic.test_semantic_runner import EMBED, EchoModel, ask, cached_model

PAIRS = [
    # another day, named the other way: "tomorrow" is not "on Tuesday"
    ("How is the weather in Lyon tomorrow?", "Can you check the weather in Lyon on Tuesday?"),
    ("How is the weather in Cairo on Friday?", "What will the weather be like in Cairo today?"),
    # another place: each prompt names a city the other does not
    (
        "What will the weather be like in Shanghai tomorrow?",
        "What's the weather in Beijing tomorrow?",
    ),
    ("What will the weather be like in Auckland today?", "What's the weather in Wellington today?"),
]


@pytest.mark.parametrize(("new", "cached"), PAIRS)
async def test_another_day_or_place_is_not_served(new: str, cached: str) -> None:
    a, b = normalize(await EMBED.embed(new)), normalize(await EMBED.embed(cached))
    similarity = float(np.dot(a, b))
    # the case being tested: close enough that only a veto stands between them and a hit
    assert similarity >= 0.75 and builtin().probability(new, cached, similarity) >= 0.9
    inner = EchoModel()
    model = cached_model(inner, threshold=0.75)
    await ask(model, cached)
    assert await ask(model, new) == f"answer to: {new}" and inner.calls == 2
    vetoes = model.stats().semantic
    assert set(vetoes) <= {"vetoed:kind:date", "vetoed:entity"} and vetoes, vetoes


async def test_the_same_day_and_place_reworded_is_served() -> None:
    inner = EchoModel()
    model = cached_model(inner)
    await ask(model, "What's the weather in Lyon on Tuesday?")
    answer = await ask(model, "How is the weather in Lyon on Tuesday?")
    assert answer == "answer to: What's the weather in Lyon on Tuesday?" and inner.calls == 1
