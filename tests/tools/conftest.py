from __future__ import annotations

import pytest

from tests.recording.conftest import Suite


@pytest.fixture
def suite(pytester: pytest.Pytester) -> Suite:
    """A pytest suite written into a pytester directory (see ``tests/recording``)."""
    return Suite(pytester)
