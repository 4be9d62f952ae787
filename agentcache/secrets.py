"""Key-shaped strings that must not sit in a cache file or a committed recording, and store
URLs with their passwords hidden.

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


_SECRET_OPTION = re.compile(r"(?i)([?&;][^=&;#]*(?:pass|secret|token|auth)[^=&;#]*=)[^&;#]*")


def redact_url(url: str) -> str:
    """``url`` as it may be shown (a log line, an error, the command line's output): the
    password of its user info and the value of any option named like a password, secret or
    token replaced by ``***``. The user name, host, port, path and other options stay.

    The user info is what precedes the last ``@`` of the host part, as a URL parser reads it;
    if an ``@`` also follows the host part (a password with an unencoded ``/``, ``?`` or ``#``
    cuts the host part short), everything up to that ``@`` is hidden.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    cut = min([i for i in (rest.find(c) for c in "/?#") if i != -1], default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        if ":" in userinfo:
            netloc = userinfo.partition(":")[0] + ":***@" + host
    elif "@" in tail:
        netloc, tail = "***@", tail.rpartition("@")[2]
    return scheme + sep + netloc + _SECRET_OPTION.sub(r"\1***", tail)
