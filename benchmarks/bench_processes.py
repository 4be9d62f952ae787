"""Concurrency in one process and across processes: a cold cache, many identical runs at once.

    .venv/bin/python benchmarks/bench_processes.py           # 1,000 runs: 1 process, 4 processes
    .venv/bin/python benchmarks/bench_processes.py --quick   # 200 runs, 2 processes (CI smoke)
    .venv/bin/python benchmarks/bench_processes.py --json out.json

Every run is the one-tool agent of ``compare.py``'s concurrent workload (two turns: a tool call,
then the answer), through the real ``Runner.run`` and the SDK's own chat-completions model,
against ``compare.py``'s loopback upstream in its own process (100 ms to the first token), which
counts the requests reaching it. The runs start together on a cold cache: ``--runs`` over 50
distinct prompts, so the ideal is 50 upstream calls per turn, 100 in all, however the runs are
spread over processes. Rows:

* ``1 process, memory``: all runs in one process on the in-memory store (the floor of the
  in-process single-flight).
* ``1 process, Redis``: the same on one Redis.
* ``N processes, Redis``: the runs split over ``--processes`` processes that start at the same
  instant and share the Redis: the cross-process single-flight (a lock per key, the others
  wait for its entry).
* ``N processes, Redis, 10 tenants``: the same runs as 10 tenants x 5 prompts, each run in
  its tenant's ``agentcache.namespace``, as a multi-tenant service would run them.

For each: upstream calls (ideal 100), the time to drain (from the common start to the last run's
end), wrong answers (an answer must quote its own question), run errors, and the cache's store
errors summed over the processes (timeouts, an open circuit). Exit 1 only when the setup is
broken (a worker crashed); a row above the ideal is reported, not failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compare import (
    MODEL,
    make_tools,
    openai_client,
    questions,
    upstream_process,
    upstream_requests,
)

HERE = Path(__file__).resolve().parent
IDEAL_PER_TURN = 50
START_DELAY = 4.0  # seconds for every worker to import and connect before the common start


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# A worker process: its share of the runs, started at the common instant


async def worker(args: argparse.Namespace) -> dict[str, Any]:
    from agents import Agent, ModelSettings, OpenAIProvider, RunConfig, Runner

    import agentcache
    from agentcache import CachedModelProvider

    base = OpenAIProvider(openai_client=openai_client(args.upstream), use_responses=False)
    tenants = [f"{args.namespace}-tenant{t}" for t in range(args.tenants)]
    provider = CachedModelProvider(base, store=args.store)
    config = RunConfig(model=MODEL, model_provider=provider)
    per_tenant = IDEAL_PER_TURN // args.tenants
    distinct = questions(IDEAL_PER_TURN, " for my order")
    tool = make_tools()["lookup_order"]
    agent = Agent(
        name="orders",
        instructions="Look the order up, then answer.",
        tools=[tool],
        model_settings=ModelSettings(temperature=0),
    )
    jobs = []
    for i in range(args.first, args.first + args.runs):
        prompt = distinct[(i % args.tenants) * per_tenant + (i // args.tenants) % per_tenant]
        jobs.append((prompt, tenants[i % args.tenants]))

    async def run(prompt: str, tenant: str) -> Any:
        with agentcache.namespace(tenant):
            return await Runner.run(agent.clone(), prompt, run_config=config)

    await asyncio.sleep(max(0.0, args.start - time.time()))
    started = time.time()
    results = await asyncio.gather(*(run(p, t) for p, t in jobs), return_exceptions=True)
    ended = time.time()
    errors = [f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, BaseException)]
    wrong = sum(
        not isinstance(r, BaseException) and f"<<{p}>>" not in str(r.final_output)
        for (p, _), r in zip(jobs, results, strict=True)
    )
    store_errors = dict(provider.stats().errors)
    await provider.aclose()
    return {
        "late_start_s": started - args.start,
        "ended": ended,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "wrong": wrong,
        "store_errors": store_errors,
    }


# --------------------------------------------------------------------------------------------
# The driver


def scenario(
    name: str,
    *,
    processes: int,
    runs: int,
    tenants: int,
    store: str | None,
    upstream: str,
    redis_url: str,
) -> dict[str, Any]:
    from redis import Redis

    client = Redis.from_url(redis_url)
    client.flushall()
    client.close()
    before = upstream_requests(upstream)
    start = time.time() + START_DELAY
    share = runs // processes
    with tempfile.TemporaryDirectory(prefix="agentcache-procs-") as tmp:
        procs = []
        for p in range(processes):
            out = Path(tmp) / f"{p}.json"
            cmd = [sys.executable, __file__, "--worker", "--upstream", upstream,
                   "--runs", str(share), "--first", str(p * share), "--tenants", str(tenants),
                   "--start", repr(start), "--namespace", "procs", "--out", str(out)]  # fmt: skip
            if store:
                cmd += ["--store", store]
            env = {**os.environ, "OPENAI_AGENTS_DISABLE_TRACING": "1"}
            procs.append((subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True), out))
        docs = []
        for proc, out in procs:
            _, err = proc.communicate(timeout=600)
            if proc.returncode != 0 or not out.exists():
                raise RuntimeError(f"{name}: a worker failed:\n{err.strip()[-2000:]}")
            docs.append(json.loads(out.read_text()))
    calls = upstream_requests(upstream) - before
    store_errors: dict[str, int] = {}
    for doc in docs:
        for kind, n in doc["store_errors"].items():
            store_errors[kind] = store_errors.get(kind, 0) + n
    result = {
        "name": name,
        "processes": processes,
        "runs": share * processes,
        "calls": calls,
        "drain_s": max(d["ended"] for d in docs) - start,
        "late_start_s": max(d["late_start_s"] for d in docs),
        "wrong": sum(d["wrong"] for d in docs),
        "errors": sum(d["errors"] for d in docs),
        "first_error": next((d["first_error"] for d in docs if d["first_error"]), None),
        "store_errors": store_errors,
    }
    progress(f"  {name}: {calls} upstream calls, drained in {result['drain_s']:.2f} s")
    return result


def report(rows: Sequence[dict[str, Any]], mode: str) -> None:
    ideal = 2 * IDEAL_PER_TURN
    print(f"Concurrency ({mode}): runs started together on a cold cache over {IDEAL_PER_TURN} "
          f"prompts, 2 turns; ideal {ideal} upstream calls")  # fmt: skip
    head = f"{'runs':>6} {'calls':>6} {'drain':>8} {'wrong':>6} {'errors':>7}"
    print(f"  {'':<36} {head}  store errors")
    for r in rows:
        errs = ", ".join(f"{k} {v}" for k, v in sorted(r["store_errors"].items())) or "none"
        print(f"  {r['name']:<36} {r['runs']:>6} {r['calls']:>6} {r['drain_s']:>7.2f}s "
              f"{r['wrong']:>6} {r['errors']:>7}  {errs}")  # fmt: skip
        if r["first_error"]:
            print(f"    first run error: {r['first_error']}")
    for r in rows:
        verdict = "PASS" if r["calls"] == ideal and not r["wrong"] and not r["errors"] else "MISS"
        print(f"  goal: {r['name']}: exactly {ideal} upstream calls: {r['calls']}  {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 runs, 2 processes")
    parser.add_argument("--runs", type=int, help="runs in all (1,000; 200 with --quick)")
    parser.add_argument("--processes", type=int, help="processes sharing Redis (4; 2 quick)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    # a worker's own arguments
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--tenants", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--namespace", default="procs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        doc = asyncio.run(worker(args))
        Path(args.out).write_text(json.dumps(doc))
        return 0
    runs = args.runs or (200 if args.quick else 1000)
    processes = args.processes or (2 if args.quick else 4)
    mode = "quick" if args.quick else "full"
    from bench_redis import redis_server_module

    server = redis_server_module().RedisServer(modules=False).start()
    try:
        with upstream_process(0.1, 0.005, None) as upstream:
            progress(f"Redis on {server.url}, upstream on {upstream}; {runs} runs")
            common = {"upstream": upstream, "redis_url": server.url, "runs": runs}
            rows = [
                scenario("1 process, memory", processes=1, tenants=1, store=None, **common),
                scenario("1 process, Redis", processes=1, tenants=1, store=server.url, **common),
                scenario(
                    f"{processes} processes, Redis",
                    processes=processes,
                    tenants=1,
                    store=server.url,
                    **common,
                ),
                scenario(
                    f"{processes} processes, Redis, 10 tenants",
                    processes=processes,
                    tenants=10,
                    store=server.url,
                    **common,
                ),
            ]
    except RuntimeError as exc:
        print(f"benchmark setup is broken: {exc}", file=sys.stderr)
        return 1
    finally:
        server.close()
    report(rows, mode)
    if args.json:
        Path(args.json).write_text(json.dumps({"mode": mode, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
