"""Semantic matching on real user questions: Quora Question Pairs, through ``Runner.run``.

Data: ``../shared/data/qqp_dev_pairs.jsonl.gz`` (``--data``), pairs of questions Quora's users
marked as duplicates, ``{"origin", "similar", "class"}``, ``class`` the duplicate class. Split by
class: HOLDOUT holds the pairs whose class has ``int(sha256(str(class)), 16) % 10 < 3`` (about
30 %), DEV the rest. Tune on dev (``load_split("dev")``), report on holdout (the default).

Protocol, per configuration:

1. Sample (``--seed``) N pairs of the split, one per duplicate class, and cache the ``origin`` of
   each through ``agents.Runner.run`` on ``CachedModel(model, semantic=...)``: ``model`` is a
   scripted SDK model that answers every prompt with the name of its duplicate class
   (``answer-<class>``), so a served answer tells which cached prompt it came from. The fill
   uses the configuration's vectorizer with threshold 1.0, so that each of the N origins is
   stored and indexed (filling through the configuration under test would answer some origins
   from others and leave them out of the cache).
2. (a) Look up the ``similar`` of each cached pair: a hit is correct when the served answer
   names the pair's class. (b) Look up the ``similar`` of N other pairs of the split, whose
   classes are not among the cached ones: any hit is wrong by the labels. The lookups go through
   ``Runner.run`` on another ``CachedModel`` with the configuration under test, sharing the
   fill's store and index, inside ``agentcache.no_store()``: every lookup sees the same N
   cached answers, and a miss is not cached for the next one.

A hit is a lookup whose answer was not made for it: the scripted model numbers its calls in its
answers, and a lookup served a fill-time answer did not reach the model. Reported: the
correct-hit rate on the cached paraphrases (correct hits in (a) / N), the precision over all
hits (correct / hits in (a) and (b)), the hits in (b), the model calls made by the lookups, and
the hits by layer (exact / semantic).

The labels are incomplete (two questions never paired get two classes even when they ask the
same thing), so precision here is a lower bound: read the wrong hits (``--show K``) before
believing it. Few pairs are adversarial near-misses: this set measures recall on real
paraphrases, the labelled probe sets in ``benchmarks/`` measure the near-misses refused.

    python benchmarks/bench_semantic_qqp.py                       # holdout, defaults, N=1000
    python benchmarks/bench_semantic_qqp.py --split dev --sweep   # + plain NN and guarded sweep
    python benchmarks/bench_semantic_qqp.py --config '{"threshold": 0.85, "top_k": 1}'
    python benchmarks/bench_semantic_qqp.py --quick               # N=100, for CI
    python benchmarks/bench_semantic_qqp.py --show 20             # wrong hits, read by hand
    python benchmarks/bench_semantic_qqp.py --judge-oracle        # + a judge that knows labels

``--config JSON`` (repeatable) is a row of ``SemanticConfig`` keyword arguments (default ``{}``,
the defaults); ``--sweep`` adds plain nearest neighbour (``guards=[]``, ``top_k=1``) and the
first ``--config`` at each ``--thresholds`` cosine. Embeddings of the sampled prompts are
computed once, in batches, with the default local model (all-MiniLM-L6-v2) and served to the
stage by a memoizing vectorizer; ``--live-embed`` makes the stage embed every prompt itself
(``vectorizer=None``, the same model, one prompt at a time). A ``vectorizer`` in ``--config``
is used as given.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))

from agentcache_semantic.config import SemanticConfig  # noqa: E402
from agentcache_semantic.index import InProcessIndex  # noqa: E402
from agentcache_semantic.vectorizer import LocalModel, resolve  # noqa: E402
from agents import Agent, Runner, set_tracing_disabled  # noqa: E402
from agents.items import ModelResponse  # noqa: E402
from agents.models.interface import Model  # noqa: E402
from agents.testing import assistant_message  # noqa: E402
from agents.usage import Usage  # noqa: E402

import agentcache  # noqa: E402
from agentcache import CachedModel  # noqa: E402
from agentcache.stores.memory import MemoryStore  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "qqp_dev_pairs.jsonl.gz"
HOLDOUT_SHARE = 3  # tenths of the classes
THRESHOLDS = (0.80, 0.85, 0.90, 0.95)
INSTRUCTIONS = "You are a helpful assistant. Answer the user's question."
ANSWER = re.compile(r"^answer-(-?\d+) \(call (\d+)\)$")

Pair = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Data


def in_holdout(cls: object) -> bool:
    """Whether duplicate class ``cls`` belongs to the holdout split (about 30 % of them)."""
    return int(hashlib.sha256(str(cls).encode()).hexdigest(), 16) % 10 < HOLDOUT_SHARE


def load_pairs(path: Path | str = DATA) -> list[Pair]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_split(split: str = "dev", path: Path | str = DATA) -> list[Pair]:
    """The pairs of ``split`` ("dev", "holdout" or "all"), in file order. Train and tune on
    "dev" only; "holdout" is for reporting."""
    if split not in ("dev", "holdout", "all"):
        raise ValueError(f"split is 'dev', 'holdout' or 'all', got {split!r}")
    pairs = load_pairs(path)
    if split == "all":
        return pairs
    return [p for p in pairs if in_holdout(p["class"]) == (split == "holdout")]


def sample(pairs: Sequence[Pair], n: int, seed: int) -> tuple[list[Pair], list[Pair]]:
    """N pairs to cache, one per class, and N other pairs (one per class) whose classes are
    not among the cached ones; deterministic for a seed."""
    by_class: dict[Any, list[Pair]] = {}
    for p in pairs:
        by_class.setdefault(p["class"], []).append(p)
    classes = sorted(by_class, key=str)
    if len(classes) < 2 * n:
        raise SystemExit(f"the split has {len(classes)} classes, fewer than 2 x N = {2 * n}")
    rng = random.Random(seed)
    rng.shuffle(classes)
    chosen = [rng.choice(by_class[c]) for c in classes[: 2 * n]]
    return chosen[:n], chosen[n:]


# --------------------------------------------------------------------------------------------
# The scripted model and the vectorizer


class ClassModel(Model):
    """Answers a prompt with its duplicate class and the number of the call:
    ``answer-<class> (call <n>)``. ``prompts[n]`` is the prompt call ``n`` answered."""

    def __init__(self, classes: dict[str, Any]) -> None:
        self.classes = classes
        self.prompts: list[str] = []
        self.model = "qqp-class-model"

    async def get_response(  # type: ignore[no-untyped-def]
        self, system_instructions, input, model_settings, tools, output_schema, handoffs,
        tracing, *, previous_response_id=None, conversation_id=None, prompt=None,
    ) -> ModelResponse:  # fmt: skip
        text = input if isinstance(input, str) else _last_user_text(input)
        n = len(self.prompts)
        self.prompts.append(text)
        cls = self.classes.get(text, "unknown")
        return ModelResponse(
            output=[assistant_message(f"answer-{cls} (call {n})", item_id=f"msg_{n}")],
            usage=Usage(requests=1, input_tokens=20, output_tokens=5, total_tokens=25),
            response_id=f"resp_{n}",
        )

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the benchmark does not stream")


def _last_user_text(items: Any) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "\n".join(str(p.get("text", "")) for p in content)
    raise ValueError("no user message in the input")


class MemoEmbed:
    """The default local model's vectors, computed once in batches for the sampled prompts
    (a prompt it has not seen is embedded one at a time, in a worker thread)."""

    def __init__(self) -> None:
        self.local = LocalModel(os.environ.get("AGENTCACHE_EMBEDDING_MODEL"))
        self.vectors: dict[str, np.ndarray] = {}
        self.misses = 0

    def precompute(self, texts: Sequence[str]) -> None:
        todo = sorted({t for t in texts if t not in self.vectors})
        if todo:
            vecs = self.local._load().encode(todo, normalize_embeddings=True, batch_size=64)
            self.vectors.update(zip(todo, np.asarray(vecs, dtype=np.float32), strict=True))

    async def __call__(self, text: str) -> np.ndarray:
        vector = self.vectors.get(text)
        if vector is None:
            self.misses += 1
            vector = np.asarray(await self.local.embed(text), dtype=np.float32)
            self.vectors[text] = vector
        return vector

    def similarity(self, a: str, b: str) -> float:
        self.precompute([a, b])
        return float(self.vectors[a] @ self.vectors[b])


# --------------------------------------------------------------------------------------------
# One configuration


@dataclass
class Lookup:
    part: str  # "a": the similar of a cached pair, "b": of another pair
    prompt: str
    cls: Any
    hit: bool = False
    served_cls: Any = None
    served_prompt: str | None = None


@dataclass
class Result:
    label: str
    n: int
    lookups: list[Lookup] = field(default_factory=list)
    model_calls: int = 0
    fill_calls: int = 0
    layers: Counter[str] = field(default_factory=Counter)
    vetoes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def count(self, part: str, correct: bool | None = None) -> int:
        return sum(
            1
            for x in self.lookups
            if x.part == part and x.hit and (correct is None or (x.served_cls == x.cls) == correct)
        )

    @property
    def correct(self) -> int:
        return self.count("a", True) + self.count("b", True)

    @property
    def hits(self) -> int:
        return self.count("a") + self.count("b")

    def wrong(self) -> list[Lookup]:
        return [x for x in self.lookups if x.hit and x.served_cls != x.cls]


def make_config(kwargs: dict[str, Any], embed: MemoEmbed | None, index: InProcessIndex) -> Any:
    kwargs = dict(kwargs)
    if "vectorizer" not in kwargs and embed is not None:
        kwargs["vectorizer"] = embed
    return SemanticConfig(**{**kwargs, "index": index})


async def run_config(
    label: str,
    kwargs: dict[str, Any],
    cached: Sequence[Pair],
    others: Sequence[Pair],
    classes: dict[str, Any],
    embed: MemoEmbed | None,
    concurrency: int,
) -> Result:
    t0 = time.perf_counter()
    model = ClassModel(classes)
    store, index = MemoryStore(), InProcessIndex()
    fill_kwargs = {"vectorizer": kwargs["vectorizer"]} if "vectorizer" in kwargs else {}
    fill_config = make_config({**fill_kwargs, "threshold": 1.0}, embed, index)
    filler = CachedModel(model, store=store, semantic=fill_config)
    lookup_config = make_config(kwargs, embed, index)
    looker = {part: CachedModel(model, store=store, semantic=lookup_config) for part in ("a", "b")}

    async def run_all(agent: Agent[Any], prompts: Sequence[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(prompts), concurrency):
            batch = prompts[i : i + concurrency]
            results = await asyncio.gather(*(Runner.run(agent, p) for p in batch))
            out += [str(r.final_output) for r in results]
        return out

    agent = Agent(name="qqp", instructions=INSTRUCTIONS, model=filler)
    await run_all(agent, [p["origin"] for p in cached])
    await filler.flush()  # the indexing runs in the background
    fill_calls = len(model.prompts)
    result = Result(label, len(cached), fill_calls=fill_calls)
    with agentcache.no_store():
        for part, pairs in (("a", cached), ("b", others)):
            agent = Agent(name="qqp", instructions=INSTRUCTIONS, model=looker[part])
            answers = await run_all(agent, [p["similar"] for p in pairs])
            for pair, answer in zip(pairs, answers, strict=True):
                m = ANSWER.match(answer)
                if m is None:
                    raise RuntimeError(f"unexpected answer {answer!r}")
                n = int(m.group(2))
                x = Lookup(part, pair["similar"], pair["class"])
                if n < fill_calls:  # an answer made at fill time: served from the cache
                    x.hit, x.served_prompt = True, model.prompts[n]
                    x.served_cls = classes[x.served_prompt]
                elif model.prompts[n] != pair["similar"]:
                    raise RuntimeError(f"lookup {pair['similar']!r} got call {n}'s answer")
                result.lookups.append(x)
    result.model_calls = len(model.prompts) - fill_calls
    for cm in (*looker.values(), filler):
        await cm.flush()
    for cm in looker.values():
        stats = cm.stats()
        result.layers.update(stats.hits_by_layer)
        result.vetoes.update(stats.semantic)
    fill_hits = filler.stats().hits
    if fill_hits:
        print(f"  note: {fill_hits} origins were answered at fill time (identical prompts)")
    for cm in (*looker.values(), filler):
        await cm.close()
    result.seconds = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------------------------
# Report

HEADER = (
    f"  {'configuration':<44} {'correct/N':>9} {'precision':>9} {'hits(a)':>7} "
    f"{'wrong(a)':>8} {'hits(b)':>7} {'calls':>6} {'exact':>5} {'sem':>5} {'secs':>6}"
)


def row(r: Result) -> str:
    precision = r.correct / r.hits if r.hits else 1.0
    return (
        f"  {r.label:<44} {r.count('a', True) / r.n:>9.3f} {precision:>9.3f} "
        f"{r.count('a'):>7} {r.count('a', False):>8} {r.count('b'):>7} {r.model_calls:>6} "
        f"{r.layers.get('exact', 0):>5} {r.layers.get('semantic', 0):>5} {r.seconds:>6.1f}"
    )


def show_wrong(r: Result, k: int, embed: MemoEmbed) -> None:
    wrong = r.wrong()
    print(f"\nwrong hits of {r.label} ({len(wrong)}; the first {min(k, len(wrong))}):")
    for x in wrong[:k]:
        assert x.served_prompt is not None
        sim = embed.similarity(x.prompt, x.served_prompt)
        print(f"  [{x.part}] {sim:.3f} class {x.cls} asked:  {x.prompt!r}")
        print(f"  {' ' * 10} class {x.served_cls} cached: {x.served_prompt!r}")


def label_of(kwargs: dict[str, Any]) -> str:
    return "defaults (semantic=True)" if not kwargs else json.dumps(kwargs, sort_keys=True)


def parse_config(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        SemanticConfig(**value)  # fail early on an unknown field or a bad value
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc
    return value


async def main_async(args: argparse.Namespace) -> int:
    set_tracing_disabled(True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    n = 100 if args.quick else args.n
    t0 = time.perf_counter()
    pairs = load_split(args.split, args.data)
    classes = {p[k]: p["class"] for p in pairs for k in ("origin", "similar")}
    cached, others = sample(pairs, n, args.seed)
    configs = args.config or [{}]
    rows = [(label_of(c), c) for c in configs]
    if args.sweep:
        base = configs[0]
        rows += [
            (f"plain NN (guards=[], top_k=1) @ {t:.2f}", {"guards": [], "top_k": 1, "threshold": t})
            for t in args.thresholds
        ]
        rows += [
            (f"{'guarded' if not base else label_of(base)} @ {t:.2f}", {**base, "threshold": t})
            for t in args.thresholds
        ]
    if args.judge_oracle:  # a judge that answers from the labels: precision 1 by construction

        def oracle(new: str, cached: str) -> bool:
            return bool(classes.get(new) == classes.get(cached))

        rows += [
            (f"perfect judge (the labels) @ {t:.2f}", {"judge": oracle, "threshold": t})
            for t in (SemanticConfig().threshold, 0.70)
        ]
    embed = MemoEmbed()
    t1 = time.perf_counter()
    if args.live_embed:  # load the stage's model first: a lookup waits 5 s at most for it
        await resolve(None)("warm-up")
    else:
        embed.local._load()
    t2 = time.perf_counter()
    if not args.live_embed:
        embed.precompute([p["origin"] for p in cached] + [p["similar"] for p in cached + others])
    t3 = time.perf_counter()
    print(
        f"QQP {args.split}: {len(pairs)} pairs, {len({p['class'] for p in pairs})} classes; "
        f"N={n} cached origins (seed {args.seed}), N other pairs\n"
        f"data {t1 - t0:.1f} s, model load {t2 - t1:.1f} s, "
        + (
            "embedding: live, in the stage"
            if args.live_embed
            else f"{len(embed.vectors)} prompts embedded in {t3 - t2:.1f} s"
        )
    )
    print(HEADER)
    results = []
    for label, kwargs in rows:
        r = await run_config(
            label, kwargs, cached, others, classes, None if args.live_embed else embed,
            args.concurrency,
        )  # fmt: skip
        results.append(r)
        print(row(r), flush=True)
    first = results[0]
    vetoes = {k: v for k, v in first.vetoes.most_common() if k.startswith("vetoed:")}
    print(f"\n{first.label}: vetoes (both parts) {vetoes}")
    print(
        "correct/N: correct hits on the cached paraphrases (a); precision: correct / all hits "
        "(a and b;\na lower bound: labels are incomplete); calls: model calls of the 2N lookups; "
        "exact/sem: hits by layer"
    )
    if args.show:
        show_wrong(first, args.show, embed)
    if embed.misses and not args.live_embed:
        print(f"(embedded {embed.misses} prompts one at a time: not precomputed)")
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["dev", "holdout"], default="holdout")
    parser.add_argument("--data", default=str(DATA), help="the pairs (.jsonl.gz)")
    parser.add_argument("-n", "--n", type=int, default=1000, help="pairs cached (default 1000)")
    parser.add_argument("--quick", action="store_true", help="N=100 (CI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--config",
        type=parse_config,
        action="append",
        help="SemanticConfig keyword arguments as JSON (repeatable; default {}: the defaults)",
    )
    parser.add_argument("--sweep", action="store_true", help="plain NN and guarded per threshold")
    parser.add_argument(
        "--thresholds", type=lambda s: [float(t) for t in s.split(",")], default=list(THRESHOLDS)
    )
    parser.add_argument("--show", type=int, default=0, help="print K wrong hits of the first row")
    parser.add_argument("--concurrency", type=int, default=32, help="Runner.run calls at once")
    parser.add_argument(
        "--live-embed", action="store_true", help="let the stage embed each prompt itself"
    )
    parser.add_argument(
        "--judge-oracle",
        action="store_true",
        help="also with a judge that answers from the labels: the correct hits a judge can reach",
    )
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
