"""The fitted refusal model: probability that a question should be refused, from its evidence features.

A logistic regression over standardised features (chain/evidence.py's EvidenceFeatures), fitted by
bench/fit_abstain.py on the tune half of the development sets (answerable questions and in-scope hard
negatives: answer; out-of-scope questions: refuse), with its operating point chosen on cross-validated
predictions. The clear-cut rules (nothing close at all, terms the index never mentions) still come first
in `decide_abstain`; the model decides the rest. Pure NumPy at run time: scikit-learn only fits it.

>>> model = AbstainModel(("top_dense",), mean=(0.5,), scale=(0.1,), coef=(-4.0,), intercept=0.0, threshold=0.5)
>>> round(model.probability({"top_dense": 0.5}), 2), model.probability({"top_dense": 0.3}) > 0.99
(0.5, True)
>>> AbstainModel(("x",), (0.0,), (1.0,), (1.0,), 0.0, 0.5, min_chunks=10_000).applies(5_000)
False
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Self

SHIPPED = Path(__file__).with_name("abstain_model.json")


def logistic(model, values: Mapping[str, float]) -> float:
    """A logistic regression over standardised features: `model` has features, mean, scale, coef, intercept."""
    z = model.intercept + sum(
        c * (float(values[name]) - m) / (s or 1.0)
        for name, m, s, c in zip(model.features, model.mean, model.scale, model.coef)
    )
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


@dataclass(frozen=True)
class LinearModel:
    """A logistic regression over standardised features, read from and written to JSON."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, values: Mapping[str, float]) -> float:
        return logistic(self, values)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Self:
        data = json.loads(text)
        for key in ("features", "mean", "scale", "coef"):
            data[key] = tuple(data[key])
        return cls(**data)

    @staticmethod
    def fitted_parts(scaler, regression) -> dict:
        """mean, scale, coef, intercept of a fitted scikit-learn StandardScaler + LogisticRegression, rounded."""
        return {
            "mean": tuple(round(float(v), 6) for v in scaler.mean_),
            "scale": tuple(round(float(v), 6) for v in scaler.scale_),
            "coef": tuple(round(float(v), 6) for v in regression.coef_[0]),
            "intercept": round(float(regression.intercept_[0]), 6),
        }


@dataclass(frozen=True)
class AbstainModel(LinearModel):
    threshold: float  # refuse at or above this probability
    fitted_on: str = ""
    # The collection size (chunks) from which the model applies. It was fitted on one large collection
    # (the SageMaker guide, 19.6k chunks); on the 60-chunk demo knowledge base it refused half the answerable
    # questions, so smaller collections keep the hand-set rules.
    min_chunks: int = 0

    def applies(self, chunks: int | None) -> bool:
        return chunks is not None and chunks >= self.min_chunks


@lru_cache(maxsize=1)
def shipped_model() -> AbstainModel | None:
    """The model in chain/abstain_model.json, or None when it is missing (the hand-set rules then decide)."""
    return AbstainModel.from_json(SHIPPED.read_text(encoding="utf-8")) if SHIPPED.exists() else None
