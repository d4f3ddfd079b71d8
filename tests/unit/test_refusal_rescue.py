"""A refusal overturned by a quote that answers directly, and the grammar of chat questions in the evidence check."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chain.evidence import (
    LARGE_COLLECTION,
    AbstainDecision,
    AbstainPolicy,
    EvidenceFeatures,
    decide_abstain,
    evidence_features,
    evidence_terms,
    rescued,
)
from chain.pipeline import ChainOptions, DocentChain
from chain.router import Router
from index.protocol import Parent
from index.retrieval import HybridRetriever, Passage
from tests.contract.index_contract import EMB
from tests.fixtures.qa import MemoryQA
from tests.fixtures.small_index import small_index

RULES = AbstainPolicy(model=None)


def passage(text: str, dense: float = 0.6) -> Passage:
    return Passage(Parent("p1", "guide.md", "Guide", text), 1.0, 0, dense, 1.0, 0, 0)


def stats(df: dict[str, int], chunks: int):
    return lambda terms: ({t: df.get(t, 0) for t in terms}, chunks)


def test_only_never_mentioned_names_are_clear_cut():
    nothing_close = decide_abstain(EvidenceFeatures(top_dense=0.1, coverage=1.0, unknown_specific=0.0), RULES)
    never_mentioned = decide_abstain(EvidenceFeatures(top_dense=0.6, coverage=0.2, unknown_specific=0.8), RULES)
    loosely = decide_abstain(EvidenceFeatures(top_dense=0.3, coverage=0.8, unknown_specific=0.0), RULES)
    assert never_mentioned.clear_cut and not rescued(never_mentioned, 5.0, RULES)
    # chunk cosine is what undersells a one-line answer: "nothing close" may be overturned by a strong quote
    assert nothing_close.abstain and not nothing_close.clear_cut and rescued(nothing_close, 5.0, RULES)
    assert loosely.abstain and not loosely.clear_cut
    assert rescued(loosely, RULES.rescue_support, RULES)
    assert not rescued(loosely, RULES.rescue_support - 0.01, RULES)
    assert not rescued(loosely, None, RULES)
    assert not rescued(loosely, 5.0, replace(RULES, rescue_support=None))
    assert not rescued(AbstainDecision(False, "fine"), 5.0, RULES)


def test_never_is_said_with_any_negation():
    question = "what kind of stuff should i never paste into the tool"
    evidence = [passage("Do not paste passwords or personal data into the tool.")]
    feats = evidence_features(question, evidence, stats({"paste": 2, "tool": 40}, 77))
    assert "never" not in feats.missing_terms and "kind" not in feats.missing_terms
    assert feats.missing_terms == ("stuff",)
    without_negation = evidence_features(question, [passage("Paste passwords into the tool.")], stats({}, 77))
    assert "never" in without_negation.missing_terms


@pytest.mark.parametrize(
    "question, expected",
    [
        ("what kind of stuff should i never paste", ["stuff", "never", "paste"]),
        ("which sorts of files can i upload", ["files", "upload"]),
        ("kind reminder about the sort order", ["kind", "reminder", "sort", "order"]),  # not the question phrase
    ],
)
def test_question_phrase_words_are_not_evidence_terms(question, expected):
    assert evidence_terms(question) == expected


class CountingChain(DocentChain):
    calls = 0

    def _extractive(self, state, passages):
        type(self).calls += 1
        return super()._extractive(state, passages)


def test_chain_answers_a_loosely_related_question_when_one_sentence_answers_it(tmp_path):
    index = small_index(tmp_path / "idx")
    question = "How many days of annual leave do employees get?"
    strict = ChainOptions(top_k=3, abstain=replace(RULES, min_dense=0.99, rescue_support=None))
    refused = DocentChain(HybridRetriever(index, EMB), Router(MemoryQA(), EMB), options=strict).answer_sync(question)
    assert refused.abstained  # the chunks alone do not look close enough under these thresholds
    rescue = replace(strict, abstain=replace(strict.abstain, rescue_support=0.5))
    CountingChain.calls = 0
    chain = CountingChain(HybridRetriever(index, EMB), Router(MemoryQA(), EMB), options=rescue)
    result = chain.answer_sync(question)
    assert not result.abstained and "25" in result.answer
    assert CountingChain.calls == 1  # the quote found for the check is the answer: computed once


def test_chain_does_not_pay_for_the_check_when_it_answers_anyway(tmp_path):
    index = small_index(tmp_path / "idx")
    CountingChain.calls = 0
    chain = CountingChain(HybridRetriever(index, EMB), Router(MemoryQA(), EMB), options=ChainOptions(top_k=3))
    chain.answer_sync("How many days of annual leave do employees get?")
    assert CountingChain.calls == 1  # only the answer's own quote


def test_a_quote_that_answers_nothing_is_a_refusal(tmp_path):
    index = small_index(tmp_path / "idx")
    question = "How many days of annual leave do employees get?"
    answered = make(index, replace(RULES, min_support=None)).answer_sync(question)
    assert not answered.abstained
    refused = make(index, replace(RULES, min_support=50.0)).answer_sync(question)  # no quote scores this high
    assert refused.abstained and "no sentence of the passages answers the question" in refused.answer
    assert refused.confidence <= 0.25 and refused.references  # the closest documents are still shown


def test_the_floor_does_not_apply_to_answers_written_by_a_language_model(tmp_path):
    class Writer:
        backend, model = "fake", "writer"

        def stream(self, messages, params):
            yield "Employees get 25 days of annual leave. [1]"

    index = small_index(tmp_path / "idx")
    chain = DocentChain(
        HybridRetriever(index, EMB),
        Router(MemoryQA(), EMB),
        rag_llm=Writer(),
        options=ChainOptions(top_k=3, abstain=replace(RULES, min_support=50.0)),
    )
    result = chain.answer_sync("How many days of annual leave do employees get?")
    assert not result.abstained and result.llm_called


def make(index, policy: AbstainPolicy) -> DocentChain:
    return DocentChain(
        HybridRetriever(index, EMB), Router(MemoryQA(), EMB), options=ChainOptions(top_k=3, abstain=policy)
    )


def test_the_floor_depends_on_the_collection_size():
    policy = AbstainPolicy()
    assert policy.support_floor(LARGE_COLLECTION) == policy.min_support_large
    assert policy.support_floor(LARGE_COLLECTION - 1) == policy.min_support
    assert policy.support_floor(None) == policy.min_support  # size unknown: the small collections' floor
