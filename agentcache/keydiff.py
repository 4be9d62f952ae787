"""Why two keys differ: the leaf paths where two key-part trees disagree.

No SDK import: the command line's ``explain`` compares recorded requests without loading it.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

Json = Any


class KeyDifference(NamedTuple):
    """One place where two calls' keys differ; ``path`` is like ``settings.temperature``."""

    path: str
    left: Json
    right: Json

    def __str__(self) -> str:
        return f"{self.path}: {_short(self.left)} != {_short(self.right)}"


_MISSING = "<absent>"


def _short(value: Json, limit: int = 80) -> str:
    text = value if value == _MISSING else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diff_parts(left: Json, right: Json, path: str = "") -> list[KeyDifference]:
    """The leaf paths where two key-part trees differ, in a stable order."""
    if isinstance(left, dict) and isinstance(right, dict):
        out: list[KeyDifference] = []
        for k in sorted(left.keys() | right.keys()):
            sub = f"{path}.{k}" if path else k
            out += diff_parts(left.get(k, _MISSING), right.get(k, _MISSING), sub)
        return out
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [
            d
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for d in diff_parts(a, b, f"{path}[{i}]")
        ]
    return [] if left == right else [KeyDifference(path, left, right)]
