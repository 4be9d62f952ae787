"""Under pytest-xdist: workers record side by side, and the unused-recordings report merges
what every worker read."""

from __future__ import annotations

import json

from agentcache.entry import decode
from tests.recording.conftest import Suite

pytest_plugins = ["pytester"]

TESTS = """
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Pune", "Bern", "Doha"]
SKIP_LAST = False


@pytest.mark.parametrize("city", CITIES)
async def test_city(agentcache, model, city):
    if SKIP_LAST and city == CITIES[-1]:
        return
    config = agentcache.run_config(model=model)
    result = await Runner.run(weather_agent(), f"Weather in {city}?", run_config=config)
    assert result.final_output == "Sunny, 69.8F in Paris"
"""


def test_two_workers_record_and_replay_without_corruption(suite: Suite) -> None:
    suite.tests(TESTS)
    result = suite.run("-n", "2", subprocess=True)
    result.assert_outcomes(passed=8)
    assert suite.calls() == 24
    recordings = suite.recordings()
    assert len(recordings) == 24 and len({name.split("/")[0] for name in recordings}) == 8
    for name, raw in recordings.items():
        doc = json.loads(raw)
        entry = decode(json.dumps(doc["value"]).encode())
        assert name.endswith(f"/{entry.digest}.json") and entry.request and entry.meta
    result.stdout.fnmatch_lines(["*mode once, 8 test(s)*24 recorded, 24 reached a model*"])

    suite.tests(TESTS.replace("SKIP_LAST = False", "SKIP_LAST = True"))
    result = suite.run(
        "-n", "2", "--agentcache-mode=replay", "--agentcache-strict", subprocess=True
    )
    result.assert_outcomes(passed=8)
    assert suite.calls() == 0
    # what each worker read is merged: only the test that read nothing left recordings unused
    result.stdout.fnmatch_lines(
        ["*mode replay, 8 test(s)*21 call(s) replayed, 0 recorded*", "3 recording(s) no test read:"]
    )
    assert result.stdout.str().count("test_city[Doha] passed without reading it") == 3
    assert result.ret == 1
