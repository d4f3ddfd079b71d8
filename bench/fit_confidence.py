"""Fit the confidence of quoted answers (chain/confidence_model.json) on the tune half (issue 10, item 5).

Rows: every gold question of bench/data/gold (answerable, routing, out-of-scope) that the chain answers on the
documents route with a quote (the default extractive backend), over the whole-guide index in bench/out/dg
(bench/bench_retrieval.py builds it) with the SageMaker FAQ as the Q&A set. Label: the answer is right, as
`docent eval` scores it (answerable: every key fact in the answer; out-of-scope: refused; routing: the
expected route). Features: the best quote's candidate score (`support`, chain/extractive.py) and the
evidence features (chain/evidence.py). A logistic regression over standardised features (C = 1) is fitted
on the TUNE half; printed: 5-fold cross-validated log loss on the tune half against the earlier formula
(with a Platt map fitted the same way), then the TEST half once (log loss, AUC, ECE over the quoted
answers). With --write saves chain/confidence_model.json.

    .venv/bin/python bench/fit_confidence.py [--write]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fit_abstain import finish  # noqa: E402
from chain.confidence import SHIPPED, ConfidenceModel, quote_values, rag_confidence  # noqa: E402
from chain.evidence import EvidenceFeatures  # noqa: E402
from evaluation.gold import load_gold  # noqa: E402
from evaluation.runner import run_item  # noqa: E402
from evaluation.scoring import calibration  # noqa: E402

GOLD = ROOT / "bench" / "data" / "gold"
DG = ROOT / "bench" / "out" / "dg"
FAQ = ROOT.parent / "shared" / "corpora" / "sagemaker-faq" / "faq_pairs.csv"
FEATURES = ("support", "top_dense", "second_dense", "coverage", "lexical_fraction")
C = 1.0


def build_chain():
    from chain.pipeline import ChainOptions, DocentChain
    from chain.router import Router
    from config.settings import Settings
    from index.embedded import EmbeddedIndex
    from index.embeddings import CachedEmbeddings
    from index.factory import make_embedder
    from index.retrieval import HybridRetriever
    from tests.fixtures.qa import MemoryQA

    settings = Settings(data_dir=DG)
    embedder = CachedEmbeddings(make_embedder(settings), ROOT / "bench" / "out" / "cache" / "rescue.sqlite3")
    qa = MemoryQA()
    with FAQ.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            qa.add(row["instruction"], row["response"])
    retriever = HybridRetriever(EmbeddedIndex(DG / "index"), embedder, candidates=settings.retrieval_candidates)
    router = Router(qa, embedder, threshold=settings.router_threshold)
    return DocentChain(retriever, router, options=ChainOptions(top_k=settings.retrieval_top_k))


def collect() -> list[dict]:
    """One row per quoted documents-route answer: split, label, features, the earlier formula's score."""
    chain = build_chain()
    seen: dict[str, tuple[EvidenceFeatures, float | None, list]] = {}
    final = chain._final

    def record(state, *args, **kwargs):
        choice = state.get("choice")
        seen[state["question"]] = (state.get("evidence"), choice.support if choice else None, state.get("passages"))
        return final(state, *args, **kwargs)

    chain._final = record  # type: ignore[method-assign]
    rows = []
    for name in ("answerable", "routing", "out_of_scope"):
        for item in load_gold(GOLD / f"{name}.jsonl"):
            result = run_item(chain, item)
            features, support, passages = seen.get(item.question, (None, None, None))
            if result.route != "rag" or result.abstained or features is None or support is None:
                continue
            values = quote_values(features, support)
            if values is None:
                continue
            formula = rag_confidence(features, passages or [], False)  # no support: the earlier formula
            rows.append({"split": item.split, "right": result.correct, "values": values, "formula": formula})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"save the model to {SHIPPED.relative_to(ROOT)}")
    args = parser.parse_args()
    if not (DG / "index").exists():
        sys.exit("No whole-guide index: run bench/bench_retrieval.py first (it builds bench/out/dg).")
    if not FAQ.exists():
        sys.exit(f"{FAQ} is missing: this benchmark needs ../shared beside the repo.")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = collect()
    x = np.array([[r["values"][f] for f in FEATURES] for r in rows])
    formula = np.array([[r["formula"]] for r in rows])
    y = np.array([r["right"] for r in rows])
    tune = np.array([r["split"] == "tune" for r in rows])
    test = ~tune
    print(
        f"quoted answers: tune {tune.sum()} ({y[tune].mean():.2f} right), test {test.sum()} ({y[test].mean():.2f} right)"
    )

    def model():
        return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))

    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for label, data in (("earlier formula + Platt", formula), ("quote model", x)):
        p = cross_val_predict(model(), data[tune], y[tune], cv=folds, method="predict_proba")[:, 1]
        print(f"  tune, 5-fold cross-validated {label:24s} log loss {log_loss(y[tune], p):.3f}")

    fitted = model().fit(x[tune], y[tune])
    shipped = ConfidenceModel(
        features=FEATURES,
        **ConfidenceModel.fitted_parts(fitted[0], fitted[1]),
        fitted_on=f"bench/fit_confidence.py: {tune.sum()} quoted answers of the tune half of bench/data/gold over the SageMaker guide",
    )
    platt = model().fit(formula[tune], y[tune])
    print("TEST half:")
    for label, p in (
        ("earlier formula (raw)", formula[test, 0]),
        ("earlier formula + Platt", platt.predict_proba(formula[test])[:, 1]),
        ("quote model", np.array([shipped.probability(dict(zip(FEATURES, v))) for v in x[test]])),
    ):
        ece = calibration(list(p), list(y[test]))["ece"]
        print(f"  {label:24s} log loss {log_loss(y[test], p):.3f}  AUC {roc_auc_score(y[test], p):.3f}  ECE {ece:.3f}")
    finish(shipped, SHIPPED, args.write)


if __name__ == "__main__":
    main()
