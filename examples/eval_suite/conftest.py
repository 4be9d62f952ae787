from __future__ import annotations

from typing import Any

from agents import set_tracing_disabled
from local_model import CALLS

set_tracing_disabled(True)  # no key and no network: do not export the SDK's traces


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"eval suite: local model calls: {len(CALLS)}")
