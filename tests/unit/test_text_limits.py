"""Cleaning and limits for typed text (issue 11, item 4)."""

from __future__ import annotations

import pytest

from chain.pipeline import clean_question
from config.text import TextLimits, TextTooLongError, clean_text
from feedback.records import Feedback, QAPair

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize("char", list(BIDI))
def test_bidirectional_overrides_are_removed_from_questions(char):
    assert clean_question(f"approve {char}refund 500{char} now", 200) == "approve refund 500 now"


def test_every_text_is_cleaned_the_same_way():
    dirty = f"pay{BIDI}ment\x07 \u200bok\r\nline two"
    assert clean_text(dirty, what="The comment") == "payment ok\nline two"
    assert Feedback.new(turn_id="t", reviewer="bo", kind="review", comment=dirty).comment == "payment ok\r\nline two"
    assert QAPair.new(f"How{BIDI} do I?", f"Like{BIDI} this.").question == "How do I?"


def test_over_long_comment_and_correction_name_their_limit():
    limits = TextLimits(question=100, comment=20, answer=30)
    with pytest.raises(
        TextTooLongError,
        match="The comment is 21 characters long; the limit is 20 "
        r"\(DOCENT_MAX_COMMENT_CHARS\)",
    ):
        limits.comment_text("x" * 21)
    with pytest.raises(TextTooLongError, match="DOCENT_MAX_ANSWER_CHARS"):
        limits.answer_text("y" * 31)
    assert limits.comment_text("  fine  ") == "fine"


def test_save_review_refuses_an_oversized_comment_and_stores_nothing(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Streamlit"))
    from actions import save_review

    from feedback.records import Turn
    from feedback.sqlite import SQLiteFeedbackStore

    store = SQLiteFeedbackStore(tmp_path / "s.sqlite3")
    turn = Turn.new(session_id="s1", user="ana", question="q?", answer="a")
    store.save_turn(turn)
    with pytest.raises(TextTooLongError, match="limit is 2,000"):
        save_review(store, turn, "bo", comment="x" * 100_000)
    assert store.feedback_for_turn(turn.turn_id) == []
    save_review(store, turn, "bo", comment=f"ok{BIDI}", corrected_answer="  Fixed.  ")
    [saved] = store.feedback_for_turn(turn.turn_id)
    assert (saved.comment, saved.corrected_answer) == ("ok", "Fixed.")
    store.close()
