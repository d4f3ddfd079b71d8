"""DocentVectorStore and DocentRetriever behaviour beyond the standard suites."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from index.embedded import EmbeddedIndex
from index.langchain import (
    DocentRetriever,
    DocentVectorStore,
    EmbedderEmbeddings,
    LangChainEmbedder,
    metadata_matcher,
    pushdown_filters,
)
from index.protocol import EmbeddingModelMismatch
from tests.contract.index_contract import CORPUS, EMB, make_source


@pytest.fixture
def index(tmp_path):
    return EmbeddedIndex(tmp_path / "index")


@pytest.fixture
def docent_index(index):
    """An index filled the way `docent ingest` fills it."""
    index.ensure_model(EMB.model_id, EMB.dim)
    for source, sections in CORPUS.items():
        index.replace_source(*make_source(source, sections))
    return index


def test_metadata_filter_applies_to_any_key(index):
    store = DocentVectorStore(index, EMB)
    store.add_texts(
        ["annual leave days", "annual leave carry over", "vpn client install"],
        metadatas=[{"team": "hr", "year": 2024}, {"team": "hr", "year": 2025}, {"team": "it"}],
        ids=["a", "b", "c"],
    )
    assert [d.id for d in store.similarity_search("annual leave", k=3, filter={"team": "hr", "year": 2025})] == ["b"]
    assert {d.id for d in store.similarity_search("annual leave", k=3, filter={"team": ["it", "hr"]})} == {
        "a",
        "b",
        "c",
    }
    assert store.similarity_search("annual leave", k=3, filter={"team": "finance"}) == []


def test_kind_and_title_filters_are_pushed_to_the_index():
    assert pushdown_filters({"title": "Leave", "team": "hr", "kind": ["pdf", "xlsx"]}) == {
        "title": "Leave",
        "kind": ["pdf", "xlsx"],
    }
    assert pushdown_filters({"source": "x", "page": 3}) is None
    assert metadata_matcher({"page": [1, 2]})({"page": 2}) and not metadata_matcher({"page": 3})({})


def test_scores_are_dense_similarities_best_first(index):
    store = DocentVectorStore(index, EMB)
    store.add_texts(["expense claims in concur", "vpn setup globalprotect"], ids=["exp", "vpn"])
    (best, s1), (other, s2) = store.similarity_search_with_score("vpn setup globalprotect", k=2)
    assert (best.id, other.id) == ("vpn", "exp")
    assert s1 == pytest.approx(1.0, abs=1e-4) and s2 < s1
    by_vector = store.similarity_search_by_vector(EMB.embed_query("expense claims in concur").tolist(), k=1)
    assert [d.id for d in by_vector] == ["exp"]
    assert store.similarity_search_with_relevance_scores("vpn setup globalprotect", k=1)[0][1] <= 1.0


def test_documents_ingested_by_docent_come_back_with_their_locator(docent_index):
    store = DocentVectorStore(docent_index, EMB)
    (doc,) = store.get_by_ids(["it/vpn.md-p1"])
    assert doc.page_content.startswith("If the VPN drops")
    assert doc.metadata["source"] == "it/vpn.md" and doc.metadata["page"] == 2
    assert doc.metadata["url"] == "it/vpn.md#page=2" and "page 2" in doc.metadata["locator"]
    assert store.similarity_search("restart GlobalProtect proxy", k=1)[0].id == "it/vpn.md-p1"


def test_store_refuses_an_index_built_with_another_model(docent_index):
    with pytest.raises(EmbeddingModelMismatch):
        DocentVectorStore(docent_index, DeterministicFakeEmbedding(size=EMB.dim))


def test_add_and_delete_errors_say_what_to_pass(index):
    store = DocentVectorStore(index, EMB)
    with pytest.raises(ValueError, match="2 texts but 1 metadatas"):
        store.add_texts(["a", "b"], metadatas=[{}])
    with pytest.raises(ValueError, match="needs the ids"):
        store.delete()


def test_from_texts_with_an_index_and_the_embeddings_property(index):
    store = DocentVectorStore.from_texts(
        ["alpha beta", "gamma delta"],
        DeterministicFakeEmbedding(size=8),
        metadatas=[{"n": 1}, {"n": 2}],
        ids=["1", "2"],
        index=index,
    )
    assert store.get_by_ids(["2", "1", "missing"]) == [
        Document(id="2", page_content="gamma delta", metadata={"n": 2}),
        Document(id="1", page_content="alpha beta", metadata={"n": 1}),
    ]
    assert isinstance(store.embeddings, DeterministicFakeEmbedding)
    assert (
        len(DocentVectorStore(index, LangChainEmbedder(DeterministicFakeEmbedding(size=8))).embeddings.embed_query("x"))
        == 8
    )


def test_embedding_adapters_normalise_and_report_dim():
    emb = LangChainEmbedder(DeterministicFakeEmbedding(size=6))
    assert emb.dim == 6 and emb.model_id == "langchain:DeterministicFakeEmbedding:6"
    vectors = emb.embed_documents(["a", "b"])
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert emb.embed_documents([]).shape == (0, 6)
    assert len(EmbedderEmbeddings(EMB).embed_documents(["x"])[0]) == EMB.dim


def test_retriever_is_hybrid_and_filtered(docent_index):
    retriever = DocentRetriever(index=docent_index, embedder=EMB, k=2)
    docs = retriever.invoke("troubleshooting")  # a heading word: found lexically
    assert docs[0].id == "it/vpn.md-p1" and docs[0].metadata["lexical_score"] > 0
    only_hr = retriever.invoke("vpn troubleshooting", filters={"source": "hr/leave.md"})
    assert only_hr and {d.metadata["source"] for d in only_hr} == {"hr/leave.md"}
    scoped = DocentRetriever(index=docent_index, embedder=EMB, filters={"source": ["finance/expenses.md"]})
    assert [d.metadata["source"] for d in scoped.invoke("expense claims")] == ["finance/expenses.md"]
    assert len(retriever.invoke("leave vpn expense", k=1)) == 1
