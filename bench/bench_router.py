"""Router benchmark: accuracy of the fine-tuned/RAG decision on bench/data/router_dev.jsonl.

Uses ../shared/corpora/sagemaker-faq/faq_pairs.csv as the fine-tuning set. Prints:
- the baseline (nearest-question MiniLM similarity, best possible threshold),
- Docent's router at its shipped weights and threshold, with a threshold curve,
- 5-fold cross-validated accuracy of refitting the weights (to show they are not tuned to this set),
- `--fit` prints freshly fitted weights to paste into chain/router.py.

    .venv/bin/python bench/bench_router.py [--fit]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chain.router import WEIGHTS, Router, route_score, selection_score  # noqa: E402
from index.embeddings import LocalEmbeddings  # noqa: E402
from tests.fixtures.qa import MemoryQA  # noqa: E402

FAQ = ROOT.parent / "shared" / "corpora" / "sagemaker-faq" / "faq_pairs.csv"
DEV = ROOT / "bench" / "data" / "router_dev.jsonl"
FEATURES = ("question_sim", "answer_sim", "missing_specific", "pair_missing", "question_margin")


def load():
    if not FAQ.exists():
        sys.exit(f"{FAQ} is missing: this benchmark needs ../shared beside the repo.")
    with FAQ.open(encoding="utf-8") as fh:
        pairs = [(r["instruction"], r["response"]) for r in csv.DictReader(fh)]
    items = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    return pairs, items


def candidate_rows(router: Router, items, emb):
    """For each question: (candidate features, candidate pair question) for every candidate."""
    vectors = emb.embed_documents([it["question"] for it in items])  # cached: same vectors as embed_query
    rows = []
    for it, vec in zip(items, vectors):
        idx, q_sims, a_sims = router.candidates_for(vec)
        cands = [(router.features(it["question"], vec, i, q_sims, a_sims), router._pairs[i].question) for i in idx]
        rows.append((it, cands, float(q_sims.max())))
    return rows


def decide(cands, weights, threshold):
    best = max(cands, key=lambda c: selection_score(c[0].question_sim, c[0].answer_sim))
    score = route_score(best[0], weights)
    return ("finetuned" if score >= threshold else "rag"), best[1], score


def accuracy(rows, weights, threshold):
    ok = right_pair = ft = 0
    for it, cands, _ in rows:
        route, pair, _ = decide(cands, weights, threshold)
        ok += route == it["label"]
        if route == "finetuned" and it["label"] == "finetuned":
            ft += 1
            right_pair += pair == it["pair"]
    return ok / len(rows), (right_pair / ft if ft else 0.0)


def fit(rows):
    from sklearn.linear_model import LogisticRegression

    X, y = [], []
    for it, cands, _ in rows:
        feats, _pair = max(cands, key=lambda c: selection_score(c[0].question_sim, c[0].answer_sim))
        X.append([getattr(feats, f) for f in FEATURES])
        y.append(int(it["label"] == "finetuned"))
    model = LogisticRegression(C=1.0, max_iter=5000).fit(np.array(X), np.array(y))
    weights = {"bias": float(model.intercept_[0])}
    weights.update({f: float(c) for f, c in zip(FEATURES, model.coef_[0])})
    return weights


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true", help="print weights fitted on the whole dev set")
    args = ap.parse_args()
    pairs, items = load()
    from index.embeddings import CachedEmbeddings

    emb = CachedEmbeddings(LocalEmbeddings(), ROOT / "bench" / "out" / "router_cache.sqlite3")
    qa = MemoryQA()
    for q, a in pairs:
        qa.add(q, a)
    router = Router(qa, emb)
    t0 = time.perf_counter()
    router.refresh()
    print(f"fine-tuning set: {len(pairs)} pairs embedded in {time.perf_counter() - t0:.1f} s")
    rows = candidate_rows(router, items, emb)
    labels = np.array([it["label"] == "finetuned" for it, _, _ in rows])
    kinds = {}
    for it in items:
        kinds[it["kind"]] = kinds.get(it["kind"], 0) + 1
    print(f"dev set: {len(items)} questions {kinds}")

    sims = np.array([s for _, _, s in rows])
    best = max((float(np.mean((sims >= t) == labels)), t) for t in np.arange(0.3, 1.0, 0.01))
    print(f"baseline nearest-question similarity: best accuracy {best[0]:.3f} at threshold {best[1]:.2f}")

    acc, pair_acc = accuracy(rows, WEIGHTS, router.threshold)
    print(f"router (shipped weights, threshold {router.threshold}): accuracy {acc:.3f}, right pair {pair_acc:.3f}")
    for kind in sorted(kinds):
        sub = [r for r in rows if r[0]["kind"] == kind]
        print(f"  {kind:17s} n={len(sub):3d} accuracy {accuracy(sub, WEIGHTS, router.threshold)[0]:.3f}")
    print(
        "threshold curve: "
        + "  ".join(f"{t:.2f}:{accuracy(rows, WEIGHTS, t)[0]:.3f}" for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8))
    )

    rng = np.random.default_rng(0)
    order = rng.permutation(len(rows))
    folds = np.array_split(order, 5)
    cv = []
    for k in range(5):
        test = [rows[i] for i in folds[k]]
        train = [rows[i] for j in range(5) if j != k for i in folds[j]]
        cv.append(accuracy(test, fit(train), 0.5)[0])
    print(f"5-fold CV accuracy of refitted weights: {np.mean(cv):.3f} (folds {', '.join(f'{c:.2f}' for c in cv)})")
    if args.fit:
        print("fitted weights:", json.dumps({k: round(v, 2) for k, v in fit(rows).items()}))
    errors = [(it, decide(c, WEIGHTS, router.threshold)) for it, c, _ in rows]
    errors = [(it, d) for it, d in errors if d[0] != it["label"]]
    for it, (_route, pair, score) in errors[:25]:
        print(f"  MISS {it['kind']:16s} want {it['label']:9s} score {score:.2f} q={it['question']!r} nearest={pair!r}")


if __name__ == "__main__":
    main()
