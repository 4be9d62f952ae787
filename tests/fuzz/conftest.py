"""Property-based fuzzing of keys, entries and stores (hypothesis).

The settings profiles live in ``tests/fuzz/profile.py`` and are loaded here: deterministic and
quick by default (CI), ``AGENTCACHE_FUZZ_EXAMPLES=N`` for a long random hunt. Hypothesis
settings are process-wide; only the tests in this directory use hypothesis.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.fuzz.keyworker import KeyWorker
from tests.fuzz.profile import PROFILE

settings.load_profile(PROFILE)

HASH_SEEDS = [s for s in ("0", "4242", "1066") if s != os.environ.get("PYTHONHASHSEED")][:2]
"""The key workers' ``PYTHONHASHSEED``s, never this process's own: 0 turns string hash
randomization off, the others are fixed seeds; this process has a random one unless the
caller set it."""


@pytest.fixture(scope="session", autouse=True)
def key_workers(request: pytest.FixtureRequest) -> Iterator[list[KeyWorker]]:
    """Started with the first fuzz test rather than by the hash-seed test itself: each worker
    imports the SDK (seconds on a loaded machine) while the other fuzz tests run. Not started
    at all when the hash-seed test is not selected."""
    selected = any("test_key_stability.py" in item.nodeid for item in request.session.items)
    workers = [KeyWorker(seed) for seed in HASH_SEEDS] if selected else []
    try:
        yield workers
    finally:
        for worker in workers:
            worker.close()
