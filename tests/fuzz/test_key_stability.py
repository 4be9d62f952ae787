"""Property 1: a key names the same call in every process.

Entries outlive processes (files, Redis) and are shared between machines, so the digest of a
call must not depend on anything a process picks at random: ``PYTHONHASHSEED`` (set and dict
iteration of strings), object ids, memoized tool digests. Two worker processes with other
hash seeds rebuild each drawn call from its spec and must report the same outcome as this
process: the same digest, or the same exception type when the key cannot be built.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.keyworker import KeyWorker
from tests.fuzz.profile import examples
from tests.fuzz.strategies import (
    call_specs,
    key_outcome,
    wild_items,
    wild_json,
    wild_settings_kwargs,
    wild_text,
)

# Items built with ``model_construct`` around the wrong types are drawn on purpose; pydantic
# warns when the key dumps them, which is the point of drawing them, not news.
pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning")

wild_specs = call_specs(
    text=wild_text(),
    items=wild_items(max_depth=300),
    settings=wild_settings_kwargs(),
    extras=st.dictionaries(wild_text(max_size=8), wild_json(max_leaves=6, max_depth=300)),
    namespaces=wild_text(min_size=1, max_size=12),
)


@settings(max_examples=examples(25))
@given(specs=st.lists(st.one_of(call_specs(), wild_specs), min_size=1, max_size=4))
def test_keys_are_the_same_in_fresh_processes_with_other_hash_seeds(
    key_workers: list[KeyWorker], specs: list[dict[str, Any]]
) -> None:
    """The workers come from ``tests/fuzz/conftest.py``, started early (they import the SDK)."""
    assert len(key_workers) == 2
    here = [key_outcome(spec) for spec in specs]
    assert [key_outcome(spec) for spec in specs] == here, "same process, rebuilt: other key"
    for worker in key_workers:
        worker.send(specs)
    for worker in key_workers:
        assert worker.receive() == here, f"PYTHONHASHSEED={worker.hash_seed}: other key"
