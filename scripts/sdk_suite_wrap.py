"""Pytest plugin for ``scripts/sdk_suite.py``: wrap every model the Agents SDK's Runner resolves.

Loaded into the SDK's own test suite with ``-p sdk_suite_wrap`` (``scripts/`` on PYTHONPATH).
``SDK_SUITE_MODE`` selects what happens to each model the Runner resolves for a turn:

* ``baseline``: nothing (agentcache is not even imported); the plugin only records outcomes;
* ``write-through``: wrapped in a ``CachedModel`` whose every call runs under
  ``agentcache.refresh()``: the whole chain runs and the answer is stored, never read back;
* ``cached``: wrapped in a plain ``CachedModel``; a test that repeats an input may get a hit.

The Runner resolves the model in ``agents.run_internal.turn_preparation.get_model``, and other
modules import that function by name, so every module attribute under ``agents.`` that *is* the
function is replaced by a wrapper (again before each test, for modules imported later). Within a
test each inner model gets one ``CachedModel``, and all of them share one fresh in-memory store.

``SDK_SUITE_REPORT`` names a JSON file: per test nodeid the outcome (passed, failed, skipped,
xfailed, xpassed, error), the first line of the failure, the seconds it took and how many calls
were answered from the cache; and how many models were wrapped in all.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest
from agents import Agent, Model, RunConfig
from agents.run_internal import turn_preparation

MODE = os.environ.get("SDK_SUITE_MODE", "baseline")
if MODE not in ("baseline", "write-through", "cached"):
    raise RuntimeError(f"SDK_SUITE_MODE must be baseline, write-through or cached, got {MODE!r}")
# user_properties keys: they travel with the reports from xdist workers
WRAPPED, HITS = "sdk_suite_wrapped", "sdk_suite_hits"


class _Wrapping:
    """One test's wrappers: one per inner model (kept alive, so ids stay unique), and one store
    and one stats object they all share."""

    def __init__(self) -> None:
        self.models: dict[int, tuple[Model, Model]] = {}
        self.store: Any = None
        self.stats: Any = None

    def hits(self) -> int:
        return int(self.stats.snapshot().hits) if self.stats else 0

    def wrap(self, model: Model) -> Model:
        import agentcache  # only in the wrapped modes: the baseline must not depend on it

        if not isinstance(model, Model) or isinstance(model, agentcache.CachedModel):
            return model
        pair = self.models.get(id(model))
        if pair is None:
            self.store = self.store or agentcache.MemoryStore()
            self.stats = self.stats or agentcache.Stats()
            cls = WriteThroughModel if MODE == "write-through" else agentcache.CachedModel
            pair = self.models[id(model)] = (model, cls(model, store=self.store, stats=self.stats))
        return pair[1]


_state = _Wrapping()
_original = turn_preparation.get_model


def _get_model(agent: Agent[Any], run_config: RunConfig) -> Model:
    return _state.wrap(_original(agent, run_config))


def _patch_modules() -> int:
    """Point every ``agents.*`` module attribute that is the original function at ours."""
    patched = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "agents" or name.startswith("agents.")):
            continue
        for attr, value in list(vars(module).items()):
            if value is _original:
                setattr(module, attr, _get_model)
                patched += 1
    return patched


if MODE != "baseline":
    import agents.run  # noqa: F401 - the Runner's modules, so they are patched now

    import agentcache

    class WriteThroughModel(agentcache.CachedModel):
        """Never answers from the cache, always stores. ``CachedModel`` reads the controls when
        the call is made (``stream_response`` before the first event is pulled), so the
        ``with`` block only needs to span the call itself."""

        async def get_response(self, *args: Any, **kwargs: Any) -> Any:
            with agentcache.refresh():
                return await super().get_response(*args, **kwargs)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            with agentcache.refresh():
                return super().stream_response(*args, **kwargs)

    if _patch_modules() == 0:
        raise RuntimeError("sdk_suite_wrap: no agents module holds get_model; the SDK changed")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _state
    _state = _Wrapping()
    if MODE != "baseline":
        _patch_modules()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    if call.when == "teardown":
        item.user_properties += [(WRAPPED, len(_state.models)), (HITS, _state.hits())]
    yield


class _Recorder:
    """Collects one outcome per test, on the process that sees every report (not xdist workers).

    The first outcome other than ``passed`` (setup, call or teardown) is the test's outcome.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.tests: dict[str, dict[str, Any]] = {}
        self.wrapped_models = 0
        self.wrapped_tests = 0

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.tests[f"collect::{report.nodeid}"] = {
                "outcome": "error",
                "message": _first_line(report),
            }

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = self.tests.setdefault(
            report.nodeid, {"outcome": "passed", "message": "", "seconds": 0.0}
        )
        entry["seconds"] += report.duration
        outcome = _outcome(report)
        if outcome != "passed" and entry["outcome"] == "passed":
            entry["outcome"] = outcome
            entry["message"] = _first_line(report) if report.failed else ""
        if report.when == "teardown":
            properties: dict[str, Any] = dict(report.user_properties)
            self.wrapped_models += properties.get(WRAPPED, 0)
            self.wrapped_tests += bool(properties.get(WRAPPED))
            entry["wrapped"] = properties.get(WRAPPED, 0)
            entry["hits"] = properties.get(HITS, 0)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        data = {
            "mode": MODE,
            "exitstatus": int(exitstatus),
            "wrapped_models": self.wrapped_models,
            "wrapped_tests": self.wrapped_tests,
            "tests": self.tests,
        }
        with open(self.path, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)


def _outcome(report: pytest.TestReport) -> str:
    xfail = hasattr(report, "wasxfail")
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "xfailed" if xfail else "skipped"
    return "xpassed" if xfail else "passed"


def _first_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or str(report.longrepr)
    return (text.strip().splitlines() or [""])[0][:300]


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get("SDK_SUITE_REPORT")
    if path and not hasattr(config, "workerinput"):  # xdist workers send their reports here
        config.pluginmanager.register(_Recorder(path), "sdk_suite_recorder")
