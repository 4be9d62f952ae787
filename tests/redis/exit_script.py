"""A script that ends right after ``Runner.run``: no ``flush()``, no ``close()``.

Run by ``test_redis_exit.py`` in a fresh interpreter, with every warning shown.
"""

from __future__ import annotations

import asyncio
import sys

from agents import Agent, RunConfig, Runner, set_tracing_disabled
from agents.testing import assistant_message

from agentcache import CachedModel
from tests.support import TurnModel, weather_agent


async def main(url: str, namespace: str) -> None:
    answer = [lambda ids: [assistant_message("Hello!", item_id=f"msg_{ids}")]]
    cached = CachedModel(TurnModel(answer), store=url, namespace=namespace)
    plain = Agent(name="plain", instructions="Answer briefly.")
    await Runner.run(plain, "Hi", run_config=RunConfig(model=cached))
    tools = CachedModel(TurnModel(), store=url, namespace=namespace)
    await Runner.run(weather_agent(), "Weather?", run_config=RunConfig(model=tools))
    print(cached.stats().stores + tools.stats().stores)


if __name__ == "__main__":
    set_tracing_disabled(True)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
