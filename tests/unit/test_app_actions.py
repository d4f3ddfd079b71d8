"""Streamlit/actions.py: the pure helpers the pages use, and 20 sessions writing feedback at once."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Streamlit"))

from actions import (  # noqa: E402
    confidence_label,
    filter_feedback,
    reference_line,
    safe_filename,
    safe_link,
    save_review,
    save_thumbs,
    store_uploads,
    thumbs_widget_value,
    valid_session_id,
)

from config.settings import load_settings  # noqa: E402
from feedback.factory import open_store  # noqa: E402
from feedback.records import Feedback, Turn  # noqa: E402
from ingest.originals import LocalFolderOriginals  # noqa: E402


@pytest.fixture
def store(tmp_path):
    store = open_store(load_settings(data_dir=tmp_path / "data"))
    yield store
    store.close()


def _turn(store, question="How do I book leave?", **kw):
    turn = Turn.new(session_id="s-actions", user="ana", question=question, answer="In Workday.", **kw)
    store.save_turn(turn)
    return turn


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://wiki.corp/x#y", "https://wiki.corp/x#y"),
        ("http://a.b/c", "http://a.b/c"),
        ("javascript:alert(1)", None),
        ("file:///etc/passwd", None),
        ("data:text/html,<b>x</b>", None),
        ("https://", None),
        (None, None),
    ],
)
def test_safe_link_allows_only_http(url, expected):
    assert safe_link(url) == expected


def test_reference_line_links_http_and_escapes_titles():
    line = reference_line(
        {"title": "Leave [old]", "locator": "page 2", "url": "https://w.corp/a b.pdf#page=2", "source": "hr/leave.pdf"}
    )
    assert line == r"[Leave \[old\] — page 2](<https://w.corp/a%20b.pdf#page=2>)"
    local = reference_line({"title": "<script>x</script>", "locator": "", "url": "javascript:x", "source": "a/b.md"})
    assert "](" not in local and r"\<script\>" in local and "a/b.md" in local
    assert (
        reference_line({"title": "Q&A set: q", "locator": "fine-tuning pair", "url": None, "source": "qa:1"})
        == "Q&A set: q — an answer reviewed by your team"
    )


def test_confidence_label_and_session_ids():
    assert confidence_label(0.823, "high") == ("High confidence · 82%", "green")
    assert confidence_label(0.1, "low")[1] == "red"
    assert valid_session_id("a" * 32) and not valid_session_id("../../x") and not valid_session_id(None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\docs\\a b.md", "a b.md"),
        ("we<i>rd?.md", "we_i_rd_.md"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_refuses_nothing_left():
    with pytest.raises(ValueError, match="rename the file"):
        safe_filename("..")


def test_stored_uploads_stay_inside_the_folder(tmp_path):
    class Upload:
        def __init__(self, name, data):
            self.name, self.data = name, data

        def getvalue(self):
            return self.data

    folder = LocalFolderOriginals(tmp_path / "uploads")
    saved = [folder.path(n) for n in store_uploads([Upload("../../evil.md", b"x"), Upload("ok.md", b"y")], folder)]
    assert [p.parent for p in saved] == [tmp_path / "uploads"] * 2
    assert not (tmp_path / "evil.md").exists()


def test_thumbs_are_one_per_user_and_reflected_in_the_widget(store):
    turn = _turn(store)
    save_thumbs(store, turn.turn_id, "ana", 1)
    save_thumbs(store, turn.turn_id, "ana", -1)
    saved = store.feedback_for_turn(turn.turn_id)
    assert [(f.reviewer, f.thumbs) for f in saved] == [("ana", -1)]
    assert thumbs_widget_value(saved, "ana") == 0 and thumbs_widget_value(saved, "bo") is None


def test_save_review_approval_adds_then_replaces_then_dedups(store):
    turn = _turn(store)
    first = save_review(store, turn, "bo", corrected_answer="Use Workday > Time Off.", approved=True, likert=2)
    assert "added to the Q&A set" in first.qa
    again = save_review(store, turn, "bo", corrected_answer="Use Workday > Time Off.", approved=True)
    assert "already has exactly this answer" in again.qa
    other = _turn(store, question="how do I book leave")  # normalises to the same question
    changed = save_review(store, other, "bo", corrected_answer="Ask your manager first.", approved=True)
    assert "replaced" in changed.qa
    pairs = store.list_qa_pairs()
    assert len(pairs) == 1 and pairs[0].answer == "Ask your manager first." and pairs[0].origin == "correction"


def test_filter_feedback():
    import pandas as pd

    frame = pd.DataFrame(
        [
            {"turn_id": "a", "route": "rag", "severity": "major", "reviewer": "bo", "thumbs": -1, "kind": "thumbs"},
            {"turn_id": "b", "route": "finetuned", "severity": None, "reviewer": "ana", "thumbs": 1, "kind": "thumbs"},
            {"turn_id": "c", "route": "rag", "severity": "minor", "reviewer": "bo", "thumbs": None, "kind": "review"},
        ]
    )
    assert list(filter_feedback(frame, route="rag")["turn_id"]) == ["a", "c"]
    assert list(filter_feedback(frame, rating="thumbs down")["turn_id"]) == ["a"]
    assert list(filter_feedback(frame, rating="reviewed", reviewer="bo")["turn_id"]) == ["c"]
    assert list(filter_feedback(frame, severity="major")["turn_id"]) == ["a"]


def test_twenty_sessions_rating_at_once_lose_nothing(store):
    """Each Streamlit session runs on its own thread: the UI's save paths must not drop writes."""
    turns = [_turn(store, question=f"question {i}?") for i in range(20)]
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def session(i: int) -> None:
        try:
            start.wait()
            user = f"user{i}@corp.com"
            for turn in turns:
                save_thumbs(store, turn.turn_id, user, 1 if (i + len(turn.question)) % 2 else -1)
            save_review(store, turns[i], user, severity="minor", likert=4, comment=f"from {i}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    everything = store.list_feedback()
    assert sum(1 for f in everything if f.kind == "thumbs") == 20 * 20
    reviews = [f for f in everything if f.kind == "review"]
    assert sorted(f.comment for f in reviews) == sorted(f"from {i}" for i in range(20))
    assert all(isinstance(f, Feedback) for f in everything)


def test_flush_outbox_only_touches_stores_with_an_outbox(store):
    from actions import flush_outbox

    class Outboxed:
        flushed = 0

        def flush(self):
            self.flushed += 1

    remote = Outboxed()
    flush_outbox(remote)
    flush_outbox(store)  # SQLite has no outbox: nothing happens
    assert remote.flushed == 1


def test_reliability_leaves_out_neutral_ratings_and_refusals():
    import pandas as pd
    from actions import reliability

    frame = pd.DataFrame(
        {
            "likert": [5, 4, 3, 1, None, 5],
            "confidence": [0.9, 0.8, 0.5, 0.2, 0.9, 0.9],
            "abstained": [False, False, False, False, False, True],
        }
    )
    figures = reliability(frame)
    assert figures["n"] == 3  # 5, 4 and 1; not the neutral 3, the thumbs-only row or the refusal
    assert figures["ece"] == pytest.approx((0.1 + 0.2 + 0.2) / 3, abs=1e-4)
    assert reliability(frame[frame["likert"] == 3]) is None
