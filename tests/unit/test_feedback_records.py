"""Record validation and the Q&A dedupe key."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from feedback.records import Feedback, QAPair, RecordError, Turn, normalize_question, question_key


def turn(**kw) -> Turn:
    base = dict(session_id="s", user="u", question="q?", answer="a")
    return Turn.new(**(base | kw))


def test_turn_defaults_and_time_normalised_to_utc():
    t = turn(created_at=datetime(2026, 11, 22, 10, 0, tzinfo=timezone(timedelta(hours=2))))
    assert t.created_at == "2026-11-22T08:00:00.000000Z"
    assert t.standalone_question == "q?"
    assert t.route == "rag" and len(t.turn_id) == 32


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"question": "  "}, "Turn.question is empty"),
        ({"answer": ""}, "set abstained=True"),
        ({"route": "llm"}, "finetuned, rag"),
        ({"confidence": 1.5}, r"outside \[0, 1\]"),
        ({"created_at": "yesterday"}, "not an ISO date-time"),
    ],
)
def test_turn_validation_names_the_field(kw, message):
    with pytest.raises(RecordError, match=message):
        turn(**kw)


def test_abstained_turn_may_have_no_answer():
    assert turn(answer="", abstained=True).abstained


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"kind": "review", "likert": 6}, "likert=6 is out of range"),
        ({"kind": "review", "likert": 0}, "out of range"),
        ({"kind": "review", "likert": 2.5}, "out of range"),
        ({"kind": "review", "severity": "critical"}, "severity='critical' is unknown"),
        ({"kind": "thumbs"}, "needs thumbs"),
        ({"kind": "thumbs", "thumbs": 2}, "must be \\+1"),
        ({"kind": "stars"}, "kind='stars' is unknown"),
        ({"kind": "review", "approved": True}, "needs a corrected_answer"),
        ({"kind": "review", "reviewer": ""}, "reviewer is empty"),
    ],
)
def test_feedback_validation(kw, message):
    kw = {"turn_id": "t1", "reviewer": "bo"} | kw
    with pytest.raises(RecordError, match=message):
        Feedback.new(**kw)


def test_likert_labels():
    labels = [Feedback.new(turn_id="t", reviewer="r", kind="review", likert=n).likert_label for n in range(1, 6)]
    assert labels == ["strongly disagree", "disagree", "neither agree nor disagree", "agree", "strongly agree"]
    assert Feedback.new(turn_id="t", reviewer="r", kind="thumbs", thumbs=1).likert_label is None


def test_feedback_updated_at_defaults_to_created_at():
    f = Feedback(turn_id="t", reviewer="r", kind="thumbs", thumbs=1, created_at="2026-11-01T08:00:00Z")
    assert f.updated_at == f.created_at == "2026-11-01T08:00:00.000000Z"


def test_normalised_question():
    assert normalize_question("  How do I   Reset my VPN token?!  ") == "how do i reset my vpn token"
    assert normalize_question("What is 2.5 + 1?") == "what is 2.5 + 1"
    assert question_key("Who approves travel?") == question_key("who approves   travel")
    assert question_key("Who approves travel?") != question_key("Who approves leave?")


@pytest.mark.parametrize(
    ("question", "answer", "message"), [("", "a", "question is empty"), ("q", " ", "answer is empty")]
)
def test_qa_pair_needs_question_and_answer(question, answer, message):
    with pytest.raises(RecordError, match=message):
        QAPair.new(question, answer)


def test_qa_pair_id_must_match_question():
    with pytest.raises(RecordError, match="does not match"):
        QAPair(pair_id="abc", question="q", answer="a")


def test_records_roundtrip_through_dicts():
    t = turn(references=[{"source": "a.pdf", "title": "A", "locator": "page 1", "url": None, "score": 0.5}])
    assert Turn.from_dict(t.to_dict()) == t
    f = Feedback.new(turn_id="t", reviewer="r", kind="review", likert=3, comment="ok")
    assert Feedback.from_dict(f.to_dict()) == f
    p = QAPair.new("q", "a", images=["x.png"], origin="correction", source_turn_id="t")
    assert QAPair.from_dict(p.to_dict()) == p
