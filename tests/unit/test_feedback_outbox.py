"""OutboxStore with an inner store that can be switched off: nothing is lost, order is kept."""

from __future__ import annotations

import pytest

from feedback.outbox import OutboxStore
from feedback.records import Feedback, QAPair, Turn
from feedback.sqlite import SQLiteFeedbackStore
from feedback.store import StoreUnavailableError


class Switchable(SQLiteFeedbackStore):
    """A real SQLite store whose writes fail as if the network were down while `down` is set."""

    down = False

    def _gate(self):
        if self.down:
            raise StoreUnavailableError("connection refused (test)")

    def save_turn(self, turn):
        self._gate()
        return super().save_turn(turn)

    def save_feedback(self, feedback):
        self._gate()
        return super().save_feedback(feedback)

    def add_qa_pairs(self, pairs, *, replace=False):
        self._gate()
        return super().add_qa_pairs(pairs, replace=replace)

    def session_turns(self, session_id):
        self._gate()
        return super().session_turns(session_id)


@pytest.fixture
def inner(tmp_path):
    store = Switchable(tmp_path / "remote.sqlite3")
    yield store
    store.close()


def _turn(q="q?"):
    return Turn.new(session_id="s1", user="u", question=q, answer="a")


def test_writes_while_down_are_queued_and_survive_a_restart(inner, tmp_path):
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3")
    inner.down = True
    turn = _turn()
    assert store.save_turn(turn).queued
    assert store.save_feedback(Feedback.new(turn_id=turn.turn_id, reviewer="bo", kind="thumbs", thumbs=-1)).queued
    result = store.add_qa_pairs([QAPair.new("A?", "a"), QAPair.new("a", "dup"), QAPair.new("B?", "b")])
    assert (result.status, tuple(result)) == ("queued", (2, 1))
    assert [t.turn_id for t in store.session_turns("s1")] == [turn.turn_id]  # history survives the outage
    store._db.close()

    reopened = OutboxStore(inner, tmp_path / "outbox.sqlite3")  # e.g. the app restarted
    assert reopened.pending() == 3
    inner.down = False
    report = reopened.flush()
    assert (report.delivered, report.pending, report.failed) == (3, 0, 0)
    assert inner.get_turn(turn.turn_id) == turn
    assert [f.thumbs for f in inner.feedback_for_turn(turn.turn_id)] == [-1]
    assert sorted(p.question for p in inner.list_qa_pairs()) == ["A?", "B?"]


def test_nothing_overtakes_the_queue(inner, tmp_path):
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3", retry_interval_s=0)
    inner.down = True
    turn = _turn()
    store.save_turn(turn)
    inner.down = False
    # the queued turn is delivered before this feedback, which needs it
    assert (
        store.save_feedback(Feedback.new(turn_id=turn.turn_id, reviewer="bo", kind="thumbs", thumbs=1)).status
        == "saved"
    )
    assert store.pending() == 0 and len(inner.feedback_for_turn(turn.turn_id)) == 1


def test_saved_when_up(inner, tmp_path):
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3")
    assert store.save_turn(_turn()).message == "Saved."
    assert store.pending() == 0


def test_other_errors_are_not_swallowed(inner, tmp_path):
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3")
    with pytest.raises(KeyError):
        store.save_feedback(Feedback.new(turn_id="ghost", reviewer="bo", kind="thumbs", thumbs=1))
    assert store.pending() == 0


def test_after_a_failure_writes_queue_at_once_for_a_while(inner, tmp_path, monkeypatch):
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3", retry_interval_s=60)
    inner.down = True
    store.save_turn(_turn("first?"))
    inner.down = False
    calls = []
    monkeypatch.setattr(inner, "_gate", lambda: calls.append(1))
    assert store.save_turn(_turn("second?")).queued  # no second wait on an unreachable endpoint
    assert calls == []
    assert store.flush().delivered == 2  # an explicit flush always tries
    assert store.save_turn(_turn("third?")).status == "saved"


def test_outbox_is_a_feedback_store(inner, tmp_path):
    from feedback.store import FeedbackStore

    assert isinstance(OutboxStore(inner, tmp_path / "outbox.sqlite3"), FeedbackStore)
