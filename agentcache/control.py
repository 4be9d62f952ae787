"""Per-call controls, carried by a context variable.

They apply to every model call made inside the ``with`` block, including calls from tasks
started inside it (asyncio copies the context into new tasks), so they work around a whole
``Runner.run`` without threading arguments through the SDK::

    with agentcache.refresh():
        await Runner.run(agent, "...", run_config=RunConfig(model=cached))
"""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from .config import check_namespace, check_number


@dataclass(frozen=True)
class Controls:
    """The controls in force for one call. ``ttl`` of ``None`` means the model's default."""

    no_cache: bool = False
    skip_read: bool = False
    skip_write: bool = False
    ttl: float | None = None
    namespace: str | None = None


_current: contextvars.ContextVar[Controls] = contextvars.ContextVar(
    "agentcache_controls",
    default=Controls(),  # noqa: B039 - frozen, never mutated
)


def current_controls() -> Controls:
    return _current.get()


@contextmanager
def _override(**changes: Any) -> Iterator[None]:
    token = _current.set(dataclasses.replace(_current.get(), **changes))
    try:
        yield
    finally:
        _current.reset(token)


def no_cache() -> AbstractContextManager[None]:
    """Bypass the cache (no read, no write); the bypass reason is ``no_cache``."""
    return _override(no_cache=True)


def no_store() -> AbstractContextManager[None]:
    """Read from the cache, but do not write new answers."""
    return _override(skip_write=True)


def refresh() -> AbstractContextManager[None]:
    """Skip the read and write the fresh answer over the old entry."""
    return _override(skip_read=True)


def ttl(seconds: float) -> AbstractContextManager[None]:
    """Entries written inside expire after ``seconds`` instead of the model's default."""
    check_number("ttl", seconds)
    return _override(ttl=float(seconds))


def namespace(name: str) -> AbstractContextManager[None]:
    """Read and write entries in namespace ``name`` (tenant isolation)."""
    return _override(namespace=check_namespace(name))
