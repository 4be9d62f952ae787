"""``ModelCall``: one model call as the chain sees it.

The SDK arguments are kept as given (the inner model receives exactly them); the normalized
view used for the key is computed lazily, once, on first use.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar, overload

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem
from agents.model_settings import ModelSettings
from agents.models.interface import ModelTracing
from agents.models.openai_responses import Converter
from agents.tool import Tool
from openai.types.responses.response_prompt_param import ResponsePromptParam

from . import keys
from .control import Controls
from .entry import Entry
from .stores.base import CacheKey


class LiveStream:
    """The hand-over between a streamed call's chain (which reached the model) and its caller
    (which streams the model in its own task)."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[None] = loop.create_future()
        self.ended: asyncio.Future[tuple[ModelResponse, str | None]] = loop.create_future()

    async def run(self) -> tuple[ModelResponse, str | None]:
        """The terminal handler's side: let the caller stream, and wait for what it amounted
        to (the response, and why it must not be stored); raises what the model raised."""
        self.started.set_result(None)
        return await self.ended


@dataclass
class CallState:
    """What the chain decided for one call; stages write it, stats and tracing read it."""

    outcome: str = "miss"
    """``hit``, ``miss`` or ``bypass``."""
    layer: str | None = None
    """Which layer answered a hit: ``exact``, ``coalesced`` (single-flight) or a plugin's."""
    bypass_reason: str | None = None
    entry: Entry | None = None
    """The entry that answered (hit) or was written (miss)."""
    write: asyncio.Task[None] | None = None
    """The background write of ``entry``, while single-flight keeps serving it."""
    started: float = field(default_factory=time.perf_counter)
    unstorable: str | None = None
    """Why the answer must not be stored although the model returned (an unfinished stream)."""
    info: dict[str, Any] = field(default_factory=dict)
    """Details a layer records about its decision (a semantic hit's ``similarity``, the
    ``matched_prompt``, the ``guards`` that passed), for logs, stats and tracing."""
    occurrence: int = 1
    """How many times this request has been made in its run so far (see ``agentcache.runs``)."""
    live: LiveStream | None = None
    """For a streamed call: the hand-over to the caller, who streams the model itself."""


T = TypeVar("T")
_set = object.__setattr__


class _once(Generic[T]):
    """A ``functools.cached_property`` for the hot path: computed on first access and stored in
    the instance, which then answers from its ``__dict__``. Unlike ``cached_property`` on
    Python 3.11 it takes no lock (the values are pure functions of the frozen call; two threads
    racing compute the same value)."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, cls: type | None = None) -> _once[T]: ...
    @overload
    def __get__(self, obj: object, cls: type | None = None) -> T: ...
    def __get__(self, obj: object | None, cls: type | None = None) -> T | _once[T]:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


@dataclass(frozen=True, init=False)
class ModelCall:
    """A frozen view of one ``get_response`` / ``stream_response`` call and its cache context."""

    system_instructions: str | None
    input: str | list[TResponseInputItem]
    model_settings: ModelSettings
    tools: list[Tool]
    output_schema: AgentOutputSchemaBase | None
    handoffs: list[Handoff[Any, Any]]
    tracing: ModelTracing
    previous_response_id: str | None
    conversation_id: str | None
    prompt: ResponsePromptParam | None
    _: KW_ONLY
    streamed: bool
    model_identity: Mapping[str, Any]
    namespace: str
    key_extras: Mapping[str, Any] | None = None
    controls: Controls = field(default_factory=Controls)
    state: CallState = field(default_factory=CallState, compare=False, repr=False)

    def __init__(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff[Any, Any]],
        tracing: ModelTracing,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
        *,
        streamed: bool,
        model_identity: Mapping[str, Any],
        namespace: str,
        key_extras: Mapping[str, Any] | None = None,
        controls: Controls | None = None,
        state: CallState | None = None,
    ) -> None:
        # The dataclass's own __init__ for a frozen class sets each of the 16 fields through
        # object.__setattr__; one dict is a fraction of that, on every call.
        _set(
            self,
            "__dict__",
            {
                "system_instructions": system_instructions,
                "input": input,
                "model_settings": model_settings,
                "tools": tools,
                "output_schema": output_schema,
                "handoffs": handoffs,
                "tracing": tracing,
                "previous_response_id": previous_response_id,
                "conversation_id": conversation_id,
                "prompt": prompt,
                "streamed": streamed,
                "model_identity": model_identity,
                "namespace": namespace,
                "key_extras": key_extras,
                "controls": Controls() if controls is None else controls,
                "state": CallState() if state is None else state,
            },
        )

    @_once
    def _head(self) -> dict[str, Any]:
        """Every key part except the two big ones, tools and input, which are hashed apart."""
        schema = Converter.get_response_format(self.output_schema)
        return {
            "v": keys.KEY_VERSION,
            "model": dict(self.model_identity),
            "namespace": self.namespace,
            "extras": keys.to_jsonable(self.key_extras, "key_extras"),
            "instructions": self.system_instructions,
            "settings": keys.settings_part(self.model_settings),
            "output_schema": keys.to_jsonable(schema, "output_schema") if schema else None,
            "prompt": keys.to_jsonable(self.prompt, "prompt"),
            "server_state": [self.previous_response_id, self.conversation_id],
        }

    @_once
    def _tools(self) -> tuple[Any, str]:
        return keys.tools_part(self.tools, self.handoffs)

    @_once
    def _input(self) -> bytes:
        return keys.input_json(self.input)

    @cached_property
    def key_parts(self) -> dict[str, Any]:
        """The named, normalized parts the key hashes; raises :class:`KeyEncodingError`."""
        parts = {**self._head, "tools": self._tools[0], "input": json.loads(self._input)}
        if self.state.occurrence > 1:
            parts["occurrence"] = self.state.occurrence
        return parts

    @_once
    def request_digest(self) -> str:
        """The request's digest, before its occurrence in the run is counted."""
        # The tools enter through their memoized digest, and the input through its JSON made
        # by the C encoder: the hot path never re-serializes what it already has.
        fingerprint = keys.head_fingerprint(
            self.model_identity,
            self.namespace,
            self.key_extras,
            self.system_instructions,
            self.model_settings,
            self.output_schema,
            self.prompt,
            self.previous_response_id,
            self.conversation_id,
        )
        h = hashlib.sha256(keys.head_json(fingerprint, lambda: self._head))
        h.update(b"\ntools:" + self._tools[1].encode() + b"\ninput:")
        h.update(self._input)  # not concatenated: the input can be large
        return h.hexdigest()

    @_once
    def key(self) -> CacheKey:
        digest, n = self.request_digest, self.state.occurrence
        if n > 1:  # the n-th identical request of one run is its own entry (agentcache.runs)
            digest = hashlib.sha256(f"{digest}#occurrence:{n}".encode()).hexdigest()
        return CacheKey(self.namespace, digest)

    @property
    def cacheable(self) -> bool:
        return self.state.outcome != "bypass"

    def sdk_args(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The original arguments, for calling the inner model."""
        args = (
            self.system_instructions,
            self.input,
            self.model_settings,
            self.tools,
            self.output_schema,
            self.handoffs,
            self.tracing,
        )
        kwargs = {
            "previous_response_id": self.previous_response_id,
            "conversation_id": self.conversation_id,
            "prompt": self.prompt,
        }
        return args, kwargs


def explain_difference(left: ModelCall, right: ModelCall) -> list[keys.KeyDifference]:
    """Why two calls got different keys: the parts that differ, as paths (empty: same key)."""
    return keys.diff_parts(left.key_parts, right.key_parts)
