"""One pretty JSON file per entry, so a cache directory can be committed and reviewed in a PR.

Layout: ``{directory}/{namespace, percent-encoded}/{digest}.json`` while a namespace is small
(what a reviewer reads), and ``{namespace}/{digest[:2]}/{digest}.json`` (256 shard folders)
for the entries written once it holds ``fanout_at`` entries (1,024 by default), so that a large
cache never puts 100,000 files in one folder. The switch is marked by a ``.agentcache-fanout``
file in the namespace folder, so every process sharing the directory makes it too.
``layout="flat"`` or ``"fanout"`` (``file://DIR?layout=fanout``) fixes the layout instead.
Whatever the layout, an entry is found in either place: a directory written before (all flat)
or by another setting is read, counted and cleared whole, and an entry rewritten under the
other layout leaves no copy behind. Each entry file holds::

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
import functools
import itertools
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import orjson

from agentcache.stores.base import BadValue, CacheKey

_FORMAT = 1
_DIGEST = re.compile(r"[0-9a-f]+")
ENTRY_NAME = re.compile(r"[0-9a-f]+\.json")
"""The name of an entry file in a namespace directory or a shard (anything else is not ours)."""
SHARD_NAME = re.compile(r"[0-9a-f]{2}")
"""The name of a shard folder in a namespace directory: the first two digits of its digests."""
FANOUT_MARKER = ".agentcache-fanout"
"""In a namespace directory: its new entries go to shard folders."""
FANOUT_AT = 1024
Layout = Literal["auto", "flat", "fanout"]
LAYOUTS: tuple[Layout, ...] = ("auto", "flat", "fanout")
_log = logging.getLogger("agentcache.stores.file")


class FileStore:
    """A directory of JSON entry files; safe for many tasks, threads and processes at once.

    ``layout``: ``"auto"`` (flat, then shard folders once a namespace holds ``fanout_at``
    entries), ``"flat"`` or ``"fanout"``; entries are read from either layout whatever it is.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] = ".agentcache",
        clock: Callable[[], float] = time.time,
        *,
        layout: Layout = "auto",
        fanout_at: int = FANOUT_AT,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
        if isinstance(fanout_at, bool) or not isinstance(fanout_at, int) or fanout_at < 1:
            raise ValueError(f"fanout_at must be an int >= 1, got {fanout_at!r}")
        self._root = Path(directory)
        self._clock = clock
        self._layout = layout
        self._fanout_at = fanout_at
        self._sharded: set[str] = set()
        """Namespace segments known to write to shard folders (never forgotten: sticky)."""
        self._flat_entries: dict[str, int] = {}
        """Auto layout, below the bar: at most how many flat entries each namespace holds (the
        count at the last look at its folder, plus the writes since)."""
        self._look_every = max(1, min(128, fanout_at // 8))
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> FileStore:
        """Build from ``file:///abs/dir``, ``file://relative/dir`` or ``file://`` (the default),
        with an optional ``?layout=auto|flat|fanout``."""
        parts = urlsplit(url)
        params = parse_qsl(parts.query, keep_blank_values=True)
        if (
            parts.scheme != "file"
            or parts.fragment
            or any(name != "layout" for name, _ in params)
            or len(params) > 1
        ):
            raise ValueError(f"expected file://PATH[?layout=auto|flat|fanout], got {url!r}")
        layout = params[0][1] if params else "auto"
        if layout not in LAYOUTS:
            raise ValueError(f"file:// layout must be one of {', '.join(LAYOUTS)}, got {url!r}")
        # urlsplit reads the first segment of a relative path as the host; put it back.
        return cls(unquote(parts.netloc + parts.path) or ".agentcache", layout=layout)

    @property
    def directory(self) -> Path:
        return self._root

    @property
    def layout(self) -> Layout:
        return self._layout

    async def get(self, key: CacheKey) -> bytes | None:
        places = self._places(key)
        # A miss is answered here: a stat or two costs microseconds, while a worker thread
        # costs tens of them and, on a busy machine, milliseconds of the caller's time.
        if not any(path is not None and _present(path) for path in places[:2]):
            return None
        return await asyncio.to_thread(self._get, *places)

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        self._check(key)
        expires_at = None if ttl is None else self._clock() + ttl
        await asyncio.to_thread(self._set, key, value, expires_at)

    async def delete(self, key: CacheKey) -> None:
        await asyncio.to_thread(self._delete, key)

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

    # -- where an entry lives (plain strings: pathlib costs more than the syscalls here) --

    def _check(self, key: CacheKey) -> None:
        if not _DIGEST.fullmatch(key.digest):
            raise ValueError(f"digest must be lowercase hex, got {key.digest!r}")

    def _places(self, key: CacheKey) -> tuple[str, str | None, str]:
        """The entry's flat path, its path in a shard folder (``None`` for a digest too short
        to have a shard), and its namespace's directory name."""
        self._check(key)
        segment = _segment(key.namespace)
        folder = os.path.join(self._root, segment)
        digest = key.digest
        name = digest + ".json"
        sharded = os.path.join(folder, digest[:2], name) if len(digest) > 2 else None
        return os.path.join(folder, name), sharded, segment

    def _shards_for_writes(self, flat: str, segment: str) -> bool:
        """Whether the entry whose flat path is ``flat`` is written to its shard folder."""
        if self._layout != "auto":
            return self._layout == "fanout"
        if segment in self._sharded:
            return True
        with self._lock:
            count = self._flat_entries.get(segment)
            self._flat_entries[segment] = 1 if count is None else count + 1
        if count is not None and count % self._look_every and count + 1 < self._fanout_at:
            return False  # writes since the last look: at most that many new flat entries
        # Look, now and then and before passing the bar (other processes write here too).
        folder = os.path.dirname(flat)
        marker = os.path.join(folder, FANOUT_MARKER)
        if not os.path.exists(marker):
            count = _count_flat(folder) + (not os.path.exists(flat))  # with this one, if new
            if count < self._fanout_at:
                with self._lock:
                    self._flat_entries[segment] = count
                return False
            os.makedirs(folder, exist_ok=True)
            with open(marker, "ab"):
                pass
        with self._lock:
            self._sharded.add(segment)
            self._flat_entries.pop(segment, None)
        return True

    # -- the blocking work, in a worker thread --

    def _get(self, flat: str, sharded: str | None, segment: str) -> bytes | None:
        if sharded is None:
            return self._load(flat, True)
        first, second = (sharded, flat) if segment in self._sharded else (flat, sharded)
        try:
            return self._load(first, True, absent=True)
        except FileNotFoundError:
            pass
        try:
            found = self._load(second, True, absent=True)
        except FileNotFoundError:
            return None
        if second is sharded and self._layout != "flat":  # read the shards first from now on
            self._sharded.add(segment)
        return found

    def _set(self, key: CacheKey, value: bytes, expires_at: float | None) -> None:
        flat, sharded, segment = self._places(key)
        path, other = flat, sharded
        if sharded is not None and self._shards_for_writes(flat, segment):
            path, other = sharded, flat
        _write(path, value, expires_at)
        if other is not None:  # the key's copy under the other layout must not resurface
            _unlink(other)

    def _delete(self, key: CacheKey) -> None:
        flat, sharded, _ = self._places(key)
        _unlink(flat)
        if sharded is not None:
            _unlink(sharded)

    def _list(self, namespace: str | None) -> list[CacheKey]:
        found = []
        for directory in self._dirs(namespace):
            names = {os.path.basename(path) for path in _entry_paths(directory)}
            ns = unquote(os.path.basename(directory))
            found += [CacheKey(ns, n[: -len(".json")]) for n in sorted(names)]
        return found

    def _dirs(self, namespace: str | None) -> list[str]:
        if namespace is not None:
            return [os.path.join(self._root, _segment(namespace))]
        try:
            with os.scandir(self._root) as it:
                return [e.path for e in it if e.is_dir()]
        except FileNotFoundError:
            return []

    def _load(
        self,
        path: str,
        strict: bool = False,
        *,
        absent: bool = False,
        peek: bool = False,
    ) -> bytes | None:
        """The live value in ``path``; expired and unreadable files are removed on the way
        (an unreadable one then raises ``BadValue`` when ``strict``: a lookup counts it). No
        such file: ``None``, or ``FileNotFoundError`` if ``absent`` (the caller looks on).
        ``peek``: the same checks without making the value (a live entry gives ``b""``)."""
        try:
            raw, seen = _read(path)
        except FileNotFoundError:
            if absent:
                raise
            return None
        try:
            value, expires_at = _check_only(raw) if peek else _decode(raw)
        except (ValueError, RecursionError) as exc:
            _discard(path, seen)
            if strict:
                name = os.path.basename(path)
                raise BadValue("corrupt_entry", f"unreadable cache file {name}: {exc}") from None
            _log.warning("removing unreadable cache file %s: %s", path, exc)
            return None
        if expires_at is not None and expires_at <= self._clock():
            _discard(path, seen)
            return None
        return value

    def _live(self, path: str) -> bool:
        """Whether ``path`` holds a live entry: ``_load`` without making the value (the same
        checks, so the same files are purged)."""
        return self._load(path, peek=True) is not None

    def _sweep(self, namespace: str | None, remove: bool) -> int:
        """Count (and optionally remove) live entries, purging expired and unreadable ones."""
        live = 0
        for directory in self._dirs(namespace):
            # Only names this store writes: stray temp files and a reviewer's notes stay.
            for path in _entry_paths(directory):
                if self._live(path):
                    live += 1
                    if remove:
                        _unlink(path)
            if remove:  # shard folders left empty go too (a folder with anything else stays)
                for shard in _shards(directory):
                    with contextlib.suppress(OSError):
                        os.rmdir(shard)
                with self._lock:
                    self._flat_entries.pop(os.path.basename(directory), None)
        return live


def _shards(directory: str) -> list[str]:
    try:
        with os.scandir(directory) as it:
            return [e.path for e in it if SHARD_NAME.fullmatch(e.name) and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _entry_paths(directory: str) -> list[str]:
    """The entry files of a namespace directory: flat ones, then those in its shard folders."""
    paths: list[str] = []
    shards: list[str] = []
    try:
        with os.scandir(directory) as it:
            for e in it:
                if ENTRY_NAME.fullmatch(e.name):
                    paths.append(e.path)
                elif SHARD_NAME.fullmatch(e.name) and e.is_dir():
                    shards.append(e.path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    for shard in shards:
        try:
            with os.scandir(shard) as it:
                paths += [e.path for e in it if ENTRY_NAME.fullmatch(e.name)]
        except (FileNotFoundError, NotADirectoryError):
            continue
    return paths


def _count_flat(folder: str) -> int:
    try:
        with os.scandir(folder) as it:
            return sum(1 for e in it if ENTRY_NAME.fullmatch(e.name))
    except (FileNotFoundError, NotADirectoryError):
        return 0


def _present(path: str) -> bool:
    try:
        os.stat(path)
    except FileNotFoundError:
        return False
    except OSError:  # not ours to judge here: the read reports it
        return True
    return True


def _read(path: str) -> tuple[bytes, os.stat_result]:
    """The bytes of a file and its identity when read (without an io object around them)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        seen = os.fstat(fd)
        raw = os.read(fd, seen.st_size + 1)
        if len(raw) > seen.st_size:  # it grew (not one of ours: they are replaced, never
            chunks = [raw]  # written in place); read it all, its content decides
            while chunk := os.read(fd, 1 << 16):
                chunks.append(chunk)
            raw = b"".join(chunks)
        return raw, seen
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=1024)  # on every lookup; namespaces are few
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
        parsed = json.loads(value.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
        return _pretty({**head, "value": parsed})
    except (ValueError, RecursionError):
        # Not UTF-8 JSON, or JSON that would not read back the same (NaN, lone surrogates).
        return _pretty({**head, "value_b64": base64.b64encode(value).decode("ascii")})


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400
        raise ValueError(f"{text} does not fit a float")
    return number


_PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def _pretty(doc: dict[str, Any]) -> bytes:
    expires_at = doc["expires_at"]
    if expires_at is None or math.isfinite(expires_at):
        try:  # what json.dumps(indent=2, sort_keys=True) writes, a few times faster (a float
            # may be written 1e-7 where json writes 1e-07); the values here are all finite
            return orjson.dumps(doc, option=_PRETTY) + b"\n"
        except TypeError:  # beyond it: an int past 64 bits, a lone surrogate, deep nesting
            pass
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


def _parse(raw: bytes) -> tuple[dict[str, Any], float | None]:
    """An entry file's document and expiry; ValueError for anything that is not one."""
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("agentcache_file") != _FORMAT:
        raise ValueError(f"not an agentcache_file {_FORMAT} document")
    if "expires_at" not in doc:
        raise ValueError("no expires_at")
    expires_at = doc["expires_at"]
    if expires_at is not None and not isinstance(expires_at, (int, float)):
        raise ValueError(f"bad expires_at: {expires_at!r}")
    return doc, expires_at


def _decode(raw: bytes) -> tuple[bytes, float | None]:
    """The value and expiry of an entry file; ValueError for anything that is not one."""
    doc, expires_at = _parse(raw)
    if "value" in doc:
        text = json.dumps(doc["value"], separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        return text.encode("utf-8"), expires_at
    if isinstance(doc.get("value_b64"), str):
        return base64.b64decode(doc["value_b64"], validate=True), expires_at
    raise ValueError("no value or value_b64")


def _check_only(raw: bytes) -> tuple[bytes, float | None]:
    """``_decode`` for a caller that needs the verdict and the expiry, not the value."""
    return b"", _check_entry(raw)


def _check_entry(raw: bytes) -> float | None:
    """``_decode``'s verdict and the expiry, without making the value: a JSON value is made
    again only if it may hold an escaped lone surrogate (which ``_decode`` rejects)."""
    doc, expires_at = _parse(raw)
    if "value" in doc:
        if b"\\ud" in raw or b"\\uD" in raw:
            _decode(raw)
        return expires_at
    if isinstance(doc.get("value_b64"), str):
        _decode(raw)
        return expires_at
    raise ValueError("no value or value_b64")


def _write(path: str, value: bytes, expires_at: float | None) -> None:
    data = _encode(value, expires_at)
    folder, name = os.path.split(path)
    # Not named *.json, so a half-written temp file is never taken for an entry. Unique per
    # process, thread and write; O_EXCL refuses a leftover (tempfile then picks a name).
    tmp = f"{folder}{os.sep}.{name[:-5]}.{os.getpid()}-{threading.get_ident()}-{next(_tmp_ids)}.tmp"
    try:
        fd = _create(tmp)
    except FileNotFoundError:  # the first entry of its folder
        os.makedirs(folder, exist_ok=True)
        fd = _create(tmp)
    except FileExistsError:
        fd, tmp = tempfile.mkstemp(prefix=f".{name[:-5]}.", suffix=".tmp", dir=folder)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


_tmp_ids = itertools.count()


def _create(path: str) -> int:
    """A new file, readable by its owner only (as ``tempfile.mkstemp`` makes them)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _discard(path: str, seen: os.stat_result) -> None:
    """Remove ``path`` unless another process has replaced it since it was read.

    Otherwise a reader purging an expired entry could delete the fresh one a writer just put in
    its place. The check narrows that race rather than closing it; losing it costs one miss.
    """
    try:
        if _identity(os.stat(path)) == _identity(seen):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns
