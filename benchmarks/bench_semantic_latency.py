"""Semantic lookup latency: embedding a prompt and searching 10,000 indexed prompts.

One process, one run, interleaved rounds (order rotated every round), every variant measured
against the same indexes and the same query prompts. The Redis (8, with the search module) is
started by the benchmark itself with ``scripts/redis_server.py`` and stopped at the end.

    python benchmarks/bench_semantic_latency.py                # full run (10,000 entries)
    python benchmarks/bench_semantic_latency.py --quick        # CI smoke run (< ~60 s)
    python benchmarks/bench_semantic_latency.py --fresh-export # also time the ONNX export
    python benchmarks/bench_semantic_latency.py --blas-threads 1   # numpy's BLAS on 1 thread
    python benchmarks/bench_semantic_latency.py --json out.json

The indexes (in-process numpy ``InProcessIndex`` and ``RedisVLIndex``) hold the same entries in
one namespace, spread over 4 contexts (fingerprints) of 40/30/20/10 % of the entries: every
search filters on its context, as the semantic stage does. The 70 base prompts of
``semantic_probes.json`` are embedded for real (with the default local model) and indexed, one
context each in turn; the rest are templated filler prompts with random unit vectors (cheap, and
a flat search costs the same whatever the vectors). The queries are the probes' paraphrases,
near misses and unrelated prompts (real text, several hundred), each searched in its group's
context, rotating through them.

* ``embed``: one prompt through the vectorizer (the stage normalizes the result too):
  sentence-transformers on torch (``LocalModel``; the baseline of the ratios), and, if
  onnxruntime is installed, ``OnnxModel`` in float32 (what the default vectorizer runs when it
  can) and in int8.
* ``search``: one ``index.search`` with a vector already computed (top_k and threshold of
  ``SemanticConfig``'s defaults).
  With two floors: the bare numpy product (on one BLAS thread, as the index does it) and top-k
  over the context's matrix, and the very ``FT.SEARCH`` that RedisVL sends, through redis-py
  alone; and the numpy product on numpy's default threads, as the index did it before.
* ``embed + search``: both in a row, as ``SemanticStage`` does on an exact miss (guards and the
  store read of a hit are not included). Goal: p50 <= 3 ms with a fast local vectorizer.

numpy's BLAS threads matter for the in-process search: on a small machine busy with other work,
a multi-threaded matrix-vector product can wait for its worker threads (seen on 2 cores: the
numpy product 10x slower in some runs), so the index runs its product on one thread; the
"default BLAS threads" row shows what that avoids (``--blas-threads N`` limits the rest of the
process's numpy through threadpoolctl).

Each group is its own phase (variants interleaved within it). The ONNX embeddings' cosine to
torch's over all the query prompts is printed next to their latency.

A missed goal never fails the process (exit 0); a broken setup (the indexes disagree on the
nearest entry, the Redis index is missing entries) does (exit 1).
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import importlib.util
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from agentcache_semantic.config import SemanticConfig  # noqa: E402
from agentcache_semantic.index import InProcessIndex, normalize, one_blas_thread  # noqa: E402
from agentcache_semantic.vectorizer import LocalModel  # noqa: E402
from bench_core import Series, SetupError, fmt_us, interleave, progress  # noqa: E402

GOAL_MS = 3.0
NAMESPACE = "bench"
SHARES = (0.4, 0.3, 0.2, 0.1)  # of the entries, per context
CONTEXTS = tuple(f"ctx{i}-{h}" for i, h in enumerate(("9f3a1c", "27be40", "c81d9e", "4a07f2")))

SUBJECTS = ("my order", "the invoice", "a refund", "the delivery", "my account", "the password",
            "the subscription", "a flight", "the hotel booking", "the report", "the meeting",
            "the weather", "the train", "a loan", "the warranty", "the API key")  # fmt: skip
VERBS = ("check", "cancel", "change", "track", "explain", "summarize", "update", "find",
         "compare", "book", "renew", "reset", "translate", "estimate")  # fmt: skip
TAILS = ("for tomorrow", "before Friday", "in Paris", "for two people", "in euros",
         "by email", "as a table", "in French", "for next month", "under 200 dollars",
         "with details", "quickly", "for my team", "from last week")  # fmt: skip


def redis_server_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("redis_server", ROOT / "scripts/redis_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def filler_prompts(n: int, rng: random.Random) -> list[str]:
    """Varied templated prompts (distinct: a number makes each one unique)."""
    out = []
    for i in range(n):
        verb, subject, tail = rng.choice(VERBS), rng.choice(SUBJECTS), rng.choice(TAILS)
        out.append(f"Can you {verb} {subject} #{i} {tail}?")
    return out


def load_probes() -> tuple[list[str], list[tuple[str, int]]]:
    """The base prompts, and the queries with the index of their group's context."""
    data = json.loads((HERE / "semantic_probes.json").read_text(encoding="utf-8"))
    bases, queries = [], []
    for g, group in enumerate(data["groups"]):
        bases.append(group["base"])
        ctx = g % len(CONTEXTS)
        queries += [(p, ctx) for p in group["paraphrases"]]
        queries += [(m["prompt"], ctx) for m in group["near_misses"]]
    queries += [(p, i % len(CONTEXTS)) for i, p in enumerate(data["unrelated"])]
    return bases, queries


def onnx_models(fresh: bool) -> list[tuple[str, Any]]:
    """``OnnxModel`` float32 and int8, exported first (timed) unless cached; none without
    onnxruntime."""
    if importlib.util.find_spec("onnxruntime") is None:
        progress("  ONNX vectorizers not measured: onnxruntime is not installed")
        return []
    from agentcache_semantic.onnx_vectorizer import OnnxModel

    cache_dir = tempfile.mkdtemp(prefix="agentcache-onnx-") if fresh else None
    if cache_dir is not None:
        atexit.register(shutil.rmtree, cache_dir, ignore_errors=True)
    models = []
    for label, quantize in (("onnx fp32", False), ("onnx int8", True)):
        model = OnnxModel(quantize=quantize, cache_dir=cache_dir)
        t0 = time.perf_counter()
        model.model_path()
        took = time.perf_counter() - t0
        what = ("quantized" if quantize else "exported") if model.exported else "found in cache"
        progress(f"  {label}: {what} in {took:.1f} s ({model.model_path()})")
        models.append((label, model))
    return models


async def run(args: argparse.Namespace) -> dict[str, Any]:
    entries, rounds, warmup = (2_000, 40, 5) if args.quick else (args.entries, 400, 30)
    rng = random.Random(1234)
    bases, queries = load_probes()
    rng.shuffle(queries)
    if args.quick:
        queries = queries[:120]

    progress("[1/4] vectorizers: sentence-transformers (torch), ONNX float32 and int8")
    torch_model = LocalModel()
    await torch_model.embed("warm up")
    vectorizers: list[tuple[str, Any]] = [("torch (sentence-transformers)", torch_model)]
    vectorizers += onnx_models(args.fresh_export)

    progress(f"[2/4] {entries} entries: {len(bases)} real base prompts + filler, 4 contexts")
    base_vectors = [normalize(await torch_model.embed(b)) for b in bases]
    query_vectors = [normalize(await torch_model.embed(q)) for q, _ in queries]
    dims = len(base_vectors[0])
    n_filler = entries - len(bases)
    filler = filler_prompts(n_filler, rng)
    noise = np.random.default_rng(1234).standard_normal((n_filler, dims)).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    counts = [round(s * n_filler) for s in SHARES]
    counts[0] += n_filler - sum(counts)
    contexts = [c for c, n in enumerate(counts) for _ in range(n)]
    rows = [
        (b, v, g % len(CONTEXTS)) for g, (b, v) in enumerate(zip(bases, base_vectors, strict=True))
    ]
    rows += list(zip(filler, noise, contexts, strict=True))

    memory = InProcessIndex(max_per_scope=entries)
    server = redis_server_module().RedisServer(modules=True).start()
    progress(f"  Redis with the search module on {server.url}")
    try:
        from agentcache_semantic.redis_index import RedisVLIndex
        from redis.asyncio import Redis

        client = Redis.from_url(server.url)
        redis_index = RedisVLIndex(client, prefix="bench-sem")
        t0 = time.perf_counter()
        for i, (prompt, vector, ctx) in enumerate(rows):
            await memory.add(NAMESPACE, CONTEXTS[ctx], vector, prompt, f"d{i:06d}", None)
        for start in range(0, len(rows), 16):
            await asyncio.gather(*(
                redis_index.add(NAMESPACE, CONTEXTS[ctx], vector, prompt, f"d{i:06d}", None)
                for i, (prompt, vector, ctx) in enumerate(rows[start:start + 16], start)
            ))  # fmt: skip
        progress(f"  indexed in {time.perf_counter() - t0:.1f} s")
        info = await client.ft(redis_index.name).info()
        indexed = int(info.get("num_docs", info.get(b"num_docs", -1)))
        if indexed != entries or memory.size() != entries:
            raise SetupError(
                f"indexed {indexed} in Redis, {memory.size()} in memory, not {entries}"
            )
        config = SemanticConfig()
        await check_agreement(memory, redis_index, queries, query_vectors, config)
        if args.blas_threads:  # now: importing torch (re)loads and resets BLAS libraries
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.blas_threads, user_api="blas")
        agreement = await vector_agreement(vectorizers, queries, query_vectors)
        floors = search_floors(client, redis_index.name, rows, queries, query_vectors, config)
        results = await measure(vectorizers, memory, redis_index, floors, queries,
                                query_vectors, config, rounds, warmup)  # fmt: skip
        results["agreement"] = agreement
        await client.aclose()
    finally:
        server.close()
    results["setup"] = {"blas_threads": blas_threads(), "entries": entries,
                        "contexts": dict(zip(CONTEXTS, counts, strict=True)),
                        "queries": len(queries), "rounds": rounds}  # fmt: skip
    return results


async def check_agreement(
    memory: InProcessIndex,
    redis_index: Any,
    queries: Sequence[tuple[str, int]],
    vectors: Sequence[Any],
    config: SemanticConfig,
) -> None:
    """Both indexes are exact: they must find the same nearest entry for every query (unless
    the two nearest are too close to tell apart in float32)."""
    hits = 0
    for (_, ctx), vector in zip(queries, vectors, strict=True):
        a = await memory.search(NAMESPACE, CONTEXTS[ctx], vector, 2, -1.0)
        b = await redis_index.search(NAMESPACE, CONTEXTS[ctx], vector, 2, -1.0)
        tie = len(a) == 2 and a[0].similarity - a[1].similarity < 1e-4
        if a[0].digest != b[0].digest and not tie:
            raise SetupError(f"in-process and Redis disagree: {a[0]} vs {b[0]}")
        hits += a[0].similarity >= config.threshold
    if not hits:
        raise SetupError("no query found any indexed prompt above the threshold")
    progress(f"  {hits}/{len(queries)} queries find a candidate >= {config.threshold} "
             "(same nearest entry in both indexes)")  # fmt: skip


async def vector_agreement(
    vectorizers: Sequence[tuple[str, Any]],
    queries: Sequence[tuple[str, int]],
    reference: Sequence[Any],
) -> dict[str, dict[str, float]]:
    """Cosine of each other vectorizer's embedding to torch's, over all the query prompts."""
    out = {}
    for label, model in vectorizers[1:]:
        cos = [float(normalize(await model.embed(text)) @ ref)
               for (text, _), ref in zip(queries, reference, strict=True)]  # fmt: skip
        out[label] = {"min": min(cos), "mean": sum(cos) / len(cos), "n": len(cos)}
        progress(f"  {label} vs torch: cosine min {min(cos):.4f}, mean {out[label]['mean']:.5f}"
                 f" over {len(cos)} prompts")  # fmt: skip
    return out


def search_floors(
    client: Any,
    index_name: str,
    rows: Sequence[tuple[str, Any, int]],
    queries: Sequence[tuple[str, int]],
    vectors: Sequence[Any],
    config: SemanticConfig,
) -> list[tuple[str, Callable[[int], Awaitable[object]]]]:
    """What each search cannot go below: the bare numpy product and top-k over the context's
    matrix, and the very ``FT.SEARCH`` RedisVL sends, through redis-py without RedisVL."""
    from redisvl.query import VectorQuery
    from redisvl.query.filter import Tag

    matrices = [np.vstack([v for _, v, c in rows if c == ctx]) for ctx in range(len(CONTEXTS))]
    k = config.top_k

    def numpy_topk(one_thread: bool) -> Callable[[int], Awaitable[object]]:
        async def fn(i: int) -> object:
            matrix = matrices[queries[i][1]]
            sims = one_blas_thread.matvec(matrix, vectors[i]) if one_thread else matrix @ vectors[i]
            best = np.argpartition(-sims, k)[:k]
            return best[np.argsort(-sims[best])]

        return fn

    commands = []
    for (_, ctx), vector in zip(queries, vectors, strict=True):
        query = VectorQuery(
            vector.tolist(), "embedding", return_fields=["prompt", "digest"], num_results=k,
            filter_expression=(Tag("namespace") == NAMESPACE) & (Tag("context") == CONTEXTS[ctx]),
        )  # fmt: skip
        commands.append(("FT.SEARCH", index_name, *query.get_args(),
                         "PARAMS", 2, "vector", query.params["vector"]))  # fmt: skip

    async def raw_ft_search(i: int) -> object:
        return await client.execute_command(*commands[i])

    return [("numpy matmul + top-k (floor)", numpy_topk(True)),
            ("  the same, default BLAS threads", numpy_topk(False)),
            ("raw FT.SEARCH, redis-py (floor)", raw_ft_search)]  # fmt: skip


async def measure(
    vectorizers: Sequence[tuple[str, Any]],
    memory: InProcessIndex,
    redis_index: Any,
    floors: Sequence[tuple[str, Callable[[int], Awaitable[object]]]],
    queries: Sequence[tuple[str, int]],
    vectors: Sequence[Any],
    config: SemanticConfig,
    rounds: int,
    warmup: int,
) -> dict[str, Any]:
    k, threshold = config.top_k, config.threshold
    indexes = (("in-process", memory), ("redis", redis_index))

    def cursor() -> Callable[[], int]:
        counter = itertools.count()
        return lambda: next(counter) % len(queries)

    def embed_only(model: Any) -> Callable[[], Awaitable[object]]:
        nxt = cursor()

        async def fn() -> object:
            return normalize(await model.embed(queries[nxt()][0]))

        return fn

    def search_only(index: Any) -> Callable[[], Awaitable[object]]:
        nxt = cursor()

        async def fn() -> object:
            i = nxt()
            return await index.search(NAMESPACE, CONTEXTS[queries[i][1]], vectors[i], k, threshold)

        return fn

    def floor(search: Callable[[int], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        nxt = cursor()

        async def fn() -> object:
            return await search(nxt())

        return fn

    def both(model: Any, index: Any) -> Callable[[], Awaitable[object]]:
        nxt = cursor()

        async def fn() -> object:
            text, ctx = queries[nxt()]
            vector = normalize(await model.embed(text))
            return await index.search(NAMESPACE, CONTEXTS[ctx], vector, k, threshold)

        return fn

    groups: dict[str, list[tuple[Series, Callable[[], Awaitable[object]]]]] = {
        "embed": [(Series(label), embed_only(m)) for label, m in vectorizers],
        "search": [(Series(f"{name} index"), search_only(ix)) for name, ix in indexes]
                  + [(Series(name), floor(fn)) for name, fn in floors],
        "embed+search": [(Series(f"{label} + {name}"), both(m, ix))
                         for label, m in vectorizers for name, ix in indexes],
    }  # fmt: skip
    # One phase per group: interleaving the searches with the vectorizers would also measure
    # their thread pools (torch's OpenMP threads still spinning when numpy's BLAS starts).
    for n, (group, variants) in enumerate(groups.items(), 1):
        times = 5 if group == "search" else 1  # searches are cheap: more samples
        progress(f"[3/4] {group} ({n}/{len(groups)}): {len(variants)} variants, "
                 f"{warmup * times} warm-up + {rounds * times} interleaved rounds")  # fmt: skip
        await interleave(variants, warmup * times)
        for series, _ in variants:
            series.samples_ns.clear()
        gc.collect()
        await interleave(variants, rounds * times)
    return {group: {s.name: s.summary() for s, _ in variants} for group, variants in groups.items()}


def blas_threads() -> str | None:
    """The thread counts of the BLAS libraries loaded (numpy's and any other), if threadpoolctl
    can tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return ",".join(str(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")


def report(results: dict[str, Any], mode: str) -> None:
    setup = results["setup"]
    spread = "/".join(str(n) for n in setup["contexts"].values())
    print(f"\nSemantic lookup latency ({mode}): {setup['entries']} entries in 4 contexts "
          f"({spread}), {setup['queries']} query prompts, {setup['rounds']} rounds, "
          f"numpy BLAS threads: {setup['blas_threads']}")  # fmt: skip
    embed = results["embed"]
    base = next(iter(embed.values()))["p50_us"]
    print("\nembed alone (ratio: p50 / p50 of torch, same run)")
    for name, s in embed.items():
        agree = results["agreement"].get(name)
        note = f"  cosine to torch min {agree['min']:.4f} mean {agree['mean']:.4f}" if agree else ""
        _line(name, s, f"{s['p50_us'] / base:5.2f}x{note}")
    print("\nsearch alone (vector given, filtered on namespace and context)")
    for name, s in results["search"].items():
        _line(name, s)
    print(f"\nembed + search (goal: p50 <= {GOAL_MS:.0f} ms)")
    for name, s in results["embed+search"].items():
        verdict = "PASS" if s["p50_us"] <= GOAL_MS * 1e3 else "MISS"
        _line(name, s, f"{s['p50_us'] / base:5.2f}x torch embed  {verdict}")


def _line(name: str, s: dict[str, float], note: str = "") -> None:
    line = f"  {name:<42} p50 {fmt_us(s['p50_us'])}   p99 {fmt_us(s['p99_us'])}"
    print(line + (f"   {note}" if note else ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 entries, 40 rounds (CI)")
    parser.add_argument("--entries", type=int, default=10_000, help="entries (full run)")
    parser.add_argument(
        "--fresh-export", action="store_true", help="export the ONNX models anew (timed)"
    )
    parser.add_argument("--blas-threads", type=int, help="limit numpy's BLAS threads")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    mode = "quick" if args.quick else "full"
    started = time.perf_counter()
    try:
        results = asyncio.run(run(args))
    except SetupError as exc:
        print(f"benchmark setup is broken, numbers would be meaningless: {exc}", file=sys.stderr)
        return 1
    progress(f"[4/4] report ({time.perf_counter() - started:.1f} s)")
    report(results, mode)
    if args.json:
        Path(args.json).write_text(json.dumps({"mode": mode, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
