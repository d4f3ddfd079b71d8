"""`docent eval` end to end with the real packaged MiniLM on a fresh index of a small corpus."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import _register_all, app, main
from tests.fixtures.documents import build_sample_corpus

_register_all()
runner = CliRunner()


def test_eval_on_a_fresh_index_writes_reports_and_compares(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path / "data"))
    kb = tmp_path / "kb"
    build_sample_corpus(kb)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "id": "a",
                    "kind": "answerable",
                    "question": "which class do I fly on a four hour flight?",
                    "pages": ["policies/travel-policy.pdf"],
                    "key_facts": ["Economy"],
                    "category": "fact",
                },
                {
                    "id": "o",
                    "kind": "out_of_scope",
                    "question": "What is the kubernetes helm chart rollback procedure?",
                    "category": "adjacent",
                },
            ]
        )
        + "\n"
    )
    first = runner.invoke(
        app, ["eval", str(gold), "--kb", str(kb), "--out", str(tmp_path / "r1")], catch_exceptions=False
    )
    assert first.exit_code == 0, first.output
    report = json.loads((tmp_path / "r1" / "report.json").read_text())
    summary = report["summary"]
    assert summary["counts"] == {"answerable": 1, "out_of_scope": 1, "routing": 0, "errors": 0}
    assert summary["retrieval"]["retrieved"]["recall@1"] == 1.0
    assert summary["key_facts"]["overall"]["rate"] == 1.0
    assert summary["refusals"]["out_of_scope"]["overall"]["rate"] == 1.0
    assert {i["id"] for i in report["items"]} == {"a", "o"}
    assert (tmp_path / "r1" / "reliability.png").exists() and "## Calibration" in (
        tmp_path / "r1" / "report.md"
    ).read_text()
    assert not (tmp_path / "data" / "index").exists()  # the configured data dir is left alone

    second = runner.invoke(
        app,
        ["eval", str(gold), "--kb", str(kb), "--out", str(tmp_path / "r2"), "--compare", str(tmp_path / "r1")],
        catch_exceptions=False,
    )
    assert second.exit_code == 0
    assert "| key-fact match | 1.000 | 1.000 | +0.000 | same |" in second.output


@pytest.mark.parametrize(
    "args, expected",
    [
        (["missing.jsonl"], "no such gold file"),
        (["g.jsonl", "--split", "dev"], "--split 'dev'"),
        (["g.jsonl", "--qa", "pairs.csv"], "--qa only applies with --kb"),
    ],
)
def test_eval_input_errors_are_one_clear_line(tmp_path, monkeypatch, capsys, args, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.jsonl").write_text('{"kind": "out_of_scope", "question": "q?"}\n')
    with pytest.raises(SystemExit) as exc:
        main(["eval", *args])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
