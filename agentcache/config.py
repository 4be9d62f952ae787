"""``CacheConfig``: the options of one cached model, at the bottom of the core.

Stages, hooks and plugins read it; it imports nothing of the core but the key encoder that
validates ``key_extras``, so every other module can import it without a cycle.

Configuration is strict: every option is checked where it is given, and a bad one is one line
that names it (``ttl must be a number of seconds > 0 or None, got '60' (str)``). A cache that
silently turned a typo into "store nothing" or "share the default tenant" would be found in
production, by its bill.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .keys import to_jsonable


def _shown(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_number(
    name: str, value: object, *, minimum: float = 0.0, inclusive: bool = False
) -> None:
    """A finite real number above ``minimum`` (or equal, with ``inclusive``); bools are not."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value >= minimum if inclusive else value > minimum):  # type: ignore[operator]
        return
    bound = f">= {minimum:g}" if inclusive else f"> {minimum:g}"
    raise ValueError(f"{name} must be a finite number {bound}, got {_shown(value)}")


def check_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return
    raise ValueError(f"{name} must be an int >= {minimum}, got {_shown(value)}")


def check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {_shown(value)}")


def check_namespace(value: object, name: str = "namespace") -> str:
    """A tenant id: a non-blank string. An empty one must not quietly mean ``"default"``:
    that would share another tenant's entries."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty, non-blank string, got {_shown(value)}")
    return value


@dataclass(frozen=True)
class CacheConfig:
    """The options of one cached model; stages read them from ``StageContext.config``."""

    namespace: str = "default"
    ttl: float | None = None
    enabled: bool = True
    replay_usage: bool = False
    max_entry_bytes: int = 4 * 1024 * 1024
    store_timeout: float = 0.25
    key_extras: Mapping[str, Any] | None = None
    stream_chunk_chars: int = 32
    """Characters per text delta when a hit is replayed as a stream."""
    stream_delay: float = 0.0
    """Seconds before each delta of a replayed stream (a typing effect); off by default. A
    replay never takes more than half the call's ``ModelSettings.timeout``: a hit must not time
    out."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Options for plugin stages (``CachedModel(..., options={...})``); plugins declare the
    names they read (``agentcache_options``), and an unknown name is an error."""

    def __post_init__(self) -> None:
        check_namespace(self.namespace)
        if self.ttl is not None:
            check_number("ttl", self.ttl)
        check_bool("enabled", self.enabled)
        check_bool("replay_usage", self.replay_usage)
        check_int("max_entry_bytes", self.max_entry_bytes, minimum=1)
        check_number("store_timeout", self.store_timeout)
        check_int("stream_chunk_chars", self.stream_chunk_chars, minimum=1)
        check_number("stream_delay", self.stream_delay, inclusive=True)
        if not isinstance(self.options, Mapping):
            raise ValueError(f"options must be a mapping, got {_shown(self.options)}")
        if self.key_extras is not None and not isinstance(self.key_extras, Mapping):
            raise ValueError(f"key_extras must be a mapping or None, got {_shown(self.key_extras)}")
        to_jsonable(self.key_extras, "key_extras")  # fail now, naming the field
