"""Repeated identical calls replay in recorded order; streamed runs record and replay; a
re-record of the same answers differs only in recorded_at."""

from __future__ import annotations

import re

from tests.recording.conftest import WEATHER_TEST, Suite

pytest_plugins = ["pytester"]

TWICE = """
@pytest.mark.agentcache(repeat=REPEAT)
async def test_twice(agentcache, sequence):
    config = agentcache.run_config(model=sequence)
    first = await Runner.run(weather_agent(tools=[]), "Hi", run_config=config)
    second = await Runner.run(weather_agent(tools=[]), "Hi", run_config=config)
    print("ANSWERS", first.final_output, "/", second.final_output)
"""


def test_identical_calls_of_a_test_replay_in_recorded_order(suite: Suite) -> None:
    suite.tests(TWICE.replace("REPEAT", '"order"'))
    suite.run("-s").stdout.fnmatch_lines(["*ANSWERS answer 1 / answer 2*"])
    assert suite.calls() == 2 and len(suite.recordings()) == 2
    suite.run("-s", "--agentcache-mode=replay").stdout.fnmatch_lines(
        ["*ANSWERS answer 1 / answer 2*"]
    )
    assert suite.calls() == 0


def test_repeat_cache_answers_a_repeat_from_the_first_recording(suite: Suite) -> None:
    suite.tests(TWICE.replace("REPEAT", '"cache"'))
    suite.run("-s").stdout.fnmatch_lines(["*ANSWERS answer 1 / answer 1*"])
    assert suite.calls() == 1 and len(suite.recordings()) == 1


def test_a_streamed_run_records_then_replays_with_no_model_call(suite: Suite) -> None:
    suite.tests(
        """
async def test_streamed(agentcache, model):
    config = agentcache.run_config(model=model)
    result = Runner.run_streamed(weather_agent(), "Weather?", run_config=config)
    kinds = [event.type async for event in result.stream_events()]
    assert result.final_output == "Sunny, 69.8F in Paris"
    assert kinds.count("raw_response_event") > 10 and "run_item_stream_event" in kinds
"""
    )
    suite.run().assert_outcomes(passed=1)
    assert suite.calls() == 3
    suite.run("--agentcache-mode=replay").assert_outcomes(passed=1)
    assert suite.calls() == 0


def test_a_re_record_of_the_same_answers_differs_only_in_recorded_at(suite: Suite) -> None:
    suite.tests(WEATHER_TEST)
    suite.run().assert_outcomes(passed=1)
    first = suite.recordings()
    suite.run("--agentcache-mode=rewrite").assert_outcomes(passed=1)
    second = suite.recordings()
    assert suite.calls() == 6 and first.keys() == second.keys()

    def without_time(raw: bytes) -> bytes:
        return re.sub(rb'"recorded_at": "[^"]+"', b"", raw)

    for name in first:
        assert b'"recorded_at"' in first[name]
        assert without_time(first[name]) == without_time(second[name]), name
