"""`docent ingest`, `index status`, `qa import`, `ask` and `batch` with the real packaged MiniLM."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import _register_all, app
from tests.fixtures.documents import (
    PDF_PAGE_SENTENCES,
    build_corrupt,
    build_empty,
    build_encrypted_pdf,
    build_sample_corpus,
    staff_row,
)

_register_all()
runner = CliRunner()


class Ran:
    def __init__(self, result):
        self.exit_code = result.exit_code
        self.raw = result.stdout
        self.output = " ".join(result.output.split())  # rich wraps long lines


def run(*args):
    return Ran(runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"}))


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "kb"
    build_sample_corpus(root)
    return root


def test_ingest_is_incremental_and_reports_bad_files(corpus, tmp_path):
    build_corrupt(corpus / "policies", "broken.pdf")
    build_empty(corpus / "policies", "empty.md")
    build_encrypted_pdf(corpus / "policies")
    (corpus / "notes.bin").write_bytes(b"\x00\x01")
    first = run("ingest", str(corpus))
    assert first.exit_code == 0, first.output
    assert "7 added" in first.output and "4 skipped" in first.output
    assert "broken.pdf" in first.output and "encrypted PDF" in first.output and "empty" in first.output
    assert "unsupported file type '.bin'" in first.output

    again = run("ingest", str(corpus))
    assert "0 added, 0 updated, 7 unchanged" in again.output

    (corpus / "policies" / "office_hours.txt").write_text("The office opens at 7:30 on weekdays.\n")
    changed = run("ingest", str(corpus))
    assert "0 added, 1 updated, 6 unchanged" in changed.output

    (corpus / "data" / "holidays.csv").unlink()
    kept = run("ingest", str(corpus))
    assert "0 deleted" in kept.output  # without --delete-missing nothing is removed
    removed = run("ingest", str(corpus), "--delete-missing")
    assert "1 deleted" in removed.output and "data/holidays.csv" in removed.output

    status = run("index", "status", "--sources")
    assert "sources: 6" in status.output
    assert "policies/travel-policy.pdf" in status.output
    assert "all-MiniLM-L6-v2" in status.output


def test_ingest_missing_path_is_a_clear_error(tmp_path):
    result = run("ingest", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_ask_gives_route_confidence_and_deep_links(corpus):
    run("ingest", str(corpus))
    out = run("ask", "which class do I fly on a four hour flight?", "--json")
    data = json.loads(out.raw)
    assert data["route"] == "rag" and not data["abstained"]
    top = data["references"][0]
    assert top["source"] == "policies/travel-policy.pdf"
    assert top["url"] == "policies/travel-policy.pdf#page=2"
    assert "Economy" in data["answer"]
    assert 0 <= data["confidence"] <= 1 and data["confidence_band"] in ("high", "medium", "low")
    assert data["retrieved"][0]["source"] == "policies/travel-policy.pdf"
    assert {r["source"] for r in data["references"]} <= {r["source"] for r in data["retrieved"]}
    assert 1 <= len(data["retrieved"]) <= 10 and set(data["retrieved"][0]) == {"source", "title", "locator", "score"}

    sheet = json.loads(run("ask", f"what is the phone extension of {staff_row(12)[0]}?", "--json").raw)
    ref = sheet["references"][0]
    assert ref["source"] == "data/directory.xlsx"
    assert "sheet Staff" in ref["locator"]
    lo, hi = (int(x) for x in ref["locator"].split("rows ")[1].split(",")[0].split("-"))
    assert lo <= 12 <= hi


def test_follow_up_in_a_session(corpus):
    run("ingest", str(corpus))
    first = json.loads(run("ask", "how do I book business travel?", "--json").raw)
    follow = json.loads(run("ask", "and what about receipts for it?", "--session", first["session"], "--json").raw)
    assert "travel" in follow["standalone_question"].lower()
    assert follow["references"][0]["source"] == "policies/travel-policy.pdf"


def test_qa_import_routes_paraphrases_to_the_pair(corpus, tmp_path):
    run("ingest", str(corpus))
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text(
        "instruction,response\n"
        "How do I request a new laptop?,Open a ticket in the IT portal under Hardware > Laptop.\n"
        "How do I request a new laptop?,Duplicate answer\n"
        ",missing question\n",
        encoding="utf-8",
    )
    out = run("qa", "import", str(csv_path))
    assert "1 added" in out.output
    assert "pairs.csv:3: duplicate question" in out.output and "pairs.csv:4: empty question" in out.output
    listing = run("qa", "list")
    assert "1 pairs" in listing.output and "request a new laptop" in listing.output
    data = json.loads(run("ask", "how can I request a new laptop", "--json").raw)
    assert data["route"] == "finetuned"
    assert data["answer"] == "Open a ticket in the IT portal under Hardware > Laptop."
    assert data["matched_question"] == "How do I request a new laptop?"


def test_batch_writes_every_field(corpus, tmp_path):
    run("ingest", str(corpus))
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "question": PDF_PAGE_SENTENCES[2]}),
                json.dumps({"id": "b", "question": "   "}),
                "not json",
                json.dumps({"id": "c", "question": "What is the kubernetes helm chart rollback procedure?"}),
            ]
        )
        + "\n"
    )
    dst = tmp_path / "out.jsonl"
    result = run("batch", str(src), str(dst))
    assert result.exit_code == 0
    rows = [json.loads(x) for x in dst.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    a, b, c = rows
    assert set(a) == {
        "id",
        "answer",
        "route",
        "abstained",
        "confidence",
        "matched_question",
        "references",
        "retrieved",
        "llm_called",
        "timings_ms",
    }
    assert a["retrieved"][0]["source"] == "policies/travel-policy.pdf"
    assert a["references"][0]["source"] == "policies/travel-policy.pdf"
    assert set(a["references"][0]) == {"source", "title", "locator", "url", "score"}
    assert set(a["timings_ms"]) == {"route", "retrieve", "generate", "total"}
    assert a["llm_called"] is False
    assert "empty" in b["error"]
    assert c["abstained"] is True
    assert "line 3" in result.output or ":3:" in result.output
