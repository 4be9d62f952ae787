"""Key-shaped strings in what is recorded: a warning, redaction, and under strict no file."""

from __future__ import annotations

import pytest

from tests.recording.conftest import Suite

pytest_plugins = ["pytester"]

KEY = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
TESTS = """
async def test_leaky(agentcache, sequence):
    REDACT
    config = agentcache.run_config(model=sequence)
    result = await Runner.run(weather_agent(tools=[]), "What is my key?", run_config=config)
    print("ANSWERED", result.final_output)
"""


@pytest.fixture
def leaky(suite: Suite, monkeypatch: pytest.MonkeyPatch) -> Suite:
    monkeypatch.setenv("ANSWER", f"Your key is {KEY}.")
    return suite


def test_a_key_in_an_answer_is_a_warning_that_does_not_repeat_it(leaky: Suite) -> None:
    leaky.tests(TESTS.replace("REDACT", "pass"))
    result = leaky.run()
    result.assert_outcomes(passed=1, warnings=1)
    out = result.stdout.str()
    assert (
        "RecordingSecretWarning: test_agent.py::test_leaky: the recording holds"
        " output[0].content[0].text: API key (sk-A1...)"
    ) in out
    assert "1 key-shaped secret(s) in recordings: see the warnings" in out
    assert KEY not in out
    (recording,) = leaky.recordings().values()
    assert KEY.encode() in recording  # written: a warning is not a refusal


def test_redact_rewrites_what_is_recorded(leaky: Suite) -> None:
    redact = "agentcache.redact(lambda text: re.sub(r'sk-\\w+', '<key>', text))"
    leaky.tests("import re\n" + TESTS.replace("REDACT", redact))
    result = leaky.run("-s")
    result.assert_outcomes(passed=1, warnings=0)
    result.stdout.fnmatch_lines([f"*ANSWERED Your key is {KEY}.*"])  # the live answer is intact
    (recording,) = leaky.recordings().values()
    assert KEY.encode() not in recording and b"Your key is <key>." in recording
    result = leaky.run("-s", "--agentcache-mode=replay")
    result.stdout.fnmatch_lines(["*ANSWERED Your key is <key>.*"])  # what was recorded


def test_strict_fails_the_test_and_writes_nothing(leaky: Suite) -> None:
    leaky.tests(TESTS.replace("REDACT", "pass"))
    result = leaky.run("--agentcache-strict")
    result.assert_outcomes(failed=1)
    message = "SecretInRecording: test_agent.py::test_leaky: not recorded, it holds output[0]"
    assert message in result.stdout.str()
    assert leaky.recordings() == {}


def test_bearer_tokens_and_aws_key_ids_are_found_in_requests_too(suite: Suite) -> None:
    suite.tests(
        """
async def test_prompt(agentcache, sequence):
    prompt = "Call it with Bearer abcdefghijklmnopqrstuvwxyz012345 and AKIAABCDEFGHIJKLMNOP"
    config = agentcache.run_config(model=sequence)
    await Runner.run(weather_agent(tools=[]), prompt, run_config=config)
"""
    )
    result = suite.run()
    result.assert_outcomes(passed=1, warnings=1)
    assert (
        "request.input[0].content: bearer token (Bearer ab...);"
        " request.input[0].content: AWS access key id (AKIAAB...)"
    ) in result.stdout.str()
