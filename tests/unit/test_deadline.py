"""``with_timeout``: the store budget's deadline, and a busy event loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from agentcache.guard import with_timeout


async def test_an_answer_in_by_the_deadline_wins_when_a_busy_loop_runs_both_in_one_turn() -> None:
    """The loop is blocked past the deadline; the answer (due at 10 ms) and the deadline (at
    100 ms) then come due in the same turn. ``asyncio.timeout`` cancels the task there, its
    answer already set; the store budget must not count that as a slow store."""
    loop = asyncio.get_running_loop()
    for _ in range(5):
        answer: asyncio.Future[str] = loop.create_future()
        loop.call_later(0.01, answer.set_result, "reply")
        loop.call_soon(time.sleep, 0.2)  # the loop's own work, past the deadline
        assert await with_timeout(answer, 0.1) == "reply"


async def test_an_answer_not_in_by_the_deadline_times_out() -> None:
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await with_timeout(never, 0.05)
    assert time.monotonic() - started < 1.0  # a hang guard, not a performance claim


async def test_a_cancel_from_outside_stays_a_cancel() -> None:
    async def waits() -> None:
        await with_timeout(asyncio.sleep(10), 5)

    task = asyncio.create_task(waits())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
