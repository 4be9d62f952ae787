"""The middleware chain: stages folded around the inner model call, built once per model.

Each stage is a small object with ``handle(call, call_next)``. The chain is the right fold of
the stages sorted by ``order`` over a terminal handler that calls the inner model, so a call
runs stage 1 → stage 2 → ... → model, and each stage sees the response on the way back.

Stages never see a stream. For ``stream_response`` the same chain runs in its own task
(``call.streamed`` is true): the terminal handler lets the caller stream the model in the
caller's own task and returns the ``ModelResponse`` the stream amounted to, so ``call_next``
returns once the stream has ended, and a stage's answer (a hit) is replayed to the caller as
events. If the caller abandons the stream, ``call_next`` raises ``CancelledError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from agents.items import ModelResponse

from .call import ModelCall
from .stats import Stats
from .tracing import NULL_TRACER, Tracer

if TYPE_CHECKING:
    from .background import Background
    from .config import CacheConfig
    from .guard import GuardedStore
    from .plugins import Plugins

Handler = Callable[[ModelCall], Awaitable[ModelResponse]]

# Built-in positions; plugin stages pick an order between them.
ORDER_TRACING = 5
ORDER_STATS = 10
ORDER_BYPASS = 100
ORDER_EXACT = 200
ORDER_SEMANTIC = 300
ORDER_SINGLE_FLIGHT = 400
ORDER_STORE = 500


class Stage(Protocol):
    """One step of the chain. It must await ``call_next(call)`` unless it answers itself.

    The order decides what a stage costs a hit. An exact hit never reaches a stage ordered
    after ``ORDER_EXACT``. A stage ordered before it runs on every call; if it is often a
    pass-through (tracing with nothing configured), give it an optional ``idle()`` method that
    returns true while ``handle`` would only ``return await call_next(call)``: while every such
    stage is idle, the built-in stages run as one hand-written coroutine
    (``agentcache.stages.folded``) instead of one per stage.
    """

    name: str
    order: int

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse: ...


@dataclass(frozen=True)
class StageContext:
    """What a stage may use: given to ``agentcache_stages`` hooks and built-in stage factories."""

    store: GuardedStore
    stats: Stats
    config: CacheConfig
    background: Background
    tracer: Tracer = NULL_TRACER
    plugins: Plugins | None = None
    """The model's plugins, for a stage that consults hooks of its own (semantic guards)."""


def build_chain(stages: Iterable[Stage], terminal: Handler) -> Handler:
    handler = terminal
    for stage in sorted(stages, key=lambda s: s.order, reverse=True):
        # partial, not a closure: one coroutine frame per stage on the hot path, not two.
        handler = partial(stage.handle, call_next=handler)
    return handler
