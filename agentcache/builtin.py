"""The built-in plugin: the server-side-state bypass rule and the embedded stores' schemes.

It implements the same hooks a third-party plugin would, and is registered explicitly (not
through an entry point) so that it is always there.
"""

from __future__ import annotations

from collections.abc import Mapping

from .call import ModelCall
from .hookspecs import StoreFactory, hookimpl
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
