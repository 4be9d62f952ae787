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
