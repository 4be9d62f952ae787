"""The error bound on real user questions: ``SemanticConfig(max_error=δ)`` against the default.

A stream of Quora questions (the holdout split of bench_semantic_qqp: classes nothing was
trained or tuned on), every question of each sampled duplicate class, shuffled, goes through
``Runner.run`` one after another. The scripted model answers by duplicate class ("The answer is
number <class>."), so paraphrases get the same answer, the bound's comparisons see what the
labels say, and a hit is wrong when it serves another class's answer (labels are incomplete:
some "wrong" hits are unlabelled duplicates, so the error is an upper estimate).

    python benchmarks/bench_semantic_bound.py [--classes 2500] [--quick] [--deltas 0.05 0.01]

Prints per configuration: lookups, hits, wrong hits, wrong hits over hits and over lookups,
explorations (candidates sent to the model to learn), and the same for the stream's second
half (once the bound has had traffic to learn from).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "plugins")]

from agentcache_semantic.bound import CALIBRATION, EDGES, Calibration  # noqa: E402
from agents import Agent, ModelResponse, RunConfig, Runner, set_tracing_disabled  # noqa: E402
from agents.models.interface import Model  # noqa: E402
from agents.testing import assistant_message  # noqa: E402
from agents.usage import Usage  # noqa: E402
from bench_semantic_qqp import DATA, MemoEmbed, _last_user_text, load_split  # noqa: E402

from agentcache import CachedModel, CacheKey, SemanticConfig  # noqa: E402


class ClassAnswers(Model):
    """One answer per duplicate class, the same for every paraphrase."""

    def __init__(self, classes: dict[str, Any]) -> None:
        self.classes, self.calls = classes, 0

    async def get_response(self, system_instructions, input, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        self.calls += 1
        text = input if isinstance(input, str) else _last_user_text(input)
        return ModelResponse(
            output=[assistant_message(f"The answer is number {self.classes[text]}.")],
            usage=Usage(requests=1),
            response_id=None,
        )

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def stream(n_classes: int, seed: int, data: str) -> tuple[list[str], dict[str, Any]]:
    by_class: dict[Any, set[str]] = {}
    for pair in load_split("holdout", data):
        by_class.setdefault(pair["class"], set()).update((pair["origin"], pair["similar"]))
    rng = random.Random(seed)
    classes = sorted(by_class, key=str)
    rng.shuffle(classes)
    prompts = {p: c for c in classes[:n_classes] for p in sorted(by_class[c])}
    order = sorted(prompts)
    rng.shuffle(order)
    return order, prompts


async def run(label: str, config: dict[str, Any], prompts: list[str], classes: dict[str, Any],
              embed: MemoEmbed) -> None:  # fmt: skip
    model = ClassAnswers(classes)
    cached = CachedModel(model, semantic=SemanticConfig(vectorizer=embed, **config))
    agent = Agent(name="qa", instructions="Answer the user's question.")
    half = len(prompts) // 2
    hits = [0, 0]
    wrong = [0, 0]
    start = time.perf_counter()
    for i, prompt in enumerate(prompts):
        before = model.calls
        result = await Runner.run(agent, prompt, run_config=RunConfig(model=cached))
        if model.calls == before:
            part = int(i >= half)
            hits[part] += 1
            wrong[part] += result.final_output != f"The answer is number {classes[prompt]}."
    await cached.flush()
    semantic = cached.stats().semantic
    explored = semantic.get("bound_explored", 0)
    for name, h, w, n in (
        ("all", sum(hits), sum(wrong), len(prompts)),
        ("2nd half", hits[1], wrong[1], len(prompts) - half),
    ):
        print(
            f"  {label:<22} {name:<8} {n:>6} {h:>6} {w:>6} {w / max(h, 1):>9.4f} {w / n:>9.4f}"
            + (f" {explored:>8}" if name == "all" else "")
        )
    print(f"  {'':<22} ({time.perf_counter() - start:.0f} s; {dict(semantic)})")
    raw = await cached.store.get(CacheKey(cached.config.namespace, CALIBRATION))
    if raw is not None:
        calibration = Calibration.loads(raw)
        bins = zip((0.0, *EDGES), calibration.seen, calibration.wrong, strict=True)
        print("  " + " ".join(f"[{lo:.2f}: {w}/{n}]" for lo, n, w in bins))


async def main_async(args: argparse.Namespace) -> int:
    prompts, classes = stream(args.classes, args.seed, args.data)
    embed = MemoEmbed()
    t = time.perf_counter()
    embed.precompute(prompts)
    print(
        f"{len(prompts)} questions of {args.classes} holdout classes "
        f"(embedded in {time.perf_counter() - t:.0f} s), seed {args.seed}"
    )
    print(f"  {'configuration':<22} {'part':<8} lookups   hits  wrong wrong/hit wrong/all explored")
    await run("default (verifier)", {}, prompts, classes, embed)
    for delta in args.deltas:
        await run(f"max_error={delta}", {"max_error": delta}, prompts, classes, embed)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deltas", type=float, nargs="+", default=[0.05, 0.01])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--quick", action="store_true", help="300 classes (CI)")
    args = parser.parse_args()
    if args.quick:
        args.classes = 300
    set_tracing_disabled(True)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
