"""What a cached model remembers about each run in progress (the SDK's run owner).

**Repeated requests.** Within one run, the Runner sometimes sends a request identical to an
earlier one (it dropped an item the model returned, an input filter trimmed the history) and
expects the model to move on. Serving the first answer again would loop the run until
``max_turns``. So the n-th identical request of a run is its own key (the request digest and
``n``): live, it reaches the model like the first one did; re-run, each occurrence is answered
by the answer recorded for it, in order.

**Writes.** Entries are written in the background, off the caller's path; the Runner's
end-of-run hook waits for the writes its run started, so what a run stored is in the store
when ``Runner.run`` returns (and ``stats().stores`` counts it).

**Tool call ids.** The Runner remembers the call ids a run has completed and silently skips a
call that repeats one. A hit keeps its stored ids (a re-run replays exactly what was recorded)
unless the run has already seen one of them (a semantic hit can serve an answer twice); then
each id gets a new one derived from the old id and a counter (deterministic), keeping its
prefix, consistently within the answer (an item naming another as its ``caller`` follows it).
Item ids and the response id are kept: they name objects the provider may hold.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from typing import Any

from agents.items import ModelResponse
from agents.models._run_context import get_model_run_owner


def _call_ids(response: ModelResponse) -> list[str]:
    ids = []
    for item in response.output:
        call_id = _call_id(item)
        if isinstance(call_id, str):
            ids.append(call_id)
    return ids


def _call_id(item: Any) -> Any:
    """``getattr(item, "call_id", None)`` without its cost on the hot path: for a pydantic item
    without the field (a message), pydantic raises and catches an ``AttributeError`` (about
    3 us). Its declared fields are in its instance dict, and undeclared ones it kept (an SDK
    item type newer than ours) in ``__pydantic_extra__``."""
    extra: Any = getattr(item, "__pydantic_extra__", _NOT_PYDANTIC)
    if extra is _NOT_PYDANTIC:
        return getattr(item, "call_id", None)
    call_id = item.__dict__.get("call_id")
    if call_id is None and extra:
        call_id = extra.get("call_id")
    return call_id


_NOT_PYDANTIC = object()


def _new_id(old: str, taken: set[str]) -> str:
    prefix = old[: old.rfind("_") + 1] or "call_"
    n = 1
    while (new := prefix + hashlib.sha256(f"{old}#{n}".encode()).hexdigest()[:24]) in taken:
        n += 1
    return new


class _Run:
    __slots__ = ("call_ids", "requests", "writes")

    def __init__(self) -> None:
        self.requests: dict[str, int] = {}
        self.call_ids: set[str] = set()
        self.writes: set[asyncio.Task[None]] = set()


class Runs:
    """Per run in progress: how often each request was made, the call ids it was answered with."""

    def __init__(self) -> None:
        self._runs: weakref.WeakKeyDictionary[Any, _Run] = weakref.WeakKeyDictionary()

    def _current(self) -> _Run | None:
        owner = get_model_run_owner()
        if owner is None:  # not inside a Runner turn
            return None
        try:
            run = self._runs.get(owner)
            if run is None:  # the run's first call (no new object on every call)
                run = self._runs[owner] = _Run()
        except TypeError:  # an owner that cannot be weakly referenced: nothing to remember
            return None
        return run

    def occurrence(self, request_digest: str) -> int:
        """Count a request in its run: 1 the first time, n the n-th time."""
        run = self._current()
        if run is None:
            return 1
        n = run.requests[request_digest] = run.requests.get(request_digest, 0) + 1
        return n

    def settle(self, response: ModelResponse, hit: bool) -> ModelResponse:
        """Note the answer's call ids for its run; rename a hit's ids the run already saw.
        ``response`` must be the caller's own copy (a hit's always is): it is changed in place.
        """
        ids = _call_ids(response)
        run = self._current() if ids else None
        if run is None:
            return response
        seen = run.call_ids
        if hit and not seen.isdisjoint(ids):
            renamed = {old: _new_id(old, seen) for old in ids}
            response.output = [_renamed(item, renamed) for item in response.output]
            ids = list(renamed.values())
        seen.update(ids)
        return response

    def track(self, task: asyncio.Task[None]) -> None:
        """A background write started by the current run: its end waits for it."""
        run = self._current()
        if run is not None:
            run.writes.add(task)
            task.add_done_callback(run.writes.discard)

    async def end(self, owner: object) -> None:
        """The run is over: wait for the writes it started (each is bounded by the store's
        budget and never raises), then forget it."""
        try:
            run = self._runs.get(owner)
        except TypeError:  # an owner we could not have remembered
            return
        while run is not None and run.writes:  # a write may start another (an unlock)
            await asyncio.gather(*run.writes, return_exceptions=True)
        self._runs.pop(owner, None)


def _renamed(item: Any, renamed: dict[str, str]) -> Any:
    update: dict[str, Any] = {}
    if getattr(item, "call_id", None) in renamed:
        update["call_id"] = renamed[item.call_id]
    caller: Any = getattr(item, "caller", None)
    if getattr(caller, "caller_id", None) in renamed:
        update["caller"] = caller.model_copy(update={"caller_id": renamed[caller.caller_id]})
    return item.model_copy(update=update) if update else item
