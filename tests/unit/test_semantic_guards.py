"""Each guard vetoes the answer-changing difference it is for, and lets paraphrases through."""

from __future__ import annotations

import pytest
from agentcache_semantic.guards import BUILTIN_GUARDS, OPTIONAL_GUARDS, check

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
        (
            "Quelle est la capitale de l'Australie ?",
            "What is the capital of Australia?",
            "language",
        ),
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


@pytest.mark.parametrize(
    ("guard", "new", "cached", "reason"),
    [
        # numbers: "to N" is a target, "by N" a change; suffixes and number words normalized
        ("numbers", "Scale the app to 5 replicas", "Scale the app by 5 replicas", "number"),
        ("numbers", "Book a table at 21h", "Book a table at 20h", "number"),
        ("numbers", "A $200k loan at 5%", "A $200,000 loan at 5 percent", None),
        ("numbers", "Une table pour quatre", "Une table pour 4", None),
        ("numbers", "Answer in one word", "Answer with a single word", None),
        ("numbers", "What's new in Python 3.10?", "What's new in Python 3.1?", "number"),
        ("numbers", "Upgrade to 3.12.1", "Upgrade to 3.12.2", "number"),
        # units: the unit after the number is the one given, whatever the word order
        ("units", "How many km is 5 miles?", "Convert 5 miles to kilometers", None),
        ("units", "How many miles is 5 km?", "Convert 5 miles to kilometers", "direction"),
        ("units", "Speed in m/s of a car at 90 km/h", "Speed of a car at 90 km/h", "unit"),
        ("units", "Convert 5 nautical miles to km", "Convert 5 miles to km", "unit"),
        ("units", "The dose per day for adults", "The daily dose for adults", None),
        ("units", "When it's 09:00 in Oslo", "When it's 9am in Oslo", None),
        # quoted: a literal may lose its quotes, not change
        ("quoted", "Delete report.csv now", "Delete 'report.csv' now", None),
        ("quoted", "Delete 'notes.csv' now", "Delete 'report.csv' now", "quoted"),
        # negation: "-free" is "without"
        ("negation", "A sugar-free cake recipe", "A cake recipe without sugar", None),
        ("negation", "A sugar-free cake recipe", "A cake recipe with sugar", "negation"),
        # antonyms: only a contradiction vetoes, not a side word missing from one prompt
        ("antonyms", "When is the last bus?", "When is the next bus?", "antonym"),
        ("antonyms", "Pause my gym membership", "Resume my gym membership", "antonym"),
        ("antonyms", "Open port 80 for inbound traffic", "Allow traffic on port 80", None),
        ("antonyms", "A soup recipe that contains no meat", "A soup recipe without meat", None),
        # entities: abbreviations resolved, a capital that only starts a sentence is no name
        ("entities", "Tax rules in the United States", "Tax rules in the US", None),
        ("entities", "Purchase shares of Apple", "Buy shares of Apple", None),
        ("entities", "Which city is Canada's capital?", "What is the capital of Canada?", None),
        ("entities", "Tax rules in the UK", "Tax rules in the US", "entity"),
        # a dotted name is one name however it is written; an ending (plural, demonym) too
        ("entities", "Is Node.js single threaded?", "Why is Node.js single threaded?", None),
        ("entities", "Top universities in the U.S.A.", "Top universities in the US", None),
        (
            "entities",
            "Is reservation good for Indian society?",
            "Is reservation good for India?",
            None,
        ),
        (
            "entities",
            "Where do Pakistani students study?",
            "Where do students in Pakistan study?",
            None,
        ),
        (
            "entities",
            "Where do Pakistani students study?",
            "Where do Indian students study?",
            "entity",
        ),
        ("entities", "Hotels near Dell Stadium", "Hotels near Dellwood Stadium", "entity"),
        # roles: "from" and "to" (and a time "in" a place) point at the same words
        (
            "roles",
            "Copy the table from prod to dev",
            "Copy the table from dev to prod",
            "direction",
        ),
        (
            "roles",
            "What time is it in Rome when it's 9am in Oslo?",
            "Oslo 9am is what in Rome?",
            None,
        ),
        (
            "roles",
            "Time in Oslo when it's 9am in Rome",
            "Time in Rome when it's 9am in Oslo",
            "direction",
        ),
        ("roles", "Move files from the laptop to the server", "Move files laptop -> server", None),
        # kinds: two members of one closed class
        ("kinds", "Weather in Oslo today", "Will it rain in Oslo tomorrow?", "kind:day"),
        ("kinds", "What is 4 plus 9?", "What is 4 times 9?", "kind:operation"),
        ("kinds", "Next bus to the airport", "Next train to the airport", "kind:transport"),
        ("kinds", "Dose of aspirin for children", "Dose of aspirin for adults", "kind:people"),
        ("kinds", "Weather in Oslo tomorrow", "Will it rain in Oslo tomorrow?", None),
        ("kinds", "Weather in Lyon tomorrow?", "Weather in Lyon on Tuesday", "kind:date"),
        ("kinds", "Weather in Oslo on Friday", "Will it rain in Oslo on Friday?", None),
        # substitution: a near copy with a content word changed, added or dropped
        ("substitution", "List the moons of Mars", "List the moons of Jupiter", "substitution"),
        ("substitution", "Sort the users by age", "Sort the active users by age", "substitution"),
        (
            "substitution",
            "Rename the file in the repo",
            "Move the file in the repo",
            "substitution",
        ),
        ("substitution", "Purchase ten shares of Apple", "Buy 10 shares of Apple", None),
        ("substitution", "Remove the old logs", "Delete the old logs", None),
        (
            "substitution",
            "What's the quickest way to sort a list of dicts by one key in Python?",
            "How do I sort a list of dictionaries by a key in Python?",
            None,
        ),
    ],
)
def test_each_guard(guard: str, new: str, cached: str, reason: str | None) -> None:
    check_guard = BUILTIN_GUARDS[guard]
    assert check_guard(new, cached) == reason
    assert check_guard(cached, new) == reason  # every guard is symmetric


def test_wording_is_optional_and_strict() -> None:
    assert "wording" in OPTIONAL_GUARDS and "wording" not in BUILTIN_GUARDS
    wording = OPTIONAL_GUARDS["wording"]
    assert wording("Book a hotel in Oslo", "Book a hostel in Oslo") == "wording"
    assert wording("Please book a hotel in Oslo", "Book a hotel in Oslo") is None


@pytest.mark.parametrize(
    ("guard", "new", "cached", "reason"),
    [
        ("literals", "Format the date as DD/MM/YYYY.", "Format the date as YYYY-MM-DD.", "literal"),
        ("literals", "Run git push --force", "Run git push --force-with-lease", "literal"),
        ("literals", "Open config.yaml", "Open config.json", "literal"),
        (
            "roles",
            "Is the Pixel 8 cheaper than the iPhone 15?",
            "Is the iPhone 15 cheaper than the Pixel 8?",
            "direction",
        ),
        (
            "numbers",
            "Change the port from 8080 to 80.",
            "Change the port from 80 to 8080.",
            "direction",
        ),
        (
            "entities",
            "Which foods are high in vitamin C?",
            "Which foods are high in vitamin D?",
            "entity",
        ),
        (
            "units",
            "Convert 100 euros to US dollars.",
            "Convert 100 US dollars to euros.",
            "direction",
        ),
        (
            "substitution",
            "¿Cuál es la ciudad más grande de Perú?",
            "¿Cuál es la capital de Perú?",
            "substitution",
        ),
    ],
)
def test_technical_tokens_comparisons_letters_and_other_languages(
    guard: str, new: str, cached: str, reason: str
) -> None:
    assert BUILTIN_GUARDS[guard](new, cached) == reason
    assert BUILTIN_GUARDS[guard](cached, new) == reason


@pytest.mark.parametrize(
    ("new", "cached"),
    [
        (
            "Book a 30-year mortgage at 2:30am, e.g. online.",
            "At 2:30am, book a 30-year mortgage online.",
        ),
        ("Move $50 to Alice's account.", "Transfer $50 to Alice."),
        (
            "Does the iPhone 15 cost less than the Pixel 8?",
            "Is the iPhone 15 cheaper than the Pixel 8?",
        ),
        ("Which foods are rich in vitamin D?", "Which foods have a lot of vitamin D?"),
        ("Convert 100 US dollars to euros.", "How many euros is 100 US dollars?"),
        ("¿Cuál es la capital de Perú?", "¿Cuál es la capital de Perú, por favor?"),
    ],
)
def test_those_guards_let_equivalent_wording_through(new: str, cached: str) -> None:
    for name in ("literals", "roles", "numbers", "entities", "units"):
        assert BUILTIN_GUARDS[name](new, cached) is None, name
        assert BUILTIN_GUARDS[name](cached, new) is None, name


@pytest.mark.parametrize(
    ("guard", "new", "cached", "reason"),
    [
        (
            "question",
            "Why did Einstein win the Nobel prize?",
            "When did Einstein win the Nobel prize?",
            "question",
        ),
        (
            "question",
            "How long does the flight to Rome take?",
            "How much does the flight to Rome cost?",
            "question",
        ),
        ("units", "What percentage of 80 is 15?", "What is 15% of 80?", "direction"),
    ],
)
def test_asking_for_something_else(guard: str, new: str, cached: str, reason: str) -> None:
    assert BUILTIN_GUARDS[guard](new, cached) == reason
    assert BUILTIN_GUARDS[guard](cached, new) == reason


@pytest.mark.parametrize(
    ("new", "cached"),
    [
        ("How old is the Eiffel Tower?", "What is the age of the Eiffel Tower?"),
        ("When does the store open?", "What time does the store open?"),
        ("What's 15 percent of 80?", "What is 15% of 80?"),
    ],
)
def test_asking_for_the_same_thing_in_other_words(new: str, cached: str) -> None:
    for name in ("question", "units"):
        assert BUILTIN_GUARDS[name](new, cached) is None, name
        assert BUILTIN_GUARDS[name](cached, new) is None, name


@pytest.mark.parametrize(
    ("guard", "new", "cached", "reason"),
    [
        ("roles", "Recipe for 6 people needs 300 g. How much for 4 people?",
         "Recipe for 4 people needs 300 g. How much for 6 people?", "direction"),
        ("roles", "What time is 3 PM Pacific in Eastern time?",
         "What time is 3 PM Eastern in Pacific time?", "direction"),
        ("negation", "How many days of unpaid leave can I take?",
         "How many days of paid leave can I take?", "negation"),
        ("negation", "How do I stop nginx from redirecting HTTP to HTTPS?",
         "How do I redirect HTTP to HTTPS in nginx?", "negation"),
        ("numbers", "80 is what percent of 20?", "What percentage of 80 is 20?", "number"),
    ],
)  # fmt: skip
def test_swaps_prefix_negations_and_paired_number_roles(
    guard: str, new: str, cached: str, reason: str
) -> None:
    assert BUILTIN_GUARDS[guard](new, cached) == reason
    assert BUILTIN_GUARDS[guard](cached, new) == reason


@pytest.mark.parametrize(
    ("new", "cached"),
    [
        ("What day of the week was 4 July 1976?", "What day of the week was July 4, 1976?"),
        (
            "Find the area of a circle whose radius is 5 cm.",
            "What is the area of a circle with a radius of 5 cm?",
        ),
        ("How do I find files over 100MB?", "How do I find files larger than 100MB?"),
        (
            "Make nginx listen on 8080 instead of 80.",
            "Change the nginx listen port from 80 to 8080.",
        ),
        ("How many minutes should I boil an egg?", "How long should I boil an egg?"),
        ("Is this form unusual?", "Is this a common form?"),
    ],
)
def test_reorderings_and_rewordings_that_keep_the_question(new: str, cached: str) -> None:
    for name in ("roles", "negation", "numbers", "question"):
        assert BUILTIN_GUARDS[name](new, cached) is None, name
        assert BUILTIN_GUARDS[name](cached, new) is None, name
