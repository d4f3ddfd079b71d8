"""Router model (issue 10): features and the JSON weights, on cases from the routing tune half."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from chain.router import (
    DEFAULT_THRESHOLD,
    FEATURE_NAMES,
    WEIGHTS,
    RouteFeatures,
    Router,
    TermSpecificity,
    length_ratio,
    load_weights,
    route_score,
    shared_specific,
)
from tests.fixtures.qa import MemoryQA

PAIRS = [
    (
        "What Data Types Does SageMaker Data Wrangler Support?",
        "Data Wrangler supports tabular, time series and image data.",
    ),
    ("How much Does Automatic Model Tuning Cost?", "You pay for the training jobs the tuning job launches."),
    (
        "What Does SageMaker Role Manager Do?",
        "You can define minimum permissions in minutes with SageMaker Role Manager.",
    ),
]
SPEC = TermSpecificity([f"{q} {a}" for q, a in PAIRS])


def test_shipped_weights_file_loads_and_names_only_known_features():
    weights, threshold = load_weights()
    assert set(weights) - {"bias"} <= set(FEATURE_NAMES)
    assert 0.0 < threshold < 1.0
    assert (weights, threshold) == (WEIGHTS, DEFAULT_THRESHOLD)


def test_weights_for_an_unknown_feature_are_refused(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"weights": {"bias": 0.0, "colour": 1.0}, "threshold": 0.5}))
    with pytest.raises(ValueError, match="colour"):
        load_weights(path)


def test_route_score_is_the_logistic_of_the_json_weights():
    f = RouteFeatures(
        question_sim=1.0, answer_sim=0.0, missing_specific=0.0, pair_missing=0.0, shared_specific=0.5, length_ratio=1.0
    )
    assert route_score(f, {"bias": -1.0, "question_sim": 1.0, "shared_specific": 2.0}) == pytest.approx(
        1 / (1 + np.exp(-1.0))
    )


def test_shared_specific_weights_the_rare_terms_a_paraphrase_keeps():
    # tune half, heavy paraphrase of the Role Manager pair vs a question sharing only common words
    pair = PAIRS[2][0]
    para = shared_specific("what's the purpose of sagemaker role manager?", pair, SPEC)
    other = shared_specific("what does sagemaker canvas do?", pair, SPEC)
    assert para > other
    assert shared_specific("", "", SPEC) == 0.0


def test_length_ratio():
    assert length_ratio("a b", "a b c d") == 0.5
    assert length_ratio("", "") == 1.0


class _ToyEmbedder:
    """Bag of words over a fixed vocabulary: enough to exercise the router's arithmetic."""

    model_id, dim = "toy", 64

    def _vec(self, text):
        v = np.zeros(self.dim, dtype=np.float32)
        for w in text.lower().replace("?", " ").split():
            v[zlib.crc32(w.encode()) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts):
        return np.array([self._vec(t) for t in texts], dtype=np.float32)

    def embed_query(self, text):
        return self._vec(text)


def test_router_fills_the_new_features_for_the_chosen_pair():
    qa = MemoryQA()
    for q, a in PAIRS:
        qa.add(q, a)
    emb = _ToyEmbedder()
    router = Router(qa, emb)
    q = "how much does automatic model tuning cost on top of training"
    d = router.route(q, emb.embed_query(q))
    assert d.pair.question == PAIRS[1][0]
    f = d.features
    assert f.selection_margin > 0  # the chosen pair is ahead of the others
    assert 0 < f.shared_specific <= 1
    assert f.length_ratio == pytest.approx(7 / 11)
    assert d.threshold == DEFAULT_THRESHOLD
