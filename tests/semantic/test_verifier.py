"""The learned verifier through ``Runner.run``: it refuses near-misses the guards let through
and serves paraphrases a guard would have vetoed; its file and features stay in step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from agentcache_semantic import BUILTIN_GUARDS, SemanticConfig
from agentcache_semantic.verifier import FEATURES, Verifier, builtin, decide, features

from tests.semantic.test_semantic_runner import EchoModel, ask, cached_model


async def test_a_changed_sub_question_that_every_guard_passes_is_refused() -> None:
    """ "the former capital" asks for another answer; no guard sees it (cosine 0.87)."""
    for verifier, served in ((False, True), (True, False)):
        inner = EchoModel()
        cached = cached_model(inner, verifier=verifier)
        first = await ask(cached, "What is the capital of Australia?")
        answer = await ask(cached, "What was the former capital of Australia?")
        assert (answer == first) is served, f"verifier={verifier}"
    (refusal,) = [r for r in cached.stats().recent if r.get("vetoed")]
    assert refusal["guard"] == "verifier" and refusal["probability"] < builtin().cutoff


async def test_a_reworded_paraphrase_a_guard_vetoes_is_served_by_the_verifier() -> None:
    """ "great" for "good": the substitution guard vetoes it; the verifier weighs it."""
    for verifier, served in ((False, False), (True, True)):
        inner = EchoModel()
        cached = cached_model(inner, verifier=verifier, min_probability=0.8)
        first = await ask(cached, "What are some good books on economics for beginners?")
        answer = await ask(cached, "What are some great books on economics for beginners?")
        assert (answer == first) is served, f"verifier={verifier}"
        assert inner.calls == (1 if served else 2)


def test_hard_vetoes_still_refuse_outright() -> None:
    guards = list(BUILTIN_GUARDS.items())
    verdict = decide("Convert 5 miles to km", "Convert 50 miles to km", 0.99, guards, builtin())
    assert (verdict.refused_by, verdict.guard, verdict.probability) == ("number", "numbers", None)


def test_features_are_symmetric_and_match_the_shipped_weights() -> None:
    a, b = "How do I learn Python fast?", "What is the fastest way to learn Python?"
    assert features(a, b, 0.9) == features(b, a, 0.9)
    assert len(features(a, b, 0.9)) == len(FEATURES) == len(builtin().weights)
    assert set(builtin().hard_vetoes) <= set(BUILTIN_GUARDS)


def test_weights_trained_on_other_features_are_refused(tmp_path: Path) -> None:
    data = {"features": ["bias", "cosine"], "weights": [0, 1], "cutoff": 0.5, "hard_vetoes": []}
    path = tmp_path / "verifier.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="other features"):
        Verifier.from_file(path)


@pytest.mark.parametrize("bad", [0, 1.0, 1.5, "0.9", True])
def test_min_probability_is_checked(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="min_probability"):
        SemanticConfig(min_probability=bad)  # type: ignore[arg-type]


async def test_agentcache_semantic_explains_the_verifier_as_the_stage_decides() -> None:
    from agentcache_semantic.explain import explain_match

    from tests.semantic.test_semantic_runner import EMBED

    new, cached = "What was the former capital of Australia?", "What is the capital of Australia?"
    report = await explain_match(new, cached, SemanticConfig(vectorizer=EMBED.embed))
    assert not report.hits and report.decision.refused_by == "verifier"
    assert "verifier       probability" in str(report) and "below the cutoff" in str(report)
    old = await explain_match(new, cached, SemanticConfig(vectorizer=EMBED.embed, verifier=False))
    assert old.hits
