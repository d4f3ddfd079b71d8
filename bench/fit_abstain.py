"""Fit the refusal model on the tune half of the development sets (issue 10, item 3).

Rows: bench/data/gold answerable questions and in-scope hard negatives (label: answer) and out-of-scope
questions (label: refuse), over the whole-guide index that bench/bench_retrieval.py builds in bench/out/dg.
Features are chain/evidence.py's, computed as the chain computes them. A logistic regression over
standardised features is fitted on the tune half; its threshold is the one that minimises false refusals
plus out-of-scope questions answered on 5-fold cross-validated predictions (the clear-cut rules applied
first, as in `decide_abstain`), together with the clear-cut rule's share of never-mentioned terms
(`AbstainPolicy.max_unknown`). Prints those figures, then the TEST half's once, and with --write saves
chain/abstain_model.json.

    .venv/bin/python bench/fit_abstain.py [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chain.abstain_model import SHIPPED, AbstainModel  # noqa: E402
from chain.evidence import AbstainPolicy, decide_abstain, evidence_features  # noqa: E402
from config.settings import Settings  # noqa: E402
from index.embedded import EmbeddedIndex  # noqa: E402
from index.factory import make_embedder  # noqa: E402
from index.retrieval import HybridRetriever  # noqa: E402

GOLD = ROOT / "bench" / "data" / "gold"
DG = ROOT / "bench" / "out" / "dg"
C = 1.0  # L2 strength; a few hundred rows, eight features: keep the model plain
MIN_CHUNKS = 10_000  # the model applies to collections of this size and up (see chain/abstain_model.py)
THRESHOLDS = [round(t, 2) for t in np.arange(0.20, 0.71, 0.05)]
# the clear-cut "never mentions" rule's share (AbstainPolicy.max_unknown), chosen with the threshold
MAX_UNKNOWN = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]


def rows() -> list[dict]:
    """Every gold question the documents route should handle: (question, split, kind, category, refuse)."""
    out = []
    for name in ("answerable", "routing", "out_of_scope"):
        for line in (GOLD / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item["expected_route"] != "rag":
                continue  # paraphrases of Q&A pairs go to the fine-tuned model, not to this decision
            item["refuse"] = item["kind"] == "out_of_scope"
            out.append(item)
    return out


def featurise(items: list[dict]) -> tuple[list, list[bool]]:
    """Each question's EvidenceFeatures and whether the clear-cut rules alone refuse it."""
    settings = Settings(data_dir=DG)
    index = EmbeddedIndex(DG / "index")
    retriever = HybridRetriever(index, make_embedder(settings), candidates=settings.retrieval_candidates)
    rules_only = AbstainPolicy(model=None)
    feats = []
    for item in items:
        passages = retriever.retrieve(item["question"], settings.retrieval_top_k)
        f = evidence_features(
            item["question"],
            passages[: rules_only.evidence_passages],
            index.term_stats,
            index.similar_terms,
            ranked=passages,
        )
        feats.append(f)
    return feats


def clear_cut(feats, max_unknown: float) -> np.ndarray:
    """What decide_abstain refuses before the model is asked, with this share for "never mentions"."""
    never = replace(AbstainPolicy(model=None), min_dense=-1.0, min_coverage=-1.0, min_coverage_any=-1.0)
    return np.array([decide_abstain(f, replace(never, max_unknown=max_unknown)).abstain for f in feats])


def rates(refused: np.ndarray, items: list[dict]) -> dict[str, float]:
    refuse = np.array([it["refuse"] for it in items])
    answerable = np.array([it["kind"] == "answerable" for it in items])
    cats = np.array([it.get("category") or "" for it in items])
    out = {
        "answerable refused": float(refused[answerable].mean()),
        "hard negatives refused": float(refused[~refuse & ~answerable].mean()),
        "out-of-scope refused": float(refused[refuse].mean()),
    }
    for cat in ("adjacent", "other_cloud", "workplace"):
        out[f"  {cat}"] = float(refused[refuse & (cats == cat)].mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"save the model to {SHIPPED.relative_to(ROOT)}")
    parser.add_argument("--drop", default="", help="comma-separated features to leave out")
    args = parser.parse_args()
    if not (DG / "index").exists():
        sys.exit("No whole-guide index: run bench/bench_retrieval.py first (it builds bench/out/dg).")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    items = rows()
    feats = featurise(items)
    names = tuple(n for n in feats[0].model_values() or {} if n not in args.drop.split(","))
    x = np.array([[f.model_values()[n] for n in names] for f in feats])
    y = np.array([it["refuse"] for it in items])
    tune = np.array([it["split"] == "tune" for it in items])
    test = ~tune
    rule = np.array([decide_abstain(f, AbstainPolicy(model=None)).abstain for f in feats])

    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    p_cv = cross_val_predict(model, x[tune], y[tune], cv=folds, method="predict_proba")[:, 1]
    tune_items = [it for it, t in zip(items, tune) if t]
    print(f"tune half: {tune.sum()} questions ({y[tune].sum()} out-of-scope); 5-fold cross-validated:")
    best = None
    for max_unknown in MAX_UNKNOWN:  # ties go to the lower share, then to the lower threshold
        hard = clear_cut(feats, max_unknown)
        for threshold in THRESHOLDS:
            r = rates(hard[tune] | (p_cv >= threshold), tune_items)
            cost = round(r["answerable refused"] + (1 - r["out-of-scope refused"]), 6)
            if max_unknown == AbstainPolicy().max_unknown:
                print(f"  threshold {threshold:.2f}: " + ", ".join(f"{k.strip()} {v:.3f}" for k, v in r.items()))
            if best is None or cost < best[0]:
                best = (cost, threshold, max_unknown)
    best_cost, threshold, max_unknown = best
    hard_arr = clear_cut(feats, max_unknown)
    print(f"(rows above: max_unknown {AbstainPolicy().max_unknown}, as shipped)")
    if max_unknown != AbstainPolicy().max_unknown:
        print(f"NOTE: the tune half prefers max_unknown {max_unknown}; set AbstainPolicy.max_unknown to it")
    print(
        f"chosen max_unknown {max_unknown}, threshold {threshold:.2f} (tune cost {best_cost:.3f}); "
        "hand-set rules on the tune half: "
        + ", ".join(f"{k.strip()} {v:.3f}" for k, v in rates(rule[tune], tune_items).items())
    )

    model.fit(x[tune], y[tune])
    fitted = AbstainModel(
        features=names,
        **AbstainModel.fitted_parts(model[0], model[1]),
        threshold=threshold,
        fitted_on=f"bench/fit_abstain.py: tune half of bench/data/gold ({tune.sum()} questions) over the SageMaker guide",
        min_chunks=MIN_CHUNKS,
    )
    p_test = np.array([fitted.probability(dict(zip(names, row))) for row in x[test]])
    test_items = [it for it, t in zip(items, test) if t]
    print(
        f"TEST half ({test.sum()} questions), model: "
        + ", ".join(
            f"{k.strip()} {v:.3f}" for k, v in rates(hard_arr[test] | (p_test >= threshold), test_items).items()
        )
    )
    print(
        "TEST half, hand-set rules: "
        + ", ".join(f"{k.strip()} {v:.3f}" for k, v in rates(rule[test], test_items).items())
    )
    finish(fitted, SHIPPED, args.write)


def finish(fitted, path: Path, write: bool) -> None:
    """Print a fitted model's standardised weights; with `write`, save it to `path`."""
    print("weights (standardised): " + ", ".join(f"{n} {c:+.2f}" for n, c in zip(fitted.features, fitted.coef)))
    if write:
        path.write_text(fitted.to_json(), encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
