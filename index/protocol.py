"""The knowledge index Protocol and the records it stores.

Parents are the sections the answer step reads; children are the small chunks that are matched
(lexically and by dense vector). Both carry the locator of the place they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from config.errors import DocentError


@dataclass
class Parent:
    id: str
    source: str  # path relative to the ingested root, POSIX slashes
    title: str
    text: str
    kind: str = "text"
    headings: list[str] = field(default_factory=list)
    page: int | None = None
    sheet: str | None = None
    rows: tuple[int, int] | None = None
    anchor: str | None = None
    url: str | None = None  # deep link (file.pdf#page=12, page.html#anchor) or the original's URL

    @property
    def section(self) -> str:
        return " > ".join(self.headings)

    def locator(self) -> str:
        parts: list[str] = []
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.sheet is not None:
            parts.append(f"sheet {self.sheet}")
        if self.rows is not None:
            parts.append(f"rows {self.rows[0]}-{self.rows[1]}")
        if self.headings:
            parts.append(f"section {self.section}")
        return ", ".join(parts)


@dataclass
class Child:
    id: str
    parent_id: str
    source: str
    kind: str
    title: str
    section: str  # heading path joined with " > "
    text: str

    def embedding_text(self) -> str:
        """Titles and headings carry the identifiers employees type: they go into the vector too."""
        head = self.title if not self.section or self.section == self.title else f"{self.title} > {self.section}"
        return f"{head}\n{self.text}" if head else self.text


@dataclass
class SourceRecord:
    source: str
    content_hash: str
    kind: str
    title: str
    parents: int = 0
    children: int = 0
    indexed_at: str = ""


@dataclass
class IndexInfo:
    embedding_model: str
    dim: int
    created_at: str = ""
    version: str = ""  # changes whenever the content changes; stored with each answer


@dataclass
class ChildHit:
    child_id: str
    parent_id: str
    score: float


@dataclass
class IndexStats:
    sources: int
    parents: int
    children: int
    embedding_model: str | None
    version: str | None
    backend: str
    location: str


Filters = dict[str, str | Sequence[str]]
"""Metadata filters on children: keys `source`, `kind`, `title`; a value or a list of values."""


class EmbeddingModelMismatch(DocentError):
    """The index was built with another embedding model; mixing vectors would give nonsense."""


INT8_SUFFIX = "#onnx-int8"  # model ids of int8-quantised ONNX embedders (index/onnx_embeddings.py)


def model_setting_hint(built_with: str, wanted: str) -> str:
    """Which setting brings back the model an index was built with (the int8 variant is a setting of its own)."""
    base_built, base_wanted = built_with.removesuffix(INT8_SUFFIX), wanted.removesuffix(INT8_SUFFIX)
    if base_built == base_wanted:
        value = "int8" if built_with.endswith(INT8_SUFFIX) else "none"
        return f"Set DOCENT_EMBEDDINGS_QUANTIZE={value} (the index was built with it)"
    return f"Set DOCENT_EMBEDDINGS_MODEL back to '{base_built}'" + (
        " with DOCENT_EMBEDDINGS_QUANTIZE=int8" if built_with.endswith(INT8_SUFFIX) else ""
    )


class KnowledgeIndex(Protocol):
    """Where parents, children and child vectors live.

    Writes are per source: `replace_source` swaps everything of one source atomically, so a
    failure never leaves a source half-indexed and never touches other sources.
    """

    def info(self) -> IndexInfo | None: ...

    def ensure_model(self, embedding_model: str, dim: int) -> IndexInfo:
        """Record the model on first use; raise EmbeddingModelMismatch if another one built it."""
        ...

    def list_sources(self) -> dict[str, SourceRecord]: ...

    def replace_source(
        self, record: SourceRecord, parents: Sequence[Parent], children: Sequence[Child], vectors: np.ndarray
    ) -> None: ...

    def delete_source(self, source: str) -> None: ...

    def candidates(
        self, query: str, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> tuple[list[ChildHit], list[ChildHit]]:
        """Lexical (BM25) and dense hits for one query, best first, each up to k."""
        ...

    def get_parents(self, ids: Sequence[str]) -> dict[str, Parent]: ...

    def get_children(self, ids: Sequence[str]) -> dict[str, Child]: ...

    def source_parents(self, source: str) -> list[Parent]:
        """Every parent of one source, in document order; [] for a source the index does not hold.
        The source viewer reads a cited page or section whole from it (chain/sources.py)."""
        ...

    def stats(self) -> IndexStats: ...

    # What the chain needs beyond search; every backend implements them (tests/contract/index_contract.py).
    def term_stats(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks contain each term (after the index's own stemming), and how many chunks in all.
        The evidence check weighs a question's terms by this and refuses names the index never saw."""
        ...

    def similar_terms(self, term: str, limit: int = 50) -> list[str]:
        """Indexed terms close to `term` (typo candidates); [] for short or non-alphanumeric terms."""
        ...

    def child_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the given children; unknown ids are left out."""
        ...

    def flush(self) -> None:
        """Make every write durable and searchable (called once at the end of an ingest)."""
        ...

    def warm_up(self) -> None:
        """Load what the first search would load (vector graphs) now, under the app's start-up spinner."""
        ...
