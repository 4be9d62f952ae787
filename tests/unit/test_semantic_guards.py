"""Each guard vetoes the answer-changing difference it is for, and lets paraphrases through."""

from __future__ import annotations

import pytest

from agentcache_semantic.guards import BUILTIN_GUARDS, check

ALL = list(BUILTIN_GUARDS.items())


@pytest.mark.parametrize(
    ("new", "cached", "reason"),
    [
        ("Book a flight from NYC to LA", "Book a flight from LA to NYC", "direction"),
        ("Convert 5 miles to km", "Convert 50 miles to km", "number"),
        ("Convert 5 miles to km", "Convert 5 km to miles", "direction_or_unit"),
        ("What is 20 USD in EUR?", "What is 20 EUR in USD?", "direction_or_unit"),
        ("Set an alarm for 3pm", "Set an alarm for 4pm", "number"),
        ("How do I enable logging in Django?", "How do I disable logging in Django?", "antonym"),
        ("Upgrade postgres to 16", "Downgrade postgres to 16", "antonym"),
        ("Is it safe to eat eggs raw?", "Is it not safe to eat eggs raw?", "negation"),
        ("A latte without sugar", "A latte with sugar", "negation"),
        ("What is the capital of Australia?", "What is the capital of Austria?", "entity"),
        ('Why does git say "detached HEAD"?', 'Why does git say "merge conflict"?', "quoted"),
        ("Summarize this article as JSON", "Summarize this article as YAML", "format"),
        ("Translate 'good morning' to French", "Translate 'good morning' to German", "format"),
        ("Quelle est la capitale de l'Australie ?", "What is the capital of Australia?", "language"),
    ],
)
def test_near_misses_are_vetoed(new: str, cached: str, reason: str) -> None:
    verdict = check(new, cached, ALL)
    assert verdict.vetoed_by is not None
    if reason == "direction_or_unit":
        assert verdict.vetoed_by in {"direction", "unit"}
    elif reason != "direction_or_unit":
        assert verdict.vetoed_by == reason


@pytest.mark.parametrize(
    ("new", "cached"),
    [
        ("What's Australia's capital city?", "What is the capital of Australia?"),
        ("Book a flight from NYC to LA please", "Could you book me a flight from NYC to LA?"),
        ("convert 5 miles into kilometers", "Convert 5 mi to km"),
        ("How can I turn on logging in Django?", "How do I enable logging in Django?"),
        ("Write a haiku about autumn leaves", "Compose a haiku about the leaves of autumn"),
    ],
)
def test_paraphrases_pass_and_record_the_guards(new: str, cached: str) -> None:
    verdict = check(new, cached, ALL)
    assert verdict.vetoed_by is None, verdict
    assert verdict.passed == tuple(BUILTIN_GUARDS)


def test_a_guard_that_raises_vetoes() -> None:
    def broken(new: str, cached: str) -> str | None:
        raise RuntimeError("bug")

    verdict = check("a", "a", [("numbers", BUILTIN_GUARDS["numbers"]), ("broken", broken)])
    assert verdict == type(verdict)("broken:guard_error", ("numbers",))
