"""The KnowledgeIndex contract: one suite, subclassed once per backend.

A subclass provides the `index` fixture (an empty index) and may set `supports_refresh_wait`.
"""

from __future__ import annotations

import pytest

from index.protocol import Child, EmbeddingModelMismatch, Parent, SourceRecord
from tests.fixtures.toy_embedder import ToyEmbedder

EMB = ToyEmbedder()


def make_source(source: str, sections: list[tuple[str, str]], kind: str = "markdown", title: str | None = None):
    """Records for one source: each section -> one parent with one child."""
    title = title or source.rsplit("/", 1)[-1]
    parents, children = [], []
    for i, (heading, text) in enumerate(sections):
        pid = f"{source}-p{i}"
        parents.append(
            Parent(
                id=pid,
                source=source,
                title=title,
                text=text,
                kind=kind,
                headings=[title, heading],
                page=i + 1,
                url=f"{source}#page={i + 1}",
            )
        )
        children.append(
            Child(id=f"{pid}-c0", parent_id=pid, source=source, kind=kind, title=title, section=heading, text=text)
        )
    vectors = EMB.embed_documents([c.embedding_text() for c in children])
    record = SourceRecord(source=source, content_hash=f"hash-{source}-{len(sections)}", kind=kind, title=title)
    return record, parents, children, vectors


CORPUS = {
    "hr/leave.md": [
        ("Annual leave", "Employees get 25 days of annual leave per calendar year."),
        ("Sick leave", "Report sick leave to your manager before 10am on the first day."),
    ],
    "it/vpn.md": [
        ("VPN setup", "Install the GlobalProtect client and sign in with your badge number."),
        ("VPN troubleshooting", "If the VPN drops, restart GlobalProtect and check the proxy."),
    ],
    "finance/expenses.md": [("Expense claims", "Submit expense claims in Concur within 30 days of purchase.")],
}


class KnowledgeIndexContract:
    @pytest.fixture
    def index(self):  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture
    def filled(self, index):
        index.ensure_model(EMB.model_id, EMB.dim)
        for source, sections in CORPUS.items():
            index.replace_source(*make_source(source, sections))
        self.refresh(index)
        return index

    def refresh(self, index) -> None:
        index.flush()

    def search(self, index, query: str, k: int = 5, filters=None):
        return index.candidates(query, EMB.embed_query(query), k, filters)

    def test_empty_index_has_no_model_and_no_hits(self, index):
        assert index.info() is None
        index.ensure_model(EMB.model_id, EMB.dim)
        lexical, dense = self.search(index, "annual leave")
        assert lexical == [] and dense == []
        assert index.stats().children == 0

    def test_refuses_another_embedding_model(self, index):
        index.ensure_model(EMB.model_id, EMB.dim)
        assert index.ensure_model(EMB.model_id, EMB.dim).embedding_model == EMB.model_id
        with pytest.raises(EmbeddingModelMismatch, match=EMB.model_id):
            index.ensure_model("another-model", 384)

    def test_lexical_and_dense_find_the_right_section(self, filled):
        lexical, dense = self.search(filled, "how many days of annual leave")
        assert lexical[0].parent_id == "hr/leave.md-p0"
        assert dense[0].parent_id == "hr/leave.md-p0"
        assert lexical[0].score > 0

    def test_title_and_heading_terms_match_lexically(self, filled):
        lexical, _ = self.search(filled, "troubleshooting")  # only in a heading
        assert lexical and lexical[0].parent_id == "it/vpn.md-p1"

    def test_filters_restrict_both_retrievers(self, filled):
        lexical, dense = self.search(filled, "leave vpn expenses", filters={"source": "it/vpn.md"})
        assert lexical and dense
        assert {h.parent_id.split("-p")[0] for h in lexical + dense} == {"it/vpn.md"}
        lexical, dense = self.search(filled, "leave", filters={"source": ["hr/leave.md", "finance/expenses.md"]})
        assert {h.parent_id.split("-p")[0] for h in lexical + dense} <= {"hr/leave.md", "finance/expenses.md"}

    def test_parents_and_children_round_trip_with_locators(self, filled):
        parents = filled.get_parents(["it/vpn.md-p1", "missing"])
        assert set(parents) == {"it/vpn.md-p1"}
        p = parents["it/vpn.md-p1"]
        assert (p.source, p.page, p.url, p.headings) == (
            "it/vpn.md",
            2,
            "it/vpn.md#page=2",
            ["vpn.md", "VPN troubleshooting"],
        )
        children = filled.get_children(["it/vpn.md-p1-c0"])
        assert children["it/vpn.md-p1-c0"].parent_id == "it/vpn.md-p1"

    def test_source_parents_are_the_whole_source_in_document_order(self, filled):
        parents = filled.source_parents("it/vpn.md")
        assert [p.id for p in parents] == ["it/vpn.md-p0", "it/vpn.md-p1"]
        assert [p.locator() for p in parents] == [
            "page 1, section vpn.md > VPN setup",
            "page 2, section vpn.md > VPN troubleshooting",
        ]
        assert parents[1].text == CORPUS["it/vpn.md"][1][1] and parents[1].url == "it/vpn.md#page=2"
        assert filled.source_parents("never/existed.md") == []
        filled.replace_source(*make_source("it/vpn.md", [("VPN", "The VPN now uses WireGuard.")]))
        self.refresh(filled)
        assert [p.text for p in filled.source_parents("it/vpn.md")] == ["The VPN now uses WireGuard."]
        filled.delete_source("it/vpn.md")
        self.refresh(filled)
        assert filled.source_parents("it/vpn.md") == []

    def test_replace_source_swaps_only_that_source(self, filled):
        filled.replace_source(*make_source("it/vpn.md", [("VPN", "The VPN now uses WireGuard.")]))
        self.refresh(filled)
        lexical, dense = self.search(filled, "GlobalProtect client")
        assert all(not h.parent_id.startswith("it/vpn.md-p1") for h in lexical + dense)
        assert all(
            "GlobalProtect" not in c.text for c in filled.get_children([h.child_id for h in lexical + dense]).values()
        )
        lexical, _ = self.search(filled, "WireGuard")
        assert lexical[0].parent_id == "it/vpn.md-p0"
        assert set(filled.list_sources()) == set(CORPUS)
        assert filled.list_sources()["it/vpn.md"].children == 1

    def test_delete_source_removes_everything_of_it(self, filled):
        filled.delete_source("hr/leave.md")
        self.refresh(filled)
        lexical, dense = self.search(filled, "annual leave sick leave", k=10)
        assert all(not h.parent_id.startswith("hr/") for h in lexical + dense)
        assert "hr/leave.md" not in filled.list_sources()
        assert filled.get_parents(["hr/leave.md-p0"]) == {}
        filled.delete_source("never/existed.md")  # no error

    def test_stats_and_version_change_with_content(self, filled):
        stats = filled.stats()
        assert (stats.sources, stats.parents, stats.children) == (3, 5, 5)
        assert stats.embedding_model == EMB.model_id
        before = filled.info().version
        filled.delete_source("finance/expenses.md")
        assert filled.info().version != before

    def test_k_limits_results(self, filled):
        lexical, dense = self.search(filled, "leave vpn expense claims", k=2)
        assert len(lexical) <= 2 and len(dense) <= 2

    def test_query_with_only_stopwords_or_symbols_is_safe(self, filled):
        lexical, dense = self.search(filled, '"what" OR ) AND * ?')
        assert lexical == []
        assert isinstance(dense, list)

    # -- capabilities the chain relies on (declared in KnowledgeIndex) ------------------------
    def test_term_stats_count_chunks_per_term_and_in_all(self, filled):
        df, total = filled.term_stats(["globalprotect", "concur", "quantumboost"])
        assert total == 5
        assert df == {"globalprotect": 2, "concur": 1, "quantumboost": 0}

    def test_term_stats_see_through_plural_endings(self, filled):
        df, _ = filled.term_stats(["claim", "claims"])
        assert df["claim"] == df["claims"] == 1

    def test_term_stats_on_an_empty_index(self, index):
        index.ensure_model(EMB.model_id, EMB.dim)
        self.refresh(index)
        df, total = index.term_stats(["vpn"])
        assert total == 0 and df == {"vpn": 0}

    def test_similar_terms_offer_the_indexed_spelling_of_a_typo(self, filled):
        near = filled.similar_terms("globalprotetc")
        assert any(t.startswith("globalprotect") for t in near)
        assert filled.similar_terms("vpn") == []  # too short to guess

    def test_child_vectors_return_the_stored_vectors(self, filled):
        ids = ["it/vpn.md-p0-c0", "hr/leave.md-p1-c0"]
        vectors = filled.child_vectors([*ids, "no-such-child"])
        assert set(vectors) == set(ids)
        expected = EMB.embed_documents([c.embedding_text() for c in filled.get_children(ids).values()])
        got = [vectors[i] for i in filled.get_children(ids)]
        for a, b in zip(got, expected):
            assert abs(float(a @ b) - float(b @ b)) < 1e-4

    def test_flush_and_warm_up_are_safe_to_repeat(self, filled):
        filled.flush()
        filled.warm_up()
        filled.warm_up()
        assert filled.stats().children == 5
