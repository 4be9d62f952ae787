"""Writes that must not delay the caller, without losing them or their errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from .stats import Stats

log = logging.getLogger("agentcache")
LOG_INTERVAL = 30.0


class Background:
    """Runs coroutines as tasks (which copy the caller's contextvars, so SDK tracing spans stay
    current), keeps a strong reference until they finish, and never lets an error escape."""

    def __init__(
        self, stats: Stats, track: Callable[[asyncio.Task[None]], None] | None = None
    ) -> None:
        self._stats = stats
        self._track = track
        """Told of every task, so that the run that started a write can wait for it."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._logged: dict[str, tuple[float, int]] = {}

    def spawn(
        self, coro: Coroutine[Any, Any, None], what: str, *, run_waits: bool = True
    ) -> asyncio.Task[None]:
        """``run_waits=False``: work the run that started it need not wait for at its end
        (indexing for near-duplicates, shadow comparisons); ``flush()`` still does."""
        task = asyncio.get_running_loop().create_task(self._guard(coro, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._track is not None and run_waits:
            self._track(task)
        return task

    async def _guard(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._stats.count("errors", what)
            # One line per kind per interval (with the traceback at DEBUG): an outage fails
            # every write, and a log of a thousand tracebacks hides the one line that matters.
            now = time.monotonic()
            last, quiet = self._logged.get(what, (float("-inf"), 0))
            if now - last < LOG_INTERVAL:
                self._logged[what] = (last, quiet + 1)
                log.debug("agentcache: background %s failed", what, exc_info=True)
                return
            self._logged[what] = (now, 0)
            more = f" ({quiet} similar suppressed)" if quiet else ""
            log.warning("agentcache: background %s failed: %r%s", what, exc, more, exc_info=True)

    async def flush(self) -> None:
        """Wait for every pending write; call before a script exits or a test asserts."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
