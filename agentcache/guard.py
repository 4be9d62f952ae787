"""Fail open: a slow, dead or broken store costs a miss, never an agent run.

* **One timeout per call.** Each store call waits at most ``store_timeout``; once a store call
  of a model call has timed out or failed, the rest of that call (a re-check, the Redis lock)
  skips the store, so a hung store costs a call one ``store_timeout``, not one per step.
  Background writes are on their own (they never delay a caller).
* **Shared lookups.** Concurrent lookups of one key (a thousand runs asking the same
  question) make one store call; the others wait for its answer. Otherwise they would queue
  for the client's connections, time out, and open the breaker on load the cache
  made itself.
* **Circuit breaker.** After ``threshold`` consecutive failures the store is skipped; one call
  probes it after ``first_probe`` seconds, then after twice that, ... up to ``max_probe``, so a
  store that comes back is used again within ``max_probe`` seconds (about a second by
  default), while a dead one costs one probing call per interval. Other calls never queue
  behind a probe. A timeout whose timer fired late (the event loop was not running: the
  process's own load) says nothing about the store: it is counted as
  ``store_timeout_loop_lag``, does not count toward the breaker (which would then drop the
  writes that load produces) nor skip the rest of the call (or of the calls sharing its
  lookup), and a write that met it is tried again (up to 3 times). An answer that is in by
  the deadline wins over it, even when a busy loop handles both in the same turn.
* **Quiet.** Failures are counted and logged at most once per ``log_interval`` per kind (a storm
  of failures is one line with a count, not thousands).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import sys
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from .stats import Stats
from .stores.base import BadValue, CacheKey, Store

log = logging.getLogger("agentcache")
T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")


if sys.version_info >= (3, 11):

    class _Deadline:
        """``asyncio.timeout`` where an answer that is in by the deadline wins. A busy event loop
        can run a reply's callback and the deadline's in the same turn; ``asyncio.timeout`` then
        cancels a task whose answer is already there (its wake-up comes after). Here the cancel
        waits behind the callbacks already ready, and is dropped when the task has left the block
        by then. (Python 3.11+: ``Task.cancelling`` and ``uncancel``.)"""

        __slots__ = ("_cancelling", "_expired", "_handle", "_seconds", "_task")

        def __init__(self, seconds: float) -> None:
            self._seconds = seconds
            self._expired = False

        async def __aenter__(self) -> None:
            task = asyncio.current_task()
            if task is None:  # pragma: no cover - an await always runs in a task
                raise RuntimeError("a deadline needs a task")
            self._task, self._cancelling = task, task.cancelling()
            self._handle: asyncio.Handle | None = asyncio.get_running_loop().call_later(
                self._seconds, self._due
            )

        def _due(self) -> None:
            self._handle = asyncio.get_running_loop().call_soon(self._expire)

        def _expire(self) -> None:
            self._handle, self._expired = None, True
            self._task.cancel()

        async def __aexit__(
            self, kind: type[BaseException] | None, error: object, _: object
        ) -> None:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            if (
                self._expired
                and self._task.uncancel() <= self._cancelling  # our cancel, no one else's
                and kind is asyncio.CancelledError
            ):
                raise TimeoutError from (error if isinstance(error, BaseException) else None)


def fired_late(started: float, seconds: float, now: float) -> bool:
    """Whether a timeout of ``seconds`` started at ``started`` fired late (``now``, the same
    clock): the event loop was not running (this process's own load), and the answer may be
    there, unread. Such a timeout says nothing about the store."""
    return now - started - seconds > max(seconds / 4, 0.02)


async def with_timeout(awaitable: Awaitable[T], seconds: float) -> T:
    if sys.version_info >= (3, 11):
        async with _Deadline(seconds):  # no extra task, unlike wait_for
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)  # pragma: no cover - Python 3.10


@dataclass(frozen=True)
class CircuitBreaker:
    """When to stop asking a failing store, and how soon to ask again
    (``CachedModel(circuit=CircuitBreaker(...))``)."""

    threshold: int = 5
    """Consecutive failures (timeouts, errors) that open the circuit."""
    first_probe: float = 0.1
    """Seconds until the first probe after the circuit opens."""
    max_probe: float = 1.0
    """The longest wait between probes (the interval doubles after each failed probe): the
    worst-case time from a store's recovery to its use again."""

    def __post_init__(self) -> None:
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise TypeError(f"circuit threshold must be an int, got {self.threshold!r}")
        if self.threshold < 1:
            raise ValueError(f"circuit threshold must be >= 1, got {self.threshold!r}")
        for name in ("first_probe", "max_probe"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"circuit {name} must be a number of seconds, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"circuit {name} must be finite and > 0, got {value!r}")
        if self.max_probe < self.first_probe:
            raise ValueError(
                f"circuit max_probe ({self.max_probe}) must be >= first_probe ({self.first_probe})"
            )


class _Failed(enum.Enum):
    FAILED = "failed"  # skipped (breaker, an earlier failure of the call) or failed
    LAGGED = "lagged"  # timed out because this process's event loop was not running


class _CallScope:
    """One model call's store calls; only the task running the call is in it."""

    __slots__ = ("failed", "task")

    def __init__(self) -> None:
        self.failed = False
        self.task = asyncio.current_task()


_scope: ContextVar[_CallScope | None] = ContextVar("agentcache_store_call", default=None)


class GuardedStore:
    def __init__(
        self,
        store: Store,
        stats: Stats,
        *,
        timeout: float = 0.25,
        circuit: CircuitBreaker | None = None,
        log_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        # A store that never waits on I/O cannot be slow; skip the timer on the hot path.
        self._in_process = bool(getattr(store, "in_process", False))
        self._stats = stats
        self._timeout = timeout
        self.circuit = circuit or CircuitBreaker()
        self._log_interval = log_interval
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0  # 0: closed
        self._probe_interval = self.circuit.first_probe
        self._probing = False
        self._last_log: dict[str, tuple[float, int]] = {}
        self._gets: dict[CacheKey, asyncio.Future[bytes | _Failed | None]] = {}

    def per_call(self, handler: Callable[[A], Awaitable[R]]) -> Callable[[A], Awaitable[R]]:
        """``handler`` (a chain) with its store calls scoped per call: after one of them
        failed, the others of the same call skip the store."""
        if self._in_process:
            return handler

        async def scoped(call: A) -> R:
            token = _scope.set(_CallScope())
            try:
                return await handler(call)
            finally:
                _scope.reset(token)

        return scoped

    async def get(self, key: CacheKey) -> bytes | None:
        if self._in_process:
            if self._failures or self._open_until:  # the breaker has a say: the full path
                return await self.run("get", lambda: self.store.get(key), None)
            try:  # no timer, no scope: what ``run`` does with a healthy in-process store
                return await self.store.get(key)
            except Exception as exc:  # counted, logged and told to the breaker as by ``run``
                return await self.run("get", partial(_raise, exc), None)
        shared = self._gets.get(key)
        if shared is not None:  # the same lookup is on its way: wait for its answer
            return await self._share(shared)
        shared = self._gets[key] = asyncio.get_running_loop().create_future()
        outcome: bytes | _Failed | None = _Failed.FAILED
        try:
            outcome = await self._attempt("get", lambda: self.store.get(key))
        finally:  # a cancelled lookup answers its followers as a failed one
            del self._gets[key]
            shared.set_result(outcome)
        return None if isinstance(outcome, _Failed) else outcome

    async def _share(self, shared: asyncio.Future[bytes | _Failed | None]) -> bytes | None:
        """Another call's lookup (a failure is counted once, by the call that made it, and
        the rest of this call skips the store as that call's does)."""
        started = self._clock()
        try:
            outcome = await with_timeout(asyncio.shield(shared), self._timeout)
        except (TimeoutError, asyncio.TimeoutError):
            if self._lagged(started):  # this process's own load: a miss, nothing more
                self._stats.count("errors", "store_timeout_loop_lag")
                return None
            self._stats.count("errors", "store_skipped")
            outcome = _Failed.FAILED
        if outcome is _Failed.FAILED:
            self.fail_call()
        return None if isinstance(outcome, _Failed) else outcome

    def _lagged(self, started: float) -> bool:
        return fired_late(started, self._timeout, self._clock())

    async def set(self, key: CacheKey, value: bytes, ttl: float | None) -> bool:
        # A write lost only to this process's own lag is worth another try.
        return await self.run("set", lambda: _true(self.store.set(key, value, ttl)), False, tries=3)

    async def delete(self, key: CacheKey) -> None:
        await self.run("delete", lambda: self.store.delete(key), None)

    @property
    def circuit_open(self) -> bool:
        return bool(self._open_until) and (self._probing or self._clock() < self._open_until)

    async def run(
        self, op: str, fn: Callable[[], Awaitable[T]], default: T, *, tries: int = 1
    ) -> T:
        """``fn()`` within the timeout and the breaker; ``default`` when skipped or failed.
        Plugins guard their own store calls (a lock) with it, so they count toward both.
        ``tries`` > 1 tries again a call that timed out only because this process's event
        loop lagged (for what must land: a write, an unlock)."""
        for _ in range(tries):
            outcome = await self._attempt(op, fn)
            if outcome is not _Failed.LAGGED:
                break
        return default if isinstance(outcome, _Failed) else outcome

    @property
    def call_failed(self) -> bool:
        """Whether a store call of the model call running in this task failed: a layer with
        store I/O of its own (a remote vector search) skips it then, as the guard would."""
        scope = _scope.get()
        return scope is not None and scope.failed and scope.task is asyncio.current_task()

    def fail_call(self) -> None:
        """Such a layer's own I/O timed out: the rest of this model call skips the store."""
        scope = _scope.get()
        if scope is not None and scope.task is asyncio.current_task():
            scope.failed = True

    async def _attempt(self, op: str, fn: Callable[[], Awaitable[T]]) -> T | _Failed:
        probe = False
        if self._open_until:
            if self.circuit_open:
                self._stats.count("errors", "store_circuit_open")
                return _Failed.FAILED
            probe = self._probing = True  # half-open: this call alone asks the store
        scope = _scope.get()
        if scope is not None and scope.task is not asyncio.current_task():
            scope = None  # a background task: on its own
        if scope is not None and scope.failed and not self._in_process:
            self._probing = False
            self._stats.count("errors", "store_skipped")
            return _Failed.FAILED
        seconds, started = self._timeout, self._clock()
        try:
            result = await (fn() if self._in_process else with_timeout(fn(), seconds))
        except BadValue as exc:  # the store is healthy; one value was not
            self._stats.count("errors", exc.kind)
            self.warn(exc.kind, "store %s: %s; removed, answering from the model", op, exc)
            self._recovered()
            return _Failed.FAILED
        except (TimeoutError, asyncio.TimeoutError):
            if not probe and self._lagged(started):
                # A miss, but no sign of a sick store, so the breaker is not told.
                self._stats.count("errors", "store_timeout_loop_lag")
                return _Failed.LAGGED
            self._failed(op, "store_timeout", f"timed out ({seconds:g}s)", probe, scope)
            return _Failed.FAILED
        except Exception as exc:
            what = f"failed ({type(exc).__name__}: {exc})"
            self._failed(op, "store_error", what, probe, scope)
            return _Failed.FAILED
        except BaseException:  # cancelled: an unfinished probe lets the next call probe
            if probe:
                self._probing = False
            raise
        if self._failures or self._open_until:
            self._recovered()
        return result

    def _recovered(self) -> None:
        if self._open_until:
            log.info("agentcache: the store answers again; circuit closed")
        self._failures, self._open_until, self._probing = 0, 0.0, False
        self._probe_interval = self.circuit.first_probe

    def _failed(self, op: str, kind: str, what: str, probe: bool, scope: _CallScope | None) -> None:
        if scope is not None:  # the rest of this model call skips the store
            scope.failed = True
        self._stats.count("errors", kind)
        self._failures += 1
        if probe:  # still down: wait longer before the next probe
            self._probing = False
            self._probe_interval = min(self._probe_interval * 2, self.circuit.max_probe)
            self._open_until = self._clock() + self._probe_interval
        elif self._failures >= self.circuit.threshold and not self._open_until:
            self._open_until = self._clock() + self._probe_interval
        self.warn(kind, "store %s %s; answering from the model", op, what)

    def warn(self, kind: str, msg: str, *args: object) -> None:
        """Log once per interval per kind, with how many were suppressed in between."""
        now = self._clock()
        last, suppressed = self._last_log.get(kind, (float("-inf"), 0))
        if now - last < self._log_interval:
            self._last_log[kind] = (last, suppressed + 1)
            return
        self._last_log[kind] = (now, 0)
        extra = f" ({suppressed} similar suppressed)" if suppressed else ""
        text = (msg + extra) % args
        # Escaped: a lone surrogate from a user's input would break a UTF-8 log handler.
        log.warning("agentcache: %s", text.encode("utf-8", "backslashreplace").decode("utf-8"))


async def _raise(exc: Exception) -> None:
    raise exc


async def _true(awaitable: Awaitable[None]) -> bool:
    await awaitable
    return True
