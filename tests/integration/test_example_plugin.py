"""Third-party plugins as a user installs them: discovered through entry points, or failing safely.

Entry points are read from installed distribution metadata, so registering a plugin object in
process would skip the very part under test. Each test therefore installs (or fakes) a
distribution in a temporary directory and runs a child Python with that directory on
``PYTHONPATH``: the venv is never modified and the test process's import state stays clean.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "agentcache_example_plugin"


def run_child(script: str, site: Path) -> dict[str, Any]:
    """Run ``script`` with ``site`` first on the path; it prints one JSON object as its last line.

    The child runs from the repository root, so it imports this checkout's ``agentcache`` just as
    the test process does, while the plugin can only come from ``site``.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["stderr"] = proc.stderr
    return result


FIRST_PARTY = {"otel", "redis", "semantic"}
"""Entry points of this distribution's own extras, present in every environment."""


def first_party_removed(report: dict[str, Any]) -> dict[str, Any]:
    return {name: status for name, status in report.items() if name not in FIRST_PARTY}


def builds_without_isolation() -> bool:
    """Whether this interpreter can build the example's wheel with what it already has.

    setuptools builds wheels by itself from 70.1; before that it needs the ``wheel`` package.
    """
    try:
        major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (70, 1) or find_spec("wheel") is not None


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin, installed by pip into a directory of its own.

    pip builds in the source tree (``build/``, ``*.egg-info``), so it builds a copy instead. When
    the venv lacks the build backend, pip's build isolation fetches setuptools from the index
    into a throwaway environment: the venv itself is still left untouched.
    """
    source = tmp_path_factory.mktemp("source") / EXAMPLE.name
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__")
    )
    site = tmp_path_factory.mktemp("site")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-input"]
    command += ["--disable-pip-version-check", "--target", str(site)]
    if builds_without_isolation():
        command.append("--no-build-isolation")
    proc = subprocess.run(
        [*command, str(source)], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"pip could not install the example plugin:\n{proc.stderr}"
    return site


def test_pip_install_writes_the_entry_point(plugin_site: Path) -> None:
    (dist_info,) = plugin_site.glob("agentcache_example_plugin-0.1.0.dist-info")
    entry_points = (dist_info / "entry_points.txt").read_text()
    assert "[agentcache]\nexample = agentcache_example_plugin" in entry_points
    assert (plugin_site / "agentcache_example_plugin" / "py.typed").is_file()


INSTALLED_PLUGIN_SCRIPT = """
    import asyncio, json

    from agents import Agent, RunConfig, Runner
    from agents.testing import ScriptedModel, assistant_message

    import agentcache
    from agentcache.stores.base import CacheKey

    HOOKS = ("agentcache_bypass", "agentcache_stages", "agentcache_store_schemes")
    # First-party plugins (this distribution's extras) are discovered too; leave them out.
    FIRST_PARTY = "agentcache-middleware"


    async def main():
        plugins = agentcache.Plugins()  # real entry-point discovery, nothing registered by hand
        import agentcache_example_plugin as plugin

        inner = ScriptedModel([[assistant_message(text)] for text in ("one", "two", "three")])
        model = agentcache.CachedModel(inner, plugins=plugins)
        agent = Agent(name="assistant", instructions="Answer briefly.")
        config = RunConfig(model=model, tracing_disabled=True)
        outputs = []
        for prompt in ("[no-cache] Roll a die.", "[no-cache] Roll a die.", "Name a colour.",
                       "Name a colour."):
            outputs.append((await Runner.run(agent, prompt, run_config=config)).final_output)
            await model.flush()
        stats = model.stats()
        (counter,) = [s for s in model.stages if isinstance(s, plugin.CallCounterStage)]

        sized = agentcache.CachedModel(
            ScriptedModel([]), store="example-memory://?max_entries=5", plugins=plugins
        )
        for i in range(6):
            await sized.store.set(CacheKey("ns", f"{i:064x}"), b"entry")
        try:
            agentcache.CachedModel(ScriptedModel([]), store="example-memory://?max_entries=lots",
                                   plugins=plugins)
            bad_url_error = None
        except ValueError as exc:
            bad_url_error = str(exc)

        user = lambda content: {"role": "user", "content": content}
        samples = {
            "marker": "Summarise this [no-cache] please",
            "time": "What time is it in Lisbon?",
            "date_parts": [user([{"type": "input_text", "text": "What's today's date?"}])],
            "day": [user("hello"), {"role": "assistant", "content": "hi"}, user("What day is it?")],
            "answered_earlier": [user("What time is it?"), {"role": "assistant", "content": "9"},
                                 user("Thanks! Name a colour.")],
            "plain": "Name a colour.",
            "timeless": "Explain time complexity of quicksort.",
            "no_user": [{"role": "system", "content": "[no-cache]"}],
        }
        first_party = {s.name for s in plugins.report if s.distribution == FIRST_PARTY}
        first_party_stages = {
            s.name for s in model.stages if type(s).__module__.split(".")[0] != "agentcache"
            and not type(s).__module__.startswith("agentcache_example_plugin")
        }
        print(json.dumps({
            "report": {s.name: [s.loaded, s.distribution, s.value] for s in plugins.report
                       if s.distribution != FIRST_PARTY},
            "plugin_file": plugin.__file__,
            "hook_plugins": {
                name: sorted(i.plugin_name for i in getattr(plugins.pm.hook, name).get_hookimpls()
                             if i.plugin_name not in first_party)
                for name in HOOKS
            },
            "outputs": outputs,
            "inner_calls": len(inner.calls),
            "remaining_steps": inner.remaining_steps,
            "bypasses": dict(stats.bypasses),
            "hits": stats.hits,
            "misses": stats.misses,
            "hits_by_layer": dict(stats.hits_by_layer),
            "counter": {"order": counter.order, "counts": counter.counts},
            "stage_order": [s.name for s in sorted(model.stages, key=lambda s: s.order)
                            if s.name not in first_party_stages],
            "sized_store": [type(sized.store).__name__, await sized.store.size()],
            "bad_url_error": bad_url_error,
            "volatile": {name: plugin.is_volatile(value) for name, value in samples.items()},
        }))


    asyncio.run(main())
"""


@pytest.fixture(scope="module")
def installed_run(plugin_site: Path) -> dict[str, Any]:
    return run_child(INSTALLED_PLUGIN_SCRIPT, plugin_site)


def test_plugin_is_discovered_from_its_entry_point(
    installed_run: dict[str, Any], plugin_site: Path
) -> None:
    assert first_party_removed(installed_run["report"]) == {
        "example": [True, "agentcache-example-plugin", "agentcache_example_plugin"]
    }
    assert Path(installed_run["plugin_file"]).is_relative_to(plugin_site)
    hook_plugins = {
        hook: [name for name in names if name not in FIRST_PARTY]
        for hook, names in installed_run["hook_plugins"].items()
    }
    assert hook_plugins == {
        "agentcache_bypass": ["agentcache.builtin", "example"],
        "agentcache_stages": ["example"],
        "agentcache_store_schemes": ["agentcache.builtin", "example"],
    }


def test_plugin_bypass_rule_applies_through_runner(installed_run: dict[str, Any]) -> None:
    # Both "[no-cache]" runs reach the model; the plain prompt's second run is served cached.
    assert installed_run["outputs"] == ["one", "two", "three", "three"]
    assert (installed_run["inner_calls"], installed_run["remaining_steps"]) == (3, 0)
    assert installed_run["bypasses"] == {"volatile_prompt": 2}
    assert (installed_run["hits"], installed_run["misses"]) == (1, 1)
    assert installed_run["hits_by_layer"] == {"exact": 1}


def test_plugin_rule_reads_only_the_last_user_message(installed_run: dict[str, Any]) -> None:
    assert installed_run["volatile"] == {
        "marker": True,
        "time": True,
        "date_parts": True,
        "day": True,
        "answered_earlier": False,
        "plain": False,
        "timeless": False,
        "no_user": False,
    }


def test_plugin_stage_runs_in_the_chain(installed_run: dict[str, Any]) -> None:
    assert installed_run["counter"] == {"order": 55, "counts": {"bypass": 2, "miss": 1, "hit": 1}}
    stage_order = installed_run["stage_order"]
    assert stage_order[:3] == ["stats", "example_call_counter", "bypass"]


def test_plugin_store_scheme_resolves(installed_run: dict[str, Any]) -> None:
    assert installed_run["sized_store"] == ["MemoryStore", 5]  # 6 written, max_entries=5 kept
    assert installed_run["bad_url_error"] == (
        "example-memory:// max_entries='lots' is not an integer"
    )


BROKEN_PLUGIN_SCRIPT = """
    import asyncio, json

    import agentcache  # must not fail, nor even look at plugins

    from agents import Agent, RunConfig, Runner
    from agents.testing import ScriptedModel, assistant_message


    async def main():
        plugins = agentcache.Plugins()
        inner = ScriptedModel([[assistant_message("still works")]])
        model = agentcache.CachedModel(inner)  # the process-wide plugins, default memory store
        agent = Agent(name="assistant", instructions="Answer briefly.")
        outputs = []
        for _ in range(2):
            result = await Runner.run(agent, "Name a colour.",
                                      run_config=RunConfig(model=model, tracing_disabled=True))
            outputs.append(result.final_output)
            await model.flush()
        try:
            agentcache.CachedModel(ScriptedModel([]), store="nope://x", plugins=plugins)
            unknown_scheme_error = None
        except ValueError as exc:
            unknown_scheme_error = str(exc)
        print(json.dumps({
            "report": {
                s.name: {"loaded": s.loaded, "distribution": s.distribution, "error": s.error,
                         "hint": s.hint}
                for s in plugins.report if s.distribution != "agentcache-middleware"
            },
            "default_report_names": sorted(
                s.name for s in agentcache.get_plugins().report
                if s.distribution != "agentcache-middleware"
            ),
            "outputs": outputs,
            "inner_calls": len(inner.calls),
            "hits": model.stats().hits,
            "unknown_scheme_error": unknown_scheme_error,
        }))


    asyncio.run(main())
"""


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake installed distribution whose two plugins fail to import, in two different ways."""
    site = tmp_path_factory.mktemp("broken_site")
    dist_info = site / "broken_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\nProvides-Extra: fancy\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[agentcache]\nbroken = broken_plugin_mod\nmissing = needs_missing_dep [fancy]\n"
    )
    (site / "broken_plugin_mod.py").write_text('raise RuntimeError("broken at import")\n')
    (site / "needs_missing_dep.py").write_text("import some_module_that_does_not_exist_xyz\n")
    return site


@pytest.fixture(scope="module")
def broken_run(broken_site: Path) -> dict[str, Any]:
    return run_child(BROKEN_PLUGIN_SCRIPT, broken_site)


def test_broken_plugins_are_reported_with_hints(broken_run: dict[str, Any]) -> None:
    assert first_party_removed(broken_run["report"]) == {
        "broken": {
            "loaded": False,
            "distribution": "broken-plugin",
            "error": "RuntimeError: broken at import",
            "hint": "the plugin failed while importing; upgrade or uninstall broken-plugin",
        },
        "missing": {
            "loaded": False,
            "distribution": "broken-plugin",
            "error": "ModuleNotFoundError: No module named 'some_module_that_does_not_exist_xyz'",
            "hint": "pip install 'broken-plugin[fancy]'",
        },
    }
    assert set(broken_run["default_report_names"]) - FIRST_PARTY == {"broken", "missing"}
    # A plugin that raises (not a missing optional dependency) is worth a visible warning.
    assert "plugin 'broken' not loaded (broken at import)" in broken_run["stderr"]


def test_broken_plugins_do_not_break_caching(broken_run: dict[str, Any]) -> None:
    assert broken_run["outputs"] == ["still works", "still works"]
    assert (broken_run["inner_calls"], broken_run["hits"]) == (1, 1)


def test_unknown_scheme_error_names_the_failed_plugins(broken_run: dict[str, Any]) -> None:
    message = broken_run["unknown_scheme_error"]
    assert message.startswith("no store for 'nope://x': expected one of file://, memory://")
    assert "broken: NOT loaded from broken_plugin_mod (broken-plugin)" in message
    assert "missing: NOT loaded from needs_missing_dep [fancy] (broken-plugin)" in message
    assert "Hint: pip install 'broken-plugin[fancy]'" in message
