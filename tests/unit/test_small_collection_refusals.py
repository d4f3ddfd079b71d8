"""Refusals on small collections: term weights smoothed by general word frequency (chain/evidence.py)."""

from __future__ import annotations

import pytest

from chain.evidence import (
    GENERAL_PRIOR,
    LARGE_COLLECTION,
    AbstainPolicy,
    decide_abstain,
    evidence_features,
    word_ranks,
)
from index.protocol import Parent
from index.retrieval import Passage

RULES = AbstainPolicy(model=None)
TOY_RANKS = {"the": 1, "different": 300, "answer": 1200}


@pytest.fixture
def ranks() -> dict[str, int]:
    found = word_ranks()
    if not found:
        pytest.skip("the packaged MiniLM (its vocabulary) is not installed")
    return found


def passage(text: str, dense: float = 0.6) -> Passage:
    return Passage(Parent("p1", "guide.md", "Guide", text), 1.0, 0, dense, 1.0, 0, 0)


def stats(df: dict[str, int], chunks: int):
    return lambda terms: ({t: df.get(t, 0) for t in terms}, chunks)


def test_word_ranks_follow_general_frequency(ranks):
    assert ranks["the"] == 1
    assert ranks["the"] < ranks["different"] < ranks["twice"] < ranks["azure"]
    assert "databricks" not in ranks and "sagemaker" not in ranks  # names are split into word pieces


def test_absent_everyday_word_weighs_less_than_absent_name_in_a_small_collection(ranks):
    says, name = (GENERAL_PRIOR.specificity(t, 0, 77, ranks) for t in ("says", "quantumboost"))
    assert says < name
    # a domain word found in most of the collection still weighs less than an absent everyday word
    assert GENERAL_PRIOR.specificity("answer", 50, 77, ranks) < says


def test_prior_fades_as_the_collection_grows(ranks):
    def ratio(chunks: int) -> float:  # absent everyday word over absent name: 1 when only the counts speak
        return GENERAL_PRIOR.specificity("says", 0, chunks, ranks) / GENERAL_PRIOR.specificity(
            "zzname", 0, chunks, ranks
        )

    assert ratio(77) < ratio(3_000) < ratio(9_000) <= 1.0


def test_chunk_share_is_a_probability():
    assert GENERAL_PRIOR.chunk_share(1, TOY_RANKS) <= 1.0
    assert GENERAL_PRIOR.chunk_share(None, TOY_RANKS) == GENERAL_PRIOR.chunk_share(len(TOY_RANKS) + 1, TOY_RANKS)
    assert GENERAL_PRIOR.chunk_share(10, TOY_RANKS) > GENERAL_PRIOR.chunk_share(1000, TOY_RANKS)


def test_missing_everyday_words_no_longer_refuse_in_a_small_collection(ranks):
    question = "what should i trust when a reference says something different from the answer"
    evidence = [passage("Trust the reference over the answer: the answer is generated, the reference is quoted.")]
    df = {"trust": 2, "reference": 9, "answer": 50}
    before = evidence_features(question, evidence, stats(df, 77), prior=None)
    after = evidence_features(question, evidence, stats(df, 77))
    assert decide_abstain(before, RULES).abstain
    assert not decide_abstain(after, RULES).abstain
    assert after.coverage > before.coverage


def test_a_name_the_collection_never_mentions_is_still_refused(ranks):
    question = "can the reviewer queue sync with databricks unity catalog"
    evidence = [passage("The reviewer queue lists answers waiting for review, newest first.")]
    feats = evidence_features(question, evidence, stats({"reviewer": 5, "queue": 4, "sync": 1}, 77))
    decision = decide_abstain(feats, RULES)
    assert decision.abstain
    assert "databricks" in feats.missing_terms


def test_large_collections_weigh_terms_as_before(ranks):
    question = "what should i trust when a reference says something different from the answer"
    evidence = [passage("Trust the reference over the answer.")]
    df = {"trust": 40, "reference": 900, "answer": 2000, "says": 30}
    with_prior = evidence_features(question, evidence, stats(df, LARGE_COLLECTION + 5))
    without = evidence_features(question, evidence, stats(df, LARGE_COLLECTION + 5), prior=None)
    assert with_prior == without
