"""Key workers for the hash-seed test: fresh interpreters that answer key outcomes of specs.

``python -m tests.fuzz.keyworker`` runs one, with whatever ``PYTHONHASHSEED`` it was started
with; :class:`KeyWorker` is the test's handle on it. The protocol is length-prefixed pickle
frames on stdin and stdout (8-byte big-endian length, then the payload): each request is a
list of specs, each answer the list of ``strategies.key_outcome`` results. One worker serves
the whole test, so a fresh interpreter and an SDK import are paid once, not per example. The
worker's stdout carries only frames: anything printed or logged goes to stderr.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).parents[2]


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError(f"frame cut short: {len(payload)} of {size} bytes")
    return payload


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(len(payload).to_bytes(8, "big") + payload)
    stream.flush()


class KeyWorker:
    """One worker process with a fixed hash seed. Starting it does not wait for it: it
    imports while the caller does other work, and the first request waits if it must."""

    def __init__(self, hash_seed: str) -> None:
        self.hash_seed = hash_seed
        # Not a pipe: nobody reads stderr while the worker runs, and a full pipe would block it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.keyworker"],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )

    def send(self, specs: list[dict[str, Any]]) -> None:
        """Ask for the outcomes of ``specs`` (send to every worker, then receive from each,
        and they compute at the same time)."""
        assert self._proc.stdin is not None
        write_frame(self._proc.stdin, pickle.dumps(specs))

    def receive(self) -> list[tuple[str, str]]:
        assert self._proc.stdout is not None
        frame = read_frame(self._proc.stdout)
        if frame is None:
            self._stderr.seek(0)
            raise RuntimeError(f"key worker died:\n{self._stderr.read().decode(errors='replace')}")
        result: list[tuple[str, str]] = pickle.loads(frame)
        return result

    def close(self) -> None:
        """End of input ends the worker; one that does not exit promptly is killed."""
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=10)
        finally:
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
            self._stderr.close()


def main() -> None:
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt a frame

    from tests.fuzz.strategies import key_outcome

    while (frame := read_frame(requests)) is not None:
        specs = pickle.loads(frame)
        write_frame(answers, pickle.dumps([key_outcome(spec) for spec in specs]))


if __name__ == "__main__":
    main()
