"""Every ``agentcache`` command against a file store filled through ``CachedModel``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import orjson

from agentcache.stores.base import CacheKey
from agentcache.stores.file import FileStore
from tests.cli.conftest import CLI, ROOT, as_json, run_cli


def digests(store: str, *args: str) -> list[str]:
    return [row["digest"] for row in as_json(run_cli("ls", "--json", *args, store=store))]


def test_the_cli_module_does_not_import_the_agents_sdk() -> None:
    code = "import agentcache.cli, sys; print('agents' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
    # and the public names still import (lazily) from the package
    code = "from agentcache import CachedModel, FileStore, hookimpl, ttl; print(CachedModel)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "agentcache.model.CachedModel" in out.stdout, out.stderr


def test_reading_commands_do_not_import_the_agents_sdk(store: str) -> None:
    rows = as_json(run_cli("ls", "--json", store=store))
    keys = [f"{r['namespace']}/{r['digest']}" for r in rows[:2]]
    show, explain = ["show", keys[0]], ["explain", *keys]
    for command in (["ls"], ["stats"], show, ["export", "-"], ["verify"], explain):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "agentcache", *command, "--store", store],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 0, (command, result.stderr[-500:])
        imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
        assert "agents" not in imported and "openai" not in imported, command
        assert "pluggy" not in imported, command  # plugins are not loaded to read a store


def test_ls_lists_one_entry_a_line(store: str) -> None:
    result = run_cli("ls", store=store)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["namespace", "digest", "created", "(UTC)", "size", "model"]
    assert len(lines) == 7 and all("tests.support.TurnModel" in line for line in lines[1:])
    rows = as_json(run_cli("ls", "--json", store=store))
    assert {r["namespace"] for r in rows} == {"default", "t1"}
    assert all(len(r["digest"]) == 64 and r["size"] > 0 and r["created_at"] for r in rows)


def test_ls_filters(store: str) -> None:
    assert len(digests(store, "--namespace", "t1")) == 3
    assert len(digests(store, "--model", "tests.support.TurnModel")) == 6
    assert digests(store, "--model", "gpt-nothing") == []
    assert len(digests(store, "--newer-than", "1h")) == 6
    assert digests(store, "--older-than", "7d") == []
    bad = run_cli("ls", "--older-than", "soon", store=store)
    assert bad.returncode == 2 and "not an age" in bad.stderr


def test_stats(store: str) -> None:
    result = run_cli("stats", store=store)
    assert result.returncode == 0 and "entries" in result.stdout and "< 1h" in result.stdout
    stats = as_json(run_cli("stats", "--json", store=store))
    assert stats["entries"] == 6 and stats["unreadable"] == 0
    assert stats["by_namespace"]["t1"]["entries"] == 3
    assert stats["by_model"]["tests.support.TurnModel"]["entries"] == 6
    assert stats["by_age"]["< 1h"]["entries"] == 6
    assert stats["bytes"] == sum(s["bytes"] for s in stats["by_namespace"].values())


def test_show_prints_the_request_and_the_answer(store: str) -> None:
    rows = as_json(run_cli("ls", "--json", "--namespace", "default", store=store))
    for row in rows:
        result = run_cli("show", row["digest"][:10], store=store)
        assert result.returncode == 0, result.stderr
        assert '"instructions": "weather"' in result.stdout and "answer:" in result.stdout
    texts = [run_cli("show", f"default/{r['digest']}", store=store).stdout for r in rows]
    assert any("assistant: Sunny, 69.8F in Paris" in t for t in texts)
    assert any("tool call: get_weather" in t for t in texts)
    shown = as_json(run_cli("show", rows[0]["digest"], "--json", store=store))
    assert shown["entry"]["request"]["instructions"] == "weather"


def test_show_of_a_missing_or_ambiguous_key(store: str) -> None:
    missing = run_cli("show", "f" * 64, store=store)
    assert missing.returncode == 1 and missing.stderr.startswith("agentcache: no entry")
    ambiguous = run_cli("show", "default/", store=store)  # every digest starts with ""
    assert ambiguous.returncode == 2 and "matches 3 entries" in ambiguous.stderr
    assert run_cli("show", "not-hex", store=store).returncode == 2


def test_explain_names_the_parts_that_differ(store: str) -> None:
    first = as_json(run_cli("ls", "--json", "--namespace", "default", store=store))
    second = as_json(run_cli("ls", "--json", "--namespace", "t1", store=store))
    a, b = first[0]["digest"], second[0]["digest"]
    result = run_cli("explain", f"default/{a}", f"t1/{b}", store=store)
    assert result.returncode == 0, result.stderr
    assert 'instructions: "weather" != "weather please"' in result.stdout
    diffs = as_json(run_cli("explain", a, b, "--json", store=store))
    assert {"path": "namespace", "a": "default", "b": "t1"} in diffs


def test_explain_needs_recorded_requests(store: str, store_dir: Path) -> None:
    doc = {
        "format": "agentcache.entry", "version": 1, "digest": "ab" * 32, "created_at": 1.0,
        "expires_at": None, "elapsed": 0.1, "response_id": None, "usage": {}, "output": [],
    }  # fmt: skip
    asyncio.run(FileStore(store_dir).set(CacheKey("default", "ab" * 32), orjson.dumps(doc)))
    some = digests(store, "--namespace", "t1")[0]
    result = run_cli("explain", "ab" * 32, some, store=store)
    assert result.returncode == 1 and "no recorded request" in result.stderr


def test_rm(store: str) -> None:
    digest = digests(store)[0]
    assert run_cli("rm", digest[:12], store=store).returncode == 0
    assert digest not in digests(store)
    assert run_cli("rm", digest, store=store).returncode == 1


def test_clear_refuses_without_a_terminal_or_yes(store: str) -> None:
    refused = run_cli("clear", store=store, stdin="y\n")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert len(digests(store)) == 6
    cleared = as_json(run_cli("clear", "--namespace", "t1", "--yes", "--json", store=store))
    assert cleared == {"removed": 3} and len(digests(store)) == 3
    assert run_cli("clear", "--yes", store=store).stdout.strip() == "3 entries removed"
    assert digests(store) == []


def test_purge_expired_removes_only_expired_entries(store: str, store_dir: Path) -> None:
    doc = {
        "format": "agentcache.entry", "version": 1, "digest": "cd" * 32, "created_at": 1.0,
        "expires_at": 2.0, "elapsed": 0.1, "response_id": None, "usage": {}, "output": [],
    }  # fmt: skip
    asyncio.run(FileStore(store_dir).set(CacheKey("default", "cd" * 32), orjson.dumps(doc)))
    assert run_cli("purge", store=store).returncode == 2  # what to purge must be said
    result = as_json(run_cli("purge", "--expired", "--json", store=store))
    assert result["removed"] == 1 and result["keys"] == [f"default/{'cd' * 32}"]
    assert len(digests(store)) == 6


def test_verify_counts_entries_that_do_not_decode(store: str, store_dir: Path) -> None:
    ok = run_cli("verify", store=store)
    assert ok.returncode == 0 and "6 entries checked, 0 bad" in ok.stdout
    asyncio.run(FileStore(store_dir).set(CacheKey("t1", "ee" * 32), b'{"format": "other"}'))
    bad = run_cli("verify", store=store)
    assert bad.returncode == 1 and f"BAD t1/{'ee' * 32}" in bad.stdout
    report = json.loads(run_cli("verify", "--json", store=store).stdout)
    assert report["entries"] == 7 and report["bad"] == 1


def test_export_then_import_round_trips(store: str, tmp_path: Path) -> None:
    dump = tmp_path / "entries.jsonl"
    assert as_json(run_cli("export", str(dump), "--json", store=store))["exported"] == 6
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert {"namespace", "digest", "entry", "expires_at", "ttl"} <= set(lines[0])
    target = f"file://{tmp_path / 'copy'}"
    result = run_cli("import", str(dump), store=target)
    assert result.returncode == 0 and "6 entries imported" in result.stdout
    assert sorted(digests(target)) == sorted(digests(store))
    assert run_cli("verify", store=target).returncode == 0
    piped = run_cli("export", "-", store=store)
    again = run_cli("import", "-", "--json", store=f"file://{tmp_path / 'c2'}", stdin=piped.stdout)
    assert as_json(again)["imported"] == 6
    broken = run_cli("import", "-", store=target, stdin="{not json\n")
    assert broken.returncode == 1 and "BAD line 1" in broken.stdout


def test_doctor_and_plugins(store: str) -> None:
    result = run_cli("doctor", store=store)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok" in result.stdout.splitlines()[0] and "openai-agents" in result.stdout
    report = as_json(run_cli("doctor", "--json", store=store))
    assert report["writable"] and report["readable"] and report["listable"]
    assert report["versions"]["openai-agents"] and report["problems"] == []
    assert {p["name"] for p in report["plugins"]} >= {"redis", "semantic", "otel"}
    plugins = as_json(run_cli("plugins", "--json"))
    assert "redis" in plugins["store_schemes"] and "file" in plugins["store_schemes"]
    assert run_cli("plugins").stdout.startswith("agentcache.builtin: loaded")


def test_a_mistyped_directory_is_an_error_not_an_empty_store(tmp_path: Path) -> None:
    result = run_cli("ls", store=f"file://{tmp_path / 'no-such-dir'}")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"agentcache: no such store directory: {tmp_path}/no-such-dir"


def test_the_store_comes_from_the_environment(store: str) -> None:
    import os

    env = {**os.environ, "AGENTCACHE_STORE": store}
    result = subprocess.run([str(CLI), "ls", "--json"], capture_output=True, text=True, env=env)
    assert len(json.loads(result.stdout)) == 6
    top = run_cli("--store", store, "--json", "stats")  # global options before the command
    assert as_json(top)["entries"] == 6


def test_usage_errors_and_version() -> None:
    assert run_cli("--version").stdout.strip().startswith("agentcache ")
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("ls", store="bogus://x").returncode == 2
    assert "semantic" in run_cli("--help").stdout  # the semantic plugin's command


def test_a_closed_pipe_is_not_an_error(store_dir: Path) -> None:
    async def many() -> None:
        files = FileStore(store_dir)
        raw = (store_dir / "default").iterdir().__next__().read_text()
        value = json.dumps(json.loads(raw)["value"]).encode()
        await asyncio.gather(*(files.set(CacheKey("bulk", f"{i:064x}"), value) for i in range(400)))

    asyncio.run(many())
    for command in ("ls", "export -", "stats"):
        result = subprocess.run(
            f"'{CLI}' {command} --store 'file://{store_dir}' | head -n 1",
            shell=True,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0 and result.stdout.count("\n") == 1
        assert result.stderr == "", result.stderr


def test_verify_reports_key_shaped_strings(store: str, store_dir: Path) -> None:
    files = FileStore(store_dir)
    key = asyncio.run(_first_key(files))
    raw = asyncio.run(files.get(key))
    assert raw is not None and b"Paris" in raw
    leaked = raw.replace(b"Paris", b"Paris sk-proj-abcdefghijklmnopqrstuvwxyz0123", 1)
    asyncio.run(files.set(key, leaked))
    result = run_cli("verify", store=store)
    assert result.returncode == 1
    assert f"BAD {key.namespace}/{key.digest}: holds key-shaped strings: API key" in result.stdout
    assert "abcdefghijklmnop" not in result.stdout  # the report never repeats the secret


async def _first_key(files: FileStore) -> CacheKey:
    async for key in files.keys():
        return key
    raise AssertionError("the filled store is empty")


def test_ls_filters_recordings_by_test() -> None:
    recordings = f"file://{ROOT / 'examples' / 'eval_suite' / '.agentcache'}"
    rows = as_json(run_cli("ls", "--json", "--test", "weather-oslo", store=recordings))
    assert len(rows) == 4
    assert {r["namespace"].split("-weather-oslo")[0] for r in rows} == {
        "test_eval.py-test_case",
        "test_eval.py-test_streamed",
    }
    assert as_json(run_cli("ls", "--json", "--test", "no-such-test", store=recordings)) == []
