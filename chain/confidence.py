"""Confidence in [0, 1] and its band. Pure functions; docs/confidence.md explains the formulas.

Fine-tuned route: the router's score (a logistic combination of question and answer similarity and
the term gap), i.e. how sure the router is that the pair answers the question.

RAG route: evidence strength and agreement:
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
from typing import Literal

from chain.evidence import EvidenceFeatures
from index.retrieval import Passage

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


def rag_confidence(features: EvidenceFeatures, passages: Sequence[Passage], abstained: bool) -> float:
    strength = _clip((features.top_dense - 0.25) / 0.50)
    value = 0.45 * strength + 0.35 * _clip(features.coverage) + 0.20 * agreement(passages)
    return round(min(value, 0.25) if abstained else value, 4)


def finetuned_confidence(route_score: float) -> float:
    return round(_clip(route_score), 4)
