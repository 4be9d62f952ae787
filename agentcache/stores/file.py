"""One pretty JSON file per entry, so a cache directory can be committed and reviewed in a PR.

Layout: ``{directory}/{namespace, percent-encoded}/{digest}.json``, holding::

    {"agentcache_file": 1, "expires_at": <epoch seconds or null>, "value": <the JSON value>}

JSON values are stored parsed, so reviewers read them rather than a blob, and therefore
round-trip *semantically*, not byte for byte: ``get`` returns them in canonical form (compact,
sorted keys, UTF-8), which is byte-exact whenever the writer already used that form. Any other
bytes are kept exactly as ``"value_b64"``.

Files outlive processes, so expiry uses wall-clock epoch time. Several processes may share a
directory: every write goes to a temp file and is ``os.replace``-d into place, so a reader sees
the old file or the new one, never a partial one. A file that cannot be read as an entry is a
miss and is removed, never an error; there is no fsync because a file torn by a power loss is
therefore just a miss.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from agentcache.stores.base import BadValue, CacheKey

_FORMAT = 1
_DIGEST = re.compile(r"[0-9a-f]+")
ENTRY_NAME = re.compile(r"[0-9a-f]+\.json")
"""The name of an entry file in a namespace directory (anything else there is not ours)."""
_log = logging.getLogger("agentcache.stores.file")


class FileStore:
    """A directory of JSON entry files; safe for many tasks, threads and processes at once."""

    def __init__(
        self,
        directory: str | os.PathLike[str] = ".agentcache",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._root = Path(directory)
        self._clock = clock

    @classmethod
    def from_url(cls, url: str) -> FileStore:
        """Build from ``file:///abs/dir``, ``file://relative/dir`` or ``file://`` (the default)."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.query or parts.fragment:
            raise ValueError(f"expected file://PATH without parameters, got {url!r}")
        # urlsplit reads the first segment of a relative path as the host; put it back.
        return cls(unquote(parts.netloc + parts.path) or ".agentcache")

    @property
    def directory(self) -> Path:
        return self._root

    async def get(self, key: CacheKey) -> bytes | None:
        return await asyncio.to_thread(self._load, self._path(key), True)

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        path = self._path(key)
        expires_at = None if ttl is None else self._clock() + ttl
        await asyncio.to_thread(_write, path, value, expires_at)

    async def delete(self, key: CacheKey) -> None:
        await asyncio.to_thread(_unlink, self._path(key))

    async def clear(self, namespace: str | None = None) -> int:
        """Remove the namespace's entry files; the count, like ``size``, is of live entries."""
        return await asyncio.to_thread(self._sweep, namespace, True)

    async def size(self, namespace: str | None = None) -> int:
        return await asyncio.to_thread(self._sweep, namespace, False)

    async def close(self) -> None:
        """Nothing to release: no file stays open between calls."""

    async def keys(self, namespace: str | None = None) -> AsyncIterator[CacheKey]:
        """The keys of the entry files (of one namespace), expired ones included."""
        for key in await asyncio.to_thread(self._list, namespace):
            yield key

    def _list(self, namespace: str | None) -> list[CacheKey]:
        found = []
        for directory in self._dirs(namespace):
            try:
                with os.scandir(directory) as it:
                    names = sorted(e.name for e in it if ENTRY_NAME.fullmatch(e.name))
            except FileNotFoundError:
                continue
            found += [CacheKey(unquote(directory.name), n[: -len(".json")]) for n in names]
        return found

    def _dirs(self, namespace: str | None) -> list[Path]:
        if namespace is not None:
            return [self._root / _segment(namespace)]
        try:
            with os.scandir(self._root) as it:
                return [Path(e.path) for e in it if e.is_dir()]
        except FileNotFoundError:
            return []

    def _path(self, key: CacheKey) -> Path:
        if not _DIGEST.fullmatch(key.digest):
            raise ValueError(f"digest must be lowercase hex, got {key.digest!r}")
        return self._root / _segment(key.namespace) / f"{key.digest}.json"

    def _load(self, path: Path, strict: bool = False) -> bytes | None:
        """The live value in ``path``; expired and unreadable files are removed on the way
        (an unreadable one then raises ``BadValue`` when ``strict``: a lookup counts it)."""
        try:
            with open(path, "rb") as f:
                raw = f.read()
                seen = os.fstat(f.fileno())
        except FileNotFoundError:
            return None
        try:
            value, expires_at = _decode(raw)
        except (ValueError, RecursionError) as exc:
            _discard(path, seen)
            if strict:
                raise BadValue(
                    "corrupt_entry", f"unreadable cache file {path.name}: {exc}"
                ) from None
            _log.warning("removing unreadable cache file %s: %s", path, exc)
            return None
        if expires_at is not None and expires_at <= self._clock():
            _discard(path, seen)
            return None
        return value

    def _sweep(self, namespace: str | None, remove: bool) -> int:
        """Count (and optionally remove) live entries, purging expired and unreadable ones."""
        live = 0
        for directory in self._dirs(namespace):
            try:
                with os.scandir(directory) as it:
                    # Only names this store writes: stray temp files and a reviewer's notes stay.
                    paths = [Path(e.path) for e in it if ENTRY_NAME.fullmatch(e.name)]
            except FileNotFoundError:
                continue
            for path in paths:
                if self._load(path) is not None:
                    live += 1
                    if remove:
                        _unlink(path)
        return live


def _segment(namespace: str) -> str:
    """The namespace as one path segment that cannot climb, hide, or collide with another."""
    if not namespace:
        raise ValueError("namespace must not be empty: it names a directory")
    segment = quote(namespace, safe="")
    # quote() keeps ".", so "." and ".." would walk the tree and ".x" would hide the directory.
    return "%2E" + segment[1:] if segment.startswith(".") else segment


def _encode(value: bytes, expires_at: float | None) -> bytes:
    head: dict[str, object] = {"agentcache_file": _FORMAT, "expires_at": expires_at}
    try:
        return _pretty({**head, "value": json.loads(value.decode("utf-8"))})
    except (ValueError, RecursionError):
        # Not UTF-8 JSON, or JSON that would not read back the same (NaN, lone surrogates).
        return _pretty({**head, "value_b64": base64.b64encode(value).decode("ascii")})


def _pretty(doc: dict[str, object]) -> bytes:
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def _decode(raw: bytes) -> tuple[bytes, float | None]:
    """The value and expiry of an entry file; ValueError for anything that is not one."""
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("agentcache_file") != _FORMAT:
        raise ValueError(f"not an agentcache_file {_FORMAT} document")
    if "expires_at" not in doc:
        raise ValueError("no expires_at")
    expires_at = doc["expires_at"]
    if expires_at is not None and not isinstance(expires_at, (int, float)):
        raise ValueError(f"bad expires_at: {expires_at!r}")
    if "value" in doc:
        text = json.dumps(doc["value"], separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        return text.encode("utf-8"), expires_at
    if isinstance(doc.get("value_b64"), str):
        return base64.b64decode(doc["value_b64"], validate=True), expires_at
    raise ValueError("no value or value_b64")


def _write(path: Path, value: bytes, expires_at: float | None) -> None:
    data = _encode(value, expires_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not named *.json, so a half-written temp file is never taken for an entry.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        _unlink(Path(tmp))
        raise


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _discard(path: Path, seen: os.stat_result) -> None:
    """Remove ``path`` unless another process has replaced it since it was read.

    Otherwise a reader purging an expired entry could delete the fresh one a writer just put in
    its place. The check narrows that race rather than closing it; losing it costs one miss.
    """
    try:
        if _identity(os.stat(path)) == _identity(seen):
            path.unlink()
    except FileNotFoundError:
        pass


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns
