import numpy as np
import pytest

from index.embedded import EmbeddedIndex
from tests.contract.index_contract import CORPUS, EMB, KnowledgeIndexContract, make_source


class TestEmbeddedIndex(KnowledgeIndexContract):
    @pytest.fixture
    def index(self, tmp_path):
        return EmbeddedIndex(tmp_path / "index")


def test_vectors_survive_reopen_and_catch_up(tmp_path):
    idx = EmbeddedIndex(tmp_path / "i")
    idx.ensure_model(EMB.model_id, EMB.dim)
    idx.replace_source(*make_source("hr/leave.md", CORPUS["hr/leave.md"]))
    idx.flush()
    # a second process writes more after the first saved its vectors
    other = EmbeddedIndex(tmp_path / "i")
    other.replace_source(*make_source("it/vpn.md", CORPUS["it/vpn.md"]))
    # the first sees the new source without a flush: it catches up from SQLite
    q = "GlobalProtect client badge"
    _, dense = idx.candidates(q, EMB.embed_query(q), 3)
    assert dense[0].parent_id == "it/vpn.md-p0"
    reopened = EmbeddedIndex(tmp_path / "i")
    _, dense = reopened.candidates(q, EMB.embed_query(q), 3)
    assert dense[0].parent_id == "it/vpn.md-p0"


def test_stale_vector_file_from_another_index_is_ignored(tmp_path):
    a = EmbeddedIndex(tmp_path / "a")
    a.ensure_model(EMB.model_id, EMB.dim)
    a.replace_source(*make_source("hr/leave.md", CORPUS["hr/leave.md"]))
    a.flush()
    b = EmbeddedIndex(tmp_path / "b")
    b.ensure_model(EMB.model_id, EMB.dim)
    b.replace_source(*make_source("it/vpn.md", CORPUS["it/vpn.md"]))
    (tmp_path / "b" / "vectors.faiss").write_bytes((tmp_path / "a" / "vectors.faiss").read_bytes())
    (tmp_path / "b" / "vectors.maxrowid").write_text((tmp_path / "a" / "vectors.maxrowid").read_text())
    q = "annual leave days"
    _, dense = EmbeddedIndex(tmp_path / "b").candidates(q, EMB.embed_query(q), 5)
    assert dense and all(h.parent_id.startswith("it/vpn.md") for h in dense)


def test_compaction_drops_dead_vectors(tmp_path):
    idx = EmbeddedIndex(tmp_path / "i")
    idx.ensure_model(EMB.model_id, EMB.dim)
    for _ in range(3):
        idx.replace_source(*make_source("hr/leave.md", CORPUS["hr/leave.md"]))
    idx.flush()
    assert idx._vectors().ntotal == 2  # the 4 dead vectors were compacted away
    q = "sick leave manager"
    _, dense = idx.candidates(q, EMB.embed_query(q), 5)
    assert [h.parent_id for h in dense][:1] == ["hr/leave.md-p1"]
    assert len(dense) == 2


def test_mismatched_vector_count_is_refused(tmp_path):
    idx = EmbeddedIndex(tmp_path / "i")
    idx.ensure_model(EMB.model_id, EMB.dim)
    record, parents, children, vectors = make_source("x.md", [("a", "b")])
    with pytest.raises(ValueError, match="x.md"):
        idx.replace_source(record, parents, children, np.zeros((2, EMB.dim), np.float32))
    assert idx.list_sources() == {}
