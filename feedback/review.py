"""Rating and reviewing an answer: what the app's chat and review pages and the HTTP API save.

Plain functions over a FeedbackStore (no UI here), so every caller stores ratings the same way:
a thumbs replaces the same person's earlier one; an approved correction becomes a Q&A pair.

>>> import tempfile, pathlib
>>> from feedback.sqlite import SQLiteFeedbackStore
>>> store = SQLiteFeedbackStore(pathlib.Path(tempfile.mkdtemp()) / "feedback.sqlite3")
>>> turn = Turn.new(session_id="s-review-doc", user="ana", question="How do I book leave?", answer="In Workday.")
>>> _ = store.save_turn(turn)
>>> save_thumbs(store, turn.turn_id, user="ana", thumbs=-1).message
'Saved.'
>>> save_review(store, turn, "bo", corrected_answer="Workday > Time Off.", approved=True).qa
'The correction was added to the Q&A set; Docent uses it from the next question on.'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from config.text import TextLimits
from feedback.records import Feedback, QAPair, RecordError, Turn
from feedback.store import FeedbackStore, SaveResult


def save_thumbs(store: FeedbackStore, turn_id: str, user: str, thumbs: int) -> SaveResult:
    """Quick rating: +1 / -1 as Feedback kind 'thumbs'; saving again replaces the user's earlier one."""
    return store.save_feedback(Feedback.new(turn_id=turn_id, reviewer=user, kind="thumbs", thumbs=thumbs))


@dataclass
class ReviewOutcome:
    """What saving a review did: the store's message, and the Q&A set's when a correction was approved."""

    saved: str
    qa: str | None = None
    messages: list[str] = field(default_factory=list)


def review_limits(settings) -> TextLimits:
    """The text limits the pages apply (DOCENT_MAX_COMMENT_CHARS, DOCENT_MAX_ANSWER_CHARS)."""
    return TextLimits.from_settings(settings)


def save_review(
    store: FeedbackStore,
    turn: Turn,
    reviewer: str,
    *,
    severity: str | None = None,
    likert: int | None = None,
    corrected_answer: str | None = None,
    comment: str | None = None,
    approved: bool = False,
    thumbs: int | None = None,
    limits: TextLimits | None = None,
) -> ReviewOutcome:
    """Save a full review; when approved, the corrected answer becomes a Q&A pair (replacing an older one).

    The comment and the correction are cleaned and checked against `limits` first (config/text.py), so an
    over-long text is refused with its limit and nothing is stored or queued. The router reloads the set
    when qa_version changes, so the next question already uses it.
    """
    limits = limits or TextLimits()
    corrected = limits.answer_text(corrected_answer) or None
    cleaned_comment = limits.comment_text(comment) or None
    if approved and not corrected:  # refused before anything is stored
        raise RecordError(
            "Approving needs a corrected answer (corrected_answer): it is what goes into the Q&A set. "
            "Write it and save again."
        )
    feedback = Feedback.new(
        turn_id=turn.turn_id,
        reviewer=reviewer,
        kind="review",
        thumbs=thumbs,
        severity=severity or None,
        likert=likert,
        corrected_answer=corrected,
        comment=cleaned_comment,
        approved=approved,
    )
    outcome = ReviewOutcome(saved=store.save_feedback(feedback).message)
    outcome.messages.append(f"Review saved: {outcome.saved}")
    if approved:
        question = turn.standalone_question or turn.question
        pair = QAPair.new(question, corrected or "", origin="correction", source_turn_id=turn.turn_id)
        same = next((p for p in store.list_qa_pairs() if p.pair_id == pair.pair_id), None)
        if same is not None and same.answer.strip() == corrected:
            outcome.qa = "This question already has exactly this answer in the Q&A set; nothing changed."
            outcome.messages.append(outcome.qa)
            return outcome
        result = store.add_qa_pairs([pair], replace=True)
        if result.replaced:
            outcome.qa = "The correction replaced the earlier answer to this question in the Q&A set."
        elif result.added:
            outcome.qa = "The correction was added to the Q&A set; Docent uses it from the next question on."
        else:
            outcome.qa = "The Q&A set did not change."
        outcome.messages.append(outcome.qa)
    return outcome
