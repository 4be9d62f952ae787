#!/usr/bin/env python3
"""Faults under load: each store failure injected for real while agent runs go on.

The soak's load (``scripts/soak.py``: concurrent three-turn tool agents, 70% repeated prompts,
20% new, 10% streamed, semantic lookup on) runs against a fresh ``CachedModel`` per fault while
one fault is injected, as a real process or mount would fail:

==========  ===============================================================================
restart     the Redis process is killed (SIGKILL) and started again on the same port, empty
pause       ``CLIENT PAUSE 2000``: the server holds every client's commands for 2 s
latency     through ``scripts/fault_proxy.py`` (its own process): +300 ms per round trip
drop        through the proxy: every connection reset (RST), every 0.5 s
refuse      through the proxy: connections reset and new ones refused (data kept)
blackhole   through the proxy: a hung server, connections accepted, nothing answered
dropindex   ``FT.DROPINDEX`` of the semantic index in the middle of the run
disk_full   a file store on a small tmpfs filled to the last byte
read_only   the same tmpfs remounted read-only
==========  ===============================================================================

For each: failed runs (must be 0); what the cache added to a model call during the fault
(call time minus the model's time) against the budget (``store_timeout``, per call); and the
recovery, timed from the fault's end: to the first store call that answered, the first value
read from the store (a cache hit served by the store again), the first write that landed,
and to the last error counted (``stats().errors``; a kind still counting at the end of the
window is named: not recovered).

    .venv/bin/python scripts/faults.py                    # every fault (a few minutes)
    .venv/bin/python scripts/faults.py --smoke            # restart, blackhole, read_only (<60 s)
    .venv/bin/python scripts/faults.py --only pause,dropindex --json faults.json
    .venv/bin/python scripts/faults.py --require-recovery 3   # exit 1 if a store took longer

Exit status: 0; 1 when a run failed (or, with ``--require-recovery``, a store did not serve
hits and stop erroring within that many seconds of a fault's end); 2 when the setup broke.
The tmpfs faults need ``mount`` (root); where mounting is not permitted they are reported as
not run, with the error, never faked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "agentcache_script_soak", ROOT / "scripts/soak.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


soak = _soak()

from agents import set_tracing_disabled  # noqa: E402 - after soak set HF_HUB_OFFLINE
from redis.asyncio import Redis  # noqa: E402

from agentcache import CachedModel  # noqa: E402
from agentcache.stores.file import FileStore  # noqa: E402

ALL = ("restart", "pause", "latency", "drop", "refuse", "blackhole", "dropindex", "disk_full",
       "read_only")  # fmt: skip
SMOKE = ("restart", "blackhole", "read_only")
LOAD_KINDS = (
    "store_skipped", "store_timeout_loop_lag", "semantic_loop_lag", "semantic_index_loop_lag"
)  # fmt: skip
"""Error kinds this process's own event-loop lag produces with no fault at all (see the
warm-up's errors): reported, but not taken as the store still failing."""


# ---------------------------------------------------------------------------------------------
# The pieces a fault acts on


class ProxyProcess:
    """``scripts/fault_proxy.py`` in its own process, driven through its stdin commands: its
    forwarding never waits for the load's event loop, as a network would not."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self, target_port: int) -> ProxyProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "scripts/fault_proxy.py"),
            "--target", f"127.0.0.1:{target_port}",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        first = (await self.proc.stdout.readline()).decode()
        if not first.startswith("listening "):
            raise RuntimeError(f"fault proxy did not start: {first!r}")
        self.port = int(first.split()[1].rsplit(":", 1)[1])
        return self

    async def send(self, command: str) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        answer = (await self.proc.stdout.readline()).decode()
        if not answer.startswith("ok "):
            raise RuntimeError(f"fault proxy: {command!r} -> {answer!r}")
        status: dict[str, Any] = json.loads(answer[3:])
        return status

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class Tmpfs:
    """A small tmpfs for the file store: a disk that can be filled and made read-only."""

    def __init__(self, size: str = "64m") -> None:
        self.path = Path(tempfile.mkdtemp(prefix="agentcache-faults-tmpfs-"))
        self.size = size
        self.error: str | None = None
        self.mounted = False

    def mount(self) -> bool:
        self.error = _run_mount(["-t", "tmpfs", "-o", f"size={self.size}", "tmpfs", str(self.path)])
        self.mounted = self.error is None
        return self.mounted

    def remount(self, mode: str, patience: float = 2.0) -> None:
        """Read-only is refused while a file is open for writing ("mount point is busy"):
        under load, retry until an instant with no write in progress."""
        deadline = time.monotonic() + patience
        while error := _run_mount(["-o", f"remount,{mode}", str(self.path)]):
            if "busy" not in error or time.monotonic() > deadline:
                raise RuntimeError(error)
            time.sleep(0.01)

    def fill(self) -> int:
        """Write a filler file until the disk is full (ENOSPC); its size."""
        written = 0
        fd = os.open(self.path / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for chunk in (1 << 20, 4096, 1):
                block = b"\0" * chunk
                with contextlib.suppress(OSError):
                    while True:
                        written += os.write(fd, block)
        finally:
            os.close(fd)
        return written

    def unfill(self) -> None:
        (self.path / "filler").unlink(missing_ok=True)

    def close(self) -> None:
        if self.mounted:
            with contextlib.suppress(RuntimeError):
                self.remount("rw")
            subprocess.run(["umount", str(self.path)], capture_output=True, check=False)
        shutil.rmtree(self.path, ignore_errors=True)


def _run_mount(args: list[str]) -> str | None:
    """None, or why ``mount`` refused (stated in the report rather than faked)."""
    if shutil.which("mount") is None:
        return "no mount command on this machine"
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        return f"mount {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}"
    return None


# ---------------------------------------------------------------------------------------------
# Watching recovery


class Watch:
    """Polls the cache's counters every 20 ms: when each error kind last grew, when semantic
    hits last grew. With the store's own timestamps (``LedgerStore``) that is the recovery."""

    def __init__(self, cached: CachedModel) -> None:
        self.cached = cached
        self.last_error: dict[str, float] = {}
        self.semantic_hits: list[float] = []
        self._seen: Counter[str] = Counter()
        self._semantic = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            stats = self.cached.stats()
            now = time.monotonic()
            for kind, n in stats.errors.items():
                if n > self._seen[kind]:
                    self.last_error[kind] = now
                    self._seen[kind] = n
            semantic = stats.hits_by_layer.get("semantic", 0)
            if semantic > self._semantic:
                self.semantic_hits.append(now)
                self._semantic = semantic
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.02)

    def last_store_error(self) -> float:
        """When an error other than the load's own (``LOAD_KINDS``) was last counted."""
        times = [t for k, t in self.last_error.items() if k not in LOAD_KINDS]
        return max(times, default=0.0)

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Ctx:
    """What a fault needs, and the hooks that time it."""

    args: argparse.Namespace
    server: Any
    proxy: ProxyProcess
    admin: Redis
    tmpfs: Tmpfs | None
    begin: Callable[[], None] = lambda: None
    mark: Callable[[float], None] = lambda at: None
    """Start timing recovery from ``at`` (done for every fault when it returns its end)."""
    notes: list[str] = field(default_factory=list)


# Each fault: how the store is reached, and the injection (starts the fault, calls ctx.begin()
# at its start, returns the monotonic time of its end).
Inject = Callable[[Ctx], Awaitable[float]]


async def restart(ctx: Ctx) -> float:
    ctx.begin()
    await asyncio.to_thread(ctx.server.stop)  # SIGKILL: a crash
    await asyncio.sleep(ctx.args.fault_seconds)
    await asyncio.to_thread(ctx.server.start)  # same port, empty; returns once PING answers
    return time.monotonic()


async def pause(ctx: Ctx) -> float:
    ctx.begin()
    started = time.monotonic()
    await ctx.admin.execute_command("CLIENT", "PAUSE", 2000, "ALL")  # type: ignore[no-untyped-call]
    await asyncio.sleep(2.0)
    return started + 2.0


async def latency(ctx: Ctx) -> float:
    ctx.begin()
    await ctx.proxy.send("latency 0.15 both")  # +300 ms a round trip
    await asyncio.sleep(ctx.args.fault_seconds)
    await ctx.proxy.send("latency 0")
    return time.monotonic()


async def drop(ctx: Ctx) -> float:
    ctx.begin()
    deadline = time.monotonic() + ctx.args.fault_seconds
    while True:
        await ctx.proxy.send("drop")
        if time.monotonic() >= deadline:
            return time.monotonic()
        await asyncio.sleep(0.5)


async def refuse(ctx: Ctx) -> float:
    ctx.begin()
    await ctx.proxy.send("refuse on")
    await ctx.proxy.send("drop")
    await asyncio.sleep(ctx.args.fault_seconds)
    await ctx.proxy.send("refuse off")
    return time.monotonic()


async def blackhole(ctx: Ctx) -> float:
    ctx.begin()
    await ctx.proxy.send("blackhole on")
    await asyncio.sleep(ctx.args.fault_seconds)
    await ctx.proxy.send("blackhole off")
    return time.monotonic()


async def dropindex(ctx: Ctx) -> float:
    """Nothing brings the index back but the cache: the fault ends when it is dropped, and
    its window (for the added latency) is the ``fault_seconds`` after that."""
    ctx.begin()
    await ctx.admin.execute_command("FT.DROPINDEX", "agentcache-semantic")  # type: ignore[no-untyped-call]
    end = time.monotonic()
    ctx.mark(end)
    await asyncio.sleep(ctx.args.fault_seconds)
    return end


async def disk_full(ctx: Ctx) -> float:
    assert ctx.tmpfs is not None
    ctx.begin()
    filled = await asyncio.to_thread(ctx.tmpfs.fill)
    ctx.notes.append(f"filled {filled / 2**20:.1f} MiB to ENOSPC")
    await asyncio.sleep(ctx.args.fault_seconds)
    await asyncio.to_thread(ctx.tmpfs.unfill)
    return time.monotonic()


async def read_only(ctx: Ctx) -> float:
    assert ctx.tmpfs is not None
    ctx.begin()
    await asyncio.to_thread(ctx.tmpfs.remount, "ro")
    await asyncio.sleep(ctx.args.fault_seconds)
    await asyncio.to_thread(ctx.tmpfs.remount, "rw")
    return time.monotonic()


FAULTS: dict[str, tuple[str, Inject]] = {
    "restart": ("redis", restart),
    "pause": ("redis", pause),
    "latency": ("proxy", latency),
    "drop": ("proxy", drop),
    "refuse": ("proxy", refuse),
    "blackhole": ("proxy", blackhole),
    "dropindex": ("redis", dropindex),
    "disk_full": ("file", disk_full),
    "read_only": ("file", read_only),
}


# ---------------------------------------------------------------------------------------------
# One fault under load


def since(t: float | None, end: float) -> float | None:
    return round(t - end, 3) if t is not None else None


async def run_fault(name: str, ctx: Ctx) -> dict[str, Any]:
    args = ctx.args
    where, inject = FAULTS[name]
    result: dict[str, Any] = {"fault": name, "store": where}
    if where == "file":
        if ctx.tmpfs is None or not ctx.tmpfs.mounted:
            result["not_run"] = ctx.tmpfs.error if ctx.tmpfs else "no tmpfs"
            return result
        inner: Any = FileStore(ctx.tmpfs.path / name)
    else:
        port = ctx.proxy.port if where == "proxy" else ctx.server.port
        inner = soak.redis_store(f"redis://127.0.0.1:{port}/0")
    store = soak.LedgerStore(inner, Path(tempfile.mkstemp(prefix=f"ledger-{name}-")[1]))
    cached = CachedModel(
        soak.ScriptedWeatherModel(args.model_latency), store=store, namespace=f"faults-{name}",
        store_timeout=args.store_timeout, semantic=soak.semantic_option(args.vectorizer),
    )  # fmt: skip
    load = soak.Load(cached, concurrency=args.concurrency, seed=args.seed)
    windows = {w: soak.Window(w) for w in ("before", "fault", "after")}
    watch = Watch(cached)
    stop_lag = asyncio.Event()
    errors_at: dict[str, dict[str, int]] = {}

    logged_before = Counter(args.diagnostics.logged)

    def switch(label: str) -> None:
        for window in load.active:
            window.close()
        load.active = [windows[label].open()]
        errors_at[label] = dict(cached.stats().errors)

    def begin() -> None:
        switch("fault")
        progress(f"  {name}: fault injected")

    ctx.begin, ctx.mark, ctx.notes = begin, store.mark, []
    switch("before")
    watcher = asyncio.create_task(watch.run())
    lag = asyncio.create_task(soak.measure_loop_lag(load.windows, stop_lag))
    load.start()
    # A fault starts from a healthy cache: the store serving values and no error counted for
    # `quiet` seconds (a cold start under load can trip the breaker), at most `warm_max`.
    warm_start = time.monotonic()
    await asyncio.sleep(args.warm_seconds)
    while time.monotonic() - warm_start < args.warm_max:
        quiet = time.monotonic() - watch.last_store_error()
        if quiet >= args.quiet and time.monotonic() - store.last_value < 0.5:
            break
        await asyncio.sleep(0.1)
    result["warm_s"] = round(time.monotonic() - warm_start, 1)
    fault_start = time.monotonic()
    try:
        end = await inject(ctx)
    except (RuntimeError, OSError) as exc:  # the fault could not be made: say so, go on
        result["not_run"] = f"injecting it failed: {exc}"
        progress(f"  {name}: {result['not_run']}")
        await load.stop()
        stop_lag.set()
        watch.stop()
        await asyncio.gather(lag, watcher)
        await cached.close()
        await store.close()
        return result
    if store.mark_at != end:
        store.mark(end)
    switch("after")
    progress(f"  {name}: fault over after {end - fault_start:.1f} s; watching recovery")
    # Watch until the store serves values again and no error was counted for `quiet`
    # seconds, or the window is over.
    deadline = end + args.recovery_window
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        quiet = time.monotonic() - watch.last_store_error()
        if store.last_value >= end and quiet >= args.quiet:
            break
    watched = time.monotonic() - end
    seen = dict(watch.last_error)  # as the watch ended: the drain below is not watched
    last_error = watch.last_store_error()
    await load.stop()
    for window in load.active:
        window.close()
    stop_lag.set()
    watch.stop()
    await asyncio.gather(lag, watcher)
    await cached.close()
    await store.close()
    await asyncio.to_thread(store.path.unlink, missing_ok=True)
    stats = cached.stats()

    # Recovery, from the fault's end. Still failing: kinds counted in the last `quiet` seconds
    # watched (the watch ends early only once every kind has been quiet that long).
    still = sorted(
        k for k, t in seen.items() if t >= end + watched - args.quiet and k not in LOAD_KINDS
    )
    after_semantic = [t for t in watch.semantic_hits if t >= end]
    during = windows["fault"]
    result.update(
        runs={w: windows[w].runs for w in windows},
        failed=sum(w.failed for w in windows.values()),
        failures=dict(load.errors),
        failure_examples=load.examples[:2],
        wrong_answers=sum(w.wrong for w in windows.values()),
        fault_seconds=round(end - fault_start, 2),
        budget_ms=args.store_timeout * 1000,
        call_added_during_fault={k: h.summary() for k, h in during.call_overhead.items()},
        run_latency_p50_ms={w: soak.ms(windows[w].latency["all"].quantile(0.5)) for w in windows},
        loop_lag_p99_ms={w: soak.ms(windows[w].loop_lag.quantile(0.99)) for w in windows},
        errors_before_fault=_delta(errors_at["before"], errors_at["fault"]),
        errors_during_fault=_delta(errors_at["fault"], errors_at["after"]),
        errors_after_fault=_delta(errors_at["after"], dict(stats.errors)),
        recovery={
            "watched_s": round(watched, 2),
            "store_answered_s": since(store.first_ok, end),
            "store_hit_s": since(store.first_value, end),
            "store_write_s": since(store.first_write, end),
            "errors_stopped_s": None if still else round(max(last_error - end, 0.0), 3),
            "still_failing": still,
            "semantic_hit_s": round(after_semantic[0] - end, 3) if after_semantic else None,
        },
        hits_by_layer=dict(stats.hits_by_layer),
        log_lines=dict(Counter(args.diagnostics.logged) - logged_before),
        notes=ctx.notes,
    )  # fmt: skip
    return result


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# All of them


async def run_all(args: argparse.Namespace) -> dict[str, Any]:
    asyncio.get_running_loop().set_exception_handler(args.diagnostics.loop_handler)
    redis_server = soak.load_script("redis_server")
    server = redis_server.RedisServer(modules=True).start()
    proxy = await ProxyProcess().start(server.port)
    admin = Redis.from_url(server.url, socket_timeout=5.0)
    tmpfs: Tmpfs | None = None
    if any(FAULTS[f][0] == "file" for f in args.only):
        tmpfs = Tmpfs()
        if not tmpfs.mount():
            progress(f"  tmpfs faults not run: {tmpfs.error}")
    ctx = Ctx(args, server, proxy, admin, tmpfs)
    report: dict[str, Any] = {
        "config": {"concurrency": args.concurrency, "store_timeout_s": args.store_timeout,
                   "model_latency_s": args.model_latency, "vectorizer": args.vectorizer,
                   "warm_s": args.warm_seconds, "warm_max_s": args.warm_max,
                   "fault_s": args.fault_seconds,
                   "recovery_window_s": args.recovery_window, "quiet_s": args.quiet},
        "code": soak.code_under_test(),
        "loadavg_start": os.getloadavg(),
        "faults": [],
    }  # fmt: skip
    try:
        report["vectorizer_load_s"] = round(await soak.warm_vectorizer(args.vectorizer), 2)
        for name in args.only:
            progress(f"{name} ({FAULTS[name][0]})")
            if not server.process:
                await asyncio.to_thread(server.start)
            report["faults"].append(await run_fault(name, ctx))
    finally:
        await admin.aclose()
        await proxy.close()
        if tmpfs is not None:
            tmpfs.close()
        server.close()
    report["loadavg_end"] = os.getloadavg()
    report["diagnostics"] = args.diagnostics.summary()
    return report


def seconds(value: float | None, window: float) -> str:
    return f"{value:.2f}" if value is not None else f">{window:.0f}"


def added_max(fault: dict[str, Any], kind: str) -> str:
    h = fault["call_added_during_fault"][kind]
    return f"{h['max_ms']:.0f} (p99 {h['p99_ms']:.0f}, n={h['n']})" if h["n"] else "-"


def print_table(report: dict[str, Any]) -> None:
    config = report["config"]
    print(
        f"\nFaults under load: {config['concurrency']} concurrent runs, store_timeout "
        f"{config['store_timeout_s'] * 1000:.0f} ms per call, semantic {config['vectorizer']};"
        f" code {report['code']['agentcache']} (guard.py {report['code']['guard_sha256']});"
        f" load average {report['loadavg_start'][0]:.1f} -> {report['loadavg_end'][0]:.1f}"
    )
    head = (
        f"{'fault':<10} {'runs':>5} {'failed':>6} {'added/call p50':>14} {'p99':>6} {'max':>6}"
        f" {'x budget':>8} {'answered':>8} {'hit':>7} {'write':>7} {'quiet':>7}  still failing"
    )
    print(head)
    print("-" * len(head))
    for f in report["faults"]:
        if "not_run" in f:
            print(f"{f['fault']:<10} not run: {f['not_run']}")
            continue
        added = f["call_added_during_fault"]
        kinds = [added[k] for k in ("hit", "miss") if added[k]["n"]]
        worst = max((k["max_ms"] for k in kinds), default=math.nan)
        p50 = max((k["p50_ms"] for k in kinds), default=math.nan)
        p99 = max((k["p99_ms"] for k in kinds), default=math.nan)
        r, window = f["recovery"], f["recovery"]["watched_s"]
        print(
            f"{f['fault']:<10} {sum(f['runs'].values()):>5} {f['failed']:>6} {p50:>11.0f} ms"
            f" {p99:>6.0f} {worst:>6.0f} {worst / f['budget_ms']:>8.1f}"
            f" {seconds(r['store_answered_s'], window):>8} {seconds(r['store_hit_s'], window):>7}"
            f" {seconds(r['store_write_s'], window):>7} {seconds(r['errors_stopped_s'], window):>7}"
            f"  {', '.join(r['still_failing']) or '-'}"
        )
    print(
        "added/call: what the cache added to a model call during the fault (ms; the worse of"
        " hit and miss calls); x budget: max / store_timeout.\nRecovery, seconds after the"
        " fault's end: answered = first store call that returned, hit = first value read from"
        " the store,\nwrite = first write that landed, quiet = last error counted (>N: not"
        f" within the N s watched; {' and '.join(LOAD_KINDS)}, which this\nprocess's own loop"
        " lag produces without any fault, are listed below but do not count)."
    )
    for f in report["faults"]:
        if "not_run" in f:
            continue
        semantic = seconds(f["recovery"]["semantic_hit_s"], f["recovery"]["watched_s"])
        print(
            f"  {f['fault']}: errors before the fault {f['errors_before_fault'] or '-'}, during "
            f"{f['errors_during_fault'] or '-'}, after {f['errors_after_fault'] or '-'}\n"
            f"    added per call during the fault, max ms: first turns "
            f"{added_max(f, 'first_turn')}, tool turns {added_max(f, 'tool_turn')};"
            f" first semantic hit after the fault: {semantic} s\n"
            f"    run p50 ms {f['run_latency_p50_ms']}; loop lag p99 ms {f['loop_lag_p99_ms']};"
            f" hits {f['hits_by_layer']}; log lines {f['log_lines'] or '-'}"
            f"{'; ' + '; '.join(f['notes']) if f['notes'] else ''}"
        )
        if f["errors_before_fault"]:
            print(
                f"    errors counted during the warm-up ({f['warm_s']} s), before the fault;"
                " it began once the store had been quiet and serving values"
            )
        for example in f["failure_examples"]:
            print("    failure: " + example.strip().splitlines()[-1])
    d = report["diagnostics"]
    print(
        f"unhandled loop errors {d['loop_error_count']}; python warnings "
        f"{d['python_warnings'] or 0}; log lines {d['logged'] or 0}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", default=None, help=f"comma-separated, of: {', '.join(ALL)}")
    parser.add_argument("--smoke", action="store_true", help=f"{', '.join(SMOKE)}, short")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--model-latency", type=float, default=0.075)
    parser.add_argument("--store-timeout", type=float, default=0.25)
    parser.add_argument(
        "--vectorizer", choices=("torch", "onnx", "onnx-int8", "off"), default="onnx-int8"
    )
    parser.add_argument("--warm-seconds", type=float, default=5.0)
    parser.add_argument(
        "--warm-max",
        type=float,
        default=45.0,
        help="longest wait for a healthy cache before the fault",
    )
    parser.add_argument("--fault-seconds", type=float, default=3.0)
    parser.add_argument(
        "--recovery-window",
        type=float,
        default=40.0,
        help="seconds watched after a fault for recovery",
    )
    parser.add_argument(
        "--quiet", type=float, default=2.0, help="error-free seconds that count as recovered"
    )
    parser.add_argument("--require-recovery", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)  # fmt: skip
    if args.smoke:
        args.warm_seconds, args.warm_max, args.fault_seconds = 3.0, 6.0, 2.0
        args.recovery_window, args.quiet = 8.0, 1.0
    names = args.only.split(",") if args.only else list(SMOKE if args.smoke else ALL)
    unknown = set(names) - set(ALL)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}; known: {', '.join(ALL)}")
    args.only = names
    set_tracing_disabled(True)
    args.diagnostics = soak.Diagnostics()
    args.diagnostics.install()
    try:
        report = asyncio.run(run_all(args))
    except (RuntimeError, OSError) as exc:
        print(f"faults setup failed: {exc}", file=sys.stderr)
        return 2
    print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    problems = [f"{f['fault']}: {f['failed']} run(s) failed {f['failures']}"
                for f in report["faults"] if f.get("failed")]  # fmt: skip
    if args.require_recovery is not None:
        for f in report["faults"]:
            r = f.get("recovery")
            if r is None:
                continue
            worst = max(math.inf if v is None else v
                        for v in (r["store_hit_s"], r["errors_stopped_s"]))  # fmt: skip
            if worst > args.require_recovery:
                problems.append(f"{f['fault']}: recovery {worst} s > {args.require_recovery} s")
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
