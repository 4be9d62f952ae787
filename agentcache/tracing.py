"""The tracing seam: core marks the I/O steps of a call; a tracing plugin turns them into spans.

Core knows no tracing library. It wraps each step that waits on something (the exact lookup,
the background store write, the inner model call; the semantic layer adds its own) in
``context.tracer.span(step, call)``. Without a tracing plugin that is a shared no-op context
manager, so the hot path pays one attribute lookup and an empty ``with``.

The span of the whole call is not a step: a tracing plugin contributes an outermost stage for it
(``ORDER_TRACING``), which reads ``call.state`` after the chain returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .call import ModelCall

# Step names core uses; plugins may add their own.
STEP_LOOKUP = "lookup"
STEP_SEMANTIC_LOOKUP = "semantic_lookup"
STEP_STORE_WRITE = "store_write"
STEP_MODEL = "model"


class Tracer(Protocol):
    """Opens a span (or a timer, a log line...) around one step of ``call``.

    The context manager is entered and exited in the task that runs the step; it sees an
    exception (including ``CancelledError`` for an abandoned stream) when the step raised one.
    """

    def span(self, step: str, call: ModelCall) -> AbstractContextManager[Any]: ...


class NullTracer:
    _null: AbstractContextManager[None] = nullcontext()

    def span(self, step: str, call: ModelCall) -> AbstractContextManager[None]:
        return self._null


NULL_TRACER: Tracer = NullTracer()


class Tracers:
    """Several tracers as one: spans nest in registration order."""

    def __init__(self, tracers: Sequence[Tracer]) -> None:
        self.tracers = tuple(tracers)

    @contextmanager
    def span(self, step: str, call: ModelCall) -> Iterator[None]:
        with ExitStack() as stack:
            for tracer in self.tracers:
                stack.enter_context(tracer.span(step, call))
            yield


def combine(tracers: Sequence[Tracer]) -> Tracer:
    if not tracers:
        return NULL_TRACER
    return tracers[0] if len(tracers) == 1 else Tracers(tracers)
