from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentcache.stores.base import BadValue, CacheKey
from agentcache.stores.file import FileStore


def key(name: str, namespace: str = "ns") -> CacheKey:
    return CacheKey(namespace, hashlib.sha256(name.encode()).hexdigest())


class Clock:
    """A settable epoch clock that can run a hook once, at the moment the store next reads it."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now
        self.on_next_call: Callable[[], None] | None = None

    def __call__(self) -> float:
        hook, self.on_next_call = self.on_next_call, None
        if hook is not None:
            hook()
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def store(root: Path, clock: Clock) -> FileStore:
    return FileStore(root, clock=clock)


def entry_path(root: Path, k: CacheKey) -> Path:
    return root / k.namespace / f"{k.digest}.json"


def entry_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_file_is_pretty_sorted_json_a_reviewer_can_read(store: FileStore, root: Path) -> None:
    value = '{"b": [1, 2.5], "a": "héllo ✓"}'.encode()
    await store.set(key("k"), value, ttl=60)
    assert entry_path(root, key("k")).read_text(encoding="utf-8") == (
        "{\n"
        '  "agentcache_file": 1,\n'
        '  "expires_at": 1060.0,\n'
        '  "value": {\n'
        '    "a": "héllo ✓",\n'
        '    "b": [\n'
        "      1,\n"
        "      2.5\n"
        "    ]\n"
        "  }\n"
        "}\n"
    )


async def test_json_round_trips_semantically_in_canonical_form(store: FileStore) -> None:
    value = '{ "b": [1, 2.5],\n "a": "héllo ✓" }'.encode()
    await store.set(key("k"), value)
    got = await store.get(key("k"))
    assert got == '{"a":"héllo ✓","b":[1,2.5]}'.encode()
    assert got is not None and json.loads(got) == json.loads(value)


@pytest.mark.parametrize("value", [b"null", b"42", b'"text"', b"[]", b"{}"])
async def test_canonical_json_round_trips_exactly(store: FileStore, value: bytes) -> None:
    await store.set(key("k"), value)
    assert await store.get(key("k")) == value


async def test_non_json_bytes_are_stored_as_base64(store: FileStore, root: Path) -> None:
    await store.set(key("k"), b"\x00\xffbinary")
    doc = json.loads(entry_path(root, key("k")).read_text(encoding="utf-8"))
    assert doc == {"agentcache_file": 1, "expires_at": None, "value_b64": "AP9iaW5hcnk="}


@pytest.mark.parametrize(
    "value",
    [b"NaN", b"[1e400]", b'"\\ud800"', "\ufeff{}".encode(), '{"a": 1}'.encode("utf-16")],
    ids=["nan", "infinity", "lone-surrogate", "utf8-bom", "utf-16"],
)
async def test_json_that_would_not_read_back_the_same_keeps_exact_bytes(
    store: FileStore, root: Path, value: bytes
) -> None:
    await store.set(key("k"), value)
    assert "value_b64" in json.loads(entry_path(root, key("k")).read_bytes())
    assert await store.get(key("k")) == value


async def test_entries_outlive_the_store_instance(store: FileStore, root: Path) -> None:
    await store.set(key("k"), b'{"a":1}', ttl=3600)
    await store.close()
    assert await FileStore(root).get(key("k")) is None  # real clock: 1060 is long past
    await store.set(key("k"), b'{"a":1}')
    assert await FileStore(root).get(key("k")) == b'{"a":1}'


async def test_expired_file_is_removed_on_access(
    store: FileStore, root: Path, clock: Clock
) -> None:
    await store.set(key("k"), b"{}", ttl=10)
    clock.now += 10
    assert await store.get(key("k")) is None
    assert not entry_path(root, key("k")).exists()


async def test_purging_spares_a_file_replaced_since_it_was_read(
    store: FileStore, root: Path, clock: Clock
) -> None:
    await store.set(key("k"), b'{"v":"old"}', ttl=10)
    clock.now += 10
    path = entry_path(root, key("k"))

    def another_process_writes_a_fresh_entry() -> None:
        fresh = path.with_name("fresh.tmp")
        fresh.write_text('{"agentcache_file": 1, "expires_at": null, "value": {"v": "new"}}')
        os.replace(fresh, path)

    clock.on_next_call = another_process_writes_a_fresh_entry  # after the read, before the purge
    assert await store.get(key("k")) is None
    assert await store.get(key("k")) == b'{"v":"new"}'


VALID = '{"agentcache_file": 1, "expires_at": null, "value": {"a": 1}}'


@pytest.mark.parametrize(
    "content",
    [
        VALID[: len(VALID) // 2].encode(),
        b"",
        b"\x00\xff\xfe\x80 garbage",
        b"[1, 2]",
        b'{"agentcache_file": 2, "expires_at": null, "value": {"a": 1}}',
        b'{"expires_at": null, "value": {"a": 1}}',
        b'{"agentcache_file": 1, "value": {"a": 1}}',
        b'{"agentcache_file": 1, "expires_at": null}',
        b'{"agentcache_file": 1, "expires_at": "tomorrow", "value": 1}',
        b'{"agentcache_file": 1, "expires_at": null, "value_b64": "not base64!"}',
        b'{"agentcache_file": 1, "expires_at": null, "value": "\\ud800"}',
    ],
    ids=[
        "truncated",
        "empty",
        "garbage",
        "not-an-object",
        "wrong-version",
        "no-version",
        "no-expires_at",
        "no-value",
        "bad-expires_at",
        "bad-base64",
        "unencodable-value",
    ],
)
async def test_unreadable_file_is_removed_and_reported_as_a_bad_value(
    store: FileStore, root: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A lookup raises ``BadValue`` (the guarded store counts it as ``corrupt_entry`` and
    logs it, rate-limited); ``size`` only removes it, with a warning of its own."""
    await store.set(key("k"), b'{"a":1}')
    path = entry_path(root, key("k"))
    path.write_bytes(content)
    with pytest.raises(BadValue) as raised:
        await store.get(key("k"))
    assert raised.value.kind == "corrupt_entry" and not path.exists()
    await store.set(key("k"), b'{"a":1}')
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="agentcache.stores.file"):
        assert await store.size() == 0
    assert not path.exists()
    assert [r.name for r in caplog.records] == ["agentcache.stores.file"]
    assert caplog.records[0].levelno == logging.WARNING


async def test_size_and_clear_skip_what_the_store_did_not_write(
    store: FileStore, root: Path
) -> None:
    await store.set(key("a"), b"{}")
    await store.set(key("b"), b"{}")
    await store.set(key("c"), b"{}")
    entry_path(root, key("c")).write_bytes(b"garbage")
    ns = root / "ns"
    strays = [ns / ".0123abc.x1y2.tmp", ns / "notes.txt", ns / "README.json", root / "README.md"]
    for stray in strays:
        stray.write_text("kept")

    assert await store.size() == 2
    assert not entry_path(root, key("c")).exists()  # unreadable entry purged on the way
    assert await store.clear() == 2
    assert entry_files(root) == sorted(strays)


@pytest.mark.parametrize("namespace", ["a/b", "..", ".", "../escape", "/abs", ".hidden", "a\\b"])
async def test_namespace_stays_one_segment_inside_the_directory(
    store: FileStore, tmp_path: Path, root: Path, namespace: str
) -> None:
    await store.set(key("k", namespace), b'{"ns":1}')
    await store.set(key("k", "other"), b'{"ns":2}')
    files = [p.relative_to(tmp_path).parts for p in entry_files(tmp_path)]
    assert len(files) == 2
    for top, segment, _ in files:  # exactly {tmp_path}/cache/{segment}/{digest}.json
        assert top == "cache"
        assert not segment.startswith(".")
    assert await store.get(key("k", namespace)) == b'{"ns":1}'
    assert await store.size(namespace) == 1
    assert await store.clear(namespace) == 1
    assert await store.get(key("k", "other")) == b'{"ns":2}'


async def test_look_alike_namespaces_stay_apart(store: FileStore) -> None:
    namespaces = ["..", "%2E.", ".", "%2E", "a/b", "a%2Fb", "a"]
    for i, namespace in enumerate(namespaces):
        await store.set(key("k", namespace), str(i).encode())
    for i, namespace in enumerate(namespaces):
        assert await store.get(key("k", namespace)) == str(i).encode()
    assert await store.size() == len(namespaces)


@pytest.mark.parametrize("digest", ["", "ABCDEF", "12g4", "../../etc/passwd", "ab\n", "ab.json"])
async def test_digest_must_be_lowercase_hex(store: FileStore, digest: str) -> None:
    with pytest.raises(ValueError, match="digest"):
        await store.get(CacheKey("ns", digest))
    with pytest.raises(ValueError, match="digest"):
        await store.set(CacheKey("ns", digest), b"{}")


async def test_empty_namespace_is_rejected(store: FileStore) -> None:
    with pytest.raises(ValueError, match="namespace"):
        await store.set(key("k", ""), b"{}")


async def test_directory_is_created_on_first_write(store: FileStore, root: Path) -> None:
    assert await store.get(key("k")) is None
    await store.delete(key("k"))
    assert (await store.size(), await store.size("ns"), await store.clear()) == (0, 0, 0)
    assert entry_files(root.parent) == []
    await store.set(key("k"), b"{}")
    assert entry_files(root.parent) == [entry_path(root, key("k"))]


async def test_failed_write_keeps_old_file_and_leaves_no_temp_file(
    store: FileStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.set(key("k"), b'{"v":1}')

    def disk_full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        await store.set(key("k"), b'{"v":2}')
    monkeypatch.undo()
    assert entry_files(root) == [entry_path(root, key("k"))]
    assert await store.get(key("k")) == b'{"v":1}'


def _hammer(directory: str, worker: int, start: Any) -> None:
    """One of several processes writing and reading the same keys (spawned: module level)."""

    async def run() -> None:
        store = FileStore(directory)

        async def write_then_read(i: int, rnd: int) -> None:
            k = CacheKey("shared", f"{i:064x}")
            await store.set(
                k, json.dumps({"i": i, "w": worker, "r": rnd, "pad": "x" * rnd}).encode()
            )
            got = await store.get(k)  # never deleted, so always some writer's whole value
            assert got is not None, f"key {i} vanished"
            doc = json.loads(got)
            assert doc["i"] == i and len(doc["pad"]) == doc["r"], doc

        for rnd in range(50):
            for i in range(50):
                await write_then_read(i, rnd)

    start.wait()
    asyncio.run(run())


async def test_processes_sharing_a_directory_never_see_partial_files(root: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    procs = [ctx.Process(target=_hammer, args=(str(root), w, start)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        await asyncio.to_thread(p.join, 120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]

    files = entry_files(root)
    assert [p.name for p in files] == [f"{i:064x}.json" for i in range(50)]  # no temp files left
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["agentcache_file"] == 1 and len(doc["value"]["pad"]) == doc["value"]["r"]
    assert await FileStore(root).size() == 50


@pytest.mark.parametrize(
    ("url", "directory"),
    [
        ("file:///abs/dir", "/abs/dir"),
        ("file://relative/dir", "relative/dir"),
        ("file://.cache", ".cache"),
        ("file://", ".agentcache"),
        ("file:///tmp/my%20cache", "/tmp/my cache"),
    ],
)
def test_from_url(url: str, directory: str) -> None:
    assert FileStore.from_url(url).directory == Path(directory)


@pytest.mark.parametrize(
    "url", ["memory://", "http://host/dir", "file:///dir?ttl=5", "file:///d#x"]
)
def test_from_url_rejects_other_urls(url: str) -> None:
    with pytest.raises(ValueError, match="file://"):
        FileStore.from_url(url)
