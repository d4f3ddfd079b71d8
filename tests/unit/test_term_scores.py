"""The embedded index's lexical side adds cached per-term BM25 scores (index/term_scores.py) and must
rank exactly as one FTS5 query over the same terms does, stay right after writes, and reuse a term's
scores across questions. Synthetic chunks with varied lengths and columns: no model needed."""

from __future__ import annotations

import numpy as np
import pytest

import index.embedded as embedded
from index.embedded import EmbeddedIndex
from index.protocol import Child, Parent, SourceRecord
from index.term_scores import TermScores

DIM = 4
WORDS = "gpu spot training endpoint instance autoscaling latency model batch transform quota region".split()


def _source(index: EmbeddedIndex, name: str, seed: int, chunks: int = 30) -> None:
    rng = np.random.default_rng(seed)
    parent = Parent(id=f"{name}-p0", source=name, title=name, text="...")
    children = []
    for n in range(chunks):
        body = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 40))))
        section = " ".join(rng.choice(WORDS, size=int(rng.integers(0, 3))))
        title = str(rng.choice(WORDS)) if n % 4 == 0 else name
        children.append(Child(f"{name}-c{n}", parent.id, name, "text", title, section, body))
    vectors = rng.normal(size=(chunks, DIM)).astype(np.float32)
    index.replace_source(SourceRecord(name, f"h{seed}", "text", name), [parent], children, vectors)


@pytest.fixture
def index(tmp_path):
    idx = EmbeddedIndex(tmp_path / "index")
    idx.ensure_model("synthetic", DIM)
    for i in range(6):
        _source(idx, f"page{i}.md", i)
    idx.flush()
    return idx


QUESTIONS = [
    "gpu spot training",
    "autoscaling latency of an endpoint",
    "batch transform quota in a region",
    "model",
    "spot spot instance training gpu model latency",
]


def _both(index: EmbeddedIndex, question: str, k: int):
    keep, _, _ = index._lexical_terms(question, None)
    return index.lexical(question, k), index._lexical_sql(keep, k)


@pytest.mark.parametrize("question", QUESTIONS)
def test_cached_term_scores_rank_exactly_as_one_fts5_query(index, question):
    for k in (1, 7, 500):
        ours, fts5 = _both(index, question, k)
        assert len(ours) == len(fts5)
        assert np.allclose([h.score for h in ours], [h.score for h in fts5], rtol=1e-9)
        # Same rows in the same order, except where FTS5 leaves equal scores in its own order.
        by_score: dict[float, set[str]] = {}
        for h in fts5:
            by_score.setdefault(round(h.score, 9), set()).add(h.child_id)
        for h in ours:
            assert h.child_id in by_score[round(h.score, 9)]


def test_a_term_is_scored_once_and_reused_by_later_questions(index, monkeypatch):
    matched: list[str] = []
    real = index._raw

    class Spy:
        def __init__(self, cursor):
            self.cursor = cursor

        def execute(self, sql, args=()):
            if "MATCH" in sql:
                matched.extend(args)
            return self.cursor.execute(sql, args)

    monkeypatch.setattr(index, "_raw", lambda: Spy(real()))
    first = index.lexical("gpu spot", 5)
    assert matched == ['"gpu"', '"spot"']
    again = index.lexical("spot training gpu", 5)
    assert matched == ['"gpu"', '"spot"', '"training"']  # only the new term went to FTS5
    assert first and again and index._term_scores.rows > 0


def test_writes_drop_the_cached_scores(index):
    before = index.lexical("autoscaling", 500)
    _source(index, "page-new.md", 99, chunks=60)  # new rows, and every IDF and length average moves
    after = index.lexical("autoscaling", 500)
    keep, _, _ = index._lexical_terms("autoscaling", None)
    assert [h.child_id for h in after] == [h.child_id for h in index._lexical_sql(keep, 500)]
    assert len(after) > len(before)
    index.delete_source("page-new.md")
    assert {h.child_id for h in index.lexical("autoscaling", 500)} == {h.child_id for h in before}


def test_the_cache_can_be_turned_off_and_filters_use_fts5(index, monkeypatch):
    monkeypatch.setattr(embedded, "LEXICAL_CACHE_ROWS", 0)
    hits = index.lexical("gpu spot", 5)
    assert hits and index._term_scores.rows == 0
    monkeypatch.setattr(embedded, "LEXICAL_CACHE_ROWS", 2_000_000)
    only = index.lexical("gpu spot", 50, filters={"source": "page2.md"})
    assert only and {h.child_id.split("-c")[0] for h in only} == {"page2.md"}
    assert index._term_scores.rows == 0


def test_the_cache_keeps_within_its_row_budget_least_recently_used_out():
    cache = TermScores(max_rows=5)
    cache.put("v", "a", np.arange(3), np.ones(3))
    cache.put("v", "b", np.arange(2), np.ones(2))
    assert cache.get("v", "a") is not None  # a is now the most recently used
    cache.put("v", "c", np.arange(2), np.ones(2))
    assert cache.get("v", "b") is None and cache.get("v", "a") is not None and cache.rows == 5
    cache.put("v", "huge", np.arange(6), np.ones(6))  # larger than the whole budget: never cached
    assert cache.get("v", "huge") is None and cache.rows == 5


def test_combine_breaks_ties_by_rowid_and_keeps_every_tie_at_the_cut():
    ids, scores = TermScores.combine([(np.array([9, 4, 6, 1]), np.array([1.0, 2.0, 1.0, 1.0]))], k=3)
    assert ids.tolist() == [4, 1, 6] and scores.tolist() == [2.0, 1.0, 1.0]
    empty_ids, _ = TermScores.combine([(np.zeros(0, dtype=np.int64), np.zeros(0))], k=3)
    assert empty_ids.size == 0
