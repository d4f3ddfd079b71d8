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

    def session_turns(self, session_id, user):
        self._gate()
        return super().session_turns(session_id, user)

    def session_owner(self, session_id):
        self._gate()
        return super().session_owner(session_id)


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
    assert [t.turn_id for t in store.session_turns("s1", "u")] == [turn.turn_id]  # history survives the outage
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


# --- issue 11, item 4: nothing is acknowledged that is sure to be refused; dead entries are shown ------


def _unreachable_dynamodb():
    """A real DynamoDB store whose endpoint refuses connections (a closed loopback port)."""
    import boto3
    from botocore.config import Config

    from feedback.dynamodb import DynamoDBFeedbackStore

    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    return DynamoDBFeedbackStore(client)


def test_an_item_over_dynamodbs_limit_is_refused_not_queued(tmp_path):
    from feedback.store import RecordTooLargeError

    store = OutboxStore(_unreachable_dynamodb(), tmp_path / "outbox.sqlite3")
    small = Feedback.new(turn_id="t1", reviewer="bo", kind="review", comment="fine")
    assert store.save_feedback(small).queued  # the store is down: a normal comment waits in the outbox
    huge = Feedback.new(turn_id="t1", reviewer="cy", kind="review", comment="x" * 420_000)
    with pytest.raises(RecordTooLargeError, match="at most 400 KB.*comment.*420,000"):
        store.save_feedback(huge)
    assert store.pending() == 1  # only the small one; the UI showed an error, not "Saved (queued)"


def test_dead_entries_are_listed_and_can_be_replayed_or_discarded(inner, tmp_path):
    store = OutboxStore(inner, tmp_path / "outbox.sqlite3")
    inner.down = True
    turn = _turn()
    store.save_feedback(Feedback.new(turn_id=turn.turn_id, reviewer="bo", kind="thumbs", thumbs=-1))
    store.save_feedback(Feedback.new(turn_id="ghost", reviewer="bo", kind="review", comment="lost?"))
    inner.down = False
    assert store.flush().failed == 2  # the turn was never delivered: both refused as unknown turns
    dead = store.entries()
    assert [(e.dead, e.op) for e in dead] == [(True, "feedback"), (True, "feedback")]
    assert "UnknownTurnError" in dead[0].last_error and "'lost?'" in dead[1].summary

    inner.save_turn(turn)  # the cause is fixed
    report = store.replay([dead[0].seq])
    assert (report.delivered, report.failed) == (1, 0)
    assert [f.thumbs for f in inner.feedback_for_turn(turn.turn_id)] == [-1]
    assert store.replay().failed == 1  # the ghost is refused again and stays dead
    assert store.discard([dead[1].seq]) == 1
    assert store.entries() == []


def test_docent_stores_outbox_lists_shows_and_discards(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cli.main import _register_all, app

    data = tmp_path / "data"
    monkeypatch.setenv("DOCENT_DATA_DIR", str(data))
    monkeypatch.setenv("DOCENT_STORE_BACKEND", "dynamodb")
    monkeypatch.setenv("DOCENT_DYNAMODB_ENDPOINT_URL", "http://127.0.0.1:9")
    from config.settings import get_settings

    get_settings.cache_clear()
    remote = Switchable(tmp_path / "remote.sqlite3")
    seed = OutboxStore(remote, data / "outbox.sqlite3")
    remote.down = True
    seed.save_feedback(Feedback.new(turn_id="ghost", reviewer="bo", kind="review", comment="keep this text"))
    remote.down = False
    assert seed.flush().failed == 1
    seq = seed.entries()[0].seq
    seed.close()

    _register_all()
    runner = CliRunner()
    listed = runner.invoke(app, ["stores", "outbox"])
    assert listed.exit_code == 0, listed.output
    assert "0 waiting, 1 dead" in listed.output and "DEAD" in listed.output and "UnknownTurnError" in listed.output
    shown = runner.invoke(app, ["stores", "outbox", "--show", str(seq)])
    assert '"comment": "keep this text"' in shown.output
    gone = runner.invoke(app, ["stores", "outbox", "--discard", str(seq)])
    assert "Discarded 1" in gone.output and "0 waiting, 0 dead" in gone.output
