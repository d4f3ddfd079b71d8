"""Pure helpers behind every store: date windows, the review queue, feedback upserts, the factory."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from config.settings import Settings
from feedback.factory import open_store
from feedback.records import Feedback, Turn
from feedback.store import merge_feedback, select_for_review, time_window


def test_whole_days_are_inclusive():
    assert time_window(date(2026, 11, 1), "2026-11-02") == (
        "2026-11-01T00:00:00.000000Z",
        "2026-11-02T23:59:59.999999Z",
    )
    assert time_window(None, datetime(2026, 11, 2, 12)) == (None, "2026-11-02T12:00:00.000000Z")
    assert time_window(None, None) == (None, None)


def test_bad_dates_name_the_bound():
    with pytest.raises(ValueError, match="since='2026-02-30' is not a date"):
        time_window("2026-02-30", None)
    with pytest.raises(ValueError, match="swap them"):
        time_window("2026-11-03", "2026-11-01")


def _turn(conf: float, minute: int) -> Turn:
    return Turn.new(
        session_id="s",
        user="u",
        question="q",
        answer="a",
        confidence=conf,
        created_at=f"2026-11-20T10:{minute:02d}:00Z",
    )


def test_select_for_review():
    a, b, c = _turn(0.9, 1), _turn(0.2, 2), _turn(0.6, 3)
    ratings = {a.turn_id: [1], b.turn_id: [None, -1]}
    assert select_for_review([a, b, c], ratings, "unrated", None, 10) == [c]
    assert select_for_review([a, b, c], ratings, "thumbs_down", None, 10) == [b]
    assert select_for_review([a, b, c], ratings, "low_confidence", None, 10) == [b]
    assert select_for_review([a, b, c], ratings, "low_confidence", 0.7, 10) == [c, b]
    assert select_for_review([a, b, c], {}, "unrated", None, 2) == [c, b]


def test_merge_feedback_keeps_first_created_and_ignores_stale():
    old = Feedback(turn_id="t", reviewer="r", kind="thumbs", thumbs=1, created_at="2026-11-01T00:00:00Z")
    new = Feedback(turn_id="t", reviewer="r", kind="thumbs", thumbs=-1, created_at="2026-11-02T00:00:00Z")
    merged = merge_feedback(old, new)
    assert (merged.thumbs, merged.created_at, merged.updated_at) == (-1, old.created_at, new.updated_at)
    assert merge_feedback(new, old) is None
    assert merge_feedback(None, new) is new


def test_open_store_picks_backend(tmp_path):
    from feedback.outbox import OutboxStore
    from feedback.sqlite import SQLiteFeedbackStore

    store = open_store(Settings(data_dir=tmp_path))
    assert isinstance(store, SQLiteFeedbackStore) and store.path == tmp_path / "docent.sqlite3"
    store.close()
    remote = open_store(
        Settings(data_dir=tmp_path, store_backend="dynamodb", dynamodb_endpoint_url="http://127.0.0.1:9")
    )
    assert isinstance(remote, OutboxStore) and remote.outbox_path == tmp_path / "outbox.sqlite3"
    assert remote.inner.turns_table == "docent-turns"
    remote.close()


def test_connections_of_finished_threads_are_closed(tmp_path):
    import threading

    from feedback.sqlite import SQLiteFeedbackStore

    store = SQLiteFeedbackStore(tmp_path / "docent.sqlite3")
    for _ in range(10):  # like Streamlit: a new thread per script run
        worker = threading.Thread(target=lambda: store.list_turns())
        worker.start()
        worker.join()
    store.list_turns()
    assert store._db.open_connections <= 2
    store.close()
