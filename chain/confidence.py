"""Confidence in [0, 1] and its band. Pure functions; docs/confidence.md explains the formulas.

Fine-tuned route: the router's score (a logistic combination of question and answer similarity and
the term gap), i.e. how sure the router is that the pair answers the question.

RAG route, answers quoted from the documents (the extractive backend): the probability that the quote is
right, from a logistic regression (chain/confidence_model.json, fitted by bench/fit_confidence.py on the
guide's tune half) over how directly the best quote answers (its candidate score, chain/extractive.py)
and the evidence features (best and second passage cosine, coverage, lexical fraction). The quote's
score carries most of it: a wrong quote is usually a weak one even when the passages look close.

RAG route, answers written by a language model (or without the model file): evidence strength and agreement:
    strength  = clip((top_dense - 0.25) / 0.50, 0, 1)       best chunk's cosine, rescaled
    coverage  = share of the question's distinctive terms found in the evidence
    agreement = 1 if the top passage ranks first lexically *and* densely,
                otherwise the share of the top 3 passages coming from the same source as the first
    confidence = 0.45 * strength + 0.35 * coverage + 0.20 * agreement
An abstention reports the same number capped at 0.25: the documents do not answer.

>>> band(0.82), band(0.55), band(0.1)
('high', 'medium', 'low')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from chain.abstain_model import LinearModel
from chain.evidence import EvidenceFeatures
from index.retrieval import Passage

SHIPPED = Path(__file__).with_name("confidence_model.json")
HIGH = 0.70
MEDIUM = 0.40


def band(confidence: float) -> Literal["high", "medium", "low"]:
    return "high" if confidence >= HIGH else "medium" if confidence >= MEDIUM else "low"


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


def agreement(passages: Sequence[Passage]) -> float:
    if not passages:
        return 0.0
    top = passages[0]
    if top.lexical_rank == 0 and top.dense_rank == 0:
        return 1.0
    head = passages[:3]
    return sum(1 for p in head if p.parent.source == top.parent.source) / len(head)


@dataclass(frozen=True)
class ConfidenceModel(LinearModel):
    """P(right) of a quoted answer: a logistic regression over standardised features (see the module doc)."""

    fitted_on: str = ""


@lru_cache(maxsize=1)
def shipped_confidence_model() -> ConfidenceModel | None:
    """chain/confidence_model.json, or None when it is missing (the formula then scores every answer)."""
    return ConfidenceModel.from_json(SHIPPED.read_text(encoding="utf-8")) if SHIPPED.exists() else None


def quote_values(features: EvidenceFeatures, support: float) -> dict[str, float] | None:
    """What the confidence model reads for a quoted answer, or None when an evidence feature is unknown."""
    values = features.model_values()
    if values is None:
        return None
    return {**values, "support": support}


def rag_confidence(
    features: EvidenceFeatures,
    passages: Sequence[Passage],
    abstained: bool,
    support: float | None = None,
    model: ConfidenceModel | None = None,
) -> float:
    """`support`: the best quote's candidate score when the answer is quoted (None: written by an LLM);
    `model`: the quote model (default: the shipped one)."""
    model = model or shipped_confidence_model()
    values = quote_values(features, support) if support is not None and not abstained else None
    if model is not None and values is not None:
        return round(model.probability(values), 4)
    strength = _clip((features.top_dense - 0.25) / 0.50)
    value = 0.45 * strength + 0.35 * _clip(features.coverage) + 0.20 * agreement(passages)
    return round(min(value, 0.25) if abstained else value, 4)


def finetuned_confidence(route_score: float) -> float:
    return round(_clip(route_score), 4)
