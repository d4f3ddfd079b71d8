"""The semantic router: does a question ask what a fine-tuning pair answers?

One similarity is not enough evidence (a question about a *different* feature worded like a pair
looks close; a heavy paraphrase looks far). The router therefore looks at the nearest pairs by
question similarity *and* answer similarity, and at the content terms that differ between the
question and the pair: a specific term of the question that the pair never mentions (another
product, instance family, feature) is strong evidence against the pair. The features are plain
numbers combined by `route_score`, a logistic model whose weights and threshold live in
chain/router_weights.json, fitted by bench/fit_router.py on the tune half of the routing dev set
(so refitting never means editing code).

>>> feats = RouteFeatures(question_sim=0.93, answer_sim=0.6, missing_specific=0.0, pair_missing=0.0,
...                       question_margin=0.2, selection_margin=0.3, shared_specific=0.8, length_ratio=0.9)
>>> route_score(feats) > DEFAULT_THRESHOLD
True
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol

import numpy as np

from chain.types import Route
from index.embeddings import Embedder
from index.text import query_terms

WEIGHTS_FILE = Path(__file__).with_name("router_weights.json")


class QAPairLike(Protocol):
    pair_id: str
    question: str
    answer: str


class QASource(Protocol):
    """Where the fine-tuning set lives (the feedback store implements this)."""

    def list_qa_pairs(self) -> list: ...

    def qa_version(self) -> str: ...


@dataclass
class RouteFeatures:
    question_sim: float  # cosine(question, pair question)
    answer_sim: float  # cosine(question, pair answer)
    missing_specific: float  # specificity mass of question terms absent from the pair (0..1)
    pair_missing: float  # specificity mass of pair-question terms absent from the question (0..1)
    question_margin: float = 0.0  # question_sim minus the best question_sim of the other pairs
    # issue 10: features that separate heavy paraphrases from hard negatives
    selection_margin: float = 0.0  # selection score minus the second-best pair's selection score
    shared_specific: float = 0.0  # IDF-weighted overlap (Jaccard) of the question's and pair's terms
    length_ratio: float = 1.0  # shorter / longer of question and pair question, in words


@dataclass
class RouteDecision:
    route: Route
    score: float  # in [0, 1]; >= threshold means finetuned
    threshold: float
    pair: object | None  # the matched pair (nearest by question), even when routed to RAG
    similarity: float  # cosine of question and matched pair question
    features: RouteFeatures | None


FEATURE_NAMES = tuple(f.name for f in fields(RouteFeatures))


def load_weights(path: Path = WEIGHTS_FILE) -> tuple[dict[str, float], float]:
    """Weights and threshold from the JSON written by bench/fit_router.py.

    A weight for a feature RouteFeatures lacks means the file and the code disagree: fail loudly
    rather than silently ignore part of the model."""
    data = json.loads(path.read_text(encoding="utf-8"))
    weights = {k: float(v) for k, v in data["weights"].items()}
    unknown = set(weights) - set(FEATURE_NAMES) - {"bias"}
    if unknown:
        raise ValueError(f"{path}: weights for unknown features {sorted(unknown)}; refit with bench/fit_router.py")
    return weights, float(data["threshold"])


WEIGHTS, DEFAULT_THRESHOLD = load_weights()


def route_score(f: RouteFeatures, weights: dict[str, float] | None = None) -> float:
    w = weights or WEIGHTS
    z = w.get("bias", 0.0) + sum(v * getattr(f, k) for k, v in w.items() if k != "bias")
    z = max(-60.0, min(60.0, z))
    return 1.0 / (1.0 + math.exp(-z))


def selection_score(question_sim: float, answer_sim: float) -> float:
    """Which pair a question is closest to: its question, and (less) its answer."""
    return float(question_sim) + 0.5 * float(answer_sim)


def _stem(term: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if term.endswith(suffix) and len(term) - len(suffix) >= 3:
            return term[: -len(suffix)]
    return term


class TermSpecificity:
    """Inverse document frequency over a text collection (the pairs, and whatever else is added).

    A term never seen gets the highest specificity: it names something the collection lacks."""

    def __init__(self, texts: Sequence[str]):
        self.n = max(len(texts), 1)
        self.df: dict[str, int] = {}
        for text in texts:
            for term in {_stem(t) for t in query_terms(text)}:
                self.df[term] = self.df.get(term, 0) + 1
        self.max_idf = math.log(1 + self.n)

    def idf(self, term: str) -> float:
        return math.log(1 + self.n / (1 + self.df.get(_stem(term), 0)))

    def weight(self, term: str) -> float:
        """Specificity in (0, 1]; everyday words (see chain.evidence.common_words) count less."""
        from chain.evidence import COMMON_WORD_WEIGHT, common_words

        prior = COMMON_WORD_WEIGHT if term in common_words() else 1.0
        return prior * self.idf(term) / self.max_idf


def term_gap(question: str, pair_text: str, spec: TermSpecificity) -> float:
    """Share of the question's specificity mass whose terms `pair_text` lacks (0 = all covered)."""
    terms = query_terms(question)
    if not terms:
        return 0.0
    have = {_stem(t) for t in query_terms(pair_text)}
    total = sum(spec.weight(t) for t in terms)
    missing = sum(spec.weight(t) for t in terms if _stem(t) not in have)
    return missing / total if total else 0.0


def shared_specific(question: str, pair_text: str, spec: TermSpecificity) -> float:
    """IDF-weighted Jaccard overlap of two texts' terms: shared distinctive terms count most.

    A heavy paraphrase still shares the rare terms (the product, the feature); a hard negative
    shares the common ones but adds or swaps the rare ones."""
    a = {_stem(t): t for t in query_terms(question)}
    b = {_stem(t): t for t in query_terms(pair_text)}
    union = set(a) | set(b)
    if not union:
        return 0.0
    weight = {k: spec.idf(a.get(k) or b[k]) for k in union}
    return sum(weight[k] for k in set(a) & set(b)) / sum(weight.values())


def length_ratio(question: str, other: str) -> float:
    la, lb = len(question.split()), len(other.split())
    return min(la, lb) / max(la, lb) if max(la, lb) else 1.0


class Router:
    """Nearest fine-tuning pair + a decision. Pair embeddings are rebuilt only when the set changes.

    >>> # router = Router(store, embedder); router.route("how much does it cost?", vector)
    """

    def __init__(self, qa_source: QASource, embedder: Embedder, threshold: float | None = None, candidates: int = 5):
        self.qa_source = qa_source
        self.embedder = embedder
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.candidates = candidates
        self._lock = threading.Lock()
        self._version: str | None = None
        self._pairs: list = []
        self._q_vectors: np.ndarray = np.zeros((0, embedder.dim), dtype=np.float32)
        self._a_vectors: np.ndarray = np.zeros((0, embedder.dim), dtype=np.float32)
        self._spec = TermSpecificity([])

    def refresh(self) -> None:
        version = self.qa_source.qa_version()
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            pairs = list(self.qa_source.list_qa_pairs())
            self._q_vectors = (
                self.embedder.embed_documents([p.question for p in pairs])
                if pairs
                else np.zeros((0, self.embedder.dim), dtype=np.float32)
            )
            self._a_vectors = (
                self.embedder.embed_documents([p.answer[:1000] for p in pairs])
                if pairs
                else np.zeros((0, self.embedder.dim), dtype=np.float32)
            )
            self._spec = TermSpecificity([f"{p.question} {p.answer}" for p in pairs])
            self._pairs = pairs
            self._version = version

    @property
    def size(self) -> int:
        self.refresh()
        return len(self._pairs)

    def features(
        self,
        question: str,
        vector: np.ndarray,
        i: int,
        q_sims: np.ndarray | None = None,
        a_sims: np.ndarray | None = None,
    ) -> RouteFeatures:
        pair = self._pairs[i]
        q_sims = self._q_vectors @ vector if q_sims is None else q_sims
        a_sims = self._a_vectors @ vector if a_sims is None else a_sims
        others: np.ndarray = np.delete(q_sims, i)
        sel = q_sims + 0.5 * a_sims  # selection_score over all pairs, vectorised
        sel_others: np.ndarray = np.delete(sel, i)
        return RouteFeatures(
            question_sim=float(q_sims[i]),
            answer_sim=float(a_sims[i]),
            missing_specific=term_gap(question, f"{pair.question} {pair.answer}", self._spec),
            pair_missing=term_gap(pair.question, question, self._spec),
            question_margin=float(q_sims[i] - others.max()) if len(others) else float(q_sims[i]),
            selection_margin=float(sel[i] - sel_others.max()) if len(sel_others) else float(sel[i]),
            shared_specific=shared_specific(question, pair.question, self._spec),
            length_ratio=length_ratio(question, pair.question),
        )

    def candidates_for(self, vector: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Pairs worth scoring: nearest by question and nearest by answer."""
        q_sims = self._q_vectors @ vector
        a_sims = self._a_vectors @ vector
        n = min(self.candidates, len(self._pairs))
        idx = list(dict.fromkeys(np.argsort(-q_sims)[:n].tolist() + np.argsort(-a_sims)[:2].tolist()))
        return idx, q_sims, a_sims

    def route(self, question: str, vector: np.ndarray) -> RouteDecision:
        """Pick the nearest pair (by question, then answer similarity) and decide whether it answers."""
        self.refresh()
        if not self._pairs:
            return RouteDecision("rag", 0.0, self.threshold, None, 0.0, None)
        idx, q_sims, a_sims = self.candidates_for(vector)
        best_i = max(idx, key=lambda i: selection_score(float(q_sims[i]), float(a_sims[i])))
        best_feats = self.features(question, vector, best_i, q_sims, a_sims)
        best_score = route_score(best_feats)
        route: Route = "finetuned" if best_score >= self.threshold else "rag"
        return RouteDecision(route, best_score, self.threshold, self._pairs[best_i], float(q_sims[best_i]), best_feats)
