"""The example eval suite replays from its committed recordings with no model call."""

from __future__ import annotations

import subprocess
import sys

from tests.recording.conftest import ROOT

SUITE = ROOT / "examples" / "eval_suite"


def test_the_example_suite_replays_with_zero_model_calls() -> None:
    before = sorted(p.read_bytes() for p in (SUITE / ".agentcache").glob("*/*.json"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(SUITE), "-p", "no:cacheprovider",
         "--agentcache-mode=replay", "--agentcache-strict"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "eval suite: local model calls: 0" in out  # the suite's own count
    assert " 0 recorded, 0 reached a model" in out  # the plugin's
    assert "25 passed" in out and len(before) >= 40
    assert sorted(p.read_bytes() for p in (SUITE / ".agentcache").glob("*/*.json")) == before
