"""agentcache's spans in a real collector: Arize Phoenix, over OTLP/HTTP, read back over REST.

Phoenix is provisioned by ``scripts/phoenix.py`` into its own virtual environment (it is large)
and one server is started for the session on free loopback ports, with a throwaway working
directory. Spans are read back with ``GET /v1/projects/{project}/spans``; Phoenix files them
under the project named by the ``openinference.project.name`` resource attribute.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import RunConfig, Runner
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import agentcache
from agentcache import CachedModel
from tests.support import TurnModel, weather_agent

ROOT = Path(__file__).parents[2]
STARTUP_TIMEOUT = 180.0  # ~11 s on an idle machine; much more on a busy 2-core one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Phoenix server running for this test session."""
    provision = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "phoenix.py"), "--quiet"],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert provision.returncode == 0, provision.stderr[-4000:]
    phoenix_bin = provision.stdout.strip().splitlines()[-1]
    workdir = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = dict(os.environ)
    env.update(
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(free_port()),
        PHOENIX_WORKING_DIR=str(workdir),
        PHOENIX_TELEMETRY_ENABLED="false",
    )
    log = (workdir / "phoenix.log").open("wb")
    proc = subprocess.Popen([phoenix_bin, "serve"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            assert proc.poll() is None, (workdir / "phoenix.log").read_text()[-4000:]
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Phoenix did not become healthy in time"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def read_spans(
    url: str, project: str, expected: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """All spans of ``project``, once at least ``expected`` have been ingested."""
    deadline = time.monotonic() + timeout
    while True:
        spans: list[dict[str, Any]] = []
        cursor = None
        try:
            while True:
                query = f"?limit=1000{f'&cursor={cursor}' if cursor else ''}"
                page = get_json(f"{url}/v1/projects/{project}/spans{query}")
                spans += page["data"]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # the project appears with its first span
                raise
        if len(spans) >= expected or time.monotonic() > deadline:
            return sorted(spans, key=lambda s: s["start_time"])
        time.sleep(0.3)


def provider_for(url: str, project: str) -> TracerProvider:
    resource = Resource.create({"service.name": "agentcache-tests",
                                "openinference.project.name": project})  # fmt: skip
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(f"{url}/v1/traces")))
    return provider


async def test_spans_arrive_in_phoenix_with_their_attributes(phoenix: str, tmp_path: Path) -> None:
    project = f"agentcache-{uuid.uuid4().hex[:8]}"
    provider = provider_for(phoenix, project)
    inner = TurnModel()
    inner.model = "scripted-4o"  # type: ignore[attr-defined]
    # an on-disk store: its lookups and writes are I/O steps with spans of their own
    cached = CachedModel(inner, store=f"file://{tmp_path}", namespace="phx",
                         options={"otel_tracer_provider": provider})  # fmt: skip
    app = provider.get_tracer("tests")
    agent, config = weather_agent(), RunConfig(model=cached)
    with app.start_as_current_span("miss run"):
        await Runner.run(agent, "weather?", run_config=config)
        await cached.flush()
    with app.start_as_current_span("hit run"):
        await Runner.run(agent, "weather?", run_config=config)
    with app.start_as_current_span("bypass run"), agentcache.no_cache():
        await Runner.run(agent, "weather?", run_config=config)
    inner.fail_first = len(inner.calls) + 1
    with app.start_as_current_span("error run"), pytest.raises(RuntimeError):
        await Runner.run(agent, "other weather?", run_config=config)
    await cached.flush()
    assert provider.force_flush(30_000)
    provider.shutdown()

    # 4 roots; miss: 3 calls x (call, lookup, model, write); hit: 3 x (call, lookup);
    # bypass: 3 x (call, model); error: 1 x (call, lookup, model)
    spans = read_spans(phoenix, project, expected=4 + 12 + 6 + 6 + 3)
    by_id = {s["context"]["span_id"]: s for s in spans}
    roots = {s["name"]: s for s in spans if s["parent_id"] is None}
    assert sorted(roots) == ["bypass run", "error run", "hit run", "miss run"]

    def calls_under(root: str) -> list[dict[str, Any]]:
        span_id = roots[root]["context"]["span_id"]
        return [s for s in spans if s["parent_id"] == span_id]

    def children(span: dict[str, Any]) -> list[str]:
        return sorted(s["name"] for s in spans if s["parent_id"] == span["context"]["span_id"])

    miss, hit = calls_under("miss run"), calls_under("hit run")
    bypass, error = calls_under("bypass run"), calls_under("error run")
    assert [s["name"] for s in miss + hit + bypass + error] == ["agentcache.get_response"] * 10
    for span in miss:
        a = span["attributes"]
        assert (a["agentcache.outcome"], a["agentcache.namespace"]) == ("miss", "phx")
        assert a["gen_ai.request.model"] == "scripted-4o"
        assert a["gen_ai.usage.input_tokens"] == 50
        assert children(span) == ["agentcache.lookup", "agentcache.model", "agentcache.store_write"]
    for span, before in zip(hit, miss, strict=True):
        a = span["attributes"]
        assert (a["agentcache.outcome"], a["agentcache.layer"]) == ("hit", "exact")
        assert a["agentcache.key"] == before["attributes"]["agentcache.key"]
        assert len(a["agentcache.key"]) == 12
        assert a["agentcache.tokens_saved"] == 60
        assert children(span) == ["agentcache.lookup"]
    for span in bypass:
        a = span["attributes"]
        assert (a["agentcache.outcome"], a["agentcache.bypass_reason"]) == ("bypass", "no_cache")
        assert "agentcache.key" not in a
        assert children(span) == ["agentcache.model"]
    (failed,) = error
    assert failed["attributes"]["agentcache.outcome"] == "error"
    assert failed["status_code"] == "ERROR"
    assert any(e["name"] == "exception" for e in failed["events"])
    (model_step,) = [by_id[i] for i in by_id if by_id[i]["name"] == "agentcache.model"
                     and by_id[i]["parent_id"] == failed["context"]["span_id"]]  # fmt: skip
    assert model_step["status_code"] == "ERROR"
    assert {s["context"]["trace_id"] for s in miss} == {roots["miss run"]["context"]["trace_id"]}


def test_example_shows_cache_spans_inside_the_sdk_trace(phoenix: str) -> None:
    """examples/otel_phoenix.py, with the SDK's own spans exported by OpenInference's
    instrumentor: our call spans nest under the SDK's turn span (the instrumentor makes each
    SDK span the current OTel span), while the SDK's generation span, which it parents by the
    SDK's own span tree, is a sibling of ours rather than a child of ``agentcache.model``."""
    project = f"example-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "otel_phoenix.py"),
         "--endpoint", phoenix, "--project", project],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "second run: 2 hit(s), 0 miss(es)" in proc.stdout
    # per run: workflow root + its chain + agent + 2 turns + 1 tool + 2 calls x steps;
    # the first run adds 2 generations and the model and write steps of its 2 misses
    spans = read_spans(phoenix, project, expected=2 * (1 + 1 + 1 + 2 + 1 + 4) + 2 + 4)
    by_id = {s["context"]["span_id"]: s for s in spans}
    ours = [s for s in spans if s["name"] == "agentcache.get_response"]
    assert [s["attributes"]["agentcache.outcome"] for s in ours] == ["miss", "miss", "hit", "hit"]
    for span in ours:
        assert by_id[span["parent_id"]]["name"] == "turn"
    generations = [s for s in spans if s["name"] == "generation"]
    assert len(generations) == 2  # the hits never reached the model
    miss_parents = {s["parent_id"] for s in ours[:2]}
    assert {g["parent_id"] for g in generations} == miss_parents  # siblings of our call spans
