"""Loading, validating, splitting and hashing the fine-tuning set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedback.qa_file import QARow, data_hash, load_pairs, split_pairs, validate_pairs


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_loads_required_and_optional_columns(tmp_path):
    path = write(
        tmp_path / "qa.csv", 'instruction,response,context,images\n"Q1?","A1.","ctx","a.png;b.png"\nQ2?,A2.,,\n'
    )
    pairs, report = load_pairs(path)
    assert report.ok, report.render()
    assert [(p.instruction, p.response, p.line) for p in pairs] == [("Q1?", "A1.", 2), ("Q2?", "A2.", 3)]
    assert pairs[0].context == "ctx" and pairs[0].images == ("a.png", "b.png")
    assert pairs[1].images == ()


def test_jsonl_loads_and_reports_bad_lines_without_stopping(tmp_path):
    lines = [
        json.dumps({"instruction": "Q1?", "response": "A1."}),
        "{not json",
        json.dumps({"instruction": "Q3?"}),
        "",
        json.dumps({"instruction": "Q5?", "response": "A5.", "images": ["x.png"]}),
    ]
    pairs, report = load_pairs(write(tmp_path / "qa.jsonl", "\n".join(lines)))
    assert [p.line for p in pairs] == [1, 5]
    assert pairs[1].images == ("x.png",)
    assert [(p.line, p.fatal) for p in report.problems] == [(2, True), (3, True)]
    rendered = report.render()
    assert "qa.jsonl:2: not valid JSON" in rendered and "qa.jsonl:3: missing key(s) response" in rendered
    assert "2 error(s)" in rendered


def test_csv_without_required_header_names_the_columns(tmp_path):
    pairs, report = load_pairs(write(tmp_path / "qa.csv", "question,answer\nQ,A\n"))
    assert pairs == [] and not report.ok
    assert "missing column(s) instruction, response" in report.render()


@pytest.mark.parametrize("name", ["missing.csv", "qa.txt"])
def test_missing_or_unsupported_file_is_reported(tmp_path, name):
    if name.endswith(".txt"):
        write(tmp_path / name, "x")
    _, report = load_pairs(tmp_path / name)
    assert not report.ok
    assert name in report.render()


def test_validation_finds_every_problem_with_line_numbers():
    pairs = [
        QARow("How many days leave?", "25.", line=2),
        QARow("", "orphan answer", line=3),
        QARow("Question without answer?", "", line=4),
        QARow("how many  DAYS leave?", "Twenty-five.", line=5),
        QARow("Long?", "word " * 50, line=6),
    ]
    report = validate_pairs(pairs, max_tokens=20, count_tokens=lambda s: len(s.split()), source="qa.csv")
    messages = {p.line: p.message for p in report.problems}
    assert messages[3] == "empty question ('instruction')"
    assert messages[4] == "empty answer ('response')"
    assert messages[5].startswith("duplicate question (first seen on line 2)")
    assert "over the limit of 20" in messages[6]
    assert 2 not in messages
    assert not report.ok
    assert len(report.errors) == 4


def test_empty_set_is_an_error():
    report = validate_pairs([], source="qa.csv")
    assert not report.ok and "empty" in report.render()


def test_valid_set_passes():
    pairs = [QARow(f"Q{i}?", f"A{i}.", line=i + 2) for i in range(5)]
    assert validate_pairs(pairs, max_tokens=100).ok


def test_split_is_deterministic_and_disjoint():
    pairs = [QARow(f"Q{i}?", f"A{i}.", line=i + 2) for i in range(50)]
    first, again = split_pairs(pairs, 0.2, seed=7), split_pairs(pairs, 0.2, seed=7)
    assert first == again
    assert len(first.held_out) == 10 and len(first.train) == 40
    assert not {p.instruction for p in first.train} & {p.instruction for p in first.held_out}
    assert first.eval_pairs == first.held_out and not first.evaluate_on_train
    other = split_pairs(pairs, 0.2, seed=8)
    assert other.held_out != first.held_out


def test_tiny_set_trains_on_everything_and_evaluates_on_train():
    pairs = [QARow(f"Q{i}?", f"A{i}.") for i in range(5)]
    split = split_pairs(pairs, 0.2, seed=1)
    assert split.evaluate_on_train and split.train == pairs and split.held_out == []
    assert split.eval_pairs == pairs


def test_split_refuses_bad_fraction():
    with pytest.raises(ValueError, match="held_out_fraction"):
        split_pairs([QARow("q", "a")] * 20, 1.0)


def test_data_hash_ignores_whitespace_and_line_numbers_but_not_content():
    a = [QARow("How  many days?", "25 days.", line=2)]
    b = [QARow("How many days? ", "25 days.", line=9)]
    c = [QARow("How many days?", "26 days.", line=2)]
    assert data_hash(a) == data_hash(b)
    assert data_hash(a) != data_hash(c)
    assert len(data_hash(a)) == 64
