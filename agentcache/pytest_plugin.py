"""pytest plugin: record a test's model calls once, replay them in every later run.

The habits of vcrpy and pytest-recording, at the Agents SDK's ``Model`` level. Enabled by the
``pytest11`` entry point; see the README section "Record and replay in tests". The options,
the ``agentcache`` fixture and marker, and the session report live here; the recording itself
is :mod:`agentcache.recording`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .recording import (
    MODES,
    REPEATS,
    UNUSED_REPORT,
    Recorder,
    RecordingMissing,
    RecordingSecretWarning,
    RecordingSession,
    SecretInRecording,
    ToolRecordingMissing,
)

__all__ = [
    "Recorder",
    "RecordingMissing",
    "RecordingSecretWarning",
    "SecretInRecording",
    "ToolRecordingMissing",
]

_SESSION = pytest.StashKey[RecordingSession]()
_MARKER = (
    "agentcache(mode=None, namespace=None, repeat='order', tools=()): this test's recording "
    f"mode ({', '.join(MODES)}), its recordings' namespace (default: from the nodeid), whether "
    "repeated identical calls replay in recorded order or as a plain cache ('cache'), and the "
    "names of the tools whose results agentcache.agent(agent) records ('*': every one)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agentcache", "record and replay model calls (agentcache)")
    group.addoption(
        "--agentcache-mode",
        choices=MODES,
        default=None,
        help="replay: never call a model, a miss fails the test; once (default): replay what "
        "is recorded, record the rest; rewrite: record each test afresh; off: no cache. "
        "Default from AGENTCACHE_MODE.",
    )
    group.addoption(
        "--agentcache-dir", default=None, help="recordings directory (default: ROOTDIR/.agentcache)"
    )
    group.addoption(
        "--agentcache-clear", action="store_true", help="remove every recording before the session"
    )
    group.addoption(
        "--agentcache-strict",
        action="store_true",
        help="fail the session on recordings no test read (replay mode), and a test whose "
        "answer holds a key-shaped secret (instead of a warning)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)
    mode = config.getoption("agentcache_mode") or os.environ.get("AGENTCACHE_MODE") or "once"
    if mode not in MODES:
        raise pytest.UsageError(f"AGENTCACHE_MODE must be one of {', '.join(MODES)}, not {mode!r}")
    directory = Path(config.getoption("agentcache_dir") or config.rootpath / ".agentcache")
    directory = (config.invocation_params.dir / directory).resolve()
    config.option.agentcache_dir = str(directory)  # xdist workers get the same absolute path
    strict = bool(config.getoption("agentcache_strict"))
    config.stash[_SESSION] = RecordingSession(directory, mode, strict=strict)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if config.getoption("agentcache_clear") and not _is_worker(config):  # before workers start
        recordings = config.stash[_SESSION]
        removed = recordings.clear()
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"agentcache: removed {removed} recording(s) from {recordings.directory}"
            )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every collected test, before deselection: a recording whose test is not among them
    while its file is, is stale."""
    config.stash[_SESSION].tally.collected.update(item.nodeid for item in items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Note the tests that passed (only those show that recordings they left unread are
    unused); a replay miss is reported by its message and the test's line, not by the SDK's
    frames between the two."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.passed:
        item.config.stash[_SESSION].tally.passed.add(item.nodeid)
    excinfo = call.excinfo
    missing = (RecordingMissing, ToolRecordingMissing)
    if report.failed and excinfo is not None and isinstance(excinfo.value, missing):
        lines = [f"{e.path}:{e.lineno + 1}" for e in excinfo.traceback if e.path == item.path]
        where = f"\n  at {lines[-1]}" if lines else ""
        report.longrepr = f"{type(excinfo.value).__name__}: {excinfo.value}{where}"


@pytest.fixture
def agentcache(request: pytest.FixtureRequest) -> Recorder:
    """This test's recordings: ``agentcache.wrap(model)``, ``agentcache.run_config(...)``,
    ``agentcache.agent(agent)`` / ``agentcache.tool(tool)`` (tool results),
    ``agentcache.redact(fn)``. ``@pytest.mark.agentcache(mode=..., namespace=..., repeat=...,
    tools=[...])`` sets them per test."""
    recordings = request.config.stash[_SESSION]
    marker = request.node.get_closest_marker("agentcache")
    settings: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    unknown = sorted(set(settings) - {"mode", "namespace", "repeat", "tools"})
    if (marker is not None and marker.args) or unknown:
        pytest.fail(
            "@pytest.mark.agentcache takes mode=, namespace=, repeat=, tools= only", pytrace=False
        )
    tools = settings.get("tools", ())
    tools = [tools] if isinstance(tools, str) else tools
    if not (isinstance(tools, (list, tuple)) and all(isinstance(t, str) for t in tools)):
        pytest.fail("@pytest.mark.agentcache tools must be a list of tool names", pytrace=False)
    if settings.get("mode", recordings.mode) not in MODES:
        pytest.fail(
            f"@pytest.mark.agentcache mode must be one of {', '.join(MODES)}", pytrace=False
        )
    if settings.get("repeat", "order") not in REPEATS:
        pytest.fail(
            f"@pytest.mark.agentcache repeat must be one of {', '.join(REPEATS)}", pytrace=False
        )
    return recordings.recorder(
        request.node.nodeid,
        mode=settings.get("mode"),
        namespace=settings.get("namespace"),
        repeat=settings.get("repeat", "order"),
        tools=tools,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    recordings = config.stash[_SESSION]
    if _is_worker(config):
        config.workeroutput["agentcache"] = recordings.tally.to_json()  # type: ignore[attr-defined]
        return
    if recordings.mode != "replay" or not recordings.directory.is_dir():
        return
    recordings.stale = recordings.find_stale(config.rootpath)
    report = {"stale": [{"file": name, "why": why} for name, why in recordings.stale]}
    (recordings.directory / UNUSED_REPORT).write_text(json.dumps(report, indent=1) + "\n")
    if recordings.stale and recordings.strict and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: merge what a worker's tests read and recorded."""
    data = getattr(node, "workeroutput", {}).get("agentcache")
    if data:
        node.config.stash[_SESSION].tally.merge(data)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    recordings = config.stash[_SESSION]
    t = recordings.tally
    if _is_worker(config) or not (t.used_by or recordings.stale):
        return
    write = terminalreporter.write_line
    terminalreporter.section("agentcache")
    write(
        f"mode {recordings.mode}, {len(t.used_by)} test(s), recordings in {recordings.directory}: "
        f"{t.replayed} call(s) replayed, {t.written} recorded, {t.model_calls} reached a model"
    )
    if t.secrets:
        write(f"{t.secrets} key-shaped secret(s) in recordings: see the warnings")
    if recordings.stale:
        write(f"{len(recordings.stale)} recording(s) no test read:")
        for name, why in recordings.stale[:20]:
            write(f"  {name}: {why}")
        if len(recordings.stale) > 20:
            write(f"  ... and {len(recordings.stale) - 20} more")
        verdict = "fail the session" if recordings.strict else "would fail the session under"
        write(f"unused recordings {verdict} --agentcache-strict: delete them, or re-record")
