"""Confidence of quoted answers: the fitted quote model (chain/confidence_model.json) and its fallbacks."""

from __future__ import annotations

from chain.confidence import ConfidenceModel, quote_values, rag_confidence, shipped_confidence_model
from chain.evidence import EvidenceFeatures
from index.protocol import Parent
from index.retrieval import Passage

FEATS = EvidenceFeatures(0.55, 0.8, 0.0, second_dense=0.5, lexical_fraction=0.6, chunks=100)
PASSAGES = [Passage(Parent("p1", "guide.md", "Guide", "text"), 1.0, 0, 0.55, 1.0, 0, 0)]
TOY = ConfidenceModel(("support",), mean=(1.0,), scale=(0.5,), coef=(2.0,), intercept=0.0)


def test_shipped_model_reads_what_the_chain_provides():
    model = shipped_confidence_model()
    assert model is not None
    values = quote_values(FEATS, 1.2)
    assert values is not None and set(model.features) <= set(values)
    assert 0.0 < model.probability(values) < 1.0
    assert ConfidenceModel.from_json(model.to_json()) == model


def test_a_stronger_quote_is_more_likely_right():
    weak, strong = (rag_confidence(FEATS, PASSAGES, False, s) for s in (0.6, 1.8))
    assert weak < strong
    assert rag_confidence(FEATS, PASSAGES, False, 1.0, model=TOY) == 0.5


def test_llm_answers_and_refusals_keep_the_evidence_formula():
    llm = rag_confidence(FEATS, PASSAGES, False)  # no quote: written by a language model
    assert llm == rag_confidence(FEATS, PASSAGES, False, None, model=TOY)
    assert rag_confidence(FEATS, PASSAGES, True, 3.0, model=TOY) <= 0.25  # a refusal is capped, quote or not


def test_without_index_statistics_the_formula_scores_the_quote():
    unknown = EvidenceFeatures(0.55, 0.8, 0.0)  # no second passage, no lexical fraction
    assert quote_values(unknown, 1.0) is None
    assert rag_confidence(unknown, PASSAGES, False, 1.0, model=TOY) == rag_confidence(unknown, PASSAGES, False)
