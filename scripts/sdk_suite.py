#!/usr/bin/env python3
"""Prove that ``CachedModel`` is transparent, with the OpenAI Agents SDK's own test suite.

A cached model must not change what the Runner does: same items, events, hooks, spans, errors
and retries as the bare model. The SDK's suite exercises the Runner with scripted fake models far
more thoroughly than our tests can, so it is run three times and the outcomes are compared per
test (see ``scripts/sdk_suite_wrap.py`` for how the models are wrapped):

* ``baseline``: unchanged;
* ``write-through``: every model the Runner resolves wrapped, every call under ``refresh()``: each
  call runs the whole chain and is stored, but is never answered from the cache;
* ``cached``: every model wrapped with a normal cache (a fresh in-memory store per test), so a
  test that repeats an input may get a hit (``scripts/sdk_suite_allowlist.txt`` lists those).

A test whose outcome differs from the baseline is "changed"; the run fails on any change that is
not allowed. Tests that fail in the baseline (no network, an optional package) do not matter.

The suite ships in the ``openai-agents`` sdist. It is downloaded, unpacked and given its own
venv (the SDK, this checkout installed editable, the SDK's test dependencies) once per version,
under ``${AGENTCACHE_CACHE_DIR:-~/.cache/agentcache}/sdk-suite/<version>/``. Standard library
only, so any ``python3`` >= 3.10 runs it::

    python scripts/sdk_suite.py                        # the SDK version installed in .venv
    python scripts/sdk_suite.py --sdk-version 0.22.3   # another release
    python scripts/sdk_suite.py --mode cached -k handoff -- -x
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
ALLOWLIST = SCRIPTS / "sdk_suite_allowlist.txt"
MODES = ("baseline", "write-through", "cached")
INSTALL_REVISION = 3  # bump when the install recipe changes, so cached venvs are redone

# What the selected test files need, at the versions the sdist's ``uv.lock`` pins (the SDK's own
# CI environment; newer releases break some tests: pytest 9.2 cannot collect test_run_config.py,
# openai 3.5x reports usage differently and no longer brings httpx, which the tests import),
# else as its ``[dependency-groups] dev`` constrains them.
TEST_DEPENDENCIES = (
    "openai",
    "httpx",
    "pytest",
    "pytest-asyncio",
    "pytest-mock",
    "pytest-xdist",
    "inline-snapshot",
    "rich",
    "websockets",
    "eval-type-backport",
    "fastapi",
    "aiosqlite",
    "cryptography",
    "fakeredis",
    "pytest-timeout",  # not the SDK's: a test that hangs in one mode is one change, not a hang
)
TEST_TIMEOUT = 60

# The test files: the top-level ones drive the Runner (run, run_streamed, tools, handoffs,
# guardrails, sessions, hooks, tracing, cancellation, retries, timeouts, model settings); the
# models' and memory's tests add the OpenAI model classes and the session backends.
INCLUDE = ("tests/test_*.py", "tests/models/test_*.py", "tests/memory/test_*.py")
EXCLUDE = {
    "the SDK repository's own tooling (release, CI, scripts): needs .github/ and "
    "integration_tests/, which the sdist does not ship": (
        "tests/test_release*.py",
        "tests/test_repository_workflow_interfaces.py",
        "tests/test_code_change_verification_*.py",
        "tests/test_change_detection.py",
        "tests/test_check_optional_truthiness.py",
        "tests/test_update_rclone_pin.py",
        "tests/test_run_examples_script.py",
        "tests/test_run_serial_tests.py",
        "tests/test_integration_runner.py",
        "tests/test_asyncio_stability_command.py",
        "tests/test_run_state_compatibility_corpus.py",
    ),
    "the examples' apps (docker, databases, sandboxes, servers), not the Runner": (
        "tests/test_*_example.py",
        "tests/test_*_examples.py",
        "tests/test_example_workflows.py",
        "tests/test_financial_research_budget.py",
        "tests/test_usaspending_setup_db.py",
    ),
    "other model providers, through extensions not installed (litellm, any-llm)": (
        "tests/models/test_*litellm*.py",
        "tests/models/test_any_llm_model.py",
        "tests/models/test_agent_registration.py",
        "tests/models/test_anthropic_thinking_blocks.py",
        "tests/models/test_deepseek_reasoning_content.py",
        "tests/models/test_extended_thinking_message_order.py",
        "tests/models/test_gemini_thought_signatures*.py",
        "tests/models/test_generation_metadata.py",
        "tests/models/test_kwargs_functionality.py",
        "tests/models/test_map.py",
        "tests/models/test_reasoning_content_replay_hook.py",
    ),
    "drawing agent graphs (graphviz, not installed)": ("tests/test_visualization.py",),
}
# Subpackages not included at all: realtime, voice, sandbox, extensions, mcp, fastapi, docs,
# model_settings, utils, deferred_session_writes (transports, servers and services a wrapper of
# the Runner's model never touches). Also deselected: tests marked ``serial`` (one, a tracing
# exit-code check in a subprocess, which needs the machine to itself).


def log(message: str) -> None:
    print(f"== sdk-suite: {message}", flush=True)


def cache_dir() -> Path:
    base = os.environ.get("AGENTCACHE_CACHE_DIR") or Path.home() / ".cache" / "agentcache"
    return Path(base) / "sdk-suite"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def installed_sdk_version() -> str:
    """The ``openai-agents`` version in the project venv (``.venv`` or ``$AGENTCACHE_VENV``)."""
    venv = Path(os.environ.get("AGENTCACHE_VENV") or ROOT / ".venv")
    code = "import importlib.metadata as m; print(m.version('openai-agents'))"
    try:
        out = subprocess.run(
            [venv_python(venv), "-c", code], check=True, capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"no openai-agents in {venv} ({exc}); pass --sdk-version") from exc
    return out.stdout.strip()


def pip(python: Path, *args: str) -> None:
    """Run pip quietly; its output (build backends are chatty) only when it fails."""
    command = [str(python), "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode:
        print(done.stdout, file=sys.stderr)
        raise SystemExit(f"pip {' '.join(args)} failed")


def unpack_sdist(python: Path, version: str, work: Path) -> Path:
    """Download and unpack the sdist once (call with the lock held); its directory."""
    source = work / "src"
    if (source / ".complete").exists():
        return source
    log(f"downloading the openai-agents {version} sdist")
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        pip(python, "download", "--no-deps", "--no-binary", ":all:", f"openai-agents=={version}",
            "-d", tmp)  # fmt: skip
        (archive,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # 3.12, and backported to 3.10.12 / 3.11.4
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
        (top,) = (p for p in Path(tmp).iterdir() if p.is_dir())
        shutil.rmtree(source, ignore_errors=True)
        top.rename(source)
    (source / ".complete").touch()
    return source


def test_requirements(python: Path, source: Path) -> list[str]:
    """``TEST_DEPENDENCIES``, pinned as the sdist's ``uv.lock`` pins them, else constrained as
    its dev group does (read by the venv's python: ``tomllib`` is 3.11+, pip vendors it)."""
    code = (
        "import json, sys\n"
        "try:\n    import tomllib\n"
        "except ImportError:\n    from pip._vendor import tomli as tomllib\n"
        "def load(name):\n"
        "    try:\n        return tomllib.load(open(name, 'rb'))\n"
        "    except FileNotFoundError:\n        return {}\n"
        "dev = load('pyproject.toml').get('dependency-groups', {}).get('dev', [])\n"
        "lock = [[p['name'], p['version']] for p in load('uv.lock').get('package', [])]\n"
        "print(json.dumps([[r for r in dev if isinstance(r, str)], lock]))\n"
    )
    out = subprocess.run([python, "-c", code], cwd=source, check=True, capture_output=True)
    dev, lock = json.loads(out.stdout)
    versions: dict[str, set[str]] = {}
    for name, version in lock:
        versions.setdefault(_name(name), set()).add(version)
    specs = {_name(r): r for r in dev}
    return [
        f"{name}=={next(iter(versions[name]))}"
        if len(versions.get(name, ())) == 1
        else specs.get(name, name)
        for name in TEST_DEPENDENCIES
    ]


def _name(requirement: str) -> str:
    """The normalized project name at the start of a requirement."""
    end = next((i for i, c in enumerate(requirement) if not (c.isalnum() or c in "-_.")), None)
    return requirement[:end].lower().replace("_", "-").replace(".", "-")


def install(python: Path, version: str, source: Path) -> None:
    """Fill the test venv (call with the lock held); redone only when the inputs (version,
    requirements, this checkout and its pyproject) change."""
    requirements = test_requirements(python, source)
    inputs = {
        "revision": INSTALL_REVISION,
        "sdk": str(source),
        "requirements": requirements,
        "project": str(ROOT),
        "pyproject": hashlib.sha1((ROOT / "pyproject.toml").read_bytes()).hexdigest(),
    }
    marker = python.parent.parent / ".installed.json"
    if marker.exists() and json.loads(marker.read_text()) == inputs:
        return
    marker.unlink(missing_ok=True)
    log(f"installing openai-agents {version}, agentcache and the SDK's test dependencies")
    pip(python, "install", "--upgrade", "pip>=25.1")
    # The SDK from the sdist the tests come from (that release, editable as in the SDK's own
    # CI: some tests look for their source under src/agents).
    pip(python, "install", "--editable", str(source), *requirements)
    # Editable and without its dependencies, so another SDK release than the project pins can
    # be tested; then the project's own requirements, except the SDK and the extras.
    pip(python, "install", "--no-deps", "--editable", str(ROOT))
    code = (
        "import importlib.metadata as m\n"
        "for r in m.requires('agentcache-middleware') or []:\n"
        "    if 'extra ==' not in r and not r.startswith('openai-agents'): print(r)\n"
    )
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    pip(python, "install", *out.stdout.split("\n")[:-1])
    marker.write_text(json.dumps(inputs, indent=1))


def provision(version: str) -> tuple[Path, Path]:
    """The unpacked sdist and the python of this checkout's test venv, under a lock so parallel
    runs do not race; a no-op when both are already there."""
    work = cache_dir() / version
    work.mkdir(parents=True, exist_ok=True)
    venv = work / f"venv-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"
    python = venv_python(venv)
    with open(work / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not python.exists():
            log(f"creating {venv}")
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        source = unpack_sdist(python, version, work)
        install(python, version, source)
    return source, python


def select_tests(source: Path) -> list[str]:
    """``INCLUDE`` minus ``EXCLUDE``, as paths relative to the sdist."""
    excluded = {p for patterns in EXCLUDE.values() for g in patterns for p in source.glob(g)}
    selected: list[str] = []
    for pattern in INCLUDE:
        for path in sorted(source.glob(pattern)):
            if path not in excluded:
                selected.append(str(path.relative_to(source)))
    return selected


def run_mode(
    mode: str, python: Path, source: Path, tests: Sequence[str], pytest_args: Sequence[str],
    reports: Path,
) -> dict[str, Any]:  # fmt: skip
    """Run the suite in one mode; the plugin's report (``ran`` False if pytest died)."""
    report, output = reports / f"{mode}.json", reports / f"{mode}.log"
    report.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}  # never a real key
    env.update(
        SDK_SUITE_MODE=mode,
        SDK_SUITE_REPORT=str(report),
        PYTHONPATH=str(SCRIPTS),
    )
    # agentcache's own pytest plugin (record and replay) is blocked: only the wrapper may touch
    # the models, and the baseline must not load agentcache at all.
    command = [
        str(python), "-m", "pytest", "-p", "sdk_suite_wrap", "-p", "no:agentcache",
        "-p", "no:cacheprovider", "-q", "--no-header", f"--timeout={TEST_TIMEOUT}",
        "--inline-snapshot=disable", "-m", "not serial", *pytest_args, *tests,
    ]  # fmt: skip
    log(f"{mode}: running pytest (output in {output})")
    start, cpu = time.monotonic(), _children_cpu()
    with open(output, "w") as out:
        code = subprocess.run(command, cwd=source, env=env, stdout=out, stderr=subprocess.STDOUT)
    lines = output.read_text().strip().splitlines()
    summary = lines[-1] if lines else "(no output)"
    took = f"{time.monotonic() - start:.0f}s, {_children_cpu() - cpu:.0f}s CPU"
    log(f"{mode}: {summary} [{took}, exit {code.returncode}]")
    if not report.exists():
        return {"ran": False, "exitstatus": code.returncode, "tests": {}}
    data: dict[str, Any] = json.loads(report.read_text())
    data["ran"] = code.returncode in (0, 1)
    return data


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_allowlist() -> dict[str, str]:
    """``nodeid  # reason`` per line; blank lines and lines starting with ``#`` are skipped."""
    allowed: dict[str, str] = {}
    if ALLOWLIST.exists():
        for line in ALLOWLIST.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                nodeid, _, reason = line.partition(" # ")
                allowed[nodeid.strip()] = reason.strip()
    return allowed


def compare(
    mode: str, baseline: dict[str, dict[str, Any]], other: dict[str, dict[str, Any]],
    allowlist: dict[str, str],
) -> int:  # fmt: skip
    """Print the tests whose outcome changed; how many changes are not allowed. An allowlisted
    test is allowed to change only if it did see a cache hit (that is the reason it is listed)."""
    missing = {"outcome": "missing", "message": ""}
    changed = sorted(
        nodeid
        for nodeid in baseline.keys() | other.keys()
        if baseline.get(nodeid, missing)["outcome"] != other.get(nodeid, missing)["outcome"]
    )
    allowed = {n for n in changed if n in allowlist and other.get(n, missing).get("hits")}
    note = f" ({len(allowed)} allowed)" if allowed else ""
    print(f"{mode}: {len(changed)} changed of {len(baseline)}{note}")
    for nodeid in sorted(changed, key=lambda n: n in allowed):
        before, after = baseline.get(nodeid, missing), other.get(nodeid, missing)
        why = f"allowed: {allowlist[nodeid]}" if nodeid in allowed else after["message"]
        hits = f" ({after['hits']} cache hits)" if after.get("hits") else ""
        print(f"  {nodeid}: {before['outcome']} -> {after['outcome']}{hits}: {why}")
    stale = sorted(n for n in allowlist.keys() & baseline.keys() if n not in changed)
    if stale:
        print(f"{mode}: {len(stale)} allowlisted tests no longer change (remove them):")
        print("".join(f"  {nodeid}\n" for nodeid in stale), end="")
    return len(changed) - len(allowed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after -- go to pytest.",
    )
    parser.add_argument("--sdk-version", help="default: the one installed in the project venv")
    parser.add_argument("--mode", choices=MODES[1:], help="run only this wrapped mode")
    parser.add_argument("-k", metavar="EXPR", help="pytest -k: select tests by name")
    parser.add_argument("-n", "--workers", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("--tests", nargs="+", metavar="PATH", help="instead of the selection")
    parser.add_argument(
        "--keep-going", action="store_true",
        help="run the wrapped modes even when the baseline did not run cleanly",
    )  # fmt: skip
    args, pytest_args = parser.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    if args.k:
        pytest_args += ["-k", args.k]
    if args.workers > 1:
        pytest_args += ["-n", str(args.workers)]

    version = args.sdk_version or installed_sdk_version()
    start = time.monotonic()
    source, python = provision(version)
    log(f"openai-agents {version} ready in {time.monotonic() - start:.0f}s ({source})")
    tests = args.tests or select_tests(source)
    reports = python.parent.parent / "reports"
    reports.mkdir(exist_ok=True)

    baseline = run_mode("baseline", python, source, tests, pytest_args, reports)
    base_tests: dict[str, dict[str, Any]] = baseline["tests"]
    failed = sum(t["outcome"] in ("failed", "error") for t in base_tests.values())
    collect_errors = [n for n in base_tests if n.startswith("collect::")]
    print(f"baseline: {len(base_tests)} tests, {failed} failed or errors (the SDK's own)")
    for nodeid in collect_errors:
        print(f"  {nodeid}: {base_tests[nodeid]['message']}")
    base_ok = bool(baseline["ran"]) and bool(base_tests) and not collect_errors
    if not base_ok and not args.keep_going:
        print("FAILED: the baseline did not run cleanly (use --keep-going to continue)")
        return 1

    allowlist = load_allowlist()
    failures = 0 if base_ok else 1
    for mode in [args.mode] if args.mode else MODES[1:]:
        result = run_mode(mode, python, source, tests, pytest_args, reports)
        wrapped = result.get("wrapped_models", 0)
        print(f"{mode}: wrapped {wrapped} models in {result.get('wrapped_tests', 0)} tests")
        if not result["ran"] or not wrapped:
            print(f"{mode}: FAILED: pytest did not run cleanly, or no model was wrapped")
            failures += 1
        if compare(mode, base_tests, result["tests"], allowlist if mode == "cached" else {}):
            failures += 1
    print("OK: no unallowed changes" if not failures else "FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
