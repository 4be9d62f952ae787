"""The built-in plugin: the server-side-state bypass rule and the embedded stores' schemes.

It implements the same hooks a third-party plugin would, and is registered explicitly (not
through an entry point) so that it is always there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .call import ModelCall
from .config import check_bool
from .hookspecs import OptionCheck, StoreFactory, hookimpl
from .keys import to_jsonable
from .stores.file import FileStore
from .stores.memory import MemoryStore


@hookimpl
def agentcache_bypass(call: ModelCall) -> str | None:
    # The answer depends on a conversation held by the provider, which the key cannot see.
    if call.previous_response_id is not None:
        return "previous_response_id"
    if call.conversation_id is not None:
        return "conversation_id"
    return None


@hookimpl
def agentcache_store_schemes() -> Mapping[str, StoreFactory]:
    return {"memory": MemoryStore.from_url, "file": FileStore.from_url}


def _check_meta(value: Any) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a mapping, got {type(value).__name__}")
    to_jsonable(value, "record_meta")


@hookimpl
def agentcache_options() -> Mapping[str, OptionCheck]:
    return {
        # keep the normalized request and its provenance in each entry (recordings)
        "record_requests": lambda value: check_bool("record_requests", value),
        "record_meta": _check_meta,
        # the pytest plugin's recorder, which it passes to its own stage
        "pytest_recorder": lambda value: None,
    }
