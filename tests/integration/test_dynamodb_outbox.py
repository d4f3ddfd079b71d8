"""DynamoDB goes away mid-run: feedback is queued (the UI is told so), then delivered exactly once."""

from __future__ import annotations

import pytest

from feedback.dynamodb import DynamoDBFeedbackStore
from feedback.outbox import OutboxStore
from feedback.records import Feedback, QAPair, Turn
from tests.fixtures.dynalite import dynalite_client, fresh_dynalite  # noqa: F401

pytestmark = pytest.mark.integration


def test_outage_queues_writes_and_flush_delivers_each_once(fresh_dynalite, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path))
    inner = DynamoDBFeedbackStore(dynalite_client(fresh_dynalite.endpoint), table_prefix="docent")
    inner.create_tables()
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3")

    turns = [Turn.new(session_id="s1", user="ana", question=f"q{i}?", answer=f"a{i}") for i in range(3)]
    for turn in turns:
        assert store.save_turn(turn).status == "saved"
    before = Feedback.new(turn_id=turns[0].turn_id, reviewer="bo", kind="thumbs", thumbs=1)
    assert store.save_feedback(before).message == "Saved."

    fresh_dynalite.stop()
    late_turn = Turn.new(session_id="s1", user="ana", question="asked during the outage?", answer="yes")
    assert store.save_turn(late_turn).status == "queued"
    queued = [
        Feedback.new(turn_id=t.turn_id, reviewer=r, kind="thumbs", thumbs=-1)
        for t in (*turns, late_turn)
        for r in ("cy", "di")
    ]
    for fb in queued:
        result = store.save_feedback(fb)
        assert result.status == "queued"
        assert result.message == "Saved (queued for delivery)."
    pair_result = store.add_qa_pairs([QAPair.new("Who approves travel?", "Your manager.")])
    assert pair_result.status == "queued"
    assert store.pending() == 1 + len(queued) + 1
    # the chat history still shows the turn asked during the outage
    assert late_turn.turn_id in [t.turn_id for t in store.session_turns("s1", "ana")]
    assert store.flush().pending == store.pending() > 0  # still down: nothing lost, nothing delivered

    fresh_dynalite.start()  # same port, same data
    report = store.flush()
    assert (report.delivered, report.pending, report.failed) == (1 + len(queued) + 1, 0, 0)
    assert store.flush().delivered == 0

    # a re-delivery of everything (e.g. a crash after delivering, before dequeuing) changes nothing
    inner.save_turn(late_turn)
    for fb in queued:
        inner.save_feedback(fb)
    assert tuple(inner.add_qa_pairs([QAPair.new("Who approves travel?", "Your manager.")])) == (0, 1)

    stored = inner.list_feedback()
    keys = [(f.turn_id, f.reviewer, f.kind) for f in stored]
    assert len(keys) == len(set(keys)) == len(queued) + 1
    assert set(keys) == {f.key for f in queued} | {before.key}
    assert [t.turn_id for t in inner.session_turns("s1", "ana")] == [t.turn_id for t in (*turns, late_turn)]
    assert [p.question for p in inner.list_qa_pairs()] == ["Who approves travel?"]
    assert {t.turn_id for t in inner.review_queue("thumbs_down")} == {t.turn_id for t in (*turns, late_turn)}


def test_next_write_delivers_the_queue_first(fresh_dynalite, tmp_path):  # noqa: F811
    inner = DynamoDBFeedbackStore(dynalite_client(fresh_dynalite.endpoint), table_prefix="docent")
    inner.create_tables()
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3", retry_interval_s=0)
    turn = Turn.new(session_id="s1", user="ana", question="q?", answer="a")
    store.save_turn(turn)

    fresh_dynalite.stop()
    assert store.save_feedback(Feedback.new(turn_id=turn.turn_id, reviewer="bo", kind="thumbs", thumbs=-1)).queued
    fresh_dynalite.start()

    revised = Feedback.new(turn_id=turn.turn_id, reviewer="bo", kind="thumbs", thumbs=1)
    assert store.save_feedback(revised).status == "saved"
    assert store.pending() == 0
    [kept] = inner.feedback_for_turn(turn.turn_id)
    assert kept.thumbs == 1  # the queued -1 went first, the revision replaced it


def test_feedback_refused_for_good_is_kept_aside_not_retried(fresh_dynalite, tmp_path):  # noqa: F811
    inner = DynamoDBFeedbackStore(dynalite_client(fresh_dynalite.endpoint), table_prefix="docent")
    inner.create_tables()
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3")
    fresh_dynalite.stop()
    store.save_feedback(Feedback.new(turn_id="never-saved", reviewer="bo", kind="thumbs", thumbs=-1))
    fresh_dynalite.start()
    report = store.flush()
    assert (report.delivered, report.failed, report.pending) == (0, 1, 0)
    [entry] = store.failed_entries()
    assert "UnknownTurnError" in entry["last_error"]
