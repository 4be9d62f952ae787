"""Shared pieces of the isolation and secrets tests: an inner model whose answers name the
tenant that caused them, runs through the real ``Runner``, and a Redis that wants a password.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.testing import ModelStep, ScriptedModel, assistant_message
from agents.usage import Usage
from redis.asyncio import Redis

from agentcache import CachedModel
from agentcache.control import current_controls

PASSWORD = "Pw7f3a9c2e1dQx"
"""The password of the ``default`` user and of ``alice`` on the password-protected Redis."""
ODD_PASSWORD = "s3cr/t?p@ss#W0rd:Zq"
"""The password of ``bob``: every character a URL must percent-encode."""
ODD_PASSWORD_QUOTED = "s3cr%2Ft%3Fp%40ss%23W0rd%3AZq"


def answer_of(tenant: str, prompt: str) -> str:
    return f"[tenant {tenant}] answer to: {prompt}"


def user_text(input: str | list[Any]) -> str:
    if isinstance(input, str):
        return input
    content = input[-1]["content"]
    return content if isinstance(content, str) else " ".join(p["text"] for p in content)


class TenantModel(Model):
    """Answers ``[tenant T] answer to: PROMPT``, where T is the namespace in force in the task
    that called it: an answer served to any other tenant shows in that tenant's output.

    ``calls`` counts the calls per (tenant, prompt); ``fixed`` answers with that text instead
    (an answer that does not repeat the prompt), numbered by call.
    """

    def __init__(self, latency: float = 0.0, fixed: str | None = None) -> None:
        self.latency = latency
        self.fixed = fixed
        self.calls: Counter[tuple[str, str]] = Counter()

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    async def _answer(self, input: str | list[Any]) -> ModelResponse:
        tenant = current_controls().namespace or "default"
        prompt = user_text(input)
        self.calls[tenant, prompt] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        text = f"{self.fixed} #{self.total}" if self.fixed else answer_of(tenant, prompt)
        return ModelResponse(
            output=[assistant_message(text, item_id=f"msg_{uuid.uuid4().hex}")],
            usage=Usage(requests=1, input_tokens=20, output_tokens=8, total_tokens=28),
            response_id=f"resp_{uuid.uuid4().hex}",
        )

    async def get_response(  # type: ignore[no-untyped-def]
        self, system_instructions, input, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        return await self._answer(input)

    async def stream_response(  # type: ignore[no-untyped-def]
        self, system_instructions, input, model_settings, tools, output_schema, handoffs,
        tracing, **kwargs: Any,
    ):  # fmt: skip
        answer = await self._answer(input)
        step = ModelStep(output=answer.output, usage=answer.usage, response_id=answer.response_id)
        events = ScriptedModel([step]).stream_response(
            system_instructions, input, model_settings, tools, output_schema, handoffs, tracing,
            **kwargs,
        )  # fmt: skip
        async for event in events:
            yield event


async def ask(cached: CachedModel, prompt: str, *, streamed: bool = False) -> str:
    """One run of a one-turn agent; the final output (a streamed run is consumed to its end,
    and its text deltas must add up to the same output).

    Each run has an agent object of its own, as the SDK advises for concurrent runs (it tracks
    the runs of one agent object, at a cost that grows with their number): the same name and
    instructions, so the same cache keys."""
    agent = Agent(name="assistant", instructions="Answer briefly.")
    config = RunConfig(model=cached)
    if not streamed:
        result = await Runner.run(agent, prompt, run_config=config)
        return str(result.final_output)
    streaming = Runner.run_streamed(agent, prompt, run_config=config)
    deltas = [
        event.data.delta
        async for event in streaming.stream_events()
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
    ]
    assert "".join(deltas) == streaming.final_output
    return str(streaming.final_output)


@pytest.fixture(scope="session")
def warm_embedding_model() -> None:
    """Load the default local embedding model (``semantic=True``) once, before any timing
    matters: the first embedding loads it, which can take longer than ``embed_timeout`` on a
    busy machine and would turn a lookup into a counted miss."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is a local copy; never download
    from agentcache_semantic.vectorizer import resolve

    asyncio.run(resolve(None)("warm up"))  # type: ignore[arg-type]


@dataclass
class AuthRedis:
    """A Redis 8 (with its modules) that refuses clients without a password."""

    port: int

    def url(self, user: str = "alice", password: str = PASSWORD, *, prefix: str = "") -> str:
        query = f"?prefix={prefix}" if prefix else ""
        return f"redis://{user}:{password}@127.0.0.1:{self.port}/0{query}"


@pytest.fixture(scope="session")
def auth_redis(redis_server_module: ModuleType) -> Iterator[AuthRedis]:
    """``requirepass`` for the default user, and ACL users ``alice`` (PASSWORD) and ``bob``
    (ODD_PASSWORD). Set once the server answers: the start-up check pings without a password."""
    import redis

    with redis_server_module.RedisServer(modules=True) as server:
        admin = redis.Redis(port=server.port, socket_timeout=5)
        for user, password in (("alice", PASSWORD), ("bob", ODD_PASSWORD)):
            admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", "~*", "&*", "+@all")
        admin.config_set("requirepass", PASSWORD)
        admin.close()
        yield AuthRedis(server.port)


@pytest.fixture
async def redis_admin(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the session's Redis (no password), to look at what the tests wrote."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def prefixed(redis_url: str, prefix: str) -> str:
    return f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}"


async def drop_prefix(client: Redis, prefix: str) -> None:
    """Remove every key of a test's prefix (entries, locks, semantic hashes) and its index."""
    for pattern in (f"{prefix}:*", f"{prefix}-sem:*"):
        names = [n async for n in client.scan_iter(match=pattern, count=1000)]
        if names:
            await client.unlink(*names)
    indexes = await client.execute_command("FT._LIST")
    if f"{prefix}-semantic".encode() in indexes:
        await client.execute_command("FT.DROPINDEX", f"{prefix}-semantic")
