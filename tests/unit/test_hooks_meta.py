"""Meta-tests over the hook specifications, in the spirit of datasette's plugin-hook checks.

Hookspecs are the plugin authors' whole reference, and a hook no test mentions is a hook whose
contract can drift unnoticed. These tests make adding a hook without docs or tests fail.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentcache import hookspecs

TESTS = Path(__file__).parents[1]
KNOWN_HOOKS = {
    "agentcache_bypass",
    "agentcache_stages",
    "agentcache_store_schemes",
    "agentcache_tracer",
}


def hookspec_functions() -> dict[str, Callable[..., Any]]:
    """Every function in ``agentcache.hookspecs`` marked by ``@hookspec`` (pluggy's attribute)."""
    return {
        name: obj
        for name, obj in vars(hookspecs).items()
        if inspect.isfunction(obj) and hasattr(obj, "agentcache_spec")
    }


HOOKSPECS = hookspec_functions()


def test_hookspecs_are_found() -> None:
    # Guards the tests below against passing vacuously if discovery finds nothing.
    assert set(HOOKSPECS) >= KNOWN_HOOKS


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_has_a_real_docstring(name: str) -> None:
    doc = inspect.getdoc(HOOKSPECS[name]) or ""
    assert len(doc) > 80, f"hookspec {name} needs a docstring a plugin author can work from"


@pytest.mark.parametrize("name", sorted(HOOKSPECS))
def test_hookspec_is_mentioned_by_a_test(name: str) -> None:
    this = Path(__file__).resolve()
    mentioning = [
        path.relative_to(TESTS).as_posix()
        for path in sorted(TESTS.rglob("*.py"))
        if path.resolve() != this and name in path.read_text(encoding="utf-8")
    ]
    assert mentioning, f"no test under tests/ mentions the hook {name}"


EXTRAS = ("redis", "redisvl", "opentelemetry")

# Blocks the extras that nothing else needs, then records every absolute import made by
# agentcache's own modules while every public name of ``agentcache`` is loaded.
IMPORT_SCRIPT = """
import builtins, json, sys
sys.modules["redis"] = None
sys.modules["redisvl"] = None
real_import = builtins.__import__
imported = set()

def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if level == 0 and importer.split(".")[0] == "agentcache":
        imported.add(name.split(".")[0])
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = recording_import
from agentcache import *  # noqa: F403 - the package is lazy: load every public name
builtins.__import__ = real_import
print(json.dumps(sorted(imported)))
"""


def test_import_works_without_optional_extras() -> None:
    """``import agentcache`` must neither need nor load redis, redisvl or opentelemetry.

    A ``None`` entry in ``sys.modules`` makes any import of that name raise ImportError, so the
    import is proved to work even where the extras happen to be installed. opentelemetry cannot
    be blocked that way: ``import agents`` needs it (openai-agents requires ``mcp``, which
    requires ``opentelemetry-api``). So the child instead records what agentcache's own modules
    import, which also catches an extra imported at module level behind a try/except.
    """
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    imported = set(json.loads(proc.stdout))
    assert {"agents", "pluggy"} <= imported  # the recorder saw agentcache's real imports
    assert imported.isdisjoint(EXTRAS), sorted(imported & set(EXTRAS))
