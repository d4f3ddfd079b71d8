"""Pure ranking logic for hybrid retrieval: fuse lexical and dense child hits, lift them to
parents, and keep the evidence (raw scores) that confidence and abstention need.

>>> from index.protocol import ChildHit
>>> lex = [ChildHit("p1-0", "p1", 9.0), ChildHit("p2-0", "p2", 5.0)]
>>> den = [ChildHit("p2-0", "p2", 0.8), ChildHit("p1-1", "p1", 0.7)]
>>> [c.parent_id for c in fuse_to_parents(lex, den)]
['p1', 'p2']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from index.protocol import ChildHit

RRF_K = 60


@dataclass
class ParentCandidate:
    parent_id: str
    score: float
    best_child: str
    children: list[str] = field(default_factory=list)  # matched children, best first
    lexical_rank: int | None = None  # best rank of any child in the lexical list (0-based)
    dense_rank: int | None = None
    lexical_score: float = 0.0  # best raw BM25 of its children
    dense_score: float = 0.0  # best cosine of its children


@dataclass
class FusionWeights:
    lexical: float = 1.0
    dense: float = 1.0
    rrf_k: int = RRF_K
    second_child: float = 0.0  # share of a parent's second-best child added to its score (measured: 0 is best)
    same_source: float = 0.0  # share of the best sibling parent's score (same page) added (measured: hurts)
    mode: str = "convex"  # "convex" (alpha * cosine + (1 - alpha) * BM25 / best BM25) or "rrf" (rank-based)
    alpha: float = 0.7


def fuse_children(lexical: list[ChildHit], dense: list[ChildHit], w: FusionWeights) -> dict[str, float]:
    """Reciprocal rank fusion at child level, or a convex combination of normalised scores."""
    if w.mode == "convex":
        return _convex(lexical, dense, w)
    scores: dict[str, float] = {}
    for rank, hit in enumerate(lexical):
        scores[hit.child_id] = scores.get(hit.child_id, 0.0) + w.lexical / (w.rrf_k + rank + 1)
    for rank, hit in enumerate(dense):
        scores[hit.child_id] = scores.get(hit.child_id, 0.0) + w.dense / (w.rrf_k + rank + 1)
    return scores


def _convex(lexical: list[ChildHit], dense: list[ChildHit], w: FusionWeights) -> dict[str, float]:
    """alpha * cosine + (1 - alpha) * BM25 / best BM25. A chunk missing from the dense list gets the
    lowest cosine seen (it ranked below all of them); one missing from the lexical list gets 0."""
    cos = {h.child_id: h.score for h in dense}
    floor = min(cos.values()) if cos else 0.0
    top = max((h.score for h in lexical), default=0.0) or 1.0
    lex = {h.child_id: h.score / top for h in lexical}
    a = w.alpha if w.lexical and w.dense else (1.0 if w.dense else 0.0)
    return {cid: a * cos.get(cid, floor) + (1 - a) * lex.get(cid, 0.0) for cid in {*cos, *lex}}


def fuse_to_parents(
    lexical: list[ChildHit],
    dense: list[ChildHit],
    weights: FusionWeights | None = None,
    source_of: dict[str, str] | None = None,
) -> list[ParentCandidate]:
    """Fuse child hits, then rank parents by their best child (plus a share of the second best
    and, when `source_of` maps parent -> source, of the best other parent of the same source)."""
    w = weights or FusionWeights()
    child_scores = fuse_children(lexical, dense, w)
    parent_of: dict[str, str] = {}
    for hit in (*lexical, *dense):
        parent_of[hit.child_id] = hit.parent_id
    cands: dict[str, ParentCandidate] = {}
    # ties (identical chunks of two pages) go by id, so a question always gets the same ranking
    for child_id, score in sorted(child_scores.items(), key=lambda kv: (-kv[1], kv[0])):
        pid = parent_of[child_id]
        cand = cands.get(pid)
        if cand is None:
            cands[pid] = ParentCandidate(pid, score, child_id, [child_id])
        else:
            if len(cand.children) == 1:
                cand.score += w.second_child * score
            cand.children.append(child_id)
    for rank, hit in enumerate(lexical):
        cand = cands[hit.parent_id]
        if cand.lexical_rank is None:
            cand.lexical_rank, cand.lexical_score = rank, hit.score
    for rank, hit in enumerate(dense):
        cand = cands[hit.parent_id]
        if cand.dense_rank is None:
            cand.dense_rank, cand.dense_score = rank, hit.score
    ranked = list(cands.values())
    if source_of and w.same_source:
        best_by_source: dict[str, list[float]] = {}
        for cand in ranked:
            best_by_source.setdefault(source_of.get(cand.parent_id, ""), []).append(cand.score)
        for scores in best_by_source.values():
            scores.sort(reverse=True)
        base = {c.parent_id: c.score for c in ranked}
        for cand in ranked:
            siblings = best_by_source.get(source_of.get(cand.parent_id, ""), [])
            other = next((s for s in siblings if s != base[cand.parent_id]), None) if len(siblings) > 1 else None
            if other is not None:
                cand.score += w.same_source * other
    ranked.sort(key=lambda c: (-c.score, c.parent_id))
    return ranked
