"""Replay mode reports the recordings no test read; --agentcache-strict fails on them."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.recording.conftest import WEATHER_TEST, Suite

pytest_plugins = ["pytester"]

TWO_CALLS = """
async def test_two(agentcache, sequence):
    config = agentcache.run_config(model=sequence)
    await Runner.run(weather_agent(tools=[]), "Hi", run_config=config)
    if not SHORTER:
        await Runner.run(weather_agent(tools=[]), "Bye", run_config=config)
"""


def test_a_recording_its_test_no_longer_reads_is_reported(suite: Suite) -> None:
    suite.tests("SHORTER = False\n" + TWO_CALLS)
    suite.run().assert_outcomes(passed=1)
    suite.tests("SHORTER = True\n" + TWO_CALLS)
    result = suite.run("--agentcache-mode=replay")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "1 recording(s) no test read:",
            "  test_agent.py-test_two-*/*.json: test_agent.py::test_two passed without reading it",
            "unused recordings would fail the session under --agentcache-strict: delete them*",
        ]
    )
    assert result.ret == 0
    strict = suite.run("--agentcache-mode=replay", "--agentcache-strict")
    strict.assert_outcomes(passed=1)
    strict.stdout.fnmatch_lines(["unused recordings fail the session --agentcache-strict: *"])
    assert strict.ret == 1


def test_recordings_of_removed_tests_are_reported_and_deselected_ones_are_not(
    suite: Suite,
) -> None:
    suite.tests(WEATHER_TEST + WEATHER_TEST.replace("test_weather", "test_weather_2"))
    suite.tests(WEATHER_TEST, name="test_other")
    suite.run().assert_outcomes(passed=3)
    suite.tests(WEATHER_TEST)  # test_weather_2 removed
    result = suite.run("--agentcache-mode=replay", "-k", "not test_other")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["3 recording(s) no test read:"])
    assert result.stdout.str().count("test_agent.py::test_weather_2 is gone") == 3
    assert "test_other.py" not in result.stdout.str().split("no test read:")[1]

    (suite.path / "test_other.py").unlink()
    result = suite.run("--agentcache-mode=replay")
    assert result.stdout.str().count("the file of test_other.py::test_weather is gone") == 3


def test_a_clean_replay_reports_nothing_unused(suite: Suite) -> None:
    suite.tests(WEATHER_TEST)
    suite.run().assert_outcomes(passed=1)
    result = suite.run("--agentcache-mode=replay", "--agentcache-strict")
    assert result.ret == 0 and "no test read" not in result.stdout.str()


def test_what_a_session_records_is_not_reported_unused(suite: Suite) -> None:
    suite.tests(
        """
@pytest.mark.agentcache(mode="once")
async def test_always_records(agentcache, model):
    await Runner.run(weather_agent(), "Weather?", run_config=agentcache.run_config(model=model))
"""
    )
    result = suite.run("--agentcache-mode=replay", "--agentcache-strict")
    assert result.ret == 0 and suite.calls() == 3
    assert "no test read" not in result.stdout.str()


def test_prune_removes_what_the_last_replay_session_did_not_read(suite: Suite) -> None:
    suite.tests("SHORTER = False\n" + TWO_CALLS)
    suite.run().assert_outcomes(passed=1)
    directory = suite.path / ".agentcache"
    cli = [sys.executable, "-m", "agentcache.cli", "--store", f"file://{directory}"]
    before = subprocess.run([*cli, "prune", "--yes"], capture_output=True, text=True)
    assert before.returncode == 1 and "run pytest --agentcache-mode=replay" in before.stderr

    suite.tests("SHORTER = True\n" + TWO_CALLS)
    suite.run("--agentcache-mode=replay").assert_outcomes(passed=1)
    assert len(suite.recordings()) == 2
    no_tty = subprocess.DEVNULL
    refused = subprocess.run([*cli, "prune"], capture_output=True, text=True, stdin=no_tty)
    assert refused.returncode == 2 and len(suite.recordings()) == 2  # asks unless --yes
    pruned = subprocess.run([*cli, "--json", "prune", "--yes"], capture_output=True, text=True)
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["removed"] == 1
    assert len(suite.recordings()) == 1
    strict = suite.run("--agentcache-mode=replay", "--agentcache-strict")
    strict.assert_outcomes(passed=1)
    assert strict.ret == 0  # nothing unused is left
