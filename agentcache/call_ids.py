"""Tool call ids of cached answers: replayed as stored, renamed only where the run needs it.

The Runner remembers which tool call ids a run has completed, and silently skips a call that
repeats one. A live model answers every request with new ids, so that never happens to it; a
cached answer served twice in one run (an input filter or a trimmed history makes two turns
ask the same thing) would repeat its stored ids, and its tool calls would not run again.

So a hit keeps its stored ids (a re-run replays exactly what was recorded) unless the same
run has already seen one of them; then each such id gets a new one, derived from the old id
and a counter (deterministic: the same run re-run gets the same ids), keeping its prefix, and
consistently within the answer (an item naming another as its ``caller`` follows it). Item
ids and the response id are kept: they name objects the provider may hold.
"""

from __future__ import annotations

import contextlib
import hashlib
import weakref
from typing import Any

from agents.items import ModelResponse
from agents.models._run_context import get_model_run_owner


def _call_ids(response: ModelResponse) -> list[str]:
    ids = (getattr(item, "call_id", None) for item in response.output)
    return [call_id for call_id in ids if isinstance(call_id, str)]


def _new_id(old: str, taken: set[str]) -> str:
    prefix = old[: old.rfind("_") + 1] or "call_"
    n = 1
    while (new := prefix + hashlib.sha256(f"{old}#{n}".encode()).hexdigest()[:24]) in taken:
        n += 1
    return new


class RunCallIds:
    """The tool call ids each run (the SDK's run owner) has been answered with so far."""

    def __init__(self) -> None:
        self._runs: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

    def settle(self, response: ModelResponse, hit: bool) -> ModelResponse:
        """Note the answer's call ids for its run; rename a hit's ids the run already saw.
        ``response`` must be the caller's own copy (a hit's always is): it is changed in place.
        """
        ids = _call_ids(response)
        owner = get_model_run_owner()
        if not ids or owner is None:  # no tool call, or not inside a Runner turn
            return response
        try:
            seen = self._runs.setdefault(owner, set())
        except TypeError:  # an owner that cannot be weakly referenced: nothing to remember
            return response
        if hit and not seen.isdisjoint(ids):
            renamed = {old: _new_id(old, seen) for old in ids}
            response.output = [_renamed(item, renamed) for item in response.output]
            ids = list(renamed.values())
        seen.update(ids)
        return response

    def forget(self, owner: object) -> None:
        with contextlib.suppress(TypeError):  # an owner we could not have remembered
            self._runs.pop(owner, None)


def _renamed(item: Any, renamed: dict[str, str]) -> Any:
    update: dict[str, Any] = {}
    if getattr(item, "call_id", None) in renamed:
        update["call_id"] = renamed[item.call_id]
    caller: Any = getattr(item, "caller", None)
    if getattr(caller, "caller_id", None) in renamed:
        update["caller"] = caller.model_copy(update={"caller_id": renamed[caller.caller_id]})
    return item.model_copy(update=update) if update else item
