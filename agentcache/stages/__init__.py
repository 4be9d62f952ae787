"""The built-in stages, each one small object with ``handle(call, call_next)``."""

from .bypass import BypassStage
from .exact import ExactLookupStage
from .single_flight import SingleFlightStage
from .stats import StatsStage
from .store import StoreStage

__all__ = ["BypassStage", "ExactLookupStage", "SingleFlightStage", "StatsStage", "StoreStage"]
