"""Fail open: a slow, dead or broken store costs a miss, never an agent run.

Every store call gets a time budget; failures are counted and logged at most once per
``log_interval`` per kind (a storm of failures is one line with a count, not thousands); after
``failure_threshold`` consecutive failures a circuit breaker skips the store for ``cooldown``
seconds, then lets one call probe it again.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .stats import Stats
from .stores.base import BadValue, CacheKey, Store

log = logging.getLogger("agentcache")
T = TypeVar("T")


async def with_timeout(awaitable: Awaitable[T], seconds: float) -> T:
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):  # no extra task, unlike wait_for
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)  # pragma: no cover - Python 3.10


class GuardedStore:
    def __init__(
        self,
        store: Store,
        stats: Stats,
        *,
        timeout: float = 0.25,
        failure_threshold: int = 5,
        cooldown: float = 30.0,
        log_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        # A store that never waits on I/O cannot be slow; skip the timer on the hot path.
        self._in_process = bool(getattr(store, "in_process", False))
        self._stats = stats
        self._timeout = timeout
        self._threshold = failure_threshold
        self._cooldown = cooldown
        self._log_interval = log_interval
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0
        self._last_log: dict[str, tuple[float, int]] = {}

    async def get(self, key: CacheKey) -> bytes | None:
        return await self._call("get", lambda: self.store.get(key), None)

    async def set(self, key: CacheKey, value: bytes, ttl: float | None) -> bool:
        return await self._call("set", lambda: _true(self.store.set(key, value, ttl)), False)

    async def delete(self, key: CacheKey) -> None:
        await self._call("delete", lambda: self.store.delete(key), None)

    @property
    def circuit_open(self) -> bool:
        return self._clock() < self._open_until

    async def _call(self, op: str, fn: Callable[[], Awaitable[T]], default: T) -> T:
        if self._open_until:
            if self.circuit_open:
                self._stats.count("errors", "store_circuit_open")
                return default
            self._open_until = 0.0  # half-open: this call probes the store
            self._failures = self._threshold - 1  # one more failure re-opens at once
        try:
            result = await (fn() if self._in_process else with_timeout(fn(), self._timeout))
        except BadValue as exc:  # the store is healthy; one value was not
            self._stats.count("errors", exc.kind)
            self.warn(exc.kind, "store %s: %s; removed, answering from the model", op, exc)
            self._failures = 0
            return default
        except (TimeoutError, asyncio.TimeoutError) as exc:
            self._failed(op, "store_timeout", exc)
            return default
        except Exception as exc:
            self._failed(op, "store_error", exc)
            return default
        self._failures = 0
        return result

    def _failed(self, op: str, kind: str, exc: BaseException) -> None:
        self._stats.count("errors", kind)
        self._failures += 1
        if self._failures >= self._threshold:
            self._open_until = self._clock() + self._cooldown
        self.warn(
            kind, "store %s failed (%s: %s); answering from the model", op, type(exc).__name__, exc
        )

    def warn(self, kind: str, msg: str, *args: object) -> None:
        """Log once per interval per kind, with how many were suppressed in between."""
        now = self._clock()
        last, suppressed = self._last_log.get(kind, (float("-inf"), 0))
        if now - last < self._log_interval:
            self._last_log[kind] = (last, suppressed + 1)
            return
        self._last_log[kind] = (now, 0)
        extra = f" ({suppressed} similar suppressed)" if suppressed else ""
        log.warning("agentcache: " + msg + extra, *args)


async def _true(awaitable: Awaitable[None]) -> bool:
    await awaitable
    return True
