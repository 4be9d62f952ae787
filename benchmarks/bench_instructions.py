"""The hit path in instructions, counted by callgrind: a measure this machine's noise cannot move.

The time benchmarks (``bench_core.py``) report ratios against baselines of the same run, but on
a shared 2-core machine the same code measured 41 us and 97 us per hit minutes apart. An
instruction count is the same on every run of the same code (given the interpreter, the
libraries and ``PYTHONHASHSEED``), so a change to the hit path can be judged from one run of
each: ``--json before.json`` on the old code, ``--before before.json`` on the new.

    .venv/bin/python benchmarks/bench_instructions.py            # about 2 minutes
    .venv/bin/python benchmarks/bench_instructions.py --quick    # CI smoke run (about 1 minute)
    .venv/bin/python benchmarks/bench_instructions.py --json now.json --before before.json

It runs itself under ``valgrind --tool=callgrind`` (Debian's ``valgrind`` package) with
instrumentation off while Python imports and the benchmark sets up and warms up, then switched
on (``callgrind_control -i on``) for the measured part. Each variant runs ``n`` operations
inside one ``functools.reduce`` call, and callgrind counts exactly what runs inside that C
function (``--toggle-collect``) and writes one count per variant (``--dump-after``). The
variants are bench_core's: a 20-item, 5-tool exact hit against the bare model's call and the
hit's parts, and a two-turn ``Runner.run`` answered by exact hits against the bare model.

What instructions do not show: cache misses, branch mispredictions, the other process on the
core. Inside ``Runner.run`` those make each part of a hit several times slower than alone
(README, Performance); so a time ratio above the instruction ratio is memory, not code.

Progress goes to stderr and results to stdout. Exit 0; 1 when the setup is broken (a hit was
not an exact hit, callgrind's output is not what was asked for); valgrind not installed is
reported as not measured (exit 0), or exit 1 with ``--require``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

MARKER = "functools_reduce"  # the C function whose inside callgrind counts
HASH_SEED = "0"
VARIANTS = {  # name: (label, which count it is per: a call or a run)
    "floor": ("(an empty variant: the loop's own cost, taken off each)", "once"),
    "hit": ("cached.get_response, exact hit (20 items, 5 tools)", "call"),
    "inner": ("inner.get_response, the same arguments", "call"),
    "key": ("  key: new ModelCall + .key", "call"),
    "lookup": ("  lookup: guarded memory store get", "call"),
    "response": ("  response: to_response", "call"),
    "run_uncached": ("Runner.run, uncached (2 turns, 2 tools)", "run"),
    "run_hit": ("Runner.run, CachedModel exact hits", "run"),
}


# --------------------------------------------------------------------------------------------
# The child: runs under callgrind


Variant = Callable[[], Awaitable[None]]


async def _variants(calls: int, runs: int) -> tuple[dict[str, Variant], Callable[[], None]]:
    """bench_core's two setups, and a check (run after the counting) that every hit was one."""
    from agents import Runner
    from bench_core import (
        TRAVEL_QUESTION,
        SetupError,
        model_call,
        support_call,
        travel_agent,
    )

    from agentcache import CachedModel, ModelCall
    from agentcache.entry import decode
    from agentcache.keys import model_identity
    from agentcache.response import to_response

    plain, question = travel_agent(), TRAVEL_QUESTION
    cached_travel = CachedModel(plain.model)  # type: ignore[arg-type]
    cached_agent = plain.clone(model=cached_travel)
    await Runner.run(cached_agent, question)
    await cached_travel.flush()

    inner, args, kwargs = support_call()
    cached = CachedModel(inner)
    await cached.get_response(*args, **kwargs)
    await cached.flush()
    identity, config = model_identity(inner), cached.config

    def new_call() -> ModelCall:  # as CachedModel builds it
        return model_call(args, identity, config)

    key = new_call().key
    raw = await cached.store.get(key)
    if raw is None:
        raise SetupError("the warm-up call did not store an entry under the expected key")
    entry, guarded = decode(raw), cached.guarded_store

    async def hit() -> None:
        for _ in range(calls):
            await cached.get_response(*args, **kwargs)

    async def inner_call() -> None:
        for _ in range(calls):
            await inner.get_response(*args, **kwargs)

    async def build_key() -> None:
        for _ in range(calls):
            new_call().key  # noqa: B018 - computed on access

    async def lookup() -> None:
        for _ in range(calls):
            await guarded.get(key)

    async def respond() -> None:
        for _ in range(calls):
            to_response(entry, replay_usage=config.replay_usage)

    async def run_uncached() -> None:
        for _ in range(runs):
            await Runner.run(plain, question)

    async def run_hit() -> None:
        for _ in range(runs):
            await Runner.run(cached_agent, question)

    def check() -> None:  # after the warm-up round and the counted one: each variant twice
        for model, misses, hits in ((cached, 1, 2 * calls), (cached_travel, 2, 2 * 2 * runs)):
            stats = model.stats()
            if stats.misses != misses or stats.hits_by_layer.get("exact", 0) != hits:
                raise SetupError(f"expected {misses} misses and {hits} exact hits, got {stats}")

    async def floor() -> None:
        pass

    return {
        "floor": floor,
        "hit": hit,
        "inner": inner_call,
        "key": build_key,
        "lookup": lookup,
        "response": respond,
        "run_uncached": run_uncached,
        "run_hit": run_hit,
    }, check


def child(calls: int, runs: int) -> None:
    from agents import set_tracing_disabled

    set_tracing_disabled(True)
    loop = asyncio.new_event_loop()
    variants, check = loop.run_until_complete(_variants(calls, runs))
    for fn in variants.values():  # warm: first calls build caches the counts should not hold
        loop.run_until_complete(fn())
    subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    # The collector off while counting: a collection's cost lands on whichever variant happens
    # to cross its threshold, and a change that moves one would look like a change of code.
    gc.collect()
    gc.disable()
    for name, fn in variants.items():
        functools.reduce(lambda _a, _b: loop.run_until_complete(fn()), (0, 1))
        print(f"measured {name}", file=sys.stderr, flush=True)
    gc.enable()
    check()
    loop.close()


# --------------------------------------------------------------------------------------------
# The parent: starts the child under callgrind and reads its counts


class SetupError(RuntimeError):
    pass


def by_object(text: str) -> dict[str, int]:
    """A dump's instructions by the shared object they ran in (their own cost: a call line's
    inclusive cost is skipped). Names are compressed as ``(id) name`` once, ``(id)`` after."""
    names: dict[str, str] = {}
    out: dict[str, int] = {}
    current, skip_next = "?", False

    def name(spec: str) -> str:
        ref, _, full = spec.partition(" ")
        if full:
            names[ref] = full
        return names.get(ref, spec)

    for line in text.splitlines():
        if line.startswith("ob="):
            current = name(line[3:])
        elif line.startswith("cob="):
            name(line[4:])
        elif line.startswith("calls="):
            skip_next = True
        elif line[:1] and (line[:1].isdigit() or line[:1] in "+-*"):
            if skip_next:
                skip_next = False
                continue
            out[current] = out.get(current, 0) + int(line.split()[-1])
    return out


def counts(directory: Path, stem: str) -> list[tuple[int, int]]:
    """Each dump's ``totals:`` and its instructions in OpenSSL's libcrypto (SHA-256), in the
    order callgrind wrote them (``stem.1``, ``stem.2``...)."""
    dumps = sorted(
        (int(p.name.rsplit(".", 1)[1]), p)
        for p in directory.glob(f"{stem}.*")
        if p.name.rsplit(".", 1)[1].isdigit()
    )
    found = []
    for _, path in dumps:
        text = path.read_text(errors="replace")
        match = re.search(r"^totals:\s*(\d+)", text, re.MULTILINE)
        if match is None:
            raise SetupError(f"{path.name}: no totals line")
        objects = by_object(text)
        if sum(objects.values()) != int(match.group(1)):
            raise SetupError(f"{path.name}: its costs do not add up to its totals")
        crypto = sum(n for ob, n in objects.items() if "libcrypto" in Path(ob).name)
        found.append((int(match.group(1)), crypto))
    return found


def measure(calls: int, runs: int) -> dict[str, tuple[int, int]]:
    """Each variant's instructions, and those of them in libcrypto (SHA-256)."""
    with tempfile.TemporaryDirectory(prefix="agentcache-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
            f"--toggle-collect={MARKER}", f"--dump-after={MARKER}",
            f"--callgrind-out-file={out}", sys.executable, __file__,
            "--child", str(calls), str(runs),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": HASH_SEED, "PYTHONPATH": _path()}
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join(done.stderr.splitlines()[-15:])
            raise SetupError(f"the child under callgrind failed ({done.returncode}):\n{tail}")
        found = counts(Path(tmp), out.name)
    # Dumps before the measured part (a reduce while instrumentation was switched on) come
    # first; the variants' are the last ones.
    if len(found) < len(VARIANTS):
        raise SetupError(f"expected {len(VARIANTS)} counts from callgrind, got {len(found)}")
    measured = dict(zip(VARIANTS, found[-len(VARIANTS) :], strict=True))
    if min(total for total, _ in measured.values()) == 0:
        raise SetupError(f"a variant counted no instructions: {measured}")
    return measured


def _path() -> str:
    here = str(Path(__file__).resolve().parent)
    return os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)


def per_operation(
    measured: dict[str, tuple[int, int]], calls: int, runs: int, part: int
) -> dict[str, float]:
    """Part 0: all instructions; 1: those in libcrypto. The empty variant's are taken off."""
    floor = measured["floor"][part]
    per = {"call": calls, "run": runs}
    return {
        name: (counted[part] - floor) / per[VARIANTS[name][1]]
        for name, counted in measured.items()
        if name != "floor"
    }


def derived(per: dict[str, float]) -> dict[str, float]:
    overhead = per["hit"] - per["inner"]
    return {
        "overhead": overhead,
        "rest": overhead - per["key"] - per["lookup"] - per["response"],
        "run_added": per["run_hit"] - per["run_uncached"],
        "run_ratio": per["run_hit"] / per["run_uncached"],
    }


ROWS = [  # (key in the per-operation or derived counts, label)
    ("hit", VARIANTS["hit"][0]),
    ("inner", VARIANTS["inner"][0]),
    ("overhead", "overhead of a hit (hit - inner)"),
    ("key", VARIANTS["key"][0]),
    ("lookup", VARIANTS["lookup"][0]),
    ("response", VARIANTS["response"][0]),
    ("rest", "  rest: chain, stages, stats, bookkeeping"),
    ("run_uncached", VARIANTS["run_uncached"][0]),
    ("run_hit", VARIANTS["run_hit"][0]),
    ("run_added", "  added by the hits, per run"),
]


def report(doc: dict[str, Any], before: dict[str, Any] | None) -> None:
    now, sha = {**doc["per_operation"], **doc["derived"]}, doc["sha256_per_operation"]
    old = {**before["per_operation"], **before["derived"]} if before else {}
    print(f"\nInstructions per operation (callgrind, {doc['calls']} calls and {doc['runs']} runs "
          f"per variant; PYTHONHASHSEED={HASH_SEED}; Python {doc['python']}):")  # fmt: skip
    print(f"  {'':<54} {'instructions':>13} {'SHA-256':>9}" + (f" {'before':>13}" if old else ""))
    for key, label in ROWS:
        line = f"  {label:<54} {now[key]:>13,.0f}"
        line += f" {sha[key]:>9,.0f}" if key in sha else " " * 10
        if key in old:
            line += f" {old[key]:>13,.0f} {now[key] / old[key] - 1:>+7.1%}"
        print(line)
    ratio = f"  {'ratio Runner.run hits / uncached':<54} {now['run_ratio']:>13.4f}x"
    if old:
        ratio += f"{'':>10} {old['run_ratio']:>12.4f}x"
    print(ratio + "   (bench_core's time goal: <= 1.04x)")
    print("  SHA-256: the instructions in OpenSSL's libcrypto. Valgrind's CPU has no SHA "
          "extensions, so\n  OpenSSL takes its generic path here; on a CPU with them the "
          "key's hashing is a fraction of this.")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        child(int(argv[1]), int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer operations (CI smoke run)")
    parser.add_argument("--json", metavar="PATH", help="also write the counts as JSON")
    parser.add_argument("--before", metavar="JSON", help="an earlier run's --json: print deltas")
    parser.add_argument("--require", action="store_true", help="exit 1 if valgrind is missing")
    args = parser.parse_args(argv)
    before = None
    if args.before:  # read first: a bad file should not cost a whole run
        before = json.loads(Path(args.before).read_text(encoding="utf-8"))
        if not {"per_operation", "derived"} <= before.keys():
            parser.error(f"{args.before}: not the --json output of this benchmark")
    missing = [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]
    if missing:
        print(f"bench_instructions: not measured: {', '.join(missing)} not found "
              "(Debian: apt-get install valgrind)")  # fmt: skip
        return 1 if args.require else 0
    calls, runs = (20, 3) if args.quick else (100, 10)
    print(f"[1/1] under callgrind: {calls} calls and {runs} runs of each variant "
          "(about a minute of setup at valgrind's speed)", file=sys.stderr, flush=True)  # fmt: skip
    try:
        measured = measure(calls, runs)
    except SetupError as exc:
        print(f"benchmark setup is broken, numbers would be meaningless: {exc}", file=sys.stderr)
        return 1
    per = per_operation(measured, calls, runs, 0)
    sha = per_operation(measured, calls, runs, 1)
    sha["overhead"] = sha["hit"] - sha["inner"]
    doc = {"python": platform.python_version(), "calls": calls, "runs": runs,
           "per_operation": per, "derived": derived(per), "sha256_per_operation": sha}  # fmt: skip
    report(doc, before)
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2), encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
