"""The tuned decision modules, with the cases that set their thresholds (docs/decisions.md,
docs/confidence.md, docs/benchmarks.md). Pure functions over plain data: no index, no model."""

from __future__ import annotations

import pytest

from chain.condense import condense_fallback, looks_like_follow_up
from chain.confidence import HIGH, MEDIUM, band, finetuned_confidence
from chain.evidence import AbstainPolicy, EvidenceFeatures, decide_abstain
from index.fusion import FusionWeights, fuse_children
from index.protocol import ChildHit
from ingest.splitter import pack


# --- fusion: convex 0.7 x cosine + 0.3 x BM25 / best BM25 (beat RRF on the dev set) ---------------
def test_convex_fusion_weighs_cosine_and_normalised_bm25():
    lexical = [ChildHit("a", "pa", 12.0), ChildHit("b", "pb", 6.0)]
    dense = [ChildHit("b", "pb", 0.80), ChildHit("a", "pa", 0.50)]
    scores = fuse_children(lexical, dense, FusionWeights())
    assert scores["a"] == pytest.approx(0.7 * 0.50 + 0.3 * 1.0)
    assert scores["b"] == pytest.approx(0.7 * 0.80 + 0.3 * 0.5)


def test_a_chunk_missing_from_the_dense_list_gets_the_lowest_cosine_seen_not_zero():
    lexical = [ChildHit("lex-only", "p1", 9.0)]
    dense = [ChildHit("d1", "p2", 0.9), ChildHit("d2", "p3", 0.4)]
    scores = fuse_children(lexical, dense, FusionWeights())
    assert scores["lex-only"] == pytest.approx(0.7 * 0.4 + 0.3 * 1.0)
    assert scores["d2"] == pytest.approx(0.7 * 0.4)  # and one missing from BM25 gets 0 there


def test_rrf_mode_is_rank_based():
    lexical = [ChildHit("a", "p", 100.0), ChildHit("b", "p", 1.0)]
    scores = fuse_children(lexical, [], FusionWeights(mode="rrf"))
    assert scores["a"] == pytest.approx(1 / 61) and scores["b"] == pytest.approx(1 / 62)


# --- splitter: chunks cut at natural boundaries, never over size, overlap carried -------------------
def test_pack_never_exceeds_the_size_and_keeps_every_sentence():
    text = " ".join(f"Sentence number {i} says something useful." for i in range(40))
    chunks = pack(text, 200, overlap=60)
    assert all(len(c) <= 200 for c in chunks)
    for i in range(40):
        assert any(f"Sentence number {i} says" in c for c in chunks)


def test_pack_repeats_the_previous_sentence_as_overlap():
    text = "First fact here. Second fact here. Third fact here. Fourth fact here."
    chunks = pack(text, 40, overlap=20)
    assert len(chunks) > 1
    assert chunks[1].startswith(chunks[0].splitlines()[-1])


# --- evidence: abstention thresholds (AbstainPolicy) ------------------------------------------------
def features(**kw) -> EvidenceFeatures:
    base = dict(top_dense=0.6, coverage=1.0, unknown_specific=0.0, missing_terms=(), missing_names=False)
    return EvidenceFeatures(**{**base, **kw})


def test_answers_when_the_passages_cover_the_question():
    assert decide_abstain(features()).abstain is False


def test_refuses_when_nothing_is_close():
    p = AbstainPolicy()
    assert decide_abstain(features(top_dense=p.hard_min_dense - 0.01)).abstain
    assert not decide_abstain(features(top_dense=p.hard_min_dense + 0.11)).abstain


def test_refuses_names_the_index_never_mentions():
    p = AbstainPolicy()
    decision = decide_abstain(features(unknown_specific=p.max_unknown + 0.05, missing_terms=("quantumboost",)))
    assert decision.abstain and "quantumboost" in decision.reason


def test_missing_names_weigh_more_than_missing_everyday_words():
    p = AbstainPolicy()
    between = (p.min_coverage_any + p.min_coverage) / 2
    assert decide_abstain(features(coverage=between, missing_names=True, missing_terms=("sagemaker",))).abstain
    assert not decide_abstain(features(coverage=between, missing_names=False, missing_terms=("fly",))).abstain


def test_low_cosine_answers_only_with_every_distinctive_term_present():
    p = AbstainPolicy()
    low = p.min_dense - 0.02
    assert decide_abstain(features(top_dense=low, coverage=0.8)).abstain
    assert not decide_abstain(features(top_dense=low, coverage=1.0)).abstain


def test_spreadsheet_rows_get_lower_cosine_thresholds():
    p = AbstainPolicy()
    low = p.min_dense - p.tabular_offset / 2
    assert decide_abstain(features(top_dense=low, coverage=0.8)).abstain
    assert not decide_abstain(features(top_dense=low, coverage=0.8, tabular=True)).abstain


# --- confidence bands --------------------------------------------------------------------------------
def test_bands_follow_the_documented_cut_points():
    assert band(HIGH) == "high" and band(HIGH - 0.01) == "medium"
    assert band(MEDIUM) == "medium" and band(MEDIUM - 0.01) == "low"
    assert finetuned_confidence(1.7) == 1.0 and finetuned_confidence(-0.2) == 0.0


# --- condense: follow-ups carry the previous question's terms ----------------------------------------
def test_follow_up_openers_and_short_pronoun_questions_are_follow_ups():
    assert looks_like_follow_up("and for minor ones?")
    assert looks_like_follow_up("what about it?")
    assert not looks_like_follow_up("how many days of annual leave do employees get")


def test_a_follow_up_carries_the_previous_terms_and_a_new_question_does_not():
    previous = ["what is the first response time for critical incidents"]
    assert "critical" in condense_fallback("and for major ones?", previous)
    new = "how many days of annual leave do employees get"
    assert condense_fallback(new, previous) == new


# --- the fitted refusal model (chain/abstain_model.json, bench/fit_abstain.py) ----------------------------


def _model(threshold=0.5, min_chunks=0):
    from chain.abstain_model import AbstainModel

    # one feature: the refusal probability falls as the best passage's cosine rises (0.5 at 0.5)
    return AbstainModel(("top_dense",), (0.5,), (0.1,), (-4.0,), 0.0, threshold, min_chunks=min_chunks)


def large(**kw):
    return features(second_dense=0.4, lexical_fraction=0.5, chunks=20_000, **kw)


def test_the_model_decides_between_the_clear_cut_rules():
    policy = AbstainPolicy(model=_model())
    assert decide_abstain(large(top_dense=0.45), policy).abstain  # probability 0.73
    assert not decide_abstain(large(top_dense=0.55), policy).abstain  # 0.27
    # the clear-cut rules still come first: names the index never mentions
    assert decide_abstain(large(top_dense=0.9, unknown_specific=0.9, missing_terms=("zork",)), policy).abstain


def test_the_model_names_the_missing_terms_in_its_reason():
    decision = decide_abstain(large(top_dense=0.4, missing_terms=("databricks",)), AbstainPolicy(model=_model()))
    assert decision.abstain and "databricks" in decision.reason


def test_small_collections_and_missing_statistics_keep_the_hand_set_rules():
    policy = AbstainPolicy(model=_model(min_chunks=10_000))
    small = features(top_dense=0.45, second_dense=0.4, lexical_fraction=0.5, chunks=60)
    assert decide_abstain(small, policy) == decide_abstain(small, AbstainPolicy(model=None))
    no_stats = features(top_dense=0.45)  # no second passage or index statistics known
    assert decide_abstain(no_stats, AbstainPolicy(model=_model())) == decide_abstain(
        no_stats, AbstainPolicy(model=None)
    )


def test_the_shipped_model_reads_exactly_the_features_the_chain_computes():
    from chain.abstain_model import shipped_model

    model = shipped_model()
    assert model is not None and model.min_chunks > 0
    assert set(model.features) == set(large().model_values())
    assert len(model.mean) == len(model.scale) == len(model.coef) == len(model.features)
    assert 0 < model.threshold < 1
