"""Citation numbers survive from the answer to the exports (issue 9: `[3]` pointed at nothing)."""

from __future__ import annotations

from chain.types import AnswerResult, Reference
from feedback.export import reference_ids, turn_rows
from feedback.records import Turn
from feedback.session import turn_from_result


def _result() -> AnswerResult:
    refs = [
        Reference(source="hr/leave.pdf", title="Leave", locator="page 2", url=None, score=0.8, n=2),
        Reference(source="it/vpn.md", title="VPN", locator="VPN setup", url=None, score=0.6, n=3),
    ]
    return AnswerResult(
        question="q?",
        standalone_question="q?",
        answer="25 days [2], from the portal [3].",
        route="rag",
        abstained=False,
        confidence=0.7,
        confidence_band="medium",
        references=refs,
        notice="answered extractively",
    )


def test_a_saved_turn_keeps_each_reference_number():
    turn = turn_from_result(_result(), session_id="s1", user="ana")
    assert [r.n for r in turn.references] == [2, 3]
    assert turn.confidence_band == "medium" and turn.notice == "answered extractively"
    again = Turn.from_dict(turn.to_dict())  # what a store writes and reads back
    assert [(r.source, r.n) for r in again.references] == [("hr/leave.pdf", 2), ("it/vpn.md", 3)]


def test_exports_name_references_by_their_number():
    turn = turn_from_result(_result(), session_id="s1", user="ana")
    assert reference_ids(turn.references) == "[2] hr/leave.pdf#page 2; [3] it/vpn.md#VPN setup"
    row = turn_rows([turn], [])[0]
    assert row["reference_ids"].startswith("[2] ")


def test_rows_stored_before_numbers_fall_back_to_their_position():
    old = Turn.from_dict(
        {
            "turn_id": "t",
            "session_id": "s",
            "user": "u",
            "created_at": "2026-11-20T10:00:00Z",
            "question": "q",
            "answer": "a",
            "references": [
                {"source": "a.md", "title": "A", "locator": "", "url": None, "score": 0.5},
                {"source": "b.md", "title": "B", "locator": "x", "url": None, "score": 0.4},
            ],
        }
    )
    assert [r.number(i) for i, r in enumerate(old.references, 1)] == [1, 2]
    assert reference_ids(old.references) == "[1] a.md; [2] b.md#x"
