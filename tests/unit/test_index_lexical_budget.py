"""The lexical side of a large embedded index scores a bounded number of rows (issue 14, item 3):
terms are kept rarest first up to LEXICAL_MAX_ROWS, so the rare term that finds the page survives
and the common ones are what is left out. Synthetic chunks and vectors: no model needed."""

from __future__ import annotations

import numpy as np
import pytest

import index.embedded as embedded
from index.embedded import EmbeddedIndex
from index.protocol import Child, Parent, SourceRecord

DIM = 8
PAGES = 60
CHUNKS_PER_PAGE = 40  # 2,400 chunks: past LEXICAL_CUT_MIN_CHUNKS


def _chunk_text(page: int, n: int) -> str:
    words = ["endpoint"] if n % 3 == 0 else []  # in a third of the chunks: past the 15 % share
    words += ["training"] if n % 5 == 0 else []  # 20 % as well
    words += ["instance"] if n % 10 == 0 else []  # 10 %: kept by the share cut, costly at scale
    words += ["autoscaling"] if (page, n) == (7, 11) else []  # the one chunk that answers
    return " ".join([*words, f"filler{page}x{n}", "text"])


@pytest.fixture(scope="module")
def big_index(tmp_path_factory):
    index = EmbeddedIndex(tmp_path_factory.mktemp("lexical") / "index")
    index.ensure_model("synthetic", DIM)
    rng = np.random.default_rng(0)
    for page in range(PAGES):
        source = f"p{page}.md"
        parent = Parent(id=f"{source}-p0", source=source, title=f"Page {page}", text="...")
        children = [
            Child(f"{source}-c{n}", parent.id, source, "text", f"Page {page}", "", _chunk_text(page, n))
            for n in range(CHUNKS_PER_PAGE)
        ]
        vectors = rng.normal(size=(len(children), DIM)).astype(np.float32)
        index.replace_source(SourceRecord(source, f"h{page}", "text", parent.title), [parent], children, vectors)
    index.flush()
    return index


QUESTION = "instance autoscaling for a training endpoint"


def test_rows_scored_stay_within_the_budget_and_the_rare_term_still_finds_the_chunk(big_index, monkeypatch):
    unbounded = big_index.lexical_plan(QUESTION)
    assert unbounded["kept"] == ["instance", "autoscaling"]  # endpoint and training fall to the share cut
    monkeypatch.setattr(embedded, "LEXICAL_MAX_ROWS", 100)
    plan = big_index.lexical_plan(QUESTION)
    assert plan["kept"] == ["autoscaling"]  # the commonest kept term is what the budget drops
    assert plan["rows"] <= 100 < unbounded["rows"]
    hits = big_index.lexical(QUESTION, 5)
    assert hits[0].child_id == "p7.md-c11"


def test_the_rarest_term_is_kept_even_past_the_budget(big_index, monkeypatch):
    monkeypatch.setattr(embedded, "LEXICAL_MAX_ROWS", 1)
    plan = big_index.lexical_plan("instance for training")
    assert plan["kept"] == ["instance"]
    assert len(big_index.lexical("instance for training", 500)) == plan["rows"] == PAGES * CHUNKS_PER_PAGE // 10


def test_small_indexes_and_filtered_searches_keep_every_term(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded, "LEXICAL_MAX_ROWS", 1)
    small = EmbeddedIndex(tmp_path / "small")
    small.ensure_model("synthetic", DIM)
    parent = Parent(id="a.md-p0", source="a.md", title="A", text="...")
    children = [Child(f"a.md-c{n}", parent.id, "a.md", "text", "A", "", _chunk_text(7, n)) for n in range(20)]
    small.replace_source(SourceRecord("a.md", "h", "text", "A"), [parent], children, np.ones((20, DIM), np.float32))
    assert small.lexical_plan(QUESTION)["kept"] == ["instance", "autoscaling", "training", "endpoint"]
