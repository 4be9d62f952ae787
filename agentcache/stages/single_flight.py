from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from agents.items import ModelResponse

from ..call import ModelCall
from ..chain import ORDER_SINGLE_FLIGHT, Handler, StageContext
from ..entry import Entry
from ..response import to_response
from ..stores.base import CacheKey


class SingleFlightStage:
    """N concurrent identical misses in this process make one inner call.

    The first caller leads; the others wait for its entry and get their own fresh copy of it
    (a ``coalesced`` hit). The flight stays open until the leader's background write lands, so a
    call arriving in between is served too. If the leader fails, is cancelled, or its answer is
    not storable, each follower calls the model itself: nobody hangs, nobody inherits an error.
    ``refresh()`` calls never follow (they asked for a new answer).

    ``recheck``: the exact lookup, asked again by a call about to lead. A stage between the
    lookup and this one may have taken a while (a semantic lookup waiting for its embedding),
    long enough for another call's flight to land: its entry is then in the store, and the
    call is a hit. Given when such a stage is there and the store is in this process, where
    asking again costs microseconds (a store shared across processes re-checks in its own
    single-flight stage).
    """

    name = "single_flight"
    order = ORDER_SINGLE_FLIGHT

    def __init__(
        self,
        context: StageContext,
        recheck: Callable[[ModelCall], Awaitable[ModelResponse | None]] | None = None,
    ) -> None:
        self._replay_usage = context.config.replay_usage
        self._recheck = recheck
        self._flights: dict[CacheKey, asyncio.Future[Entry | None]] = {}

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        if not call.cacheable or call.controls.skip_read:
            return await call_next(call)
        key = call.key
        flight = self._flights.get(key)
        if flight is not None:
            entry = await asyncio.shield(flight)
            if entry is None:
                return await call_next(call)
            call.state.outcome, call.state.layer, call.state.entry = "hit", "coalesced", entry
            return to_response(entry, replay_usage=self._replay_usage)

        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            response = None if self._recheck is None else await self._recheck(call)
            if response is None:
                response = await call_next(call)
        except BaseException:
            flight.set_result(None)
            self._land(key, flight)
            raise
        flight.set_result(call.state.entry)
        write = call.state.write
        if write is None or write.done():
            self._land(key, flight)
        else:
            write.add_done_callback(lambda _: self._land(key, flight))
        return response

    def _land(self, key: CacheKey, flight: asyncio.Future[Entry | None]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
