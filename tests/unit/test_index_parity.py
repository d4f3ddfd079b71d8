"""The same question gets the same evidence decision on the embedded and the OpenSearch index.

Before the capabilities were declared, the chain looked `term_stats` and `similar_terms` up with
getattr; OpenSearch lacked them, so its evidence check ran without term statistics and answered
questions about names the documents never mention (the embedded index refuses them).
"""

from __future__ import annotations

import pytest

from chain.evidence import decide_abstain, evidence_features
from index.embedded import EmbeddedIndex
from index.opensearch import OpenSearchIndex
from index.retrieval import HybridRetriever
from tests.contract.index_contract import CORPUS, EMB, make_source
from tests.unit.opensearch_fake import FakeOpenSearch

QUESTIONS = [
    "how many days of annual leave do employees get",
    "how do i set up the globalprotect vpn client",
    "how do i configure quantumboost for my expense claims",  # a name the documents never mention
    "can i submit expense claims in zorblax",  # likewise
    "where do i submit expense clams",  # a typo of an indexed word
]


def _fill(index):
    index.ensure_model(EMB.model_id, EMB.dim)
    for source, sections in CORPUS.items():
        index.replace_source(*make_source(source, sections))
    index.flush()
    return index


@pytest.fixture
def backends(tmp_path):
    embedded = _fill(EmbeddedIndex(tmp_path / "index"))
    opensearch = _fill(OpenSearchIndex(FakeOpenSearch().client(), index_name="parity", endpoint="http://fake:9200"))
    return embedded, opensearch


def _decide(index, question: str):
    passages = HybridRetriever(index, EMB).retrieve(question, k=3)
    features = evidence_features(question, passages, index.term_stats, index.similar_terms)
    return decide_abstain(features).abstain, features


@pytest.mark.parametrize("question", QUESTIONS)
def test_both_backends_reach_the_same_decision(backends, question):
    (a_abstain, a), (b_abstain, b) = (_decide(index, question) for index in backends)
    assert a_abstain == b_abstain
    assert set(a.missing_terms) == set(b.missing_terms)
    assert a.unknown_specific == pytest.approx(b.unknown_specific)


def test_unknown_names_are_refused_on_opensearch_too(backends):
    _, opensearch = backends
    abstain, features = _decide(opensearch, "how do i configure quantumboost for my expense claims")
    assert abstain
    assert "quantumboost" in features.missing_terms and features.unknown_specific > 0
