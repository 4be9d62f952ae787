"""Every Python block in the README runs, in order, as a reader would paste them.

The blocks run in one fresh interpreter (the OpenTelemetry block sets global providers), with
top-level ``await`` allowed, after a preamble that stands in for what the README leaves to the
reader: ``inner_model`` / ``model`` are a scripted model (the README names real ones),
``provider`` hands it out, and ``redis://localhost:6379/0`` is the test session's Redis.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

PREAMBLE = """
import asyncio, ast, os, sys
import redis.asyncio
sys.path.insert(0, {root!r})
from agents import Agent, ModelProvider, set_tracing_disabled
from agentcache import CachedModel
from agents.testing import assistant_message
from tests.support import TurnModel

set_tracing_disabled(True)
turns = [lambda ids: [assistant_message("Done.", item_id=f"msg_{{ids}}")]]
inner_model = model = TurnModel(turns)


class provider_class(ModelProvider):
    def get_model(self, model_name):
        return TurnModel(turns)


provider = provider_class()
"""

RUNNER = """
async def main(blocks):
    namespace = globals()
    for line, source in blocks:
        code = compile(source, f"README.md:{{line}}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)
        if asyncio.iscoroutine(result):
            await result
        print(f"README.md:{{line}} ran", flush=True)
    cached = namespace.get("cached")
    if cached is not None:
        await cached.flush()

asyncio.run(main({blocks!r}))
"""


def python_blocks(text: str) -> list[tuple[int, str]]:
    return [(text[: m.start()].count("\n") + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_readme_has_python_blocks_to_run() -> None:
    assert len(python_blocks((ROOT / "README.md").read_text())) >= 6


def test_every_python_block_in_the_readme_runs(redis_url: str, tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text().replace("redis://localhost:6379/0", redis_url)
    blocks = python_blocks(text)
    script = tmp_path / "readme_blocks.py"
    script.write_text(PREAMBLE.format(root=str(ROOT)) + RUNNER.format(blocks=blocks))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran = [line for line in done.stdout.splitlines() if line.endswith(" ran")]
    assert len(ran) == len(blocks), done.stdout
