"""Fusion ranks ties (identical chunks of two pages) by id, so a question always gets the same passages."""

from __future__ import annotations

import itertools

from index.fusion import FusionWeights, fuse_to_parents
from index.protocol import ChildHit

A, B, C = ChildHit("a-0", "a", 0.8), ChildHit("b-0", "b", 0.8), ChildHit("c-0", "c", 0.5)
LA, LB = ChildHit("a-0", "a", 3.0), ChildHit("b-0", "b", 3.0)


def test_tied_parents_rank_by_id_whatever_the_input_order():
    orders = {
        tuple(c.parent_id for c in fuse_to_parents(list(lexical), list(dense)))
        for dense, lexical in itertools.product(itertools.permutations([A, B, C]), itertools.permutations([LA, LB]))
    }
    assert orders == {("a", "b", "c")}


def test_rank_fusion_ties_rank_by_id_too():
    rrf = FusionWeights(mode="rrf")
    first = fuse_to_parents([LA, LB], [B, A], rrf)  # a first lexically, b first densely: equal scores
    second = fuse_to_parents([LB, LA], [A, B], rrf)
    assert first[0].score == first[1].score
    assert [c.parent_id for c in first][:2] == [c.parent_id for c in second][:2] == ["a", "b"]
