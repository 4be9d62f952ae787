"""Nothing lost, nothing printed, when a script ends right after ``Runner.run``."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from redis.asyncio import Redis

ROOT = Path(__file__).parents[2]


async def test_a_script_that_exits_after_runner_run_keeps_its_entries_and_warns_nothing(
    redis_url: str,
) -> None:
    namespace = f"exit-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(  # noqa: ASYNC221 - the test waits for the script on purpose
        [sys.executable, "-W", "always", "-m", "tests.redis.exit_script",
         redis_url, namespace],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4"  # 1 + 3 entries stored, as stats() says at once
    assert done.stderr == ""  # no pending task, un-awaited coroutine or unclosed connection
    client = Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(f"agentcache:{namespace}:*")]
    await client.aclose()
    assert len(keys) == 4
