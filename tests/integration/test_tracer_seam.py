"""The tracing seam: a plugin's ``agentcache_tracer`` sees each I/O step of a call, in its task."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from agents import RunConfig, Runner

from agentcache import CachedModel, ModelCall, Plugins, hookimpl
from agentcache.config import CacheConfig
from tests.support import TurnModel, weather_agent


class RecordingTracer:
    def __init__(self, name: str, log: list[tuple[str, str, str, str | None]]) -> None:
        self.name, self.log = name, log

    @contextmanager
    def span(self, step: str, call: ModelCall) -> Iterator[None]:
        self.log.append((self.name, "enter", step, None))
        try:
            yield
        except BaseException as exc:
            self.log.append((self.name, "exit", step, type(exc).__name__))
            raise
        self.log.append((self.name, "exit", step, None))


class TracerPlugin:
    def __init__(self, tracer: RecordingTracer | None) -> None:
        self.tracer = tracer
        self.configs: list[CacheConfig] = []

    @hookimpl
    def agentcache_tracer(self, config: CacheConfig) -> RecordingTracer | None:
        self.configs.append(config)
        return self.tracer


def steps(log: list[tuple[str, str, str, str | None]], name: str = "a") -> list[str]:
    return [step for who, what, step, _ in log if who == name and what == "enter"]


async def run(cached: CachedModel) -> Any:
    result = await Runner.run(weather_agent(), "weather?", run_config=RunConfig(model=cached))
    await cached.flush()
    return result


async def test_steps_of_a_miss_and_a_hit() -> None:
    log: list[tuple[str, str, str, str | None]] = []
    plugins = Plugins(load_entry_points=False)
    plugin = TracerPlugin(RecordingTracer("a", log))
    plugins.register(plugin)
    cached = CachedModel(TurnModel(), plugins=plugins, namespace="traced")
    assert [c.namespace for c in plugin.configs] == ["traced"]

    await run(cached)
    assert steps(log) == ["lookup", "model", "store_write"] * 3
    assert all(err is None for *_, err in log)
    log.clear()
    await run(cached)
    assert steps(log) == ["lookup"] * 3


async def test_tracers_nest_and_see_errors() -> None:
    log: list[tuple[str, str, str, str | None]] = []
    plugins = Plugins(load_entry_points=False)
    plugins.register(TracerPlugin(RecordingTracer("a", log)), name="a")
    plugins.register(TracerPlugin(None), name="none")  # a plugin may stay out
    plugins.register(TracerPlugin(RecordingTracer("b", log)), name="b")
    cached = CachedModel(TurnModel(fail_first=1), plugins=plugins)

    with pytest.raises(RuntimeError):
        await run(cached)
    model_events = [(who, what, err) for who, what, step, err in log if step == "model"]
    assert model_events == [
        ("a", "enter", None),
        ("b", "enter", None),
        ("b", "exit", "RuntimeError"),
        ("a", "exit", "RuntimeError"),
    ]
