"""`docent export` and `docent stores init` through typer's runner, on the SQLite store."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from cli import feedback as cli
from feedback.records import Turn
from feedback.sqlite import SQLiteFeedbackStore


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    application = typer.Typer()
    cli.register(application)
    return application


def test_bad_date_names_the_flag(app):
    result = CliRunner().invoke(app, ["export", "--what", "turns", "--out", "x.csv", "--until", "2026-11-31"])
    assert result.exit_code == 2
    assert "--until" in result.output and "YYYY-MM-DD" in result.output


def test_unknown_what_is_refused(app):
    result = CliRunner().invoke(app, ["export", "--what", "chats", "--out", "x.csv"])
    assert result.exit_code == 2 and "--what" in result.output


def test_export_turns_csv(app, tmp_path):
    import pandas as pd

    store = SQLiteFeedbackStore(tmp_path / "data" / "docent.sqlite3")
    store.save_turn(Turn.new(session_id="s", user="u", question="q?", answer="a", created_at="2026-11-02T00:00:00Z"))
    store.close()
    out = tmp_path / "turns.csv"
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--what",
            "turns",
            "--format",
            "csv",
            "--out",
            str(out),
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-02",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 1 turns rows" in result.output
    assert list(pd.read_csv(out)["question"]) == ["q?"]


def test_stores_init_sqlite_prints_path(app, tmp_path):
    result = CliRunner().invoke(app, ["stores", "init"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "data" / "docent.sqlite3") in result.output
    assert "m001_initial" in result.output
    again = CliRunner().invoke(app, ["stores", "init"])
    assert "up to date" in again.output


def test_help_texts(app):
    assert "finetune" in CliRunner().invoke(app, ["export", "--help"]).output
    assert "DynamoDB" in CliRunner().invoke(app, ["stores", "init", "--help"]).output.replace("dynamodb", "DynamoDB")
