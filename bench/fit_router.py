"""Fit the router's logistic model on the tune half of bench/data/gold/routing.jsonl (issue 10).

Embeds the routing questions and the FAQ pairs (../shared/corpora/sagemaker-faq/faq_pairs.csv) once
with the packaged MiniLM and caches the vectors in bench/out/fit_router_vectors.npz; features are
recomputed from the vectors (cheap), so changing a feature does not re-embed. Prints 5-fold
cross-validated figures on the tune half, the threshold chosen on the tune half, then the final
figures on the TEST half by variant, and writes chain/router_weights.json (--write).

    PYTHONPATH=$PWD .venv/bin/python bench/fit_router.py [--write]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chain.router import FEATURE_NAMES, WEIGHTS_FILE, Router, route_score  # noqa: E402
from tests.fixtures.qa import MemoryQA  # noqa: E402

FAQ = ROOT.parent / "shared" / "corpora" / "sagemaker-faq" / "faq_pairs.csv"
GOLD = ROOT / "bench" / "data" / "gold" / "routing.jsonl"
CACHE = ROOT / "bench" / "out" / "fit_router_vectors.npz"
C = 1.0  # L2 strength: small data (about 155 rows), keep the model plain


def load():
    for path in (FAQ, GOLD):
        if not path.exists():
            sys.exit(f"{path} is missing: fit_router needs the FAQ pairs and the routing gold set.")
    with FAQ.open(encoding="utf-8") as fh:
        pairs = [(r["instruction"], r["response"]) for r in csv.DictReader(fh)]
    items = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pairs, items


class FrozenEmbeddings:
    """Serves vectors computed once (cached on disk) so refitting never runs the model again."""

    def __init__(self, texts: list[str]):
        key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()
        if CACHE.exists():
            data = np.load(CACHE, allow_pickle=False)
            if str(data["key"]) == key:
                self._vec = dict(zip(texts, data["vectors"]))
                self.dim = data["vectors"].shape[1]
                return
        from index.embeddings import LocalEmbeddings

        vectors = LocalEmbeddings().embed_documents(texts)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(CACHE, key=key, vectors=vectors)
        self._vec = dict(zip(texts, vectors))
        self.dim = vectors.shape[1]

    def embed_documents(self, texts):
        return np.array([self._vec[t] for t in texts], dtype=np.float32)

    def embed_query(self, text):
        return self._vec[text]


def feature_rows(pairs, items):
    texts = list(dict.fromkeys([q for q, _ in pairs] + [a[:1000] for _, a in pairs] + [it["question"] for it in items]))
    emb = FrozenEmbeddings(texts)
    qa = MemoryQA()
    for q, a in pairs:
        qa.add(q, a)
    router = Router(qa, emb)
    router.refresh()
    X, picked = [], []
    for it in items:
        d = router.route(it["question"], emb.embed_query(it["question"]))
        X.append([getattr(d.features, f) for f in FEATURE_NAMES])
        picked.append(d.pair.question)
    y = np.array([it["expected_route"] == "finetuned" for it in items], dtype=int)
    return np.array(X), y, picked


def fit(X, y):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=5000).fit(X, y)


def to_weights(model) -> dict[str, float]:
    w = {"bias": float(model.intercept_[0])}
    w.update({f: float(c) for f, c in zip(FEATURE_NAMES, model.coef_[0])})
    return w


def correct(items, picked, scores, threshold):
    """Right when the route matches and, routed to a pair, it is the pair the case names."""
    out = []
    for it, p, s in zip(items, picked, scores):
        ft = s >= threshold
        want = it["expected_route"] == "finetuned"
        out.append(ft == want and (not ft or it.get("pair") in (None, p)))
    return np.array(out)


def choose_threshold(items, picked, scores):
    """Best mean per-variant accuracy (the targets are per variant); ties go to the middle."""
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    variants = sorted({it["variant"] for it in items})
    vs = np.array([it["variant"] for it in items])

    def value(t):
        ok = correct(items, picked, scores, t)
        return min(ok[vs == v].mean() for v in variants) + ok.mean()

    vals = np.array([value(t) for t in grid])
    best = np.flatnonzero(vals >= vals.max() - 1e-9)
    return float(grid[best[len(best) // 2]])


def report(title, items, picked, scores, threshold):
    ok = correct(items, picked, scores, threshold)
    vs = np.array([it["variant"] for it in items])
    parts = [f"{v} {ok[vs == v].mean():.3f} ({ok[vs == v].sum()}/{(vs == v).sum()})" for v in sorted(set(vs))]
    print(f"{title}: overall {ok.mean():.3f} ({ok.sum()}/{len(ok)}); " + ", ".join(parts))
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", action="store_true", help=f"write the fitted model to {WEIGHTS_FILE}")
    args = ap.parse_args()
    pairs, items = load()
    X, y, picked = feature_rows(pairs, items)
    tune = np.array([it["split"] == "tune" for it in items])
    ti = [it for it, t in zip(items, tune) if t]
    tp = [p for p, t in zip(picked, tune) if t]
    print(f"FAQ pairs {len(pairs)}; routing cases {len(items)} (tune {tune.sum()}, test {(~tune).sum()})")

    from chain.router import WEIGHTS as OLD

    old = [route_score(_feats(x), OLD) for x in X]
    report(
        "previous router (shipped before this fit), test half",
        [it for it, t in zip(items, tune) if not t],
        [p for p, t in zip(picked, tune) if not t],
        np.array(old)[~tune],
        0.5,
    )

    from sklearn.model_selection import StratifiedKFold

    cv_scores = np.zeros(tune.sum())
    Xt, yt = X[tune], y[tune]
    for train, held in StratifiedKFold(5, shuffle=True, random_state=0).split(Xt, yt):
        cv_scores[held] = fit(Xt[train], yt[train]).predict_proba(Xt[held])[:, 1]
    threshold = choose_threshold(ti, tp, cv_scores)
    report(f"5-fold CV on tune half (out-of-fold scores, threshold {threshold})", ti, tp, cv_scores, threshold)

    model = fit(Xt, yt)
    weights = to_weights(model)
    print("weights:", json.dumps({k: round(v, 3) for k, v in weights.items()}))
    scores = model.predict_proba(X)[:, 1]
    report("fitted on tune half, tune half", ti, tp, scores[tune], threshold)
    test_items = [it for it, t in zip(items, tune) if not t]
    test_picked = [p for p, t in zip(picked, tune) if not t]
    ok = report("TEST half", test_items, test_picked, scores[~tune], threshold)
    for it, p, s, good in zip(test_items, test_picked, scores[~tune], ok):
        if not good:
            print(f"  MISS {it['variant']:13s} score {s:.2f} q={it['question']!r} nearest={p!r}")
    if args.write:
        WEIGHTS_FILE.write_text(
            json.dumps(
                {
                    "weights": {k: round(v, 4) for k, v in weights.items()},
                    "threshold": threshold,
                    "fitted_on": "bench/data/gold/routing.jsonl split=tune",
                    "by": "bench/fit_router.py",
                },
                indent=1,
            )
            + "\n",
            encoding="utf-8",
        )
        print(f"wrote {WEIGHTS_FILE}")


def _feats(x):
    from chain.router import RouteFeatures

    return RouteFeatures(**dict(zip(FEATURE_NAMES, map(float, x))))


if __name__ == "__main__":
    main()
