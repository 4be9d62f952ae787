"""Semantic lookup for agentcache (``pip install "agentcache-middleware[semantic]"``).

``CachedModel(model, semantic=True)``: after an exact miss, a cached answer to a near-duplicate
prompt may answer, only within the same context (everything but the last user message equal),
only above a cosine threshold, and only when every guard lets it through.
"""

from __future__ import annotations

from . import hooks
from .config import SemanticConfig
from .guards import BUILTIN_GUARDS, Guard, Verdict, check
from .index import Candidate, InProcessIndex, VectorIndex
from .scope import Scope, semantic_scope
from .stage import SemanticStage
from .vectorizer import LocalModel, resolve

__all__ = [
    "BUILTIN_GUARDS",
    "Candidate",
    "Guard",
    "InProcessIndex",
    "LocalModel",
    "Scope",
    "SemanticConfig",
    "SemanticStage",
    "VectorIndex",
    "Verdict",
    "check",
    "hooks",
    "resolve",
    "semantic_scope",
]
