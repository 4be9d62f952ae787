"""Strict configuration: a bad option is one clear error at construction, naming the option.

A cache that quietly turned ``namespace=""`` into the default tenant, ``max_entry_bytes=-1``
into "store nothing", or a misspelt option into a no-op would be found in production, by its
bill or by a tenant reading another's answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pytest
from agents import RunConfig, Runner
from agents.models.interface import ModelProvider

import agentcache
from agentcache import CachedModel, CachedModelProvider, CircuitBreaker, Plugins, hookimpl
from agentcache.hookspecs import OptionCheck
from tests.support import TurnModel, weather_agent

BAD: list[tuple[dict[str, Any], str]] = [
    ({"namespace": ""}, "namespace"),
    ({"namespace": "   "}, "namespace"),
    ({"namespace": 7}, "namespace"),
    ({"ttl": "60"}, "ttl"),
    ({"ttl": -1}, "ttl"),
    ({"ttl": 0}, "ttl"),
    ({"ttl": math.nan}, "ttl"),
    ({"ttl": math.inf}, "ttl"),
    ({"max_entry_bytes": -1}, "max_entry_bytes"),
    ({"max_entry_bytes": 0}, "max_entry_bytes"),
    ({"max_entry_bytes": 1.5}, "max_entry_bytes"),
    ({"store_timeout": 0}, "store_timeout"),
    ({"store_timeout": "1"}, "store_timeout"),
    ({"stream_delay": -0.1}, "stream_delay"),
    ({"stream_chunk_chars": 0}, "stream_chunk_chars"),
    ({"stream_chunk_chars": True}, "stream_chunk_chars"),
    ({"enabled": "yes"}, "enabled"),
    ({"replay_usage": 1}, "replay_usage"),
    ({"history": -1}, "history"),
    ({"model_id": " "}, "model_id"),
    ({"key_extras": "tenant-a"}, "key_extras"),
    ({"key_extras": {"when": object()}}, "key_extras"),
    ({"store": 6379}, "store"),
    ({"store": "redsi://localhost"}, "redsi://"),
    ({"circuit": {"threshold": 3}}, "circuit"),
    ({"options": {"redis_flght": 1}}, "redis_flght"),
    ({"options": {"redis_flight_lock_ttl": "30"}}, "redis_flight_lock_ttl"),
    ({"options": {"record_requests": "yes"}}, "record_requests"),
    ({"options": {"otel_tracer_provider": object()}}, "otel_tracer_provider"),
    ({"semantic": {"threshold": "0.8"}}, "threshold"),
    ({"semantic": {"treshold": 0.8}}, "treshold"),
    ({"semantic": "yes"}, "semantic"),
]


IDS = [f"{i}-{named}" for i, (_, named) in enumerate(BAD)]  # stable across xdist workers


@pytest.mark.parametrize(("kwargs", "named"), BAD, ids=IDS)
def test_a_bad_option_is_one_line_that_names_it(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises((ValueError, TypeError)) as raised:
        CachedModel(TurnModel(), **kwargs)
    message = str(raised.value)
    assert named in message and "\n" not in message, message


@pytest.mark.parametrize(("kwargs", "named"), BAD[:12], ids=IDS[:12])
def test_a_provider_checks_options_when_built_not_at_its_first_model(
    kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(named)):
        CachedModelProvider(_NoProvider(), **kwargs)


def test_an_unknown_option_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as raised:
        CachedModel(TurnModel(), options={"redis_flght": False})
    assert "unknown option 'redis_flght'" in str(raised.value)
    assert "redis_flight" in str(raised.value)  # the one that was meant


@pytest.mark.parametrize("bad", ["", " ", "\t\n"])
def test_a_blank_namespace_is_an_error_everywhere(bad: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        agentcache.namespace(bad)
    with pytest.raises(ValueError, match="namespace"):
        CachedModel(TurnModel(), namespace=bad)


def test_per_call_controls_are_checked_too() -> None:
    with pytest.raises(ValueError, match="ttl"):
        agentcache.ttl("5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ttl"):
        agentcache.ttl(-5)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"threshold": 0}, "threshold"),
        ({"threshold": 2.5}, "threshold"),
        ({"first_probe": 0}, "first_probe"),
        ({"max_probe": math.inf}, "max_probe"),
        ({"first_probe": 2.0, "max_probe": 1.0}, "max_probe"),
    ],
)
def test_circuit_breaker_settings_are_checked(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises((ValueError, TypeError), match=named):
        CircuitBreaker(**kwargs)


def test_defaults_and_good_values_are_accepted() -> None:
    model = CachedModel(
        TurnModel(),
        namespace="tenant-a",
        ttl=60,
        max_entry_bytes=1,
        stream_delay=0,
        circuit=CircuitBreaker(threshold=1, first_probe=0.05, max_probe=0.05),
        options={"record_requests": True, "redis_flight": False},
    )
    assert model.config.namespace == "tenant-a" and model.config.ttl == 60
    assert CachedModel(TurnModel(), namespace=None).config.namespace == "default"


class _WindowRule:
    """A third-party plugin that reads an option of its own and declares it."""

    def __init__(self) -> None:
        self.checked: list[Any] = []

    @hookimpl
    def agentcache_options(self) -> Mapping[str, OptionCheck]:
        return {"window_seconds": self._check}

    def _check(self, value: Any) -> None:
        self.checked.append(value)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"expected whole seconds >= 1, got {value!r}")


async def test_a_plugin_declares_its_options_and_checks_their_values() -> None:
    plugins = Plugins(load_entry_points=False)
    with pytest.raises(ValueError, match="unknown option 'window_seconds'"):
        CachedModel(TurnModel(), plugins=plugins, options={"window_seconds": 5})
    rule = _WindowRule()
    plugins.register(rule)
    with pytest.raises(ValueError, match=r"option 'window_seconds': expected whole seconds"):
        CachedModel(TurnModel(), plugins=plugins, options={"window_seconds": 0})
    model = CachedModel(TurnModel(), plugins=plugins, options={"window_seconds": 5})
    assert rule.checked == [0, 5]
    result = await Runner.run(weather_agent(), "Weather?", run_config=RunConfig(model=model))
    assert result.final_output  # a declared option changes nothing else


class _NoProvider(ModelProvider):
    def get_model(self, model_name: str | None) -> Any:
        raise AssertionError("options must be checked before any model is asked for")


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://127.0.0.1:6379/abc", "database number"),
        ("redis://127.0.0.1:6379/0?compress_min_bytes=-1", "compress_min_bytes"),
        ("redis://127.0.0.1:6379/0?compress_min_bytes=ten", "compress_min_bytes"),
        ("redis://127.0.0.1:6379/0?max_value_bytes=0", "max_value_bytes"),
        ("redis://127.0.0.1:6379/0?scan_count=0", "scan_count"),
    ],
)
def test_a_bad_redis_url_is_an_error_naming_what_is_wrong(url: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        CachedModel(TurnModel(), store=url)
