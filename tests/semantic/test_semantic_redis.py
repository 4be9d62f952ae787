"""The semantic layer on Redis (RedisVL, the search module of the test server), real MiniLM."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import ModuleType
from typing import Any

from agentcache_semantic import SemanticConfig
from agentcache_semantic.redis_index import RedisVLIndex
from agents import RunConfig, Runner

from agentcache import CachedModel
from tests.semantic.test_semantic_runner import EMBED, EchoModel, agent

PROMPT = "What is the capital of Australia?"
PARAPHRASE = "What's the capital city of Australia?"


def model(inner: Any, url: str, namespace: str, **kw: Any) -> CachedModel:
    return CachedModel(
        inner, store=url, namespace=namespace, semantic=SemanticConfig(vectorizer=EMBED.embed), **kw
    )


async def ask(cached: CachedModel, prompt: str) -> Any:
    result = await Runner.run(agent(), prompt, run_config=RunConfig(model=cached))
    await cached.flush()
    return result.final_output


async def test_processes_sharing_redis_share_semantic_hits(redis_url: str) -> None:
    namespace = f"sem-{uuid.uuid4().hex[:8]}"
    first_inner, second_inner = EchoModel(), EchoModel()
    first = model(first_inner, redis_url, namespace)
    answer = await ask(first, PROMPT)
    second = model(second_inner, redis_url, namespace)  # another model, its own client
    assert isinstance(second.stages[-1].index, RedisVLIndex)  # type: ignore[attr-defined]
    assert await ask(second, PARAPHRASE) == answer and second_inner.calls == 0
    assert second.stats().hits_by_layer == {"semantic": 1}
    assert await ask(second, "What is the capital of Austria?") != answer
    for m in (first, second):
        await m.close()


async def test_indexed_prompts_expire_with_their_entry_and_hits_do_not_extend_it(
    redis_url: str,
) -> None:
    namespace = f"sem-{uuid.uuid4().hex[:8]}"
    inner = EchoModel()
    cached = model(inner, redis_url, namespace, ttl=3.0)
    await ask(cached, PROMPT)
    indexed = time.monotonic()
    await asyncio.sleep(1.0)
    await ask(cached, PARAPHRASE)  # a hit, about 1 s after indexing
    assert inner.calls == 1
    await asyncio.sleep(indexed + 3.5 - time.monotonic())  # gone, although it was hit
    await ask(cached, PARAPHRASE)
    assert inner.calls == 2
    await cached.close()


async def test_redis_down_fails_open(redis_server_module: ModuleType) -> None:
    server = redis_server_module.RedisServer(modules=True).start()
    inner = EchoModel()
    cached = model(inner, server.url, "down", store_timeout=0.2)
    await ask(cached, PROMPT)
    server.close()
    assert await ask(cached, PARAPHRASE) == f"answer to: {PARAPHRASE}"
    assert inner.calls == 2 and cached.stats().errors
    await cached.close()
