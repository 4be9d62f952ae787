"""agentcache against what users would pick instead, on the same agents and the same upstream.

Every configuration runs the same workloads through the real ``Runner.run`` /
``Runner.run_streamed``, each in its own fresh process, one after another, against one upstream:
a loopback OpenAI-compatible chat-completions server started by this script (fixed latency,
scripted answers, fresh random ids on every response like a real provider), which counts the
requests that reach it. Every agent reaches it through the SDK's own model classes, so nothing
is in-process magic. Every figure is a ratio to the no-cache baseline measured in the same run.

    .venv/bin/python benchmarks/compare.py                 # full run, peers included (minutes)
    .venv/bin/python benchmarks/compare.py --quick         # CI smoke run: memory + file, seconds
    .venv/bin/python benchmarks/compare.py --no-peers      # agentcache's stores only
    .venv/bin/python benchmarks/compare.py --local-llm URL # a real model (llama.cpp) upstream
    .venv/bin/python benchmarks/compare.py --local-llm     # start it with scripts/llm_server.py
    .venv/bin/python benchmarks/compare.py --configs memory,betterdb   # a subset
    .venv/bin/python benchmarks/compare.py --json out.json --chart docs/compare.png
    .venv/bin/python benchmarks/compare.py --from-json out.json       # print that run again

A full scripted run draws ``docs/compare.png`` and ``docs/compare_correctness.png``. The
baseline runs first and again last: how far it moved is the noise of the run.

Workloads (sizes of the full run; ``--quick`` and ``--local-llm`` use smaller ones):

* ``eval``: 200 prompts, an agent with a ``@function_tool`` (the model answers directly), 20 at
  a time; run once (cold), then re-run (warm). Time of the re-run, upstream calls on it.
* ``multi-turn``: 20 conversations of a tool agent: the model calls ``get_weather``, then
  ``convert_temperature``, then answers (3 model turns). Cold, then re-run.
* ``concurrent``: 1,000 runs of a one-tool agent started at once over 50 distinct prompts on a
  cold cache. Upstream calls (ideal: 50 per turn, 100 in all).
* ``streamed``: 20 ``Runner.run_streamed`` runs of a plain agent one after another, cold then
  re-run: time to the first text delta (what a user sees first) and to the end of the events.

Probes (what each configuration gets wrong, on top of the workloads): a plain question is
cached, then asked again with temperature 0.2, other instructions, another model name; a tool
agent's call is cached, then asked with a changed tool schema. A probe whose changed request is
answered without reaching the upstream served an answer meant for another request.

Configurations: no cache (baseline), agentcache (memory, file, Redis and semantic stores) and
the peers, which run in their own venv (``.venv-peers``, made on first use; see
``compare_peers.py``): redis-openai-agents' ``RedisCachingModel``, betterdb-agent-cache through
its ``CachedModelProvider``, and LiteLLM's Redis cache under the SDK's ``LitellmModel``.

Progress goes to stderr, the tables to stdout. Exit code 0 whatever the figures say; 1 when
the setup is broken (the baseline failed, so no ratio means anything) or when an exact
agentcache store (memory, file, Redis) crashed, raised or answered wrong on the scripted
upstream: a correctness failure, never a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODEL = "scripted-chat"  # the model name agents ask for; MODEL_B for the "other model" probe
MODEL_B = "scripted-chat-b"
OURS = ("memory", "file", "redis", "semantic")
PEERS = ("redis-openai-agents", "betterdb", "litellm")
CONFIG_LABELS = {
    "baseline": "no cache (baseline)",
    "memory": "agentcache memory",
    "file": "agentcache file",
    "redis": "agentcache redis",
    "semantic": "agentcache semantic",
    "baseline-again": "no cache, again at the end",
    "peers-baseline": "no cache (peers venv)",
    "redis-openai-agents": "redis-openai-agents",
    "betterdb": "betterdb-agent-cache",
    "litellm-nocache": "LitellmModel, no cache",
    "litellm": "LitellmModel + Redis cache",
}
# Workers that run under the peers venv (the rest under this interpreter).
PEER_CONFIGS = ("peers-baseline", "redis-openai-agents", "betterdb", "litellm-nocache", "litellm")
NEEDS_REDIS = ("redis", "redis-openai-agents", "betterdb", "litellm")


@dataclass(frozen=True)
class Sizes:
    eval_prompts: int
    eval_concurrency: int
    conversations: int
    concurrent_runs: int
    concurrent_prompts: int
    streamed_runs: int
    latency_ms: float  # scripted upstream: time to the first token
    chunk_ms: float  # scripted upstream: between two streamed text chunks


FULL = Sizes(200, 20, 20, 1000, 50, 20, 100.0, 5.0)
QUICK = Sizes(20, 10, 4, 50, 10, 4, 30.0, 2.0)
LOCAL = Sizes(4, 4, 1, 6, 2, 2, 0.0, 0.0)

# --------------------------------------------------------------------------------------------
# The upstream: a loopback OpenAI-compatible chat completions server (stdlib only)

# The tool calls the scripted model makes, in order, when the request offers the tool. Tools not
# listed here (``search_docs``) are offered but never called: the model answers directly.
SCRIPTED_CALLS: dict[str, dict[str, Any]] = {
    "get_weather": {"city": "Paris"},
    "convert_temperature": {"celsius": 21},
    "lookup_order": {"order_id": "ORD-1"},
}
TEXT_CHUNKS = 8


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def scripted_answer(request: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(tool call, None) or (None, text): the scripted model's next turn for this request.

    The text names everything that should change an answer (model, temperature, instructions,
    tool outputs) and repeats the question, so a wrong answer served from a cache shows."""
    messages = request.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    question = _text_of(messages[last_user].get("content")) if last_user >= 0 else ""
    outputs = [
        _text_of(m.get("content")) for m in messages[last_user + 1 :] if m.get("role") == "tool"
    ]
    offered = [t.get("function", {}).get("name") for t in request.get("tools") or []]
    plan = [name for name in SCRIPTED_CALLS if name in offered]
    if len(outputs) < len(plan):
        name = plan[len(outputs)]
        call = {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(SCRIPTED_CALLS[name])},
        }
        return call, None
    system = "".join(_text_of(m.get("content")) for m in messages if m.get("role") == "system")
    digest = hashlib.sha256(system.encode()).hexdigest()[:8]
    tools = f" Tools said: {'; '.join(outputs)}." if outputs else ""
    text = (
        f"Answer to <<{question}>> from {request.get('model')} at temperature "
        f"{request.get('temperature')} under instructions {digest}.{tools} "
        "Here is a paragraph of plausible detail so that the answer streams in several chunks "
        "the way a real model's answer does, token after token, until it is complete."
    )
    return None, text


class Upstream:
    """The server: scripted answers with fixed latency, or a counting proxy to a real one."""

    def __init__(self, latency: float, chunk: float, target: str | None) -> None:
        self.latency, self.chunk, self.target = latency, chunk, target
        self.requests = 0
        self.streamed = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if path.endswith("/chat/completions") and method == "POST":
                    self.requests += 1
                    request = json.loads(body)
                    self.streamed += bool(request.get("stream"))
                    if self.target:
                        await self.forward(body, writer)
                        return
                    else:
                        await self.scripted(request, writer)
                elif path.startswith("/_stats"):
                    stats = {"requests": self.requests, "streamed": self.streamed}
                    self.respond(writer, 200, json.dumps(stats).encode())
                else:
                    self.respond(writer, 404, b'{"error": {"message": "not found"}}')
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    @staticmethod
    def respond(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)

    @staticmethod
    def start_chunked(writer: asyncio.StreamWriter) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )

    @staticmethod
    def chunk_out(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    async def scripted(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        call, text = scripted_answer(request)
        pieces: list[str] = []
        if text is not None:
            step = -(-len(text) // TEXT_CHUNKS)
            pieces = [text[i : i + step] for i in range(0, len(text), step)]
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "model": request.get("model"),
        }
        usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
        finish = "tool_calls" if call else "stop"
        if not request.get("stream"):
            await asyncio.sleep(self.latency + self.chunk * max(len(pieces) - 1, 0))
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if call:
                message["tool_calls"] = [call]
            body = {
                **base,
                "object": "chat.completion",
                "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            }
            self.respond(writer, 200, json.dumps(body).encode())
            return

        def event(delta: dict[str, Any], reason: str | None = None, **extra: Any) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": reason}
            payload = {**base, "object": "chat.completion.chunk", "choices": [choice], **extra}
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        self.start_chunked(writer)
        await writer.drain()
        await asyncio.sleep(self.latency)
        self.chunk_out(writer, event({"role": "assistant", "content": ""}))
        if call:
            self.chunk_out(writer, event({"tool_calls": [{"index": 0, **call}]}))
        for i, piece in enumerate(pieces):
            if i:
                await writer.drain()
                await asyncio.sleep(self.chunk)
            self.chunk_out(writer, event({"content": piece}))
        self.chunk_out(writer, event({}, finish))
        if (request.get("stream_options") or {}).get("include_usage"):
            payload = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
            self.chunk_out(writer, b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.chunk_out(writer, b"data: [DONE]\n\n")
        writer.write(b"0\r\n\r\n")

    async def forward(self, body: bytes, writer: asyncio.StreamWriter) -> None:
        """Relay the request to the real server and its response back, byte for byte; the
        connection closes after it (the request asks the real server to close)."""
        target = urlparse(self.target or "")
        reader, upstream = await asyncio.open_connection(target.hostname, target.port or 80)
        head = (
            f"POST {target.path.rstrip('/')}/chat/completions HTTP/1.1\r\n"
            f"host: {target.netloc}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        )
        upstream.write(head.encode() + body)
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            upstream.close()


async def serve(latency: float, chunk: float, target: str | None) -> None:
    upstream = Upstream(latency, chunk, target)
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0, backlog=4096)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


@contextlib.contextmanager
def upstream_process(latency: float, chunk: float, target: str | None) -> Any:
    """This script in ``--serve`` mode, in its own process (its own core, not the runs' loop)."""
    cmd = [
        sys.executable,
        __file__,
        "--serve",
        "--latency-ms",
        str(latency * 1e3),
        "--chunk-ms",
        str(chunk * 1e3),
    ]
    if target:
        cmd += ["--proxy", target]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the upstream server did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}/v1"
    finally:
        process.terminate()
        process.wait(10)


def upstream_requests(base_url: str) -> int:
    with urllib.request.urlopen(base_url.rsplit("/v1", 1)[0] + "/_stats", timeout=10) as r:
        return int(json.load(r)["requests"])


# --------------------------------------------------------------------------------------------
# The worker: one configuration, every workload and probe, in a fresh process


class Setup:
    """One configuration: how its runs reach the upstream (``run_config``) and its stats."""

    def __init__(
        self,
        run_config: Callable[[str], Any],
        close: Callable[[], Awaitable[None]] | None = None,
        notes: dict[str, Any] | None = None,
    ) -> None:
        self.run_config = run_config
        self._close = close
        self.notes = notes or {}

    async def aclose(self) -> None:
        if self._close is not None:
            await self._close()


def openai_client(base_url: str) -> Any:
    from openai import AsyncOpenAI

    # no retries: a failed call is an error in the results, never a silent second request
    return AsyncOpenAI(base_url=base_url, api_key="local", max_retries=0, timeout=300)


async def build_ours(config: str, base_url: str, redis_url: str | None, tmp: Path) -> Setup:
    from agents import OpenAIProvider, RunConfig

    from agentcache import CachedModelProvider

    base = OpenAIProvider(openai_client=openai_client(base_url), use_responses=False)
    if config in ("baseline", "baseline-again"):
        return Setup(lambda name: RunConfig(model=name, model_provider=base))
    options: dict[str, Any] = {"namespace": f"compare-{os.getpid()}"}
    if config == "file":
        options["store"] = f"file://{tmp / 'cache'}"
    elif config == "redis":
        options["store"] = redis_url
    elif config == "semantic":
        options["semantic"] = True
    provider = CachedModelProvider(base, **options)

    def stats() -> dict[str, Any]:
        snap = provider.stats()
        fields = ("hits", "misses", "stores", "hits_by_layer", "bypasses", "not_stored", "errors")
        return {name: getattr(snap, name) for name in fields} | {"semantic": snap.semantic}

    return Setup(
        lambda name: RunConfig(model=name, model_provider=provider),
        provider.aclose,
        {"stats": stats},
    )


# The tools. Counted, so a re-run can show the Runner still ran them (or did not).
TOOL_RUNS: dict[str, int] = {}


def _count(name: str) -> None:
    TOOL_RUNS[name] = TOOL_RUNS.get(name, 0) + 1


def make_tools() -> dict[str, Any]:
    from agents import function_tool

    @function_tool
    def search_docs(query: str) -> str:
        """Search the product documentation."""
        _count("search_docs")
        return f"docs about {query}"

    @function_tool(name_override="search_docs")
    def search_docs_v2(query: str, limit: int = 5) -> str:
        """Search the product documentation; at most ``limit`` results."""
        _count("search_docs")
        return f"{limit} docs about {query}"

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city, in Celsius."""
        _count("get_weather")
        return f"21C and sunny in {city}"

    @function_tool
    def convert_temperature(celsius: float) -> str:
        """Celsius to Fahrenheit."""
        _count("convert_temperature")
        return f"{celsius * 9 / 5 + 32:.1f}F"

    @function_tool
    def lookup_order(order_id: str) -> str:
        """Status of an order."""
        _count("lookup_order")
        return f"order {order_id} shipped"

    return locals()


SUBJECTS = [
    "invoices",
    "passwords",
    "webhooks",
    "exports",
    "backups",
    "user roles",
    "API keys",
    "billing alerts",
    "audit logs",
    "team seats",
]
ASKS = [
    "How do I rotate",
    "Where can I find",
    "Why would I disable",
    "Can I schedule",
    "What limits apply to",
    "How do I audit",
    "Who can change",
    "How do I migrate",
    "What does the dashboard show for",
    "How do I delete",
    "Is there an API for",
    "How are emails sent about",
    "What permissions cover",
    "How do I restore",
    "What happens on the free plan to",
    "How do I export",
    "Can guests see",
    "How do I rename",
    "What is the retention of",
    "How do I troubleshoot",
]
CITIES = [
    "Paris",
    "Lyon",
    "Oslo",
    "Lima",
    "Cairo",
    "Quito",
    "Perth",
    "Turin",
    "Porto",
    "Riga",
    "Hanoi",
    "Dakar",
    "Tunis",
    "Sofia",
    "Minsk",
    "Dhaka",
    "Accra",
    "Nice",
    "Bern",
    "Kyiv",
]


def questions(n: int, salt: str) -> list[str]:
    """``n`` distinct, realistic questions (the salt keeps workloads apart)."""
    out = [f"{ask} {subject}{salt}?" for subject in SUBJECTS for ask in ASKS]
    while len(out) < n:
        out += [f"{q[:-1]} (case {len(out) + i})?" for i, q in enumerate(out[: n - len(out)])]
    return out[:n]


class Outcome:
    """The results of a batch of runs: outputs, errors (by message), elapsed seconds."""

    def __init__(self, results: Sequence[Any], seconds: float, upstream: int) -> None:
        self.outputs = [None if isinstance(r, BaseException) else r.final_output for r in results]
        self.errors = [
            f"{type(r).__name__}: {r}"[:300] for r in results if isinstance(r, BaseException)
        ]
        self.seconds = seconds
        self.upstream = upstream

    def summary(self, **extra: Any) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "upstream": self.upstream,
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
            **extra,
        }


class Worker:
    def __init__(self, setup: Setup, base_url: str, sizes: Sizes, scripted: bool) -> None:
        self.setup, self.base_url, self.sizes, self.scripted = setup, base_url, sizes, scripted
        self.tools = make_tools()
        # A small real model may call tools again and again: bound its runs (a run that hits
        # the bound is an error, for every configuration alike).
        self.max_turns = 10 if scripted else 4

    async def upstream(self) -> int:
        return await asyncio.to_thread(upstream_requests, self.base_url)

    async def batch(
        self, runs: Iterable[Callable[[], Awaitable[Any]]], concurrency: int | None
    ) -> Outcome:
        gate = asyncio.Semaphore(concurrency) if concurrency else None

        async def one(run: Callable[[], Awaitable[Any]]) -> Any:
            if gate is None:
                return await run()
            async with gate:
                return await run()

        before = await self.upstream()
        started = time.perf_counter()
        results = await asyncio.gather(*(one(r) for r in runs), return_exceptions=True)
        seconds = time.perf_counter() - started
        return Outcome(results, seconds, await self.upstream() - before)

    def runner(self, agent: Any, prompt: str, model: str = MODEL) -> Callable[[], Awaitable[Any]]:
        from agents import Runner

        config = self.setup.run_config(model)
        return lambda: Runner.run(agent, prompt, run_config=config, max_turns=self.max_turns)

    def examples(self, prompts: Sequence[str], outputs: Sequence[Any]) -> list[str]:
        """A few wrong answers, as "asked -> answered" (the question the answer quotes)."""
        found = []
        for prompt, output in zip(prompts, outputs, strict=True):
            text = str(output)
            if self.scripted and output is not None and f"<<{prompt}>>" not in text:
                answered = text.split("<<", 1)[-1].split(">>", 1)[0]
                found.append(f"{prompt!r} -> answer to {answered!r}")
        return sorted(set(found))[:5]

    def wrong(
        self, prompts: Sequence[str], outputs: Sequence[Any], reference: Sequence[Any] | None
    ) -> int:
        """Outputs that are not this prompt's answer: with the scripted upstream, an answer
        must quote its own question; a re-run must also equal the cold run's answer."""
        bad = 0
        for i, (prompt, output) in enumerate(zip(prompts, outputs, strict=True)):
            if output is None:
                continue  # an error, counted as such
            own = not self.scripted or f"<<{prompt}>>" in str(output)
            same = reference is None or reference[i] is None or output == reference[i]
            bad += not (own and same)
        return bad

    async def cold_warm(
        self, agent: Any, prompts: Sequence[str], concurrency: int, tools: Sequence[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"runs": len(prompts)}
        reference = None
        for phase in ("cold", "warm"):
            before = {t: TOOL_RUNS.get(t, 0) for t in tools}
            outcome = await self.batch([self.runner(agent, p) for p in prompts], concurrency)
            out[phase] = outcome.summary(
                wrong=self.wrong(prompts, outcome.outputs, reference),
                wrong_examples=self.examples(prompts, outcome.outputs),
                tool_runs=sum(TOOL_RUNS.get(t, 0) - before[t] for t in tools),
            )
            reference = outcome.outputs
        return out

    async def warmup(self) -> None:
        from agents import Agent, ModelSettings, Runner

        agent = Agent(
            name="warmup",
            instructions="Answer briefly.",
            model_settings=ModelSettings(temperature=0),
        )
        await Runner.run(
            agent, f"warm-up {uuid.uuid4().hex}", run_config=self.setup.run_config(MODEL)
        )
        streamed = Runner.run_streamed(
            agent, f"warm-up {uuid.uuid4().hex}", run_config=self.setup.run_config(MODEL)
        )
        async for _ in streamed.stream_events():
            pass

    async def eval_rerun(self) -> dict[str, Any]:
        from agents import Agent, ModelSettings

        agent = Agent(
            name="support eval",
            instructions="Answer the customer's question; search the docs when unsure.",
            tools=[self.tools["search_docs"]],
            model_settings=ModelSettings(temperature=0),
        )
        prompts = questions(self.sizes.eval_prompts, "")
        return await self.cold_warm(agent, prompts, self.sizes.eval_concurrency, ["search_docs"])

    async def multi_turn(self) -> dict[str, Any]:
        from agents import Agent, ModelSettings

        agent = Agent(
            name="weather",
            instructions="Answer weather questions with the tools, in Fahrenheit.",
            tools=[self.tools["get_weather"], self.tools["convert_temperature"]],
            model_settings=ModelSettings(temperature=0),
        )
        cities = (CITIES * (1 + self.sizes.conversations // len(CITIES)))[
            : self.sizes.conversations
        ]
        prompts = [
            f"What is the weather in {c} in Fahrenheit? (trip {i})" for i, c in enumerate(cities)
        ]
        tools = ["get_weather", "convert_temperature"]
        return await self.cold_warm(agent, prompts, self.sizes.eval_concurrency, tools)

    async def concurrent(self) -> dict[str, Any]:
        from agents import Agent, ModelSettings

        agent = Agent(
            name="orders",
            instructions="Look the order up, then answer.",
            tools=[self.tools["lookup_order"]],
            model_settings=ModelSettings(temperature=0),
        )
        distinct = questions(self.sizes.concurrent_prompts, " for my order")
        prompts = [distinct[i % len(distinct)] for i in range(self.sizes.concurrent_runs)]
        # One agent per run, as the SDK advises for concurrent runs: openai-agents 0.24 checks
        # the tools of every run of one Agent object against every other run of it (its
        # agent_tool_configuration), so 1,000 concurrent runs of one tool agent spend most of
        # their CPU there, whatever the model or cache (measured: 32 s of 56 s in a profile).
        runs = [self.runner(agent.clone(), p) for p in prompts]
        outcome = await self.batch(runs, None)
        # every run of one prompt must get that prompt's answer; runs of a prompt agree
        by_prompt: dict[str, set[str]] = {}
        for p, o in zip(prompts, outcome.outputs, strict=True):
            if o is not None:
                by_prompt.setdefault(p, set()).add(str(o))
        return {
            "runs": len(prompts),
            "distinct": len(distinct),
            "turns": 2,
            **outcome.summary(
                wrong=self.wrong(prompts, outcome.outputs, None),
                wrong_examples=self.examples(prompts, outcome.outputs),
                disagreeing_prompts=sum(len(v) > 1 for v in by_prompt.values())
                if self.scripted
                else 0,
            ),
        }

    async def streamed(self) -> dict[str, Any]:
        from agents import Agent, ModelSettings, Runner

        agent = Agent(
            name="chat",
            instructions="Answer the user's question in a few sentences.",
            model_settings=ModelSettings(temperature=0),
        )
        prompts = questions(self.sizes.streamed_runs, " in the mobile app")
        out: dict[str, Any] = {"runs": len(prompts)}
        reference: list[Any] | None = None
        for phase in ("cold", "warm"):
            firsts, ends, outputs, errors, deltas = [], [], [], [], []
            before = await self.upstream()
            for prompt in prompts:
                started = time.perf_counter()
                first = None
                count = 0
                try:
                    result = Runner.run_streamed(
                        agent, prompt, run_config=self.setup.run_config(MODEL)
                    )
                    async for event in result.stream_events():
                        if (
                            event.type == "raw_response_event"
                            and event.data.type == "response.output_text.delta"
                        ):
                            count += 1
                            if first is None:
                                first = time.perf_counter() - started
                    ends.append(time.perf_counter() - started)
                    firsts.append(first if first is not None else ends[-1])
                    outputs.append(result.final_output)
                    deltas.append(count)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                    outputs.append(None)
            out[phase] = {
                "first_s": statistics.median(firsts) if firsts else None,
                "end_s": statistics.median(ends) if ends else None,
                "upstream": await self.upstream() - before,
                "errors": len(errors),
                "first_error": errors[0] if errors else None,
                "wrong": self.wrong(prompts, outputs, reference),
                "wrong_examples": self.examples(prompts, outputs),
                "runs_without_text_deltas": sum(1 for d in deltas if d == 0),
            }
            reference = outputs
        return out

    async def probe(
        self, agent: Any, changed: Any, prompt: str, model: str = MODEL
    ) -> dict[str, Any]:
        """Cache ``agent``'s answer (two runs), then run the changed request: did it reach the
        upstream? ``cached``: the second run was answered without the upstream."""
        first = await self.batch([self.runner(agent, prompt)], None)
        second = await self.batch([self.runner(agent, prompt)], None)
        other = await self.batch([self.runner(changed, prompt, model)], None)
        errors = first.errors + other.errors + second.errors
        return {
            "cached": second.upstream == 0 and not first.errors,
            # a hit that raises where the live run did not (a looping real model raises both)
            "hit_error": second.errors[0]
            if second.upstream == 0 and second.errors and not first.errors
            else None,
            "changed_upstream": other.upstream,
            "served_stale": second.upstream == 0 and other.upstream == 0 and not first.errors,
            "changed_output": other.outputs[0],
            "error": errors[0] if errors else None,
        }

    async def probes(self) -> dict[str, Any]:
        from agents import Agent, ModelSettings

        plain = Agent(
            name="probe",
            instructions="Answer briefly.",
            model_settings=ModelSettings(temperature=0),
        )
        tool_agent = Agent(
            name="probe tools",
            instructions="Answer briefly; search the docs.",
            tools=[self.tools["search_docs"]],
            model_settings=ModelSettings(temperature=0),
        )
        return {
            "temperature": await self.probe(
                plain,
                plain.clone(model_settings=ModelSettings(temperature=0.2)),
                "probe: what is the capital of France?",
            ),
            "instructions": await self.probe(
                plain,
                plain.clone(instructions="Answer briefly, in French."),
                "probe: what is the capital of Italy?",
            ),
            "model": await self.probe(
                plain, plain, "probe: what is the capital of Spain?", MODEL_B
            ),
            "tool_schema": await self.probe(
                tool_agent,
                tool_agent.clone(tools=[self.tools["search_docs_v2"]]),
                "probe: how do I rotate keys?",
            ),
        }


async def run_worker(
    config: str, base_url: str, redis_url: str | None, sizes: Sizes, scripted: bool
) -> dict[str, Any]:
    from agents import set_tracing_disabled

    set_tracing_disabled(True)
    doc: dict[str, Any] = {"config": config, "python": sys.executable, "workloads": {}}
    from importlib.metadata import version

    doc["versions"] = {"openai-agents": version("openai-agents"), "openai": version("openai")}
    with tempfile.TemporaryDirectory(prefix="agentcache-compare-") as tmp:
        if config in ("baseline", "baseline-again", *OURS):
            setup = await build_ours(config, base_url, redis_url, Path(tmp))
        else:
            sys.path.insert(0, str(HERE))
            import compare_peers

            setup = await compare_peers.build(
                config, base_url, redis_url, openai_client, Setup, (MODEL, MODEL_B)
            )
        worker = Worker(setup, base_url, sizes, scripted)
        doc["notes"] = {k: v for k, v in setup.notes.items() if not callable(v)}
        try:
            started = time.perf_counter()
            try:
                await worker.warmup()
            except Exception as exc:  # every workload will say what breaks; go on
                doc["warmup_error"] = f"{type(exc).__name__}: {exc}"[:500]
            doc["warmup_s"] = time.perf_counter() - started
            steps: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]] = [
                ("eval", worker.eval_rerun),
                ("multi-turn", worker.multi_turn),
                ("concurrent", worker.concurrent),
                ("streamed", worker.streamed),
                ("probes", worker.probes),
            ]
            for name, step in steps:
                started = time.perf_counter()
                try:
                    doc["workloads"][name] = await step()
                except Exception as exc:  # a crash is a result
                    doc["workloads"][name] = {"crash": f"{type(exc).__name__}: {exc}"[:500]}
                progress(f"    {name}: {time.perf_counter() - started:.1f} s")
            stats = setup.notes.get("stats")
            if callable(stats):
                doc["cache_stats"] = stats()
        finally:
            await setup.aclose()
    return doc


# --------------------------------------------------------------------------------------------
# The orchestrator


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_config_process(
    python: str,
    config: str,
    base_url: str,
    redis_url: str | None,
    sizes: Sizes,
    scripted: bool,
    timeout: float,
) -> dict[str, Any]:
    """One configuration in a fresh process; its JSON document (or what broke it)."""
    with tempfile.TemporaryDirectory(prefix="agentcache-compare-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            python,
            __file__,
            "--worker",
            config,
            "--upstream",
            base_url,
            "--sizes",
            json.dumps(asdict(sizes)),
            "--out",
            str(out),
        ]
        if redis_url:
            cmd += ["--redis", redis_url]
        if not scripted:
            cmd.append("--real-model")
        env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "BETTERDB_TELEMETRY": "off",
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
            "PYTHONWARNINGS": "ignore",
        }
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                env=env,
                timeout=timeout,
                capture_output=True,
                text=True,
            )
        except subprocess.TimeoutExpired:
            return {"config": config, "crash": f"timed out after {timeout:.0f} s"}
        for line in proc.stderr.splitlines():
            if line.startswith("    "):
                progress(line)
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
            return {"config": config, "crash": f"exit {proc.returncode}: {tail}"}
        doc: dict[str, Any] = json.loads(out.read_text())
        doc["process_s"] = time.perf_counter() - started
        return doc


def flush_redis(url: str) -> None:
    from redis import Redis

    client = Redis.from_url(url)
    client.flushall()
    client.close()


# --------------------------------------------------------------------------------------------
# The report: tables on stdout, charts as PNG

WORKLOADS = ("eval", "multi-turn", "concurrent", "streamed")
PROBES = {
    "temperature": "temperature 0 -> 0.2",
    "instructions": "other instructions",
    "model": "other model name",
    "tool_schema": "changed tool schema",
}


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


def _fx(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2g}x" if ratio < 0.01 else f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


class Report:
    """Ratios against the baseline measured in the same run, and what each got wrong."""

    def __init__(self, results: Sequence[dict[str, Any]], meta: dict[str, Any]) -> None:
        self.results = list(results)
        self.meta = meta
        self.base = next((r for r in self.results if r["config"] == "baseline"), {})
        self.peers_base = next(
            (r for r in self.results if r["config"] == "peers-baseline"), self.base
        )

    def baseline_for(self, config: str) -> dict[str, Any]:
        return self.peers_base if config in PEER_CONFIGS else self.base

    @staticmethod
    def cached(config: str) -> bool:
        return config not in ("baseline", "baseline-again", "peers-baseline", "litellm-nocache")

    def row(self, result: dict[str, Any], workload: str) -> dict[str, Any]:
        """One cell of the comparison: ratio, upstream calls, issues."""
        config = result["config"]
        data = result.get("workloads", {}).get(workload)
        base = self.baseline_for(config).get("workloads", {}).get(workload) or {}
        if "crash" in result:
            return {"issues": [f"crashed: {result['crash'].splitlines()[-1][:160]}"]}
        if not data or "crash" in data:
            return {"issues": [f"crashed: {(data or {}).get('crash', 'no result')[:160]}"]}
        issues: list[str] = []
        if workload == "concurrent":
            phase, base_phase = data, base
            ideal = data["distinct"] * data["turns"]
            if self.cached(config) and data["upstream"] > ideal and not data["errors"]:
                issues.append(f"no single-flight: {data['upstream']} upstream calls, ideal {ideal}")
        else:
            phase, base_phase = data["warm"], base.get("warm") or {}
        if workload == "streamed":
            out = {
                "first_s": phase["first_s"],
                "end_s": phase["end_s"],
                "ratio": _ratio(phase["first_s"], base_phase.get("first_s")),
                "end_ratio": _ratio(phase["end_s"], base_phase.get("end_s")),
            }
            if self.cached(config) and phase["upstream"]:
                issues.append(
                    f"stream not served from cache ({phase['upstream']}/{data['runs']} "
                    "re-runs reached the upstream)"
                )
            if phase.get("runs_without_text_deltas"):
                issues.append(
                    f"{phase['runs_without_text_deltas']} streamed re-runs had no text deltas"
                )
        else:
            out = {
                "seconds": phase["seconds"],
                "ratio": _ratio(phase["seconds"], base_phase.get("seconds")),
            }
            if workload in ("eval", "multi-turn") and self.cached(config) and phase["upstream"]:
                what = (
                    "tool-agent turns"
                    if workload == "multi-turn"
                    else "calls of an agent with a tool"
                )
                issues.append(
                    f"{what} not cached ({phase['upstream']} upstream calls on the re-run)"
                )
            ran, live = phase.get("tool_runs"), (data.get("cold") or {}).get("tool_runs")
            if workload == "multi-turn" and ran != live and not phase["errors"]:
                issues.append(f"tools ran {ran} times on the re-run, {live} live")
        also = " (without a cache too)" if base_phase.get("errors") else ""
        if phase.get("errors"):
            issues.append(f"{phase['errors']} runs raised{also}: {phase['first_error']}")
        if phase.get("wrong"):
            example = (phase.get("wrong_examples") or [""])[0]
            issues.append(
                f"{phase['wrong']} wrong answers" + (f", e.g. {example}" if example else "")
            )
        cold = data.get("cold") or {}
        if cold.get("errors"):
            issues.append(f"cold run: {cold['errors']} runs raised{also}: {cold['first_error']}")
        if cold.get("wrong"):
            example = (cold.get("wrong_examples") or [""])[0]
            issues.append(
                f"cold run: {cold['wrong']} wrong answers"
                + (f", e.g. {example}" if example else "")
            )
        out["upstream"] = phase["upstream"]
        out["issues"] = issues
        return out

    def probe_cell(self, result: dict[str, Any], probe: str) -> tuple[str, str]:
        """(short verdict, detail): ``ok`` (the changed request reached the model), ``WRONG``
        (answered from the cache), ``not cached`` (the cache never holds such a call)."""
        if not self.cached(result["config"]):
            return "-", ""
        data = (result.get("workloads", {}).get("probes") or {}).get(probe)
        if data is None:
            return "crash", "no probe result"
        crash = data.get("hit_error")
        if data["served_stale"]:
            if crash:
                return "WRONG, hit raises", f"answered from the cache, and a hit raises {crash}"
            return "WRONG", f"answered from the cache: {str(data['changed_output'])[:100]}"
        if crash:
            return "hit raises", crash
        if data.get("error"):
            return "error", data["error"]
        if not data["cached"]:
            return "not cached", "the unchanged re-run reached the upstream"
        return "ok", ""

    def issues(self, result: dict[str, Any]) -> list[str]:
        found: list[str] = []
        for workload in WORKLOADS:
            found += [f"{workload}: {i}" for i in self.row(result, workload)["issues"]]
        for probe, label in PROBES.items():
            verdict, detail = self.probe_cell(result, probe)
            if verdict not in ("ok", "not cached", "-"):
                found.append(f"probe {label}: {verdict} ({detail})")
        return found

    def print(self) -> None:
        sizes = self.meta["sizes"]
        print(
            f"\nagentcache vs the alternatives ({self.meta['mode']} run, "
            f"upstream: {self.meta['upstream']}"
            + (
                f", {sizes['latency_ms']:.0f} ms to first token, "
                f"{sizes['chunk_ms']:.0f} ms per text chunk"
                if self.meta["upstream"].startswith("scripted")
                else ""
            )
            + ")"
        )
        print(
            "Every ratio is against the no-cache baseline measured in this run (peers: the "
            "baseline run in the peers venv); lower is faster.\n"
        )
        titles = {
            "eval": f"eval re-run: {sizes['eval_prompts']} prompts, agent with a tool, "
            f"{sizes['eval_concurrency']} at a time; the re-run",
            "multi-turn": f"multi-turn tool agent re-run: {sizes['conversations']} conversations x "
            + (
                "3 model turns (tool, tool, answer)"
                if self.meta["upstream"].startswith("scripted")
                else "a two-tool agent (the model decides its turns)"
            ),
            "concurrent": f"concurrent: {sizes['concurrent_runs']} runs at once over "
            f"{sizes['concurrent_prompts']} prompts, 2 turns (ideal "
            f"{2 * sizes['concurrent_prompts']} upstream calls)",
            "streamed": f"streamed re-run: {sizes['streamed_runs']} Runner.run_streamed runs, "
            "median time to the first text delta and to the end",
        }
        width = max(len(CONFIG_LABELS[r["config"]]) for r in self.results) + 2
        for workload in WORKLOADS:
            print(f"== {titles[workload]}")
            if workload == "streamed":
                print(
                    f"  {'configuration':<{width}} {'first text':>10} {'ratio':>7} {'end':>10} "
                    f"{'ratio':>7} {'upstream':>9}  issues"
                )
            else:
                print(
                    f"  {'configuration':<{width}} {'time':>10} {'ratio':>7} "
                    f"{'upstream':>9}  issues"
                )
            for result in self.results:
                cell = self.row(result, workload)
                label = CONFIG_LABELS[result["config"]]
                issues = "; ".join(cell["issues"]) or "-"
                if "upstream" not in cell:
                    print(f"  {label:<{width}} {'':>10} {'':>7} {'':>9}  {issues}")
                elif workload == "streamed":
                    print(
                        f"  {label:<{width}} {_secs(cell['first_s']):>10} {_fx(cell['ratio']):>7} "
                        f"{_secs(cell['end_s']):>10} {_fx(cell['end_ratio']):>7} "
                        f"{cell['upstream']:>9}  {issues}"
                    )
                else:
                    print(
                        f"  {label:<{width}} {_secs(cell['seconds']):>10} {_fx(cell['ratio']):>7} "
                        f"{cell['upstream']:>9}  {issues}"
                    )
            print()
        print(
            "== correctness probes: a request is cached, then sent changed; ok = the changed "
            "request reached the model, WRONG = answered from the cache"
        )
        print(
            f"  {'configuration':<{width}} " + " ".join(f"{label:>22}" for label in PROBES.values())
        )
        for result in self.results:
            cells = [self.probe_cell(result, p)[0] for p in PROBES]
            print(
                f"  {CONFIG_LABELS[result['config']]:<{width}} "
                + " ".join(f"{c:>22}" for c in cells)
            )
        print("\n== what each configuration gets wrong")
        for result in self.results:
            found = self.issues(result)
            print(f"  {CONFIG_LABELS[result['config']]}: {'nothing found' if not found else ''}")
            for issue in found:
                print(f"    - {issue}")
            stats = result.get("cache_stats") or {}
            for name in ("errors", "not_stored"):
                if stats.get(name):
                    print(f"    (stats().{name}: {stats[name]})")
            notes = result.get("notes") or {}
            if notes.get("adaptation"):
                print(
                    f"    (measured with the adaptation {notes['adaptation']}; without it "
                    f"RunConfig(model=...) fails: {notes.get('error_as_is', '-')}; "
                    f"Agent(model=...) fails: {notes.get('agent_error_as_is', '-')})"
                )
        for peer, status in (self.meta.get("install") or {}).items():
            if status != "ok":
                print(f"  {peer}: does not install:\n      " + status.replace("\n", "\n      "))
        print(f"\n({self.meta['seconds']:.0f} s in all)")

    def charts(self, path: str) -> list[str]:
        """``path``: the workloads (ratio bars, upstream calls as labels); ``<stem>_correctness``
        beside it: a grid of what each configuration got right."""
        from bench_core import Canvas  # the project's dependency-free PNG drawing

        first = Path(path)
        second = first.with_name(f"{first.stem}_correctness{first.suffix}")
        first.parent.mkdir(parents=True, exist_ok=True)
        first.write_bytes(self._chart_ratios(Canvas))
        second.write_bytes(self._chart_correctness(Canvas))
        return [str(first), str(second)]

    def _color(self, config: str) -> tuple[int, int, int]:
        if not self.cached(config):
            return (154, 160, 166)
        return (66, 133, 244) if config in OURS else (234, 134, 52)

    def _chart_ratios(self, canvas: Any) -> bytes:
        names = {
            "eval": "eval re-run (tool agent)",
            "multi-turn": "multi-turn tool agent re-run",
            "concurrent": "1,000 concurrent runs, cold cache",
            "streamed": "streamed re-run: time to first text",
        }
        rows = len(self.results)
        width, left, bar_h, gap = 1200, 350, 20, 6
        panel = 44 + rows * (bar_h + gap) + 16
        height = 70 + panel * len(WORKLOADS)
        c = canvas(width, height)
        c.text(20, 16, "agentcache vs alternatives: time as a ratio to no cache (lower is better)")
        c.text(
            20,
            40,
            "label: ratio | upstream calls | ! = something wrong (see the table)",
            (90, 90, 90),
        )
        span = 1.25
        bar_w = width - left - 250
        y = 70
        for workload in WORKLOADS:
            c.text(20, y + 6, names[workload], (0, 0, 0))
            y += 36
            one = left + round(bar_w / span)
            c.rect(one, y - 4, 2, rows * (bar_h + gap), (219, 68, 55))
            c.text(one - 12, y - 20, "1x", (219, 68, 55))
            for result in self.results:
                cell = self.row(result, workload)
                label = CONFIG_LABELS[result["config"]]
                c.text(left - 10 - canvas.text_width(label), y + 3, label)
                ratio = cell.get("ratio")
                w = 0 if ratio is None else max(2, round(min(ratio, span) / span * bar_w))
                c.rect(left, y, w, bar_h, self._color(result["config"]))
                text = ("crashed" if ratio is None else _fx(ratio)) + (
                    f" | {cell['upstream']} calls" if "upstream" in cell else ""
                )
                x = c.text(left + w + 8, y + 3, text, (40, 40, 40))
                if cell["issues"]:
                    c.text(x + 8, y + 3, "!", (219, 68, 55))
                y += bar_h + gap
            y += 16
        return bytes(c.png())

    @staticmethod
    def _verdict(cell: dict[str, Any]) -> tuple[str, tuple[int, int, int]]:
        """A workload cell of the grid: its worst issue in a word or two, and its colour."""
        issues = " ".join(cell["issues"])
        if "upstream" not in cell:
            return "crash", (219, 68, 55)
        for needle, text in (("raised", "raises"), ("wrong answers", "wrong answer"),
                             ("not cached", "not cached"), ("not served", "not cached"),
                             ("single-flight", f"{cell['upstream']} calls")):  # fmt: skip
            if needle in issues:
                return text, (219, 68, 55)
        return ("ok", (52, 168, 83)) if not issues else ("see table", (219, 68, 55))

    def _chart_correctness(self, canvas: Any) -> bytes:
        columns = [
            ("eval", "tool agent"),
            ("multi-turn", "tool turns"),
            ("concurrent", "single-flight"),
            ("streamed", "stream"),
        ] + [
            (p, label)
            for p, label in (
                ("temperature", "temperature"),
                ("instructions", "instructions"),
                ("model", "model name"),
                ("tool_schema", "tool schema"),
            )
        ]
        results = [r for r in self.results if self.cached(r["config"])]
        left, cell_w, cell_h = 350, 172, 34
        width = left + cell_w * len(columns) + 20
        height = 110 + cell_h * len(results) + 16
        c = canvas(width, height)
        c.text(20, 16, "What each cache gets right on the same workloads and probes")
        c.text(
            20,
            40,
            "green: cached and correct  red: wrong, crash or not cached  grey: n/a (never cached)",
            (90, 90, 90),
        )
        for j, (_, label) in enumerate(columns):
            c.text(left + j * cell_w + 6, 80, label, (40, 40, 40))
        green, red, grey = (52, 168, 83), (219, 68, 55), (189, 193, 198)
        for i, result in enumerate(results):
            y = 104 + i * cell_h
            label = CONFIG_LABELS[result["config"]]
            c.text(left - 10 - canvas.text_width(label), y + 9, label)
            for j, (key, _) in enumerate(columns):
                if key in WORKLOADS:
                    cell = self.row(result, key)
                    text, color = self._verdict(cell)
                else:
                    verdict = self.probe_cell(result, key)[0]
                    text = {"not cached": "n/a", "WRONG, hit raises": "WRONG+crash"}.get(
                        verdict, verdict
                    )
                    color = {"ok": green, "not cached": grey}.get(verdict, red)
                x = left + j * cell_w
                c.rect(x + 2, y + 2, cell_w - 4, cell_h - 4, color)
                c.text(x + (cell_w - canvas.text_width(text)) // 2, y + 9, text, (255, 255, 255))
        return bytes(c.png())


def publish(results: list[dict[str, Any]], meta: dict[str, Any], chart: str | None) -> None:
    report = Report(results, meta)
    report.print()
    if chart:
        for path in report.charts(chart):
            progress(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke run: memory + file, tiny")
    peers = parser.add_mutually_exclusive_group()
    peers.add_argument(
        "--peers",
        action="store_true",
        default=None,
        help="include the peers (default for a full run)",
    )
    peers.add_argument("--no-peers", dest="peers", action="store_false")
    parser.add_argument("--configs", help="comma-separated subset, e.g. memory,betterdb")
    parser.add_argument(
        "--local-llm",
        nargs="?",
        const="start",
        metavar="URL",
        help="a real OpenAI-compatible server (its /v1 base URL); with no URL, "
        "start one with scripts/llm_server.py",
    )
    parser.add_argument("--latency-ms", type=float, help="scripted upstream: time to first token")
    parser.add_argument("--chunk-ms", type=float, help="scripted upstream: between text chunks")
    parser.add_argument("--json", metavar="PATH", help="also write every result as JSON")
    parser.add_argument(
        "--chart",
        metavar="PATH",
        help="PNG chart (default docs/compare.png for a full scripted run)",
    )
    parser.add_argument(
        "--from-json",
        metavar="PATH",
        help="print (and with --chart draw) the report of an earlier --json run",
    )
    # internal modes
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--proxy", help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--real-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve((args.latency_ms or 0) / 1e3, (args.chunk_ms or 0) / 1e3, args.proxy))
        return 0
    if args.from_json:
        doc = json.loads(Path(args.from_json).read_text())
        sys.path.insert(0, str(HERE))
        publish(doc["results"], doc["meta"], args.chart)
        return 0
    if args.worker:
        sizes = Sizes(**json.loads(args.sizes))
        doc = asyncio.run(
            run_worker(args.worker, args.upstream, args.redis, sizes, not args.real_model)
        )
        Path(args.out).write_text(json.dumps(doc, default=str))
        return 0

    sys.path.insert(0, str(HERE))
    started = time.perf_counter()
    sizes = LOCAL if args.local_llm else QUICK if args.quick else FULL
    if args.latency_ms is not None or args.chunk_ms is not None:
        sizes = Sizes(
            **{
                **asdict(sizes),
                **{
                    k: v
                    for k, v in (("latency_ms", args.latency_ms), ("chunk_ms", args.chunk_ms))
                    if v is not None
                },
            }
        )
    with_peers = (not args.quick) if args.peers is None else args.peers
    if args.configs:
        configs = [c.strip() for c in args.configs.split(",") if c.strip()]
        unknown = [c for c in configs if c not in CONFIG_LABELS]
        if unknown:
            parser.error(f"unknown configuration(s) {unknown}; known: {', '.join(CONFIG_LABELS)}")
        if "baseline" not in configs:
            configs.insert(0, "baseline")
    elif args.quick:
        configs = ["baseline", "memory", "file"] + (list(PEER_CONFIGS) if args.peers else [])
    else:
        # the baseline again at the end: how much the machine drifted during the run
        configs = (
            ["baseline", *OURS] + (list(PEER_CONFIGS) if with_peers else []) + ["baseline-again"]
        )
    if any(c in PEER_CONFIGS for c in configs) and "peers-baseline" not in configs:
        configs.insert(
            configs.index(next(c for c in configs if c in PEER_CONFIGS)), "peers-baseline"
        )

    peers_python: str | None = None
    install: dict[str, Any] = {}
    if any(c in PEER_CONFIGS for c in configs):
        import compare_peers

        progress("peers venv: " + str(compare_peers.VENV))
        peers_python, install = compare_peers.ensure_venv()
        for peer, status in install.items():
            if status != "ok":
                progress(f"  {peer} does not install: {status.splitlines()[-1] if status else ''}")
        missing = {
            "redis-openai-agents": "redis-openai-agents",
            "betterdb": "betterdb-agent-cache",
            "litellm": "litellm",
            "litellm-nocache": "litellm",
        }
        configs = [c for c in configs if install.get(missing.get(c, ""), "ok") == "ok"]

    local = None
    target = None
    if args.local_llm == "start":
        sys.path.insert(0, str(ROOT))
        from tests.support import load_script  # the project's one loader for its scripts

        llm_server = load_script("llm_server")
        try:
            local = llm_server.LocalLLM().start()
        except llm_server.LLMServerError as exc:
            progress(f"the local LLM cannot start: {exc}")
            return 1
        target = local.base_url
    elif args.local_llm:
        target = args.local_llm
    server = None
    redis_url = None
    results: list[dict[str, Any]] = []
    try:
        if any(c in NEEDS_REDIS for c in configs):
            from bench_redis import redis_server_module  # the project's Redis provisioning

            server = redis_server_module().RedisServer(modules=True).start()
            redis_url = server.url
        latency = 0.0 if target else sizes.latency_ms / 1e3
        with upstream_process(latency, 0.0 if target else sizes.chunk_ms / 1e3, target) as base_url:
            progress(
                f"upstream {base_url} ({'proxy to ' + target if target else 'scripted'}); "
                f"Redis {redis_url or 'not needed'}; configurations: {', '.join(configs)}"
            )
            timeout = 300 if args.quick else 1800
            for config in configs:
                if redis_url:
                    flush_redis(redis_url)
                python = peers_python if config in PEER_CONFIGS else sys.executable
                progress(
                    f"  {CONFIG_LABELS[config]} "
                    f"({'peers venv' if config in PEER_CONFIGS else 'this venv'})"
                )
                doc = run_config_process(
                    python or sys.executable,
                    config,
                    base_url,
                    redis_url,
                    sizes,
                    target is None,
                    timeout,
                )
                results.append(doc)
                if "crash" in doc:
                    progress(f"    crashed: {doc['crash']}")
                if args.json:  # as it goes: a run stopped half-way keeps what it measured
                    partial = {
                        "meta": {
                            "mode": "partial",
                            "sizes": asdict(sizes),
                            "upstream": target or "scripted loopback server",
                            "seconds": time.perf_counter() - started,
                        },
                        "results": results,
                    }
                    Path(args.json).write_text(json.dumps(partial, default=str))
    finally:
        if server is not None:
            server.close()
        if local is not None:
            local.close()
    elapsed = time.perf_counter() - started
    meta = {
        "mode": "local-llm" if target else "quick" if args.quick else "full",
        "sizes": asdict(sizes),
        "upstream": target or "scripted loopback server",
        "python": platform.python_version(),
        "seconds": elapsed,
        "install": install,
    }
    if args.json:  # first: a report that fails must not lose a run
        Path(args.json).write_text(
            json.dumps({"meta": meta, "results": results}, indent=2, default=str)
        )
        progress(f"wrote {args.json}")
    chart = args.chart or (None if args.quick or target else str(ROOT / "docs" / "compare.png"))
    publish(results, meta, chart)
    progress(f"total {elapsed:.0f} s")
    return exit_code(results, meta)


def exit_code(results: list[dict[str, Any]], meta: dict[str, Any]) -> int:
    """1 when the setup is broken (the baseline crashed: no ratio means anything), or when an
    exact agentcache store crashed, raised or answered wrong on the scripted upstream (a
    correctness failure, not a timing); 0 otherwise, whatever the figures."""
    baseline = next((r for r in results if r["config"] == "baseline"), {})
    if "crash" in baseline or any("crash" in w for w in baseline.get("workloads", {}).values()):
        return 1
    if meta.get("upstream", "").startswith("scripted"):
        report = Report(results, meta)
        for result in results:
            if result["config"] in ("memory", "file", "redis"):
                broken = [
                    issue
                    for issue in report.issues(result)
                    if any(word in issue for word in ("crash", "raise", "wrong", "WRONG"))
                ]
                for issue in broken:
                    progress(f"FAIL {CONFIG_LABELS[result['config']]}: {issue}")
                if broken:
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
