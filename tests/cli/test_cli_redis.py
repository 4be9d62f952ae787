"""The ``agentcache`` command against the test Redis (isolated by key prefix), and stores that
cannot list their entries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agentcache.cli import main
from agentcache.hookspecs import StoreFactory, hookimpl
from agentcache.plugins import get_plugins
from agentcache.stores.memory import MemoryStore
from tests.cli.conftest import as_json, fill, run_cli


@pytest.fixture
def redis_store(redis_url: str) -> str:
    joiner = "&" if "?" in redis_url else "?"
    url = f"{redis_url}{joiner}prefix=clitest-{uuid.uuid4().hex[:12]}"
    asyncio.run(fill(url))
    return url


def test_every_reading_command_against_redis(redis_store: str) -> None:
    rows = as_json(run_cli("ls", "--json", store=redis_store))
    assert len(rows) == 6 and {r["namespace"] for r in rows} == {"default", "t1"}
    assert as_json(run_cli("stats", "--json", store=redis_store))["by_namespace"]["t1"] == {
        "entries": 3,
        "bytes": sum(r["size"] for r in rows if r["namespace"] == "t1"),
    }
    first = next(r for r in rows if r["namespace"] == "default")
    other = next(r for r in rows if r["namespace"] == "t1")
    shown = run_cli("show", first["digest"][:16], store=redis_store)
    assert shown.returncode == 0 and '"instructions": "weather"' in shown.stdout
    diff = run_cli("explain", first["digest"], other["digest"], store=redis_store)
    assert 'instructions: "weather" != "weather please"' in diff.stdout
    assert run_cli("verify", store=redis_store).returncode == 0


def test_doctor_reports_the_redis_server(redis_store: str) -> None:
    report = as_json(run_cli("doctor", "--json", store=redis_store))
    assert report["writable"] and report["redis"]["version"]
    assert "search" in report["redis"]["modules"]  # the test server runs with its modules
    text = run_cli("doctor", store=redis_store).stdout
    assert "redis     " in text and "modules   " in text


def test_export_import_and_clear_against_redis(redis_store: str, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    assert run_cli("export", str(dump), store=redis_store).returncode == 0
    local = f"file://{tmp_path / 'local'}"
    assert "6 entries imported" in run_cli("import", str(dump), store=local).stdout
    assert run_cli("clear", store=redis_store).returncode == 2  # no terminal, no --yes
    assert as_json(run_cli("clear", "--yes", "--json", store=redis_store)) == {"removed": 6}
    assert as_json(run_cli("ls", "--json", store=redis_store)) == []
    assert "6 entries imported" in run_cli("import", str(dump), store=redis_store).stdout
    assert len(as_json(run_cli("ls", "--json", store=redis_store))) == 6
    assert as_json(run_cli("clear", "--yes", "--json", store=redis_store)) == {"removed": 6}


def test_an_unreachable_redis_is_one_line() -> None:
    result = run_cli("ls", store="redis://127.0.0.1:1/0")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("agentcache: store error: ConnectionError")


class _Opaque:
    """A store that cannot enumerate: only the protocol's methods."""

    def __init__(self, url: str) -> None:
        self.memory = MemoryStore()

    async def get(self, key: object) -> bytes | None:
        return None

    async def set(self, key: object, value: bytes, ttl: float | None = None) -> None: ...

    async def delete(self, key: object) -> None: ...

    async def clear(self, namespace: str | None = None) -> int:
        return 0

    async def size(self, namespace: str | None = None) -> int:
        return 0

    async def close(self) -> None: ...


class _OpaquePlugin:
    @hookimpl
    def agentcache_store_schemes(self) -> Mapping[str, StoreFactory]:
        return {"opaque": _Opaque}  # type: ignore[dict-item]


def test_a_store_that_cannot_list_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    plugin = _OpaquePlugin()
    get_plugins().register(plugin)
    try:
        for command in ("ls", "stats", "verify"):
            assert main([command, "--store", "opaque://"]) == 2
            err = capsys.readouterr().err
            assert err == "agentcache: this store (_Opaque) cannot list its entries\n"
        assert main(["clear", "--yes", "--store", "opaque://"]) == 0  # no listing needed
    finally:
        get_plugins().unregister(plugin)


class _HelloPlugin:
    """A plugin command through the ``agentcache_cli_commands`` hook."""

    @hookimpl
    def agentcache_cli_commands(self, subparsers: Any) -> None:
        hello = subparsers.add_parser("hello", help="say hello")
        hello.add_argument("name")
        hello.set_defaults(run=lambda args: print(f"hello {args.name}") or 3)


def test_a_plugin_adds_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    plugin = _HelloPlugin()
    get_plugins().register(plugin)
    try:
        assert main(["hello", "world"]) == 3
        assert capsys.readouterr().out == "hello world\n"
    finally:
        get_plugins().unregister(plugin)
    with pytest.raises(SystemExit) as exc:  # gone with its plugin: a usage error
        main(["hello", "world"])
    assert exc.value.code == 2
