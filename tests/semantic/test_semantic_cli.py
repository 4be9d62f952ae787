"""``agentcache semantic NEW CACHED``: the similarity and every guard's verdict."""

from __future__ import annotations

import pytest
from agentcache_semantic import SemanticConfig
from agentcache_semantic.explain import explain_match

from agentcache.cli import main
from agentcache.plugins import Plugins
from tests.semantic.test_semantic_runner import GitGuards


def test_a_paraphrase_would_hit(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["semantic", "What's the capital city of Australia?", "What is the capital of Australia?"]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.rstrip().endswith("verdict: HIT")
    assert "substitution   pass" in out


def test_a_near_miss_shows_every_guard_and_the_vetoes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["semantic", "Book a flight from LA to NYC", "Book a flight from NYC to LA"])
    out = capsys.readouterr().out
    assert code == 1 and "VETO direction" in out and "numbers        pass" in out
    assert out.rstrip().endswith("verdict: no hit")


def test_a_threshold_above_the_similarity_is_no_hit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["semantic", "How do I boil an egg?", "tell me a joke", "--threshold", "0.95"]) == 1
    assert "BELOW the threshold 0.95" in capsys.readouterr().out
    assert main(["semantic", "a", "b", "--threshold", "7"]) == 2
    assert "threshold" in capsys.readouterr().err


async def test_plugin_guards_are_explained_too() -> None:
    plugins = Plugins(load_entry_points=False)
    plugins.register(GitGuards())
    report = await explain_match(
        "How do I copy the repository?", "How do I clone the repository?", SemanticConfig(), plugins
    )
    assert dict(report.verdicts)["git_verb"] == "git_verb" and not report.hits


@pytest.mark.parametrize("says", [True, False])
async def test_a_judge_decides_the_match_it_is_asked_about(says: bool) -> None:
    """The verifier alone refuses "the former capital"; a judge over the whole band decides."""
    new, cached = "What was the former capital of Australia?", "What is the capital of Australia?"
    asked: list[tuple[str, str]] = []

    async def judge(a: str, b: str) -> bool:
        asked.append((a, b))
        return says

    alone = await explain_match(new, cached, SemanticConfig())
    assert not alone.hits and alone.decision.refused_by == "verifier"
    config = SemanticConfig(judge=judge, judge_band=(0.0, 1.0))
    report = await explain_match(new, cached, config)
    assert asked == [(new, cached)] and report.hits is says
    assert f"judge          {'yes' if says else 'no'}" in str(report)
