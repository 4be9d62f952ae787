"""A file store filled through the real API, and a way to run the ``agentcache`` command."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner

import agentcache
from agentcache import CachedModel
from tests.support import TurnModel, convert_temperature, get_weather

ROOT = Path(__file__).parents[2]
CLI = Path(sys.executable).parent / "agentcache"

Run = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(*args: str, store: str | None = None, stdin: str | None = None) -> Any:
    command = [str(CLI), *args] + (["--store", store] if store is not None else [])
    env = {k: v for k, v in os.environ.items() if k != "AGENTCACHE_STORE"}
    return subprocess.run(
        command, capture_output=True, text=True, input=stdin, env=env, cwd=ROOT, timeout=120
    )


async def fill(store: str) -> None:
    """Two runs of the weather agent (three turns each) in two namespaces, with requests."""
    cached = CachedModel(TurnModel(), store=store, options={"record_requests": True})
    tools = [get_weather, convert_temperature]
    try:
        first = Agent(name="w", instructions="weather", tools=tools)
        await Runner.run(first, "Weather in Paris?", run_config=RunConfig(model=cached))
        second = Agent(name="w", instructions="weather please", tools=tools)
        with agentcache.namespace("t1"):
            await Runner.run(second, "Weather in Paris?", run_config=RunConfig(model=cached))
    finally:
        await cached.close()


@pytest.fixture(scope="session")
def filled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli") / "store"
    asyncio.run(fill(f"file://{directory}"))
    return directory


@pytest.fixture
def store_dir(filled_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the filled store, for commands that change it."""
    copy = tmp_path / "store"
    shutil.copytree(filled_dir, copy)
    return copy


@pytest.fixture
def store(store_dir: Path) -> str:
    return f"file://{store_dir}"


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
