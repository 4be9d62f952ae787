"""``CacheConfig``: the options of one cached model, at the bottom of the core.

Stages, hooks and plugins read it; it imports nothing of the core but the key encoder that
validates ``key_extras``, so every other module can import it without a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .keys import to_jsonable


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
    """Seconds before each delta of a replayed stream (a typing effect); off by default."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """Free-form options for plugin stages (``CachedModel(..., options={...})``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.namespace, str) or not self.namespace:
            raise ValueError(f"namespace must be a non-empty string, got {self.namespace!r}")
        if self.ttl is not None and not self.ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds or None, got {self.ttl!r}")
        if not self.store_timeout > 0:
            raise ValueError(f"store_timeout must be positive, got {self.store_timeout!r}")
        if not (isinstance(self.stream_chunk_chars, int) and self.stream_chunk_chars > 0):
            raise ValueError(
                f"stream_chunk_chars must be a positive int, got {self.stream_chunk_chars!r}"
            )
        if not self.stream_delay >= 0:
            raise ValueError(f"stream_delay must be >= 0 seconds, got {self.stream_delay!r}")
        to_jsonable(self.key_extras, "key_extras")  # fail now, naming the field
