"""Prompts stay out of Redis key names and out of logs at INFO and above.

Key names hold a prefix, the percent-encoded namespace and a SHA-256 digest, never prompt text;
entry values hold the answer, not the request (``record_requests`` is off by default). The
semantic index keeps each indexed prompt in its hash by design (it compares prompts), under a
key name made of the namespace and a digest too.

Logs: hits, misses, streamed runs, every bypass and every kind of store error log at most the
key, the reason and the error, never what was asked.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner
from redis.asyncio import Redis

import agentcache
from agentcache import CachedModel, MemoryStore, SignedStore
from agentcache.cli import list_keys
from tests.security.conftest import TenantModel, ask, drop_prefix, prefixed

PROMPT = "Zanzibar quokka ledger: reconcile the Wilhelmina Fitzgerald invoice"
PARAPHRASE = "zanzibar quokka ledger - please reconcile the Wilhelmina Fitzgerald invoice"
OTHERS = [
    "Schedule the Huckleberry Oyelaran offsite in Reykjavik",
    "Draft a Yoshimura Kowalczyk pension memo",
]
# Words of the prompts that nothing else would say (and a hex digest cannot spell)
WORDS = {
    "zanzibar", "quokka", "wilhelmina", "fitzgerald", "huckleberry", "oyelaran", "reykjavik",
    "yoshimura", "kowalczyk",
}  # fmt: skip


def prompt_words(text: str | bytes) -> list[str]:
    lowered = (text.decode("utf-8", "replace") if isinstance(text, bytes) else text).lower()
    return sorted(w for w in WORDS if w in lowered)


class ScanningModel(TenantModel):
    """Lists every key in Redis while it answers: the single-flight locks exist only then."""

    def __init__(self, client: Redis) -> None:
        super().__init__(fixed="Done")  # an answer that does not repeat the prompt
        self.client = client
        self.seen: set[bytes] = set()

    async def _answer(self, input: Any) -> Any:
        self.seen.update([name async for name in self.client.scan_iter(count=1000)])
        return await super()._answer(input)


@pytest.fixture
async def redis_prefix(redis_admin: Redis) -> AsyncIterator[str]:
    prefix = f"priv-{uuid.uuid4().hex[:10]}"
    yield prefix
    await drop_prefix(redis_admin, prefix)


async def test_redis_key_names_hold_no_prompt_text(
    redis_url: str, redis_prefix: str, redis_admin: Redis, warm_embedding_model: None
) -> None:
    inner = ScanningModel(redis_admin)
    cached = CachedModel(inner, store=prefixed(redis_url, redis_prefix), semantic=True)
    for tenant in ("t1", "acme corp"):
        with agentcache.namespace(tenant):
            await ask(cached, PROMPT)
            await ask(cached, PARAPHRASE, streamed=True)  # a semantic hit
            for prompt in OTHERS:
                await ask(cached, prompt, streamed=True)
                await ask(cached, prompt)  # an exact hit
    await cached.flush()
    assert cached.stats().hits_by_layer == {"semantic": 2, "exact": 4}

    names = inner.seen | {name async for name in redis_admin.scan_iter(count=1000)}
    ours = {n for n in names if n.startswith(redis_prefix.encode())}
    assert any(n.endswith(b":lock") for n in ours)  # seen while held
    assert any(n.startswith(f"{redis_prefix}-sem:".encode()) for n in ours)
    assert [(n, prompt_words(n)) for n in names if prompt_words(n)] == []

    # Values: the entries hold the answers, not the request; only the semantic index's hashes
    # hold a prompt (the text it compares), and only the indexed ones.
    holding = []
    for name in ours:
        kind = await redis_admin.type(name)
        if kind == b"string":
            raw = await redis_admin.get(name) or b""
            value = zlib.decompress(raw[1:]) if raw[:1] == b"\x01" else raw[1:]
            if prompt_words(value):
                holding.append(name)
        elif kind == b"hash":
            fields = await redis_admin.hgetall(name)
            if prompt_words(fields.get(b"prompt", b"")):
                assert name.startswith(f"{redis_prefix}-sem:".encode())
                holding.append(name)
    assert len(holding) == 2 * (1 + len(OTHERS))  # per tenant: the indexed prompts, no more
    await cached.close()


def no_prompt_at_info(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, list[str]]]:
    """Records at INFO or above (with their tracebacks) that hold words of the prompts."""
    found = []
    for record in caplog.records:
        if record.levelno < logging.INFO:
            continue
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        if prompt_words(text):
            found.append((record.name, text, prompt_words(text)))
    return found


async def test_no_prompt_in_logs_at_info_across_hits_misses_bypasses_and_errors(
    redis_url: str, redis_prefix: str, redis_admin: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything is captured; only INFO and above is judged
    inner = TenantModel()

    # misses, exact and coalesced hits, streamed and unary
    cached = CachedModel(inner)
    await ask(cached, PROMPT)
    await ask(cached, PROMPT, streamed=True)
    with agentcache.namespace("t2"):
        await asyncio.gather(*(ask(cached, OTHERS[0]) for _ in range(3)))
    stats = cached.stats()
    assert stats.hits_by_layer.get("exact") == 1 and stats.hits_by_layer.get("coalesced") == 2

    # bypasses: no_cache, refresh, no_store, a disabled model, server-side state, unkeyable input
    with agentcache.no_cache():
        await ask(cached, PROMPT)
    with agentcache.refresh():
        await ask(cached, PROMPT)
    with agentcache.no_store():
        await ask(cached, OTHERS[1])
    await ask(CachedModel(inner, enabled=False), PROMPT)
    agent = Agent(name="assistant", instructions="Answer briefly.")
    config = RunConfig(model=cached)
    await Runner.run(agent, PROMPT, run_config=config, previous_response_id="resp_1")
    odd = {"role": "user", "content": PROMPT, "attachment": object()}
    await Runner.run(agent, [odd], run_config=config)  # type: ignore[list-item]
    assert set(cached.stats().bypasses) == {
        "no_cache", "previous_response_id", "unkeyable_input",
    }  # fmt: skip
    await cached.close()

    # errors: a dead server, garbage under the key, a bad signature
    dead = CachedModel(inner, store="redis://127.0.0.1:1/0", store_timeout=0.5)
    await ask(dead, PROMPT)
    await dead.close()
    garbage = CachedModel(inner, store=prefixed(redis_url, redis_prefix))
    await ask(garbage, PROMPT)
    await garbage.flush()
    async for name in redis_admin.scan_iter(match=f"{redis_prefix}:*"):
        await redis_admin.set(name, b"\x07 not a value this store wrote")
    await ask(garbage, PROMPT)
    await garbage.close()
    memory = MemoryStore()
    signed = CachedModel(inner, store=SignedStore(memory, "the signing secret 0123456789"))
    plain = CachedModel(inner)
    for model, store in ((signed, memory), (plain, plain.store)):
        await ask(model, PROMPT)
        await model.flush()
        assert isinstance(store, MemoryStore)
        for key in await list_keys(store):  # garbage under every key: not an entry
            await store.set(key, b'{"not": "an entry"}')
        await ask(model, PROMPT)
    errors = {kind for m in (dead, garbage, signed, plain) for kind in m.stats().errors}
    assert errors >= {"store_error", "corrupt_value", "bad_signature", "corrupt_entry"}, errors

    warned = {r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING}
    assert len(warned) >= 4  # the bypasses and errors above were logged...
    assert no_prompt_at_info(caplog) == []  # ...without a word of what was asked


async def test_no_prompt_in_logs_at_info_for_a_semantic_hit(
    caplog: pytest.LogCaptureFixture, warm_embedding_model: None
) -> None:
    caplog.set_level(logging.DEBUG)
    cached = CachedModel(TenantModel(), semantic=True)
    await ask(cached, PROMPT)
    await ask(cached, PARAPHRASE)
    assert cached.stats().hits_by_layer == {"semantic": 1}
    await cached.close()
    assert no_prompt_at_info(caplog) == []
