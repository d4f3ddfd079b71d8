"""Usage figures for the people who run the service (feedback/usage.py)."""

from __future__ import annotations

from feedback.records import Feedback, Turn
from feedback.usage import usage


def turn(user, question, day, abstained=False, route="rag"):
    return Turn.new(
        session_id=f"s-{user}",
        user=user,
        question=question,
        answer="I could not find this." if abstained else "An answer.",
        route=route,
        abstained=abstained,
        created_at=f"{day}T10:00:00Z",
    )


def test_counts_per_day_users_routes_and_the_no_answer_rate():
    turns = [
        turn("ana", "Parking?", "2026-11-02", abstained=True),
        turn("bo", "Leave days?", "2026-11-02"),
        turn("bo", "Who approves leave?", "2026-11-03", route="finetuned"),
        turn("cy", "Gym?", "2026-11-03", abstained=True),
    ]
    u = usage(turns, [])
    assert (u.questions, u.users, u.no_answer_rate) == (4, 3, 0.5)
    assert u.per_day == [
        {"day": "2026-11-02", "answered": 1, "not found": 1},
        {"day": "2026-11-03", "answered": 1, "not found": 1},
    ]
    assert u.by_route == [
        {"route": "finetuned", "questions": 1, "answered": 1.0},
        {"route": "rag", "questions": 3, "answered": 1 / 3},
    ]


def test_top_lists_group_wordings_and_count_thumbs_down_only():
    turns = [
        turn("ana", "Where do I park?", "2026-11-02", abstained=True),
        turn("bo", "where do i park", "2026-11-03", abstained=True),
        turn("cy", "Gym opening hours?", "2026-11-03", abstained=True),
        turn("ana", "Leave days?", "2026-11-03"),
    ]
    down = Feedback.new(turn_id=turns[3].turn_id, reviewer="ana", kind="thumbs", thumbs=-1)
    up = Feedback.new(turn_id=turns[3].turn_id, reviewer="bo", kind="thumbs", thumbs=1)
    u = usage(turns, [down, up])
    assert u.top_unanswered == [("where do i park", 2), ("Gym opening hours?", 1)]  # the latest wording shown
    assert u.top_thumbs_down == [("Leave days?", 1)]


def test_no_questions_means_no_rate():
    u = usage([], [])
    assert (u.questions, u.users, u.no_answer_rate, u.per_day, u.top_unanswered) == (0, 0, None, [], [])
