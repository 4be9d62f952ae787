"""A small test suite, written into a pytester directory, that uses the ``agentcache`` fixture.

Its models log every call that reaches them to ``model_calls.log``, across runs, processes and
xdist workers, so a test can say how many calls a run of the suite made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentcache import get_plugins

ROOT = Path(__file__).parents[2]

# pytester's in-process runs restore sys.modules after each run, and the recording plugin loads
# the installed agentcache plugins: import them once here, so no C extension is imported twice.
get_plugins()

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

CONFTEST = """
import os
import sys
from pathlib import Path

sys.path.insert(0, {root!r})

import pytest
from agents import set_tracing_disabled
from agents.items import ModelResponse
from agents.testing import assistant_message
from agents.usage import Usage

from tests.support import TurnModel

set_tracing_disabled(True)
LOG = Path(__file__).parent / "model_calls.log"


def logged(name):
    with LOG.open("a") as f:
        f.write(name + "\\n")


class CountingModel(TurnModel):
    \"\"\"The project's scripted weather model; each call that reaches it is logged.\"\"\"

    async def _answer(self, *args, **kwargs):
        logged("weather")
        return await super()._answer(*args, **kwargs)


class SequenceModel(TurnModel):
    \"\"\"Answers "answer 1", "answer 2", ...: a live model that never says the same twice
    (or what ANSWER says, to stand in for a model whose answer changed).\"\"\"

    def __init__(self):
        super().__init__(random_ids=False)
        self.n = 0

    async def _answer(self, *args, **kwargs):
        logged("sequence")
        self.n += 1
        text = os.environ.get("ANSWER") or f"answer {{self.n}}"
        output = [assistant_message(text, item_id=f"msg_{{self.n}}")]
        return ModelResponse(output=output, usage=Usage(), response_id=f"resp_{{self.n}}")


@pytest.fixture
def model():
    return CountingModel(random_ids=False)


@pytest.fixture
def sequence():
    return SequenceModel()
"""


class Suite:
    """The inner suite: write test files, run pytest on them, count model calls, read files."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path = pytester.path
        pytester.makeini(INI)
        pytester.makeconftest(CONFTEST.format(root=str(ROOT)))

    def tests(self, source: str, name: str = "test_agent") -> None:
        header = "import pytest\nfrom agents import ModelSettings, Runner\n"
        header += "from tests.support import weather_agent\n\n"
        self.pytester.makepyfile(**{name: header + source})

    def run(self, *args: str, subprocess: bool = False, **kw: Any) -> pytest.RunResult:
        if subprocess:
            return self.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, **kw)
        return self.pytester.runpytest("-p", "no:cacheprovider", *args, **kw)

    def calls(self) -> int:
        """Model calls logged since the last look."""
        log = self.path / "model_calls.log"
        if not log.exists():
            return 0
        n = len(log.read_text().splitlines())
        log.unlink()
        return n

    def recordings(self) -> dict[str, bytes]:
        root = self.path / ".agentcache"
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.glob("*/*.json")}


@pytest.fixture
def suite(pytester: pytest.Pytester) -> Suite:
    return Suite(pytester)


WEATHER_TEST = """
async def test_weather(agentcache, model):
    config = agentcache.run_config(model=model)
    result = await Runner.run(weather_agent(), "Weather in Paris?", run_config=config)
    assert result.final_output == "Sunny, 69.8F in Paris"
"""
