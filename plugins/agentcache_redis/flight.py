"""Cross-process single-flight: identical concurrent misses in many processes, one model call.

The in-process ``SingleFlightStage`` (order 400) already folds a process's identical misses
into one; this stage, just inside it, does the same across processes sharing a Redis. The
first process takes ``SET {entry}:lock token NX PX lock_ttl`` unless the entry is there (a
leader that finished just before might have written it; one script, one round trip), calls
the model, and releases the lock with a compare-and-delete script once its background write
has landed. The others poll: the entry
(a hit, layer ``redis_flight``) or the lock (free again: the leader failed, gave an unstorable
answer, or died and its lock expired, so this process leads now). After ``wait`` seconds a
waiter calls the model itself. Every Redis call goes through the guarded store, so the lookup,
the lock and the re-checks of one call share its ``store_timeout`` budget and the circuit
breaker; any failure means "call the model": the lock only saves money, it is never needed for
correctness.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from agents.items import ModelResponse

from agentcache.call import ModelCall
from agentcache.chain import ORDER_SINGLE_FLIGHT, ORDER_STORE, Handler, StageContext
from agentcache.entry import CorruptEntry, decode
from agentcache.response import to_response
from agentcache.stores.base import CacheKey

from .store import LOCKED, STORED, RedisStore

ORDER_REDIS_FLIGHT = (ORDER_SINGLE_FLIGHT + ORDER_STORE) // 2
FLIGHT_SECONDS = ("redis_flight_lock_ttl", "redis_flight_wait", "redis_flight_poll")


class RedisFlightStage:
    """Options (``CachedModel(options={...})``): ``redis_flight_lock_ttl`` (30 s: how long a
    crashed leader blocks the others), ``redis_flight_wait`` (as long as the lock), and
    ``redis_flight_poll`` (0.02 s, the first poll interval; it doubles up to 0.2 s)."""

    name = "redis_flight"
    order = ORDER_REDIS_FLIGHT

    def __init__(self, context: StageContext, redis: RedisStore) -> None:
        options: dict[str, Any] = dict(context.config.options)
        self._redis = redis
        self._store = context.store
        self._stats = context.stats
        self._background = context.background
        self._replay_usage = context.config.replay_usage
        self._lock_ttl = float(options.get("redis_flight_lock_ttl", 30.0))
        self._wait = float(options.get("redis_flight_wait", self._lock_ttl))
        self._poll = float(options.get("redis_flight_poll", 0.02))

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        if not call.cacheable or call.controls.skip_read or self._store.circuit_open:
            return await call_next(call)
        key, token = call.key, uuid.uuid4().hex
        deadline, pause = time.monotonic() + self._wait, self._poll
        while True:
            tried = not self._store.call_failed  # else the guard skips the lock
            state = await self._lock_unless_stored(key, token)
            if state is None:  # Redis is failing: the model answers, as for any miss
                if tried:
                    self._release(key, token)  # it may have been taken before the timeout
                return await call_next(call)
            if state == STORED:  # a leader that just released has written the entry
                hit = await self._hit(call)
                # Unreadable (expired, corrupt, not ours): the model answers, without a lock.
                return hit if hit is not None else await call_next(call)
            if state == LOCKED:
                break
            if time.monotonic() >= deadline:
                return await call_next(call)  # waited long enough: call the model anyway
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.2)
        try:
            response = await call_next(call)
        except BaseException:
            self._release(key, token)
            raise
        write = call.state.write
        if write is None or write.done():
            self._release(key, token)
        else:
            write.add_done_callback(lambda _: self._release(key, token))
        return response

    async def _lock_unless_stored(self, key: CacheKey, token: str) -> int | None:
        """``STORED``, ``LOCKED`` (we lead) or ``HELD`` (someone else does), in one round trip;
        None: Redis failed or the call's store budget is spent (the guard counted it, and a
        lock that fails counts toward its circuit breaker like any store call)."""
        return await self._store.run(
            "lock", lambda: self._redis.lock_unless_stored(key, token, self._lock_ttl), None
        )

    async def _hit(self, call: ModelCall) -> ModelResponse | None:
        raw = await self._store.get(call.key)  # guarded: budget, signature, breaker
        if raw is None:
            return None
        try:
            entry = decode(raw)
            if entry.digest != call.key.digest or entry.expired():
                return None  # the exact stage will find and remove it next time
            response = to_response(entry, replay_usage=self._replay_usage)
        except CorruptEntry:
            return None
        call.state.outcome, call.state.layer, call.state.entry = "hit", self.name, entry
        return response

    def _release(self, key: CacheKey, token: str) -> None:
        async def unlock() -> None:  # a lock that stays expires by itself
            await self._store.run("unlock", lambda: self._redis.unlock(key, token), None, tries=3)

        # Not waited for by the run: the entry is what the others need, and a lock left by a
        # process that exits expires (``flush()`` still waits for it).
        self._background.spawn(unlock(), "flight_unlock", run_waits=False)
