"""Record and replay model calls per test: the machinery behind ``agentcache.pytest_plugin``.

Each test's calls are entries of one :class:`FileStore`, in a namespace of its own derived from
the test's nodeid. Entries keep the normalized request they answer and where they came from, so
a recording can be reviewed in a pull request and a replay miss can name the nearest recorded
call. Nothing here imports pytest: the plugin wires this to options, a fixture and a report.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import Agent, MultiProvider, RunConfig
from agents.items import ModelResponse
from agents.models.interface import Model, ModelProvider
from agents.tool import FunctionTool

from .call import ModelCall
from .chain import ORDER_SINGLE_FLIGHT, Handler, StageContext
from .hookspecs import hookimpl
from .keys import diff_parts, input_json
from .model import CachedModel
from .plugins import Plugins
from .secrets import SECRET_PATTERNS
from .stores.base import CacheKey
from .stores.file import ENTRY_NAME, FileStore
from .tools import ToolCache, ToolCall

MODES = ("replay", "once", "rewrite", "off")
UNUSED_REPORT = ".agentcache-unused.json"
"""Written into the recordings directory by each full replay session: the recordings no test
read, for ``agentcache prune`` to remove."""
REPEATS = ("order", "cache")
RECORDER_OPTION = "pytest_recorder"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


class RecordingMissing(Exception):
    """Replay mode met a call no recording answers. Not an ``OSError``/``ConnectionError``:
    a missing recording is a failed test, never a transient error to retry or to swallow."""


class ToolRecordingMissing(BaseException):
    """Replay mode met a tool call no recording answers. A ``BaseException``, like
    ``KeyboardInterrupt``: a tool's ``failure_error_function`` would otherwise turn it into an
    error text for the model and the test would go on; it must fail the test instead."""


class SecretInRecording(Exception):
    """Under ``--agentcache-strict``, an answer held a key-shaped string; it was not written."""


class RecordingSecretWarning(UserWarning):
    """A recording holds a key-shaped string: redact it before committing the recordings."""


def namespace_for(name: str) -> str:
    """A namespace that is its own directory name: readable, file-system safe and unique.

    A safe name is kept. Anything else (a nodeid, ``tests/test_x.py::test_y[a]``) becomes a slug
    plus 8 hex digits of its hash (``tests-test_x.py-test_y-a-1a2b3c4d``): two slugs can
    collide, the hash in practice cannot, and the FileStore is left nothing to percent-encode.
    """
    if _SAFE_NAME.fullmatch(name):
        return name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:100]
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class SecretFinding:
    path: str
    """Where in the entry: ``output[0].content[0].text``."""
    kind: str
    preview: str
    """The pattern's prefix and two characters: a report must not leak what it reports."""

    def __str__(self) -> str:
        return f"{self.path}: {self.kind} ({self.preview}...)"


def scrub(value: Any, path: str, redact: Callable[[str], str], found: list[SecretFinding]) -> Any:
    """``value`` with every string redacted, noting the key-shaped strings that remain."""
    if isinstance(value, str):
        value = redact(value)
        for kind, (prefix, pattern) in SECRET_PATTERNS.items():
            for match in pattern.finditer(value):
                preview = match.group()[: len(prefix) + 2]
                found.append(SecretFinding(path, kind, preview))
        return value
    if isinstance(value, dict):
        return {k: scrub(v, f"{path}.{k}" if path else k, redact, found) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, f"{path}[{i}]", redact, found) for i, v in enumerate(value)]
    return value


def read_entry(path: Path) -> dict[str, Any] | None:
    """The entry a FileStore file holds (its ``value``), or ``None`` if it holds none."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    value = doc.get("value") if isinstance(doc, dict) else None
    return value if isinstance(value, dict) else None


def entry_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if ENTRY_NAME.fullmatch(p.name))
    except OSError:
        return []


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it: shorter to read."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def describe_call(call: ModelCall) -> str:
    """The model and the last input item, shortened: enough to recognise the call."""
    identity = call.model_identity
    model = identity.get("name") or identity.get("id") or identity.get("class")
    items: Any = (
        [{"role": "user", "content": call.input}] if isinstance(call.input, str) else call.input
    )
    try:
        last = input_json(items[-1:]).decode()[1:-1] if items else "(no input)"
    except Exception:  # an unkeyable item: the repr still says what it was
        last = repr(items[-1])
    last = last if len(last) <= 160 else last[:157] + "..."
    return f"model {model}{', streamed' if call.streamed else ''}; last input item {last}"


@dataclass
class Tally:
    """What a session's tests did with recordings; workers send theirs to the controller."""

    used: set[str] = field(default_factory=set)
    """Entry files read or written in this session, as ``namespace/digest.json``."""
    replayed: int = 0
    written: int = 0
    model_calls: int = 0
    secrets: int = 0
    used_by: dict[str, str] = field(default_factory=dict)
    """Nodeid to namespace, for each test that used the fixture."""
    passed: set[str] = field(default_factory=set)
    collected: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "used": sorted(self.used),
            "counts": [self.replayed, self.written, self.model_calls, self.secrets],
            "used_by": self.used_by,
            "passed": sorted(self.passed),
            "collected": sorted(self.collected),
        }

    def merge(self, data: Mapping[str, Any]) -> None:
        self.used.update(data["used"])
        replayed, written, model_calls, secrets = data["counts"]
        self.replayed += replayed
        self.written += written
        self.model_calls += model_calls
        self.secrets += secrets
        self.used_by.update(data["used_by"])
        self.passed.update(data["passed"])
        self.collected.update(data["collected"])


class RecordingSession:
    """The recordings directory, the session's mode, and what its tests did with them."""

    def __init__(self, directory: Path, mode: str, *, strict: bool = False) -> None:
        self.directory = directory
        self.mode = mode
        self.strict = strict
        # Flat whatever its size: recordings are read, listed and reviewed as
        # {namespace}/{digest}.json files (stale detection walks those paths).
        self.files = FileStore(directory, layout="flat")
        self.tally = Tally()
        self.stale: list[tuple[str, str]] = []
        self._rewritten: set[str] = set()
        self._plugins: Plugins | None = None

    @property
    def plugins(self) -> Plugins:
        """Installed plugins plus our stage, on a private manager: models outside the tests
        never get the stage, and entry points are loaded once per session, not per test."""
        if self._plugins is None:
            self._plugins = Plugins()
            self._plugins.register(_StageHook(), name="agentcache.recording")
        return self._plugins

    def recorder(
        self,
        nodeid: str,
        *,
        mode: str | None = None,
        namespace: str | None = None,
        repeat: str,
        tools: Sequence[str] = (),
    ) -> Recorder:
        namespace = namespace_for(namespace or nodeid)
        recorder = Recorder(self, nodeid, mode or self.mode, namespace, repeat, tools)
        self.tally.used_by[nodeid] = recorder.namespace
        if recorder.mode == "rewrite" and recorder.namespace not in self._rewritten:
            # Replaces, not appends; once per session, so tests sharing a namespace keep theirs.
            self._rewritten.add(recorder.namespace)
            self.clear(recorder.namespace)
        return recorder

    def clear(self, namespace: str | None = None) -> int:
        """Remove entry files (every namespace's, or one's); other files stay."""
        if namespace is not None:
            folders = [self.directory / namespace]
        else:
            folders = [p for p in self.directory.glob("*") if p.is_dir()]
        removed = 0
        for folder in folders:
            for path in entry_files(folder):
                path.unlink(missing_ok=True)
                removed += 1
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when nothing else is left in it
        return removed

    def find_stale(self, rootpath: Path) -> list[tuple[str, str]]:
        """Entry files no test read, with why they count as stale. Only what this session can
        judge: a recording of a test that passed without reading it, or of a test that is gone
        (its file is, or its file was collected without it). Deselected tests are not judged."""
        t = self.tally
        judged = {ns for nodeid, ns in t.used_by.items() if nodeid in t.passed}
        collected_files = {nodeid.split("::")[0] for nodeid in t.collected}
        stale: list[tuple[str, str]] = []
        for folder in sorted(p for p in self.directory.glob("*") if p.is_dir()):
            for path in entry_files(folder):
                name = f"{folder.name}/{path.name}"
                if name in t.used:
                    continue
                meta = (read_entry(path) or {}).get("meta")
                test = meta.get("test") if isinstance(meta, dict) else None
                if not isinstance(test, str):
                    if folder.name in judged:
                        stale.append((name, "not read by the tests of its namespace"))
                    continue
                file = test.split("::")[0]
                if test in t.passed:
                    stale.append((name, f"{test} passed without reading it"))
                elif not (rootpath / file).is_file():
                    stale.append((name, f"the file of {test} is gone"))
                elif file in collected_files and test not in t.collected:
                    stale.append((name, f"{test} is gone"))
        return stale


class Recorder:
    """One test's recordings: the ``agentcache`` fixture.

    ``wrap(model)`` caches a model in them, ``run_config(...)`` builds a ``RunConfig`` with the
    model wrapped, ``agent(agent)`` and ``tool(tool)`` record tool results too, ``redact(fn)``
    rewrites every string of what is recorded before it is written.
    """

    def __init__(
        self,
        session: RecordingSession,
        nodeid: str,
        mode: str,
        namespace: str,
        repeat: str,
        tools: Sequence[str] = (),
    ) -> None:
        self.session = session
        self.nodeid = nodeid
        self.mode = mode
        self.namespace = namespace
        self.repeat = repeat
        self.tools = tuple(tools)
        """The tools ``agent(...)`` records (the marker's ``tools=``; ``"*"``: every one)."""
        self.model_calls = 0
        """Calls of this test that reached a model."""
        self.tool_calls = 0
        """Calls of recorded tools of this test that ran the tool."""
        self._tool_cache: ToolCache | None = None
        self.findings: dict[CacheKey, list[SecretFinding]] = {}
        self._redactors: list[Callable[[str], str]] = []
        self._counts: dict[str, int] = {}
        self.store = RecordingStore(self)

    def __repr__(self) -> str:
        return f"<agentcache recordings of {self.nodeid}, mode {self.mode}>"

    @property
    def directory(self) -> Path:
        return self.session.directory / self.namespace

    def wrap(self, model: Model, **kwargs: Any) -> CachedModel:
        """``model`` cached in this test's recordings; ``kwargs`` go to ``CachedModel``."""
        options = {
            **(kwargs.pop("options", None) or {}),
            "record_requests": True,
            "record_meta": {"test": self.nodeid},
            RECORDER_OPTION: self,
        }
        cached = CachedModel(
            model,
            store=self.store,
            namespace=self.namespace,
            enabled=self.mode != "off",
            store_timeout=kwargs.pop("store_timeout", 60.0),  # a busy CI disk is no miss
            plugins=self.session.plugins,
            options=options,
            **kwargs,
        )
        if self.repeat == "order":
            cached.count_occurrence = self.count_occurrence
        return cached

    def run_config(self, **kwargs: Any) -> RunConfig:
        """A ``RunConfig`` whose model is wrapped: ``model=`` (a ``Model`` or a name the
        provider resolves), or else every model the provider hands out."""
        model = kwargs.pop("model", None)
        provider: ModelProvider = kwargs.get("model_provider") or MultiProvider()
        if model is None:
            kwargs["model_provider"] = _WrappingProvider(provider, self.wrap)
            return RunConfig(**kwargs)
        if isinstance(model, str):
            model = provider.get_model(model)
        return RunConfig(model=self.wrap(model), **kwargs)

    @property
    def tool_cache(self) -> ToolCache:
        """The ``ToolCache`` that records and replays this test's tool results."""
        if self._tool_cache is None:
            cache = ToolCache(
                self.store,
                namespace=self.namespace,
                enabled=self.mode != "off",
                store_timeout=60.0,
                plugins=self.session.plugins,
            )
            cache.record = {"test": self.nodeid}
            cache.on_miss = self._tool_missed
            if self.repeat == "order":
                cache.count_occurrence = self.count_occurrence
            self._tool_cache = cache
        return self._tool_cache

    def tool(self, tool: FunctionTool, **options: Any) -> FunctionTool:
        """``tool`` with its results recorded and replayed (``cached_tool`` options)."""
        return self.tool_cache.wrap(tool, **options)

    def agent(self, agent: Agent[Any], tools: Sequence[str] | None = None) -> Agent[Any]:
        """A clone of ``agent`` whose tools named by ``tools`` (default: the marker's
        ``tools=``; ``"*"``: every function tool) are recorded and replayed."""
        names = self.tools if tools is None else tuple(tools)
        return agent.clone(
            tools=[
                self.tool(t)
                if isinstance(t, FunctionTool) and ("*" in names or t.name in names)
                else t
                for t in agent.tools
            ]
        )

    def _tool_missed(self, call: ToolCall) -> None:
        if self.mode == "replay":
            raise ToolRecordingMissing(self.tool_miss_message(call))
        self.tool_calls += 1

    def tool_miss_message(self, call: ToolCall) -> str:
        arguments = json.dumps(call.arguments, ensure_ascii=False, sort_keys=True)
        arguments = arguments if len(arguments) <= 160 else arguments[:157] + "..."
        return "\n".join(
            [
                "no recording answers this tool call, and replay mode never runs a recorded tool",
                f"  test: {self.nodeid}",
                f"  call: tool {call.tool}; arguments {arguments}",
                *self._nearest(call.parts),
                "  record it with --agentcache-mode=once (adds what is missing) or rewrite"
                " (records this test afresh)",
            ]
        )

    def redact(self, fn: Callable[[str], str]) -> None:
        """Apply ``fn`` to every string of a request and an answer before it is written."""
        self._redactors.append(fn)

    def redacted(self, text: str) -> str:
        for fn in self._redactors:
            text = fn(text)
        return text

    def count_occurrence(self, request_digest: str) -> int:
        """Per test, not per run: the n-th identical request of the test replays the n-th
        recording, so a test that runs an agent twice sees both answers in recorded order."""
        n = self._counts[request_digest] = self._counts.get(request_digest, 0) + 1
        return n

    def miss_message(self, call: ModelCall) -> str:
        lines = [
            "no recording answers this model call, and replay mode never calls a model",
            f"  test: {self.nodeid}",
            f"  call: {describe_call(call)}",
        ]
        if call.cacheable:
            lines += self._nearest(call.key_parts)
        else:
            lines.append(f"  it bypasses the cache ({call.state.bypass_reason}): not replayable")
        lines.append(
            "  record it with --agentcache-mode=once (adds what is missing) or rewrite"
            " (records this test afresh)"
        )
        return "\n".join(lines)

    def _nearest(self, parts: dict[str, Any]) -> list[str]:
        """The recorded request with the fewest differing key parts, and those parts."""
        best: tuple[Path, list[Any]] | None = None
        for path in entry_files(self.directory):
            request = (read_entry(path) or {}).get("request")
            # Tool calls are compared with tool calls, model calls with model calls.
            if isinstance(request, dict) and request.get("kind") == parts.get("kind"):
                diffs = diff_parts(request, parts)
                if best is None or len(diffs) < len(best[1]):
                    best = (path, diffs)
        if best is None:
            return [f"  this test has no recordings (in {_shown(self.directory)})"]
        path, diffs = best
        path = _shown(path)
        if not diffs:
            return [f"  {path} records this very request but could not be read (see the log)"]
        shown = [f"    {d}" for d in diffs[:8]]
        if len(diffs) > 8:
            shown.append(f"    ... and {len(diffs) - 8} more")
        head = f"  nearest recording: {path}, {len(diffs)} key part(s) differ (recorded != now):"
        return [head, *shown]


class RecordingStore:
    """The session's FileStore as one test sees it. Counts the entry files read; makes what it
    writes reviewable and safe: timings are zeroed (a re-record of the same answer differs only
    in ``meta.recorded_at``), strings redacted, key-shaped ones reported (and under strict mode
    not written at all)."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._session = recorder.session
        self._files = recorder.session.files

    async def get(self, key: CacheKey) -> bytes | None:
        raw = await self._files.get(key)
        if raw is not None:
            self._session.tally.used.add(f"{key.namespace}/{key.digest}.json")
            self._session.tally.replayed += 1
        return raw

    async def set(self, key: CacheKey, value: bytes, ttl: float | None = None) -> None:
        entry = json.loads(value)
        entry["created_at"] = entry["elapsed"] = 0.0
        found: list[SecretFinding] = []
        for part in ("request", "output"):
            if part in entry:
                entry[part] = scrub(entry[part], part, self._recorder.redacted, found)
        if found:
            self._recorder.findings[key] = found
            self._session.tally.secrets += len(found)
            if self._session.strict:
                return
        await self._files.set(key, json.dumps(entry, ensure_ascii=False).encode(), ttl)
        self._session.tally.used.add(f"{key.namespace}/{key.digest}.json")
        self._session.tally.written += 1

    async def delete(self, key: CacheKey) -> None:
        await self._files.delete(key)

    async def clear(self, namespace: str | None = None) -> int:
        return await self._files.clear(namespace)

    async def size(self, namespace: str | None = None) -> int:
        return await self._files.size(namespace)

    async def close(self) -> None:
        """The session's store outlives the test."""


class RecordingStage:
    """After the lookups, before single-flight: in replay mode the end of the chain (a miss
    raises :class:`RecordingMissing` from the model call); otherwise it waits for the recording
    to be written, so it is on disk before the test goes on or its event loop closes."""

    name = "recording"
    order = ORDER_SINGLE_FLIGHT - 10

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        recorder = self._recorder
        if recorder.mode == "replay":
            raise RecordingMissing(recorder.miss_message(call))
        try:
            response = await call_next(call)
        finally:
            if call.state.outcome != "hit":  # a single-flight follower did not reach it
                recorder.model_calls += 1
                recorder.session.tally.model_calls += 1
        write = call.state.write
        if write is not None:
            await asyncio.wait([write])
        found = recorder.findings.pop(call.key, None) if call.cacheable else None
        if found:
            where = "; ".join(str(f) for f in found)
            if recorder.session.strict:
                raise SecretInRecording(f"{recorder.nodeid}: not recorded, it holds {where}")
            warnings.warn(
                RecordingSecretWarning(f"{recorder.nodeid}: the recording holds {where}"),
                stacklevel=1,
            )
        return response


class _StageHook:
    @hookimpl
    def agentcache_stages(self, context: StageContext) -> list[RecordingStage] | None:
        recorder = context.config.options.get(RECORDER_OPTION)
        return [RecordingStage(recorder)] if isinstance(recorder, Recorder) else None


class _WrappingProvider(ModelProvider):
    """Hands out the provider's models, each wrapped once."""

    def __init__(self, provider: ModelProvider, wrap: Callable[[Model], CachedModel]) -> None:
        self._provider = provider
        self._wrap = wrap
        self._models: dict[str | None, CachedModel] = {}

    def get_model(self, model_name: str | None) -> Model:
        if model_name not in self._models:
            self._models[model_name] = self._wrap(self._provider.get_model(model_name))
        return self._models[model_name]

    async def aclose(self) -> None:
        await self._provider.aclose()
