"""The built-in stages folded by hand: the chain of a cached model whose plugins have nothing
to do in this call.

``build_chain`` folds any stages, and a call then runs one coroutine per stage. The built-in
stages (stats, bypass, exact lookup, single-flight, store) are known, so their steps can be
written out in one function instead: a hit then runs one coroutine where it ran one per stage,
with the same steps in the same order and the same effects (``call.state``, the stats, the
lookup span, the debug line).

A plugin stage ordered after the exact lookup (the semantic lookup, Redis's cross-process
single-flight) is never reached by an exact hit: it runs, in its order, in the chain a miss
goes on to. A plugin stage ordered before it (tracing) takes part in the fold only if it can
tell that it has nothing to do: an ``idle()`` method that returns true when
``handle(call, call_next)`` would do nothing but return ``await call_next(call)`` (the
OpenTelemetry stage with no provider configured). It is asked at the start of each call; while
every such stage is idle, the call runs the folded built-ins, otherwise (or if an ``idle()``
raises) it runs the full chain. An early plugin stage without ``idle()`` always gets the full
chain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from agents.items import ModelResponse

from ..call import ModelCall
from ..chain import Handler, Stage, build_chain
from .bypass import BypassStage
from .exact import ExactLookupStage
from .single_flight import SingleFlightStage
from .stats import StatsStage
from .store import StoreStage


def fold_builtin_stages(
    stats: StatsStage,
    bypass: BypassStage,
    exact: ExactLookupStage,
    single_flight: SingleFlightStage,
    store: StoreStage,
    extras: Sequence[Stage],
    terminal: Handler,
) -> Handler:
    """The chain of the built-in stages and ``extras`` (plugin stages) over ``terminal``."""
    full = build_chain([stats, bypass, exact, single_flight, store, *extras], terminal)
    # A tie with the exact stage sorts after it (the built-ins come first in ``full``).
    late = [stage for stage in extras if stage.order >= exact.order]
    checks: list[Callable[[], object]] = []
    for stage in extras:
        if stage.order >= exact.order:
            continue
        idle = getattr(stage, "idle", None)
        if not callable(idle):
            return full
        checks.append(idle)
    rest = build_chain([single_flight, store, *late], terminal)  # after a miss or a bypass
    idle_now = checks[0] if len(checks) == 1 else partial(_all_idle, checks) if checks else None

    async def folded(call: ModelCall) -> ModelResponse:
        if idle_now is not None:
            try:
                idle = idle_now()
            except Exception:  # a plugin's check that failed: its stage decides
                idle = False
            if not idle:
                return await full(call)
        try:
            bypass.decide(call)
            response = await exact.lookup(call)
            if response is None:
                response = await rest(call)
            return response
        finally:
            stats.record(call)

    return folded


def _all_idle(checks: Sequence[Callable[[], object]]) -> bool:
    return all(idle() for idle in checks)
