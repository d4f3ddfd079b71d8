"""Export shaping (pure) and the four writers, read back."""

from __future__ import annotations

import json

import pytest

from feedback.export import (
    collect,
    export,
    feedback_rows,
    finetune_rows,
    reference_ids,
    to_frame,
    turn_rows,
    write_frame,
)
from feedback.records import Feedback, QAPair, Turn
from feedback.sqlite import SQLiteFeedbackStore

REFS = [
    {"source": "hr/leave.pdf", "title": "Leave", "locator": "page 2", "url": None, "score": 0.8},
    {"source": "it/vpn.docx", "title": "VPN", "locator": "", "url": None, "score": 0.4},
]


def _turn(question="How many leave days?", created_at="2026-11-02T09:00:00Z", **kw) -> Turn:
    return Turn.new(
        session_id="s1",
        user="ana",
        question=question,
        answer="25.",
        created_at=created_at,
        references=REFS,
        backend="extractive",
        model="none",
        index_version="v3",
        **kw,
    )


def test_reference_ids():
    assert reference_ids(REFS) == "[1] hr/leave.pdf#page 2; [2] it/vpn.docx"


def test_feedback_rows_join_their_turn():
    t = _turn(route="finetuned", confidence=0.4)
    f = Feedback.new(turn_id=t.turn_id, reviewer="bo", kind="review", likert=2, severity="major")
    [row] = feedback_rows([f], {t.turn_id: t})
    assert row["likert_label"] == "disagree"
    assert (row["route"], row["confidence"], row["index_version"], row["backend"]) == (
        "finetuned",
        0.4,
        "v3",
        "extractive",
    )
    assert row["reference_ids"] == "[1] hr/leave.pdf#page 2; [2] it/vpn.docx"
    assert row["turn_created_at"] == t.created_at and row["created_at"] == f.created_at
    [orphan] = feedback_rows([Feedback.new(turn_id="gone", reviewer="bo", kind="thumbs", thumbs=1)], {})
    assert orphan["route"] is None


def test_turn_rows_count_ratings():
    t = _turn()
    fb = [
        Feedback.new(turn_id=t.turn_id, reviewer=r, kind="thumbs", thumbs=v)
        for r, v in (("a", 1), ("b", -1), ("c", -1))
    ]
    [row] = turn_rows([t], fb)
    assert (row["feedback_count"], row["thumbs_up"], row["thumbs_down"]) == (3, 1, 2)
    assert json.loads(row["references"])[0]["source"] == "hr/leave.pdf"


def test_finetune_rows_use_approved_corrections_over_pairs():
    t = _turn(question="how many leave days", standalone_question="How many leave days do I get?")
    other = _turn(question="VPN?")
    approved = Feedback.new(turn_id=t.turn_id, reviewer="bo", kind="review", corrected_answer="30 days.", approved=True)
    not_approved = Feedback.new(turn_id=other.turn_id, reviewer="bo", kind="review", corrected_answer="Ask IT.")
    pairs = [
        QAPair.new("How many leave days do I get", "25."),
        QAPair.new("Who approves travel?", "Your manager.", images=["a.png", "b.png"]),
    ]
    rows = finetune_rows([approved, not_approved], {t.turn_id: t, other.turn_id: other}, pairs)
    assert {r["instruction"]: r["response"] for r in rows} == {
        "How many leave days do I get?": "30 days.",
        "Who approves travel?": "Your manager.",
    }


def test_finetune_frame_has_optional_columns_only_when_used():
    plain = to_frame([{"instruction": "q", "response": "a", "context": "", "images": []}], "finetune")
    assert list(plain.columns) == ["instruction", "response"]
    rich = to_frame([{"instruction": "q", "response": "a", "context": "c", "images": ["x.png"]}], "finetune")
    assert list(rich.columns) == ["instruction", "response", "context", "images"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "jsonl"])
def test_writers_roundtrip(fmt, tmp_path):
    import pandas as pd

    frame = to_frame(
        [{"instruction": "Who?", "response": "Ana, née SS.", "context": "ctx", "images": ["a.png", "b.png"]}],
        "finetune",
    )
    out = write_frame(frame, fmt, tmp_path / f"sub/out.{fmt}")
    back = {
        "csv": lambda: pd.read_csv(out),
        "xlsx": lambda: pd.read_excel(out, engine="openpyxl"),
        "parquet": lambda: pd.read_parquet(out),
        "jsonl": lambda: pd.read_json(out, lines=True),
    }[fmt]()
    assert back.loc[0, "response"] == "Ana, née SS."
    images = back.loc[0, "images"]
    assert (list(images) if fmt in ("parquet", "jsonl") else images.split(";")) == ["a.png", "b.png"]


def test_unknown_format_is_refused(tmp_path):
    import pandas as pd

    with pytest.raises(ValueError, match="'xml' is unknown"):
        write_frame(pd.DataFrame(), "xml", tmp_path / "x")


@pytest.fixture
def store(tmp_path):
    s = SQLiteFeedbackStore(tmp_path / "docent.sqlite3")
    early, late = _turn(created_at="2026-11-01T10:00:00Z"), _turn(question="Late?", created_at="2026-11-05T10:00:00Z")
    s.save_turn(early)
    s.save_turn(late)
    s.save_feedback(
        Feedback.new(
            turn_id=early.turn_id,
            reviewer="bo",
            kind="review",
            likert=5,
            created_at="2026-11-01T11:00:00Z",
            updated_at="2026-11-01T11:00:00Z",
        )
    )
    s.save_feedback(
        Feedback.new(
            turn_id=late.turn_id,
            reviewer="bo",
            kind="review",
            corrected_answer="No.",
            approved=True,
            created_at="2026-11-05T11:00:00Z",
            updated_at="2026-11-05T11:00:00Z",
        )
    )
    s.add_qa_pairs([QAPair.new("Who approves travel?", "Your manager.", created_at="2026-11-03T00:00:00Z")])
    yield s
    s.close()


def test_collect_respects_dates(store):
    assert list(collect(store, "turns", "2026-11-01", "2026-11-01")["question"]) == ["How many leave days?"]
    feedback = collect(store, "feedback", since="2026-11-02")
    assert list(feedback["question"]) == ["Late?"] and list(feedback["approved"]) == [True]
    finetune = collect(store, "finetune", until="2026-11-04")
    assert list(finetune["instruction"]) == ["Who approves travel?"]
    assert sorted(collect(store, "finetune")["instruction"]) == ["Late?", "Who approves travel?"]


def test_export_writes_file_and_counts_rows(store, tmp_path):
    import pandas as pd

    out = tmp_path / "feedback.xlsx"
    assert export(store, "feedback", "xlsx", out) == 2
    assert list(pd.read_excel(out)["likert_label"].fillna("")) == ["strongly agree", ""]
