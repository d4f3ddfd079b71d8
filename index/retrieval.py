"""Hybrid retrieval over any KnowledgeIndex: BM25 + dense, fused, lifted to parent sections.

>>> # retriever = HybridRetriever(index, embedder)
>>> # [p.parent.locator() for p in retriever.retrieve("how do I rotate keys?", k=3)]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from index.embeddings import Embedder
from index.fusion import FusionWeights, ParentCandidate, fuse_to_parents
from index.protocol import Child, ChildHit, Filters, KnowledgeIndex, Parent


@dataclass
class Passage:
    """A parent section retrieved for a question, with the evidence behind its rank."""

    parent: Parent
    score: float  # fused score (rank-based; comparable within one query only)
    rank: int
    dense_score: float  # best cosine similarity of its children to the question
    lexical_score: float  # best BM25 of its children (0 when no lexical match)
    lexical_rank: int | None
    dense_rank: int | None
    matched_children: list[Child] = field(default_factory=list)  # best first


@dataclass
class RetrievalResult:
    passages: list[Passage]
    query_vector: np.ndarray
    timings_ms: dict[str, float]


class HybridRetriever:
    """Embed once, ask the index for lexical and dense candidates, fuse, return parents."""

    def __init__(
        self, index: KnowledgeIndex, embedder: Embedder, candidates: int = 60, weights: FusionWeights | None = None
    ):
        self.index = index
        self.embedder = embedder
        self.candidates = candidates
        self.weights = weights or FusionWeights()

    def retrieve(
        self, query: str, k: int = 5, filters: Filters | None = None, vector: np.ndarray | None = None
    ) -> list[Passage]:
        return self.search(query, k, filters, vector).passages

    def search(
        self, query: str, k: int = 5, filters: Filters | None = None, vector: np.ndarray | None = None
    ) -> RetrievalResult:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if vector is None:
            vector = self.embedder.embed_query(query)
        t1 = time.perf_counter()
        timings["embed"] = (t1 - t0) * 1000
        lexical, dense = self.index.candidates(query, vector, self.candidates, filters)
        dense = self._complete_dense(lexical, dense, vector)
        t2 = time.perf_counter()
        timings["search"] = (t2 - t1) * 1000
        parent_ids = {h.parent_id for h in (*lexical, *dense)}
        parents = self.index.get_parents(list(parent_ids))
        source_of = {pid: p.source for pid, p in parents.items()}
        ranked = fuse_to_parents(lexical, dense, self.weights, source_of)
        ranked = [c for c in ranked if c.parent_id in parents][:k]
        children = self.index.get_children([cid for c in ranked for cid in c.children[:3]])
        passages = [self._passage(c, parents[c.parent_id], children, i) for i, c in enumerate(ranked)]
        timings["parents"] = (time.perf_counter() - t2) * 1000
        return RetrievalResult(passages, vector, timings)

    def _complete_dense(self, lexical: list[ChildHit], dense: list[ChildHit], vector: np.ndarray) -> list[ChildHit]:
        """Give lexical-only chunks their exact cosine when the index can return stored vectors, so
        fusion and the evidence check never mistake "not in the dense top k" for "dissimilar"."""
        seen = {h.child_id for h in dense}
        missing = [h for h in lexical if h.child_id not in seen]
        if not missing:
            return dense
        vectors = self.index.child_vectors([h.child_id for h in missing])
        extra = [
            ChildHit(h.child_id, h.parent_id, float(vectors[h.child_id] @ vector))
            for h in missing
            if h.child_id in vectors
        ]
        return sorted([*dense, *extra], key=lambda h: (-h.score, h.child_id))

    @staticmethod
    def _passage(c: ParentCandidate, parent: Parent, children: dict[str, Child], rank: int) -> Passage:
        return Passage(
            parent=parent,
            score=c.score,
            rank=rank,
            dense_score=c.dense_score,
            lexical_score=c.lexical_score,
            lexical_rank=c.lexical_rank,
            dense_rank=c.dense_rank,
            matched_children=[children[cid] for cid in c.children[:3] if cid in children],
        )
