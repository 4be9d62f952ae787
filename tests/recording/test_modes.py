"""The four modes, the option, the environment variable and the marker."""

from __future__ import annotations

import pytest

from tests.recording.conftest import WEATHER_TEST, Suite

pytest_plugins = ["pytester"]


def test_once_records_what_is_missing_then_replays(suite: Suite) -> None:
    suite.tests(WEATHER_TEST)
    suite.run().assert_outcomes(passed=1)
    assert suite.calls() == 3  # get_weather, convert_temperature, the answer
    first = suite.recordings()
    assert len(first) == 3 and all(name.startswith("test_agent.py-test_weather-") for name in first)

    result = suite.run()
    result.assert_outcomes(passed=1)
    assert suite.calls() == 0
    assert suite.recordings() == first
    result.stdout.fnmatch_lines(
        ["*mode once, 1 test(s)*3 call(s) replayed, 0 recorded, 0 reached*"]
    )


def test_replay_never_calls_a_model(suite: Suite) -> None:
    suite.tests(WEATHER_TEST)
    suite.run("--agentcache-mode=replay").assert_outcomes(failed=1)
    assert suite.calls() == 0 and suite.recordings() == {}

    suite.run("--agentcache-mode=once").assert_outcomes(passed=1)
    suite.calls()
    suite.run("--agentcache-mode=replay").assert_outcomes(passed=1)
    assert suite.calls() == 0


def test_rewrite_replaces_the_tests_recordings(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.tests(
        """
async def test_ask(agentcache, sequence):
    config = agentcache.run_config(model=sequence)
    result = await Runner.run(weather_agent(tools=[]), "Hi", run_config=config)
    print("ANSWERED", result.final_output)
"""
    )
    monkeypatch.setenv("ANSWER", "the old answer")
    suite.run().assert_outcomes(passed=1)
    ((old_name, old),) = suite.recordings().items()
    assert b"the old answer" in old

    monkeypatch.setenv("ANSWER", "the new answer")
    suite.run("-s").stdout.fnmatch_lines(["*ANSWERED the old answer*"])  # once: replayed
    result = suite.run("-s", "--agentcache-mode=rewrite")
    result.stdout.fnmatch_lines(["*ANSWERED the new answer*"])
    ((new_name, new),) = suite.recordings().items()  # replaced, not appended
    assert new_name == old_name and b"the new answer" in new and b"the old answer" not in new

    # a request the test no longer makes leaves no recording behind
    suite.tests(
        """
async def test_ask(agentcache, sequence):
    config = agentcache.run_config(model=sequence)
    await Runner.run(weather_agent(tools=[]), "Hello", run_config=config)
"""
    )
    suite.run("--agentcache-mode=rewrite").assert_outcomes(passed=1)
    ((newer_name, _),) = suite.recordings().items()
    assert newer_name != old_name


def test_off_is_no_cache_at_all(suite: Suite) -> None:
    suite.tests(WEATHER_TEST)
    for _ in range(2):
        suite.run("--agentcache-mode=off").assert_outcomes(passed=1)
    assert suite.calls() == 6 and suite.recordings() == {}


def test_the_environment_sets_the_mode_and_the_option_wins(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.tests(WEATHER_TEST)
    monkeypatch.setenv("AGENTCACHE_MODE", "replay")
    suite.run().assert_outcomes(failed=1)
    suite.run("--agentcache-mode=once").assert_outcomes(passed=1)
    assert suite.calls() == 3
    monkeypatch.setenv("AGENTCACHE_MODE", "sometimes")
    suite.run().stderr.fnmatch_lines(
        ["*AGENTCACHE_MODE must be one of replay, once, rewrite, off*"]
    )


def test_the_marker_sets_mode_and_namespace_per_test(suite: Suite) -> None:
    suite.tests(
        """
@pytest.mark.agentcache(mode="off")
async def test_live(agentcache, model):
    assert agentcache.mode == "off"
    await Runner.run(weather_agent(), "Weather?", run_config=agentcache.run_config(model=model))


@pytest.mark.agentcache(namespace="weather")
async def test_shared_1(agentcache, model):
    await Runner.run(weather_agent(), "Weather?", run_config=agentcache.run_config(model=model))


@pytest.mark.agentcache(namespace="weather", mode="replay")
async def test_shared_2(agentcache, model):
    await Runner.run(weather_agent(), "Weather?", run_config=agentcache.run_config(model=model))


@pytest.mark.agentcache(mode="sometimes")
def test_bad_marker(agentcache):
    pass
"""
    )
    result = suite.run()
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*mode must be one of replay, once, rewrite, off*"])
    assert suite.calls() == 6  # test_live and test_shared_1; test_shared_2 replayed theirs
    assert {name.split("/")[0] for name in suite.recordings()} == {"weather"}


def test_clear_removes_every_recording_first(suite: Suite) -> None:
    suite.tests(WEATHER_TEST)
    suite.run().assert_outcomes(passed=1)
    (suite.path / ".agentcache" / "notes.txt").write_text("kept")
    result = suite.run("--agentcache-clear")
    result.stdout.fnmatch_lines(["agentcache: removed 3 recording(s) from *"])
    assert suite.calls() == 6  # recorded again
    assert len(suite.recordings()) == 3 and (suite.path / ".agentcache" / "notes.txt").exists()


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    from agentcache import pytest_plugin

    assert pytestconfig.pluginmanager.get_plugin("agentcache") is pytest_plugin


def test_run_config_wraps_what_the_provider_hands_out(suite: Suite) -> None:
    suite.tests(
        """
from agents import ModelProvider

from conftest import CountingModel


class Provider(ModelProvider):
    def get_model(self, model_name):
        return CountingModel(random_ids=False)


@pytest.mark.parametrize("name", [None, "by-name"])
async def test_provider(agentcache, name):
    config = agentcache.run_config(model=name, model_provider=Provider())
    result = await Runner.run(weather_agent(), "Weather?", run_config=config)
    assert result.final_output == "Sunny, 69.8F in Paris"
"""
    )
    suite.run().assert_outcomes(passed=2)
    assert suite.calls() == 6
    suite.run("--agentcache-mode=replay").assert_outcomes(passed=2)
    assert suite.calls() == 0
