"""How the service is used, for the people who run it (issue 12, item 6): pure functions over turns and feedback.

Questions per day and how many found no answer, active users, the no-answer rate, the answer rate by
route, and the questions most often left unanswered or rated thumbs down (grouped by their wording, case
and spacing aside, shown as last asked).

>>> from feedback.records import Turn
>>> turns = [Turn.new(session_id="s", user=u, question=q, answer="x", route="rag", abstained=a)
...          for u, q, a in [("ana", "Parking?", True), ("bo", "parking? ", True), ("bo", "Leave days?", False)]]
>>> u = usage(turns, [])
>>> (u.questions, u.users, round(u.no_answer_rate, 2), u.top_unanswered)
(3, 2, 0.67, [('parking? ', 2)])
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from feedback.records import Feedback, Turn


@dataclass
class Usage:
    questions: int
    users: int
    no_answer_rate: float | None  # share of questions answered "not found in the documents"
    per_day: list[dict] = field(default_factory=list)  # {"day", "answered", "not found"}, oldest first
    by_route: list[dict] = field(default_factory=list)  # {"route", "questions", "answered"}
    top_unanswered: list[tuple[str, int]] = field(default_factory=list)  # (question as last asked, times)
    top_thumbs_down: list[tuple[str, int]] = field(default_factory=list)  # (question, thumbs down)


def _key(question: str) -> str:
    return re.sub(r"\s+", " ", question.strip().lower()).rstrip(" ?!.")


def _top(pairs: Sequence[tuple[str, int]], limit: int) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    wording: dict[str, str] = {}
    for question, n in pairs:
        key = _key(question)
        counts[key] += n
        wording[key] = question  # the latest wording wins (turns come oldest first)
    return [(wording[k], n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit] if n > 0]


def usage(turns: Sequence[Turn], feedback: Sequence[Feedback], top: int = 10) -> Usage:
    """Usage figures over `turns` (one per question asked); `feedback` supplies the thumbs down."""
    days: dict[str, Counter[str]] = {}
    routes: dict[str, Counter[str]] = {}
    for t in turns:
        day = days.setdefault(t.created_at[:10], Counter())
        day["not found" if t.abstained else "answered"] += 1
        route = routes.setdefault(t.route or "unknown", Counter())
        route["questions"] += 1
        route["answered"] += not t.abstained
    by_id = {t.turn_id: t for t in turns}
    downs = [(by_id[f.turn_id].question, 1) for f in feedback if f.thumbs == -1 and f.turn_id in by_id]
    return Usage(
        questions=len(turns),
        users=len({t.user for t in turns}),
        no_answer_rate=sum(t.abstained for t in turns) / len(turns) if turns else None,
        per_day=[{"day": d, "answered": c["answered"], "not found": c["not found"]} for d, c in sorted(days.items())],
        by_route=[
            {"route": r, "questions": c["questions"], "answered": c["answered"] / c["questions"]}
            for r, c in sorted(routes.items())
        ],
        top_unanswered=_top([(t.question, 1) for t in turns if t.abstained], top),
        top_thumbs_down=_top(downs, top),
    )
