"""``agentcache`` command line: inspect and manage a cache store, and report on plugins.

Commands (``--store URL``, default ``$AGENTCACHE_STORE`` or ``file://.agentcache``)::

    agentcache stats                  entries and bytes, by namespace, model and age
    agentcache ls                     one entry a line (--namespace, --model, --older-than 7d, ...)
    agentcache show KEY               the request an entry answers and its answer
    agentcache explain KEY_A KEY_B    which key parts of two recorded entries differ
    agentcache rm KEY                 remove one entry
    agentcache clear [--namespace NS] remove entries (asks first; --yes to skip)
    agentcache purge --expired        remove expired entries
    agentcache verify                 check that every entry decodes
    agentcache export FILE            entries as JSON lines ("-" for stdout)
    agentcache import FILE            entries from JSON lines ("-" for stdin)
    agentcache doctor                 store, SDK, extras and plugins
    agentcache plugins                which plugins loaded, and install hints for the rest

KEY is a digest, a unique digest prefix, or ``NAMESPACE/DIGEST``. Every command takes
``--json``. Exit codes: 0 ok, 1 problems found or no such entry, 2 usage or store error.

Plugins add commands (the semantic extra: ``agentcache semantic NEW CACHED``); they are loaded
only for a command the core does not know, so reading a store does not import the Agents SDK.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from .secrets import redact_url

if TYPE_CHECKING:
    from .stores.base import CacheKey, Store

DEFAULT_STORE = "file://.agentcache"
CORE_COMMANDS = (
    "stats",
    "ls",
    "show",
    "explain",
    "rm",
    "clear",
    "purge",
    "prune",
    "verify",
    "export",
    "import",
    "doctor",
    "plugins",
)
_AGE = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PROBE_NAMESPACE = "agentcache-doctor"
TOOL_ENTRY_FORMAT = "agentcache.tool"  # agentcache.tools.TOOL_ENTRY_FORMAT, without the SDK
# What the semantic layer keeps next to the entries: what it learns for
# SemanticConfig(max_error=...), and the judge's verdicts (agentcache_semantic.judge.FORMAT)
CALIBRATION_FORMAT = "agentcache.semantic-calibration"
VERDICT_FORMAT = "agentcache.semantic-verdict"
_SEMANTIC_RECORDS = {
    CALIBRATION_FORMAT: "semantic:calibration",
    VERDICT_FORMAT: "semantic:verdict",
}


class CliError(Exception):
    """One line for stderr, and the exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Record:
    """One stored entry as the command line sees it: parsed JSON, not SDK objects."""

    namespace: str
    digest: str
    raw: bytes | None
    doc: dict[str, Any] | None
    error: str | None = None

    @property
    def size(self) -> int:
        return 0 if self.raw is None else len(self.raw)

    @property
    def created_at(self) -> float | None:
        """When the answer was stored; recordings zero their timestamps (byte-stable files)
        and carry ``meta.recorded_at`` instead."""
        doc = self.doc or {}
        value, meta = doc.get("created_at"), doc.get("meta")
        recorded = meta.get("recorded_at") if isinstance(meta, dict) else None
        if not value and isinstance(recorded, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(recorded).timestamp()
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def expires_at(self) -> float | None:
        value = (self.doc or {}).get("expires_at")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def test(self) -> str | None:
        """The test that recorded the entry (``meta.test``), if a recording."""
        meta = (self.doc or {}).get("meta")
        test = meta.get("test") if isinstance(meta, dict) else None
        return test if isinstance(test, str) else None

    @property
    def tool(self) -> str | None:
        """The tool's name when the entry is a tool result (``agentcache.cached_tool``)."""
        doc = self.doc or {}
        if doc.get("format") != TOOL_ENTRY_FORMAT:
            return None
        return str(doc.get("tool") or "?")

    @property
    def model(self) -> str | None:
        """``meta.model`` or the request's model: its name, else its class; ``tool:NAME`` for
        a tool result; ``semantic:calibration`` / ``semantic:verdict`` for what the semantic
        layer keeps next to the entries."""
        doc = self.doc or {}
        if self.tool is not None:
            return f"tool:{self.tool}"
        kept = _SEMANTIC_RECORDS.get(str(doc.get("format")))
        if kept is not None:
            return kept
        meta, request = doc.get("meta"), doc.get("request")
        for source in (meta, request):
            model = source.get("model") if isinstance(source, dict) else None
            if isinstance(model, dict):
                model = model.get("name") or model.get("class")
            if isinstance(model, str):
                return model
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "digest": self.digest,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "size": self.size,
            "model": self.model,
            **({"error": self.error} if self.error else {}),
        }


# -- stores -----------------------------------------------------------------------------------


def open_store(url: str, *, create: bool = False) -> Store:
    """The store for ``url``; the embedded schemes without loading plugins (or the SDK)."""
    scheme = url.partition("://")[0]
    try:
        if scheme == "file" and "://" in url:
            from .stores.file import FileStore

            store = FileStore.from_url(url)
            if not create and not store.directory.is_dir():
                raise CliError(f"no such store directory: {store.directory}")
            return store
        if scheme == "memory" and "://" in url:
            from .stores.memory import MemoryStore

            return MemoryStore.from_url(url)
        from .plugins import get_plugins

        return get_plugins().resolve_store(url)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _lister(store: object) -> Any:
    """The store (or the store under its wrappers) that can enumerate its keys."""
    seen: object | None = store
    while seen is not None:
        if callable(getattr(seen, "keys", None)):
            return seen
        seen = getattr(seen, "inner", None)
    raise CliError(f"this store ({type(store).__name__}) cannot list its entries")


async def list_keys(store: Store, namespace: str | None = None) -> list[CacheKey]:
    return [key async for key in _lister(store).keys(namespace)]


async def read(store: Store, key: CacheKey) -> Record:
    """Fetch and parse one entry; an unreadable one is a record with ``error``."""
    import orjson

    from .stores.base import BadValue

    try:
        raw = await store.get(key)
    except BadValue as exc:
        return Record(key.namespace, key.digest, None, None, f"{exc.kind}: {exc}")
    if raw is None:
        return Record(key.namespace, key.digest, None, None, "gone")
    try:
        doc = orjson.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        return Record(key.namespace, key.digest, raw, None, f"not JSON: {exc}")
    return Record(key.namespace, key.digest, raw, doc)


async def read_all(store: Store, namespace: str | None = None) -> list[Record]:
    keys = await list_keys(store, namespace)
    limit = asyncio.Semaphore(32)

    async def one(key: CacheKey) -> Record:
        async with limit:
            return await read(store, key)

    records = await asyncio.gather(*(one(k) for k in keys))
    return [r for r in records if r.error != "gone"]  # expired or removed since listed


async def resolve(store: Store, spec: str) -> CacheKey:
    """A key from a digest, a unique digest prefix, or ``NAMESPACE/DIGEST``."""
    namespace, _, prefix = spec.rpartition("/")
    prefix = prefix.lower()
    if not re.fullmatch(r"[0-9a-f]*", prefix) or not (prefix or namespace):
        raise CliError(f"not a key: {spec!r} (expected a hex digest or prefix, or NS/DIGEST)")
    matches = [k for k in await list_keys(store, namespace or None) if k.digest.startswith(prefix)]
    exact = [k for k in matches if k.digest == prefix]
    if len(exact) == 1 or (len(matches) == 1):
        return (exact or matches)[0]
    if not matches:
        raise CliError(f"no entry matches {spec!r}", code=1)
    raise CliError(
        f"{spec!r} matches {len(matches)} entries; use a longer prefix or NAMESPACE/DIGEST"
    )


# -- output -----------------------------------------------------------------------------------


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _json(value: Any) -> None:
    _out(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    """Aligned plain text; numbers right-aligned."""
    cells = [[str(h) for h in header]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [
        all(isinstance(r[i], (int, float)) for r in rows) and rows for i in range(len(header))
    ]
    for row in cells:
        parts = [
            c.rjust(w) if numeric[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        _out("  ".join(parts).rstrip())


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


def age_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def parse_age(text: str) -> float:
    match = _AGE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not an age: {text!r} (like 30m, 1h, 7d, 2w)")
    return float(match.group(1)) * _UNITS[match.group(2)]


# -- commands ---------------------------------------------------------------------------------


def _filtered(records: list[Record], args: argparse.Namespace) -> list[Record]:
    now = time.time()
    out = []
    for r in records:
        if args.model is not None and r.model != args.model:
            continue
        if args.test is not None and args.test not in (r.test or ""):
            continue
        created = r.created_at
        if args.older_than is not None and (created is None or now - created < args.older_than):
            continue
        if args.newer_than is not None and (created is None or now - created > args.newer_than):
            continue
        out.append(r)
    return out


async def cmd_stats(store: Store, args: argparse.Namespace) -> int:
    records = await read_all(store, args.namespace)
    now = time.time()
    groups: dict[str, dict[str, dict[str, int]]] = {"namespace": {}, "model": {}, "age": {}}
    for r in records:
        created = r.created_at
        age = None if created is None else now - created
        bucket = (
            "unknown" if age is None
            else "< 1h" if age < 3600
            else "< 1d" if age < 86400
            else "< 7d" if age < 7 * 86400
            else ">= 7d"
        )  # fmt: skip
        for group, name in (("namespace", r.namespace), ("model", r.model or "-"), ("age", bucket)):
            slot = groups[group].setdefault(name, {"entries": 0, "bytes": 0})
            slot["entries"] += 1
            slot["bytes"] += r.size
    stamps = [c for c in (r.created_at for r in records) if c is not None]
    result: dict[str, Any] = {
        "entries": len(records),
        "bytes": sum(r.size for r in records),
        "unreadable": sum(1 for r in records if r.error),
        "expired": sum(1 for r in records if (r.expires_at or now + 1) <= now),
        "oldest": min(stamps, default=None),
        "newest": max(stamps, default=None),
        "by_namespace": groups["namespace"],
        "by_model": groups["model"],
        "by_age": groups["age"],
    }
    if args.json:
        _json(result)
        return 0
    table(
        [
            ["entries", result["entries"]],
            ["bytes", result["bytes"]],
            ["unreadable", result["unreadable"]],
            ["expired", result["expired"]],
        ],
        ["store", redact_url(args.store)],
    )
    _out(f"oldest  {when(result['oldest'])}  newest  {when(result['newest'])}")
    for group in ("namespace", "model", "age"):
        _out()
        rows = [[name, s["entries"], s["bytes"]] for name, s in sorted(groups[group].items())]
        table(rows, [group, "entries", "bytes"])
    return 0


async def cmd_ls(store: Store, args: argparse.Namespace) -> int:
    records = _filtered(await read_all(store, args.namespace), args)
    records.sort(key=lambda r: (r.namespace, r.created_at or 0.0, r.digest))
    if args.json:
        _json([r.summary() for r in records])
        return 0
    rows = [[r.namespace, r.digest[:12], when(r.created_at), r.size, r.model] for r in records]
    table(rows, ["namespace", "digest", "created (UTC)", "size", "model"])
    return 0


def _item_text(item: Any) -> list[str]:
    """An answer item as a few readable lines."""
    if not isinstance(item, dict):
        return [json.dumps(item)]
    kind = item.get("type")
    if kind == "message":
        texts = [
            c.get("text") or c.get("refusal") or json.dumps(c)
            for c in item.get("content") or []
            if isinstance(c, dict)
        ]
        return [f"{item.get('role', 'assistant')}: {t}" for t in texts] or ["message (empty)"]
    if kind == "function_call":
        return [f"tool call: {item.get('name')}({item.get('arguments', '')})"]
    if kind == "reasoning":
        summary = " ".join(
            s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)
        )
        return [f"reasoning: {summary or '(no summary)'}"]
    return [f"{kind}: {json.dumps(item, ensure_ascii=False, sort_keys=True)}"]


async def cmd_show(store: Store, args: argparse.Namespace) -> int:
    key = await resolve(store, args.key)
    record = await read(store, key)
    if record.error == "gone":
        raise CliError(f"no entry matches {args.key!r}", code=1)
    doc = record.doc or {}
    if args.json:
        _json({**record.summary(), "entry": record.doc})
        return 0 if record.error is None else 1
    rows: list[list[Any]] = [
        ["key", f"{key.namespace}/{key.digest}"],
        ["created", when(record.created_at)],
        ["expires", when(record.expires_at)],
        ["size", record.size],
        ["model", record.model],
    ]
    if isinstance(doc.get("usage"), dict):
        rows.append(["tokens", doc["usage"].get("total_tokens")])
    if record.error:
        rows.append(["error", record.error])
    for name, value in rows:
        _out(f"{name:<8} {'-' if value is None else value}")
    if isinstance(doc.get("meta"), dict):
        _out(f"meta     {json.dumps(doc['meta'], ensure_ascii=False, sort_keys=True)}")
    _out()
    if doc.get("request") is not None:
        _out("request:")
        for line in json.dumps(doc["request"], indent=2, ensure_ascii=False).splitlines():
            _out("  " + line)
    else:
        _out("request: not recorded (options={'record_requests': True} keeps it)")
    if record.tool is not None:
        _out(f"result:  {json.dumps(doc.get('output'), ensure_ascii=False, sort_keys=True)}")
        if doc.get("error") is not None:
            _out(f"error:   {json.dumps(doc['error'], ensure_ascii=False, sort_keys=True)}")
        return 0 if record.error is None else 1
    _out("answer:")
    for item in doc.get("output") or []:
        for line in _item_text(item):
            _out("  " + line)
    return 0 if record.error is None else 1


async def cmd_explain(store: Store, args: argparse.Namespace) -> int:
    records = []
    for spec in (args.key_a, args.key_b):
        record = await read(store, await resolve(store, spec))
        request = (record.doc or {}).get("request")
        if not isinstance(request, dict):
            raise CliError(
                f"{spec}: the entry has no recorded request (options={{'record_requests': True}})",
                code=1,
            )
        records.append((record, request))
    from .keydiff import diff_parts

    diffs = diff_parts(records[0][1], records[1][1])
    if args.json:
        _json([{"path": d.path, "a": d.left, "b": d.right} for d in diffs])
        return 0
    if not diffs:
        _out("the recorded requests are the same")
    for d in diffs:
        _out(str(d))
    return 0


async def cmd_rm(store: Store, args: argparse.Namespace) -> int:
    key = await resolve(store, args.key)
    await store.delete(key)
    if args.json:
        _json({"removed": [f"{key.namespace}/{key.digest}"]})
    else:
        _out(f"removed {key.namespace}/{key.digest}")
    return 0


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError("refusing without --yes: standard input is not a terminal")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CliError("cancelled", code=1)


async def cmd_clear(store: Store, args: argparse.Namespace) -> int:
    scope = f"namespace {args.namespace!r}" if args.namespace else "every namespace"
    confirm(f"remove the entries of {scope} from {redact_url(args.store)}?", args.yes)
    removed = await store.clear(args.namespace)
    # What plugins keep about the entries (the semantic index in the same Redis): not for a
    # file store, whose in-process index lives and dies with the process that built it.
    if args.store.partition("://")[0] not in ("file", "memory"):
        from .plugins import get_plugins

        for clear in get_plugins().store_clearers(store):
            await clear(args.namespace)
    if args.json:
        _json({"removed": removed})
    else:
        _out(f"{removed} entries removed")
    return 0


async def cmd_purge(store: Store, args: argparse.Namespace) -> int:
    if not args.expired:
        raise CliError("purge needs --expired (what to purge)")
    now, removed = time.time(), []
    for r in await read_all(store, args.namespace):
        if r.expires_at is not None and r.expires_at <= now:
            await store.delete(_key(r.namespace, r.digest))
            removed.append(f"{r.namespace}/{r.digest}")
    if args.json:
        _json({"removed": len(removed), "keys": removed})
    else:
        _out(f"{len(removed)} expired entries removed")
    return 0


async def cmd_prune(store: Store, args: argparse.Namespace) -> int:
    """Remove the recordings the last full replay session reported as read by no test."""
    from .recording import UNUSED_REPORT
    from .stores.file import FileStore

    if not isinstance(store, FileStore):
        raise CliError("prune works on a recordings directory (a file:// store)")
    report_path = store.directory / UNUSED_REPORT
    try:
        stale = json.loads(report_path.read_text())["stale"]
    except FileNotFoundError:
        raise CliError(
            f"no replay report in {store.directory}: run pytest --agentcache-mode=replay first",
            code=1,
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CliError(f"unreadable replay report {report_path}: {exc}") from None
    files = [store.directory / str(item["file"]) for item in stale]
    files = [f for f in files if f.is_file() and store.directory in f.resolve().parents]
    if files:
        confirm(f"remove {len(files)} recording(s) no test read?", args.yes)
    for path in files:
        path.unlink(missing_ok=True)
    report_path.unlink(missing_ok=True)  # used up: the next replay session writes a new one
    names = [str(f.relative_to(store.directory)) for f in files]
    if args.json:
        _json({"removed": len(names), "files": names})
    else:
        for name in names:
            _out(f"removed {name}")
        _out(f"{len(names)} unused recordings removed")
    return 0


def _key(namespace: str, digest: str) -> CacheKey:
    from .stores.base import CacheKey

    return CacheKey(namespace, digest)


async def cmd_verify(store: Store, args: argparse.Namespace) -> int:
    """Every entry decodes and holds no key-shaped string (an API key, a bearer token)."""
    from .entry import CorruptEntry, decode
    from .secrets import secret_kinds

    bad: list[dict[str, str]] = []
    records = await read_all(store, args.namespace)
    for r in records:
        error = r.error
        if (r.doc or {}).get("format") in _SEMANTIC_RECORDS:
            continue  # not an answer: counts and scores, a judge's yes or no
        if error is None and r.raw is not None and r.tool is not None:
            doc = r.doc or {}
            if doc.get("version") != 1 or not isinstance(
                doc.get("output") or doc.get("error"), dict
            ):
                error = f"not an {TOOL_ENTRY_FORMAT} v1"
        elif error is None and r.raw is not None:
            try:
                decode(r.raw)
            except CorruptEntry as exc:
                error = str(exc)
        if error is None and r.raw is not None:
            kinds = secret_kinds(r.raw.decode("utf-8", "replace"))
            if kinds:
                error = "holds key-shaped strings: " + ", ".join(sorted(set(kinds)))
        if error is not None:
            bad.append({"namespace": r.namespace, "digest": r.digest, "error": error})
    if args.json:
        _json({"entries": len(records), "bad": len(bad), "problems": bad})
    else:
        for b in bad:
            _out(f"BAD {b['namespace']}/{b['digest']}: {b['error']}")
        _out(f"{len(records)} entries checked, {len(bad)} bad")
    return 1 if bad else 0


class _Progress:
    """A counter on stderr, only when stderr is a terminal."""

    def __init__(self, verb: str) -> None:
        self.verb, self.count, self.on = verb, 0, sys.stderr.isatty()

    def tick(self) -> None:
        self.count += 1
        if self.on and self.count % 50 == 0:
            sys.stderr.write(f"\r{self.verb} {self.count} entries")
            sys.stderr.flush()

    def done(self) -> None:
        if self.on:
            sys.stderr.write(f"\r{self.verb} {self.count} entries\n")


async def cmd_export(store: Store, args: argparse.Namespace) -> int:
    records = await read_all(store, args.namespace)
    now, progress, lines = time.time(), _Progress("exported"), []
    for r in records:
        expires = r.expires_at
        if r.doc is None or (expires is not None and expires <= now):
            continue  # unreadable or expired: nothing to carry over
        line = {
            "namespace": r.namespace,
            "digest": r.digest,
            "entry": r.doc,
            "expires_at": expires,
            "ttl": None if expires is None else round(expires - now, 3),
        }
        lines.append(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    if args.file == "-":
        _write_lines(sys.stdout, lines, progress)
    else:
        try:
            with open(args.file, "w", encoding="utf-8") as out:  # noqa: ASYNC230 - a CLI
                _write_lines(out, lines, progress)
        except OSError as exc:
            raise CliError(f"cannot write {args.file}: {exc.strerror or exc}") from None
        summary = {"exported": progress.count, "skipped": len(records) - progress.count}
        if args.json:
            _json(summary)
        else:
            _out(f"{progress.count} entries exported to {args.file}")
    return 0


def _write_lines(out: TextIO, lines: list[str], progress: _Progress) -> None:
    for line in lines:
        out.write(line)
        progress.tick()
    progress.done()


async def cmd_import(store: Store, args: argparse.Namespace) -> int:
    import orjson

    source: TextIO = sys.stdin if args.file == "-" else _open_input(args.file)
    now, progress, expired, bad = time.time(), _Progress("imported"), 0, []
    try:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key = _key(str(item["namespace"]), str(item["digest"]))
                entry = item["entry"]
                if not isinstance(entry, dict) or not re.fullmatch(r"[0-9a-f]+", key.digest):
                    raise ValueError("bad entry or digest")
                expires = item.get("expires_at")
            except (ValueError, KeyError, TypeError) as exc:
                bad.append(f"line {number}: {exc}")
                continue
            ttl = None if expires is None else float(expires) - now
            if ttl is not None and ttl <= 0:
                expired += 1
                continue
            await store.set(key, orjson.dumps(entry, option=orjson.OPT_SORT_KEYS), ttl)
            progress.tick()
    finally:
        if source is not sys.stdin:
            source.close()
    progress.done()
    if args.json:
        _json({"imported": progress.count, "expired": expired, "bad": len(bad), "problems": bad})
    else:
        for problem in bad:
            _out(f"BAD {problem}")
        _out(f"{progress.count} entries imported, {expired} expired skipped, {len(bad)} bad")
    return 1 if bad else 0


def _open_input(path: str) -> TextIO:
    try:
        return open(path, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


async def _redis_info(store: Store) -> dict[str, Any] | None:
    seen: object | None = store
    while seen is not None and getattr(seen, "prefix", None) is None:
        seen = getattr(seen, "inner", None)
    client = getattr(seen, "client", None)
    if client is None or not callable(getattr(client, "info", None)):
        return None
    info: dict[str, Any] = {"prefix": getattr(seen, "prefix", None)}
    try:
        server = await client.info("server")
        info["version"] = server.get("redis_version") if isinstance(server, dict) else None
    except Exception as exc:
        info["version_error"] = f"{type(exc).__name__}: {exc}"
    try:
        modules = await client.module_list()
        info["modules"] = sorted(
            _text(m.get(b"name", m.get("name", "?"))) for m in modules if isinstance(m, dict)
        )
    except Exception as exc:
        info["modules_error"] = f"{type(exc).__name__}: {exc}"
    return info


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_PLAIN_REDIS = ("redis", "redis+cluster")
_LOCAL_NAMES = ("", "localhost", "localhost.")


def _is_loopback(host: str) -> bool:
    """Whether ``host`` can only be this machine: a loopback or unspecified address, or the
    name ``localhost``. Any other name counts as remote (the check resolves nothing)."""
    import ipaddress

    name = host.lower()
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.partition("%")[0])  # an IPv6 zone id aside
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def transport_warnings(url: str) -> list[str]:
    """What a Redis store URL leaves open on the network, read from the URL alone (doctor
    prints it even when the server cannot be reached): a remote host over plain ``redis://``
    with no password (anyone who reaches the port reads and writes the cache), or with one (it
    crosses the network in clear text). ``rediss://`` (TLS) and loopback hosts are quiet."""
    from urllib.parse import parse_qs, urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return []
    if parts.scheme not in _PLAIN_REDIS or _is_loopback(host):
        return []
    password = parts.password or parse_qs(parts.query).get("password")
    tls = parts.scheme.replace("redis", "rediss", 1) + "://"
    if password:
        return [
            f"redis: the password is sent to {host} in clear text ({parts.scheme}://, no TLS): "
            f"anyone on the network path can read it; use {tls}"
        ]
    return [
        f"redis: {host} is not a loopback address and the URL has no password and no TLS: "
        "anyone who can reach the server can read and write the cache; use "
        f"{tls}user:password@{host} (TLS and an ACL login)"
    ]


async def cmd_doctor(store: Store, args: argparse.Namespace) -> int:
    """Exit 1 for a problem (the store cannot be written and read back); a warning (a remote
    Redis without auth or TLS) is printed, and does not change the exit code."""
    from importlib import metadata
    from importlib.util import find_spec

    shown = redact_url(args.store)
    warnings = transport_warnings(args.store)
    report: dict[str, Any] = {"store": shown, "store_type": type(store).__name__}
    problems = []
    probe = _key(_PROBE_NAMESPACE, "0" * 64)
    try:
        await store.set(probe, b'{"agentcache":"doctor"}', 60)
        report["readable"] = await store.get(probe) is not None
        await store.delete(probe)
        report["writable"] = True
        directory = getattr(store, "directory", None)
        if directory is not None:  # leave no empty probe directory in a file store
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(directory, _PROBE_NAMESPACE))
    except Exception as exc:
        report["writable"] = False
        problems.append(f"store: {type(exc).__name__}: {exc}")
    if not report.get("readable"):
        problems.append("store: a value written could not be read back")
    try:
        report["listable"] = callable(getattr(_lister(store), "keys", None))
    except CliError:
        report["listable"] = False
    redis = await _redis_info(store)
    if redis is not None:
        report["redis"] = redis
    versions: dict[str, str | None] = {}
    for dist in ("agentcache-middleware", "openai-agents", "openai", "redis", "redisvl"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    report["versions"] = versions
    report["python"] = sys.version.split()[0]
    report["extras"] = {
        name: find_spec(name) is not None
        for name in ("redis", "redisvl", "sentence_transformers", "onnxruntime", "opentelemetry")
    }
    from .plugins import get_plugins

    plugins = get_plugins()
    report["plugins"] = [
        {"name": s.name, "loaded": s.loaded, "error": s.error, "hint": s.hint}
        for s in plugins.report
    ]
    report["problems"] = problems
    report["warnings"] = warnings
    if args.json:
        _json(report)
        return 1 if problems else 0
    ok = not problems
    _out(f"store     {shown} ({report['store_type']}): " + ("ok" if ok else "PROBLEM"))
    _out(f"listable  {'yes' if report['listable'] else 'no'}")
    if redis is not None:
        _out(f"redis     {redis.get('version') or redis.get('version_error')}")
        modules = redis.get("modules")
        _out(f"modules   {', '.join(modules) if modules else redis.get('modules_error', 'none')}")
    for dist, version in versions.items():
        _out(f"{dist:<22} {version or 'not installed'}")
    _out(
        "python modules: "
        + ", ".join(f"{n}={'yes' if v else 'no'}" for n, v in report["extras"].items())
    )
    for status in plugins.report:
        _out(str(status))
    for warning in warnings:
        _out(f"WARNING {warning}")
    for problem in problems:
        _out(f"PROBLEM {problem}")
    return 1 if problems else 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import get_plugins

    plugins = get_plugins()
    schemes = sorted(plugins.store_schemes())
    if args.json:
        _json(
            {
                "plugins": [
                    {
                        "name": s.name,
                        "value": s.value,
                        "loaded": s.loaded,
                        "error": s.error,
                        "hint": s.hint,
                    }
                    for s in plugins.report
                ],
                "store_schemes": schemes,
            }
        )
    else:
        _out("agentcache.builtin: loaded (memory://, file://)")
        for status in plugins.report:
            _out(str(status))
        _out("store schemes: " + ", ".join(f"{s}://" for s in schemes))
    return 1 if any(not s.loaded for s in plugins.report) else 0


StoreCommand = Callable[["Store", argparse.Namespace], Coroutine[Any, Any, int]]


async def _with_store(command: StoreCommand, args: argparse.Namespace) -> int:
    store = open_store(args.store, create=args.command == "import")
    try:
        return await command(store, args)
    finally:
        await store.close()


# -- parser -----------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--store",
        default=default,
        metavar="URL",
        help="store URL: file://DIR, redis://HOST[:PORT][/DB], memory:// "
        "(default: $AGENTCACHE_STORE or file://.agentcache)",
    )
    parser.add_argument(
        "--json", action="store_true", default=False if top else argparse.SUPPRESS,
        help="machine-readable output",
    )  # fmt: skip


def build_parser() -> tuple[argparse.ArgumentParser, Any]:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="agentcache",
        description="Inspect and manage an agentcache store.",
        epilog="Exit codes: 0 ok, 1 problems found or no such entry, 2 usage or store error.",
    )
    parser.add_argument("--version", action="version", version=f"agentcache {__version__}")
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str, run: Any, *, namespace: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _common(p, top=False)
        if namespace:
            p.add_argument("--namespace", default=None, help="only this namespace")
        p.set_defaults(store_command=run)
        return p

    add("stats", "entries and bytes, by namespace, model and age", cmd_stats)
    ls = add("ls", "list entries, one a line", cmd_ls)
    ls.add_argument("--model", default=None, help="only entries of this model")
    ls.add_argument("--test", default=None, help="only recordings of tests whose id contains this")
    ls.add_argument("--older-than", type=parse_age, default=None, metavar="AGE", help="e.g. 7d")
    ls.add_argument("--newer-than", type=parse_age, default=None, metavar="AGE", help="e.g. 1h")
    show = add("show", "the request an entry answers, and its answer", cmd_show, namespace=False)
    show.add_argument("key", help="digest, digest prefix or NAMESPACE/DIGEST")
    explain = add("explain", "which key parts of two entries differ", cmd_explain, namespace=False)
    explain.add_argument("key_a")
    explain.add_argument("key_b")
    rm = add("rm", "remove one entry", cmd_rm, namespace=False)
    rm.add_argument("key", help="digest, digest prefix or NAMESPACE/DIGEST")
    clear = add("clear", "remove every entry (of a namespace)", cmd_clear)
    clear.add_argument("--yes", "-y", action="store_true", help="do not ask")
    purge = add("purge", "remove expired entries", cmd_purge)
    purge.add_argument("--expired", action="store_true", help="remove expired entries")
    prune = add("prune", "remove recordings the last replay session did not read", cmd_prune,
                namespace=False)  # fmt: skip
    prune.add_argument("--yes", "-y", action="store_true", help="do not ask")
    add("verify", "check every entry decodes and holds no secret; exit 1 if not", cmd_verify)
    export = add("export", "write entries as JSON lines", cmd_export)
    export.add_argument("file", help='output file, "-" for stdout')
    import_ = add("import", "read entries from JSON lines", cmd_import, namespace=False)
    import_.add_argument("file", help='input file, "-" for stdin')
    add("doctor", "check the store, the SDK, the extras and the plugins", cmd_doctor,
        namespace=False)  # fmt: skip
    plugins = sub.add_parser("plugins", help="which plugins loaded, and install hints")
    _common(plugins, top=False)
    plugins.set_defaults(run=cmd_plugins)
    return parser, sub


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (skipping the global options), before parsing."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--store":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        return _main(args_list)
    except BrokenPipeError:
        # The reader went away (``agentcache ls | head``): not an error, and no traceback.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("agentcache: interrupted\n")
        return 130


def _main(argv: list[str]) -> int:
    parser, sub = build_parser()
    command = _command_of(argv)
    if (command is not None and command not in CORE_COMMANDS) or (
        command is None and ("-h" in argv or "--help" in argv)
    ):
        from .plugins import get_plugins

        get_plugins().cli_commands(sub)  # plugins are imported only here
    args = parser.parse_args(argv)
    if args.store is None:
        args.store = os.environ.get("AGENTCACHE_STORE") or DEFAULT_STORE
    try:
        if getattr(args, "store_command", None) is not None:
            code = asyncio.run(_with_store(args.store_command, args))
        else:
            code = int(args.run(args))
        sys.stdout.flush()
        return code
    except CliError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"agentcache: {exc}\n")
        return exc.code
    except BrokenPipeError:
        raise
    except OSError as exc:
        sys.stderr.write(f"agentcache: {_one_line(exc)}\n")
        return 2
    except Exception as exc:  # a store that fails (unreachable Redis...): one line, exit 2
        sys.stderr.write(f"agentcache: store error: {_one_line(exc)}\n")
        return 2


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
