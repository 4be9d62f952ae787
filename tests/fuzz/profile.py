"""How many examples the fuzz tests run, and with which hypothesis settings.

CI runs the ``agentcache-ci`` profile: ``derandomize=True``, so every run draws the same examples
and a red build is reproducible byte for byte, and few enough examples that ``tests/fuzz``
stays under a minute on a small, busy machine. ``AGENTCACHE_FUZZ_EXAMPLES=N`` selects the
``agentcache-long`` profile instead: N examples per test (proportionally fewer for the few
expensive tests, see ``examples``) and fresh randomness on every run, for a long local hunt::

    AGENTCACHE_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/fuzz -q -p no:cacheprovider

Neither profile keeps an example database: the repository stays clean, and a failure prints
its ``@reproduce_failure`` blob (``print_blob=True``) to replay it exactly.
"""

from __future__ import annotations

import os

from hypothesis import Phase, settings

CI_EXAMPLES = 30
"""Examples per test in CI, for tests whose examples are cheap (a key, a store round trip)."""

_LONG = os.environ.get("AGENTCACHE_FUZZ_EXAMPLES", "").strip()
LONG_EXAMPLES = int(_LONG) if _LONG else None

# Shrinking stays (a minimal failing example is most of a bug report); the explain phase,
# which re-runs a failure many times to say which parts varied, costs minutes per failure.
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]

settings.register_profile(
    "agentcache-ci",
    derandomize=True,
    max_examples=CI_EXAMPLES,
    deadline=None,  # a loaded CI machine is slow in bursts; time is bounded by max_examples
    database=None,
    print_blob=True,
    phases=_PHASES,
)
settings.register_profile(
    "agentcache-long",
    derandomize=False,
    max_examples=LONG_EXAMPLES or CI_EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    phases=_PHASES,
)
PROFILE = "agentcache-long" if LONG_EXAMPLES else "agentcache-ci"


def examples(ci: int) -> int:
    """``max_examples`` for a test that runs ``ci`` examples in CI.

    In a long run every test gets ``AGENTCACHE_FUZZ_EXAMPLES`` examples, except the dearer
    ones (a Runner run, a subprocess round trip, megabytes of text), which run fewer than
    ``CI_EXAMPLES`` in CI and keep that proportion, so they do not take over a long hunt.
    """
    if LONG_EXAMPLES is None:
        return ci
    return max(ci, round(LONG_EXAMPLES * min(ci, CI_EXAMPLES) / CI_EXAMPLES))
