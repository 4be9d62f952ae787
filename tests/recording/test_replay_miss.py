"""A replay miss fails the test with RecordingMissing, saying what differs from the recording."""

from __future__ import annotations

import pytest

from agentcache.pytest_plugin import RecordingMissing
from tests.recording.conftest import Suite

pytest_plugins = ["pytester"]

TESTS = """
import os

from agentcache.pytest_plugin import RecordingMissing

TEMPERATURE = float(os.environ.get("TEMPERATURE", "0.2"))


async def test_weather(agentcache, model):
    agent = weather_agent(model_settings=ModelSettings(temperature=TEMPERATURE))
    config = agentcache.run_config(model=model)
    if agentcache.mode == "replay":
        with pytest.raises(RecordingMissing) as caught:  # out of Runner.run, as itself
            await Runner.run(agent, "Weather in Paris?", run_config=config)
        assert type(caught.value) is RecordingMissing
        raise caught.value
    await Runner.run(agent, "Weather in Paris?", run_config=config)


async def test_streamed(agentcache, model):
    agent = weather_agent(model_settings=ModelSettings(temperature=TEMPERATURE))
    result = Runner.run_streamed(agent, "Weather?", run_config=agentcache.run_config(model=model))
    async for _ in result.stream_events():
        pass
"""


def test_a_miss_names_the_test_the_call_and_what_differs(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.tests(TESTS)
    suite.run().assert_outcomes(passed=2)
    monkeypatch.setenv("TEMPERATURE", "0.9")
    result = suite.run("--agentcache-mode=replay")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "RecordingMissing: no recording answers this model call, and replay mode never*",
            "  test: test_agent.py::test_weather",
            '  call: model conftest.CountingModel; last input item {"content":"Weather in Paris?"*',
            "  nearest recording: .agentcache/test_agent.py-test_weather-*.json, 1 key part(s)*",
            "    settings.temperature: 0.2 != 0.9",
            "  record it with --agentcache-mode=once*",
            "  at *test_agent.py:18",  # the raise: the test's own last line on the way
        ]
    )
    result.stdout.fnmatch_lines(
        ["  test: test_agent.py::test_streamed", "  call: model *, streamed; last input*"]
    )
    assert "Connection" not in result.stdout.str() and "OSError" not in result.stdout.str()
    assert suite.calls() == 6  # the recording run only


def test_a_test_without_recordings_says_so(suite: Suite) -> None:
    suite.tests(
        """
async def test_new(agentcache, model):
    await Runner.run(weather_agent(), "Weather?", run_config=agentcache.run_config(model=model))
"""
    )
    result = suite.run("--agentcache-mode=replay")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["  this test has no recordings (in .agentcache/test_agent.py-*)"])


def test_a_bypassed_call_cannot_be_replayed(suite: Suite) -> None:
    suite.tests(
        """
async def test_server_state(agentcache, model):
    config = agentcache.run_config(model=model)
    agent = weather_agent()
    await Runner.run(agent, "Weather?", run_config=config, previous_response_id="resp_0_x")
"""
    )
    result = suite.run("--agentcache-mode=replay")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["  it bypasses the cache (previous_response_id): not replayable"])
    assert suite.calls() == 0


def test_the_exception_is_a_test_failure_not_a_network_error() -> None:
    assert issubclass(RecordingMissing, Exception)
    assert not issubclass(RecordingMissing, (OSError, ConnectionError, TimeoutError))
