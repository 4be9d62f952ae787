"""Key-shaped strings that must not sit in a cache file or a committed recording.

Plain regular expressions with no other import, so the command line's ``verify`` can scan a
store without loading the Agents SDK, and the recorder can scan before it writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

SECRET_PATTERNS: Mapping[str, tuple[str, re.Pattern[str]]] = {
    "API key": ("sk-", re.compile(r"sk-[A-Za-z0-9_-]{20,}")),
    "bearer token": ("Bearer ", re.compile(r"Bearer [A-Za-z0-9._-]{20,}")),
    "AWS access key id": ("AKIA", re.compile(r"AKIA[0-9A-Z]{16}")),
}
"""Kind -> (the prefix a report may show, the pattern)."""


def secret_kinds(text: str) -> list[str]:
    """The kinds of key-shaped strings in ``text`` (one per match)."""
    return [kind for kind, (_, p) in SECRET_PATTERNS.items() for _ in p.finditer(text)]
