"""The Review page under AppTest: the queue, the full form, approving a correction."""

from __future__ import annotations

import pytest

from feedback.records import Feedback
from tests.fixtures.app_corpus import AppBackend, app_test, install

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def backend(tmp_path_factory, minilm):
    return AppBackend(tmp_path_factory.mktemp("review") / "data", minilm)


@pytest.fixture
def at(backend, monkeypatch):
    install(monkeypatch, backend)
    at = app_test()
    at.run()
    at.switch_page("views/review.py").run()
    assert not at.exception, at.exception
    return at


def _answer(backend, question, session="review-session-1"):
    from feedback.session import ChatSession

    session = ChatSession(backend.chain, backend.store, session, "ana@corp.com")
    for event in session.ask(question):
        if event.kind == "final":
            return backend.store.get_turn(event.data["turn_id"])


def _fill(at, turn_id, severity=None, likert=None, fix=None, comment=None, approve=False):
    if severity:
        at.radio(key=f"rev_sev_{turn_id}").set_value(severity)
    if likert:
        at.select_slider(key=f"rev_likert_{turn_id}").set_value(likert)
    if fix is not None:
        at.text_area(key=f"rev_fix_{turn_id}").input(fix)
    if comment is not None:
        at.text_area(key=f"rev_comment_{turn_id}").input(comment)
    if approve:
        at.checkbox(key=f"rev_approve_{turn_id}").check()
    labels = [b.label for b in at.button]
    # one "Save review" per queue item, in queue order; pick this turn's
    position = [i for i, b in enumerate(at.button) if b.label == "Save review"]
    keys = [e for e in at.text_area if e.key and e.key.startswith("rev_fix_")]
    at.button[position[[k.key for k in keys].index(f"rev_fix_{turn_id}")]].click().run()
    assert "Save review" in labels


def test_thumbs_down_queue_lists_the_rated_answer(backend, at):
    turn = _answer(backend, "Who issues parking permits?")
    backend.store.save_feedback(Feedback.new(turn_id=turn.turn_id, reviewer="ana@corp.com", kind="thumbs", thumbs=-1))
    at.segmented_control(key="review_filter").set_value("thumbs_down").run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any("Who issues parking permits?" in label for label in labels)
    text = "\n".join(m.value for m in at.markdown)
    assert "Facilities" in text
    assert "https://docs.example.com/kb/parking.md" in text


def test_approving_a_correction_changes_the_next_answer(backend, at):
    turn = _answer(backend, "How long before leave must I book it?", session="review-session-2")
    backend.store.save_feedback(Feedback.new(turn_id=turn.turn_id, reviewer="ana@corp.com", kind="thumbs", thumbs=-1))
    at.segmented_control(key="review_filter").set_value("thumbs_down").run()
    _fill(
        at,
        turn.turn_id,
        severity="minor",
        likert=2,
        fix="Book leave at least four weeks ahead in Workday.",
        comment="policy changed",
        approve=True,
    )
    assert not at.exception
    messages = " ".join(s.value for s in at.success)
    assert "added to the Q&A set" in messages
    review = [f for f in backend.store.feedback_for_turn(turn.turn_id) if f.kind == "review"][0]
    assert review.approved and review.severity == "minor" and review.likert == 2
    result = backend.chain.answer_sync("how long before leave must I book it")
    assert result.route == "finetuned"
    assert result.answer == "Book leave at least four weeks ahead in Workday."


def test_approving_without_a_correction_is_refused_politely(backend, at):
    turn = _answer(backend, "What does a parking permit cost?", session="review-session-3")
    at.run()
    _fill(at, turn.turn_id, fix="", approve=True)
    assert not at.exception
    assert any("Saving the review failed" in e.value and "corrected_answer" in e.value for e in at.error)


def test_low_confidence_and_route_filters(backend, at):
    from feedback.records import Turn

    shaky = Turn.new(
        session_id="review-session-4",
        user="ana@corp.com",
        question="Is the canteen open on Sundays?",
        answer="Possibly.",
        route="rag",
        confidence=0.12,
    )
    backend.store.save_turn(shaky)
    at.segmented_control(key="review_filter").set_value("low_confidence").run()
    assert any("Is the canteen open on Sundays?" in e.label for e in at.expander)
    at.number_input(key="review_threshold").set_value(0.1).run()
    assert not any("Is the canteen open on Sundays?" in e.label for e in at.expander)
    at.number_input(key="review_threshold").set_value(0.5)
    at.selectbox(key="review_route").set_value("finetuned").run()
    assert not any("Is the canteen open on Sundays?" in e.label for e in at.expander)


def test_reviewed_and_approved_answers_are_marked_and_can_be_hidden(backend, at):
    reviewed = _answer(backend, "Where do I apply for a parking permit?", session="review-session-marks")
    pending = _answer(backend, "How much does a parking permit cost?", session="review-session-marks")
    for turn in (reviewed, pending):
        backend.store.save_feedback(
            Feedback.new(turn_id=turn.turn_id, reviewer="ana@corp.com", kind="thumbs", thumbs=-1)
        )
    backend.store.save_feedback(
        Feedback.new(turn_id=reviewed.turn_id, reviewer="bo@corp.com", kind="review", likert=2, severity="minor")
    )
    at.segmented_control(key="review_filter").set_value("thumbs_down").run()
    labels = {e.label for e in at.expander}
    assert any(label.startswith("Reviewed · Where do I apply for a parking permit") for label in labels), labels
    assert any(label.startswith("How much does a parking permit cost") for label in labels), labels
    at.toggle(key="review_hide_done").set_value(True).run()
    assert not at.exception, at.exception
    labels = {e.label for e in at.expander}
    assert not any("Where do I apply for a parking permit" in label for label in labels)
    assert any("How much does a parking permit cost" in label for label in labels)
