"""The file store's directory layout: flat while a namespace is small, shard folders
(``{namespace}/{digest[:2]}/{digest}.json``) once it is large, and entries found in either
place whatever the setting, so a directory written before (all flat) loses nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from agentcache.stores.base import CacheKey
from agentcache.stores.file import FANOUT_MARKER, FileStore


def key(name: str, namespace: str = "ns") -> CacheKey:
    return CacheKey(namespace, hashlib.sha256(name.encode()).hexdigest())


def flat_path(root: Path, k: CacheKey) -> Path:
    return root / k.namespace / f"{k.digest}.json"


def shard_path(root: Path, k: CacheKey) -> Path:
    return root / k.namespace / k.digest[:2] / f"{k.digest}.json"


def entry_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def write_old_flat_entry(root: Path, k: CacheKey, value: object) -> Path:
    """An entry file as the store wrote them before shard folders existed."""
    path = flat_path(root, k)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"agentcache_file": 1, "expires_at": None, "value": value}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


async def test_auto_layout_is_flat_until_the_bar_then_shards(root: Path) -> None:
    store = FileStore(root, fanout_at=4)
    small = [key(f"s{i}") for i in range(3)]
    for k in small:
        await store.set(k, b"{}")
    assert entry_files(root) == sorted(flat_path(root, k) for k in small)
    await store.set(small[0], b'{"again":1}')  # a rewrite is no new entry
    assert not (root / "ns" / FANOUT_MARKER).exists()

    large = [key(f"l{i}") for i in range(20)]
    for k in large:
        await store.set(k, json.dumps({"k": k.digest}, separators=(",", ":")).encode())
    assert (root / "ns" / FANOUT_MARKER).is_file()
    flat = [p for p in entry_files(root) if p.parent.name == "ns"]
    assert len(flat) == 3 and all(shard_path(root, k).is_file() for k in large[1:])
    for k in large:
        assert await store.get(k) == json.dumps({"k": k.digest}, separators=(",", ":")).encode()
    assert await store.get(small[0]) == b'{"again":1}'  # the flat ones are still served
    assert await store.size() == await store.size("ns") == 23
    keys = [k async for k in store.keys("ns")]
    assert sorted(keys) == sorted([*small, *large]) and len(keys) == len(set(keys))


async def test_other_namespaces_keep_their_own_layout(root: Path) -> None:
    store = FileStore(root, fanout_at=2)
    for i in range(3):
        await store.set(key(f"k{i}", "big"), b"{}")
    await store.set(key("k", "small"), b"{}")
    assert (root / "big" / FANOUT_MARKER).exists()
    assert entry_files(root / "small") == [flat_path(root, key("k", "small"))]


@pytest.mark.parametrize("layout", ["flat", "fanout"])
async def test_a_fixed_layout_writes_only_there(root: Path, layout: str) -> None:
    store = FileStore(root, layout=layout, fanout_at=1)  # type: ignore[arg-type]
    keys = [key(f"k{i}") for i in range(5)]
    for k in keys:
        await store.set(k, b"[1]")
    where = flat_path if layout == "flat" else shard_path
    assert entry_files(root) == sorted(where(root, k) for k in keys)
    assert not (root / "ns" / FANOUT_MARKER).exists()
    assert [await store.get(k) for k in keys] == [b"[1]"] * 5


@pytest.mark.parametrize("layout", ["auto", "flat", "fanout"])
async def test_a_directory_written_flat_before_is_read_counted_and_cleared(
    root: Path, layout: str
) -> None:
    old = [key(f"old{i}") for i in range(6)]
    for i, k in enumerate(old):
        write_old_flat_entry(root, k, {"i": i})
    (root / "ns" / "notes.txt").write_text("a reviewer's note")
    store = FileStore(root, layout=layout, fanout_at=3)  # type: ignore[arg-type]

    assert [await store.get(k) for k in old] == [f'{{"i":{i}}}'.encode() for i in range(6)]
    new = key("new")
    await store.set(new, b'{"new":true}')
    assert await store.size() == 7
    assert sorted([k async for k in store.keys(namespace=None)]) == sorted([*old, new])
    if layout != "flat":  # 6 flat entries are over the bar of 3: the new one is sharded
        assert shard_path(root, new).is_file()
    assert await store.clear("ns") == 7
    assert entry_files(root) == [] and (root / "ns" / "notes.txt").exists()
    assert [p.name for p in (root / "ns").iterdir() if p.is_dir()] == []  # no empty shards


async def test_a_rewritten_entry_leaves_no_copy_under_the_other_layout(root: Path) -> None:
    k = key("k")
    write_old_flat_entry(root, k, {"v": "old"})
    sharded = FileStore(root, layout="fanout")
    await sharded.set(k, b'{"v":"new"}')
    assert entry_files(root) == [shard_path(root, k)]
    flat = FileStore(root, layout="flat")
    assert await flat.get(k) == b'{"v":"new"}'  # found in the other layout
    await flat.set(k, b'{"v":"flat again"}')
    assert entry_files(root) == [flat_path(root, k)]
    assert await sharded.get(k) == b'{"v":"flat again"}'
    assert await sharded.size() == 1


async def test_delete_removes_the_entry_in_either_layout(root: Path) -> None:
    a, b = key("a"), key("b")
    write_old_flat_entry(root, a, 1)
    store = FileStore(root, layout="fanout")
    await store.set(b, b"2")
    await store.delete(a)
    await store.delete(b)
    assert entry_files(root) == []
    assert await store.get(a) is None and await store.get(b) is None


async def test_expired_and_unreadable_entries_are_purged_in_shards_too(root: Path) -> None:
    now = [1000.0]
    store = FileStore(root, clock=lambda: now[0], layout="fanout")
    await store.set(key("ttl"), b"{}", ttl=10)
    await store.set(key("ok"), b"{}")
    await store.set(key("bad"), b"{}")
    shard_path(root, key("bad")).write_bytes(b"garbage")
    now[0] += 10
    assert await store.size() == 1
    assert entry_files(root) == [shard_path(root, key("ok"))]


async def test_another_process_passing_the_bar_switches_this_one(root: Path) -> None:
    """The marker is shared: a store that has not counted to the bar itself follows it."""
    mine = FileStore(root, fanout_at=3)
    await mine.set(key("first"), b"{}")  # counted: 1 flat entry
    theirs = FileStore(root, fanout_at=3)
    for i in range(4):
        await theirs.set(key(f"theirs{i}"), b"{}")
    assert (root / "ns" / FANOUT_MARKER).exists()
    await mine.set(key("second"), b"{}")
    assert shard_path(root, key("second")).is_file()


async def test_a_digest_too_short_for_a_shard_stays_flat(root: Path) -> None:
    store = FileStore(root, layout="fanout")
    k = CacheKey("ns", "ab")
    await store.set(k, b"1")
    assert entry_files(root) == [root / "ns" / "ab.json"]
    assert await store.get(k) == b"1" and await store.size() == 1


@pytest.mark.parametrize(
    ("url", "layout"),
    [
        ("file:///tmp/x", "auto"),
        ("file:///tmp/x?layout=flat", "flat"),
        ("file://rel?layout=fanout", "fanout"),
        ("file://?layout=auto", "auto"),
    ],
)
def test_layout_from_the_url(url: str, layout: str) -> None:
    assert FileStore.from_url(url).layout == layout


@pytest.mark.parametrize(
    "url", ["file:///x?layout=deep", "file:///x?layout=flat&layout=fanout", "file:///x?shards=2"]
)
def test_bad_layout_urls_are_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="file://"):
        FileStore.from_url(url)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layout": "deep"}, "layout"),
        ({"fanout_at": 0}, "fanout_at"),
        ({"fanout_at": True}, "fanout_at"),
    ],
)
def test_bad_options_are_rejected(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FileStore(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_recordings_stay_flat_whatever_their_number(tmp_path: Path) -> None:
    """Recordings are reviewed and checked for staleness as {namespace}/{digest}.json files:
    a large suite's recordings must not move to shard folders."""
    from agentcache.recording import RecordingSession

    assert RecordingSession(tmp_path, "once").files.layout == "flat"
