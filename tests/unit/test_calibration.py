"""Calibrated confidence (issue 10, item 5): fitting, the file, the chain, and `docent calibrate`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from chain.calibration import Calibration, CalibrationError, Stage, fit, fit_isotonic, fit_platt
from evaluation import calibrate as service
from evaluation.scoring import calibration as reliability
from feedback.records import Feedback, Turn
from feedback.sqlite import SQLiteFeedbackStore


def overconfident(n: int, seed: int):
    """Raw scores that claim more than they deliver: right with probability raw ** 3."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.2, 1.0, n)
    return raw.tolist(), (rng.uniform(0, 1, n) < raw**3).astype(int).tolist()


def test_fitted_map_lowers_ece_on_answers_it_never_saw():
    x_tune, y_tune = overconfident(400, 0)
    x_test, y_test = overconfident(400, 1)
    stage = fit(x_tune, y_tune)
    before = reliability(x_test, [bool(y) for y in y_test])["ece"]
    after = reliability([stage.apply(x) for x in x_test], [bool(y) for y in y_test])["ece"]
    assert before > 0.15 and after < 0.08
    assert stage.method in ("platt", "isotonic") and stage.log_loss is not None


def test_maps_are_monotone_and_stay_inside_0_1():
    x, y = overconfident(300, 2)
    a, b = fit_platt(x, y)
    assert a > 0
    kx, ky = fit_isotonic(x, y)
    assert all(p <= q for p, q in zip(ky, ky[1:])) and 0 < ky[0] and ky[-1] < 1
    stage = fit(x, y)
    values = [stage.apply(v) for v in np.linspace(0, 1, 21)]
    assert all(p <= q + 1e-12 for p, q in zip(values, values[1:])) and 0 <= min(values) and max(values) <= 1


def test_too_few_or_one_sided_answers_are_refused_with_the_count():
    with pytest.raises(CalibrationError, match="12 labelled answers"):
        fit([0.5] * 12, [1, 0] * 6)
    with pytest.raises(CalibrationError, match="both right and wrong"):
        fit([0.5] * 40, [1] * 40)


def test_platt_stage_inverts():
    stage = Stage("platt", {"a": 1.7, "b": -0.4})
    for x in (0.05, 0.3, 0.77, 0.99):
        assert stage.invert(stage.apply(x)) == pytest.approx(x, abs=1e-6)
    with pytest.raises(CalibrationError):
        Stage("isotonic", {"x": [0, 1], "y": [0.1, 0.9]}).invert(0.5)


def test_file_round_trip_and_identity_without_one(tmp_path):
    assert Calibration.load(tmp_path / "none.json").apply("rag", 0.42) == 0.42
    cal = Calibration(base={"rag": Stage("platt", {"a": 2.0, "b": -1.0}, n=50)})
    cal.save(tmp_path / "c.json")
    again = Calibration.load(tmp_path / "c.json")
    assert again.apply("rag", 0.6) == cal.apply("rag", 0.6) != 0.6
    assert again.apply("finetuned", 0.6) == 0.6  # a route without a map keeps its score
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CalibrationError, match="bad.json.*docent calibrate"):
        Calibration.load(tmp_path / "bad.json")


def test_chain_calibrates_answers_not_abstentions(tmp_path):
    from chain.pipeline import ChainOptions, DocentChain
    from chain.router import Router
    from index.retrieval import HybridRetriever
    from tests.contract.index_contract import EMB
    from tests.fixtures.qa import MemoryQA
    from tests.fixtures.small_index import small_index

    index = small_index(tmp_path / "idx")
    halve = Calibration(base={"rag": Stage("isotonic", {"x": [0.0, 1.0], "y": [0.0, 0.5]})})
    chain = DocentChain(
        HybridRetriever(index, EMB), Router(MemoryQA(), EMB), options=ChainOptions(top_k=3, calibration=halve)
    )
    answered = chain.answer_sync("How many days of annual leave do employees get?")
    assert not answered.abstained and answered.raw_confidence is not None
    assert answered.confidence == pytest.approx(answered.raw_confidence / 2, abs=1e-4)
    refused = chain.answer_sync("What is the capital of Mongolia's tax code for yaks?")
    assert refused.abstained and refused.confidence == refused.raw_confidence


def rated_store(tmp_path, cal: Calibration):
    """Turns shown with `cal` applied to known base probabilities, rated right exactly when base >= 0.5."""
    store = SQLiteFeedbackStore(tmp_path / "fb.sqlite3")
    bases = np.linspace(0.05, 0.95, 60)
    for i, base in enumerate(bases):
        shown = cal.reviewers["rag"][-1].apply(base) if cal.reviewers.get("rag") else base
        turn = Turn.new(
            session_id="s1" + "x" * 8,
            user="ann",
            question=f"q{i}",
            answer="a",
            route="rag",
            confidence=round(shown, 6),
            created_at="2026-11-20T10:00:00Z",
        )
        store.save_turn(turn)
        store.save_feedback(
            Feedback.new(turn_id=turn.turn_id, reviewer="bo", kind="review", likert=5 if base >= 0.5 else 1)
        )
    store.save_turn(Turn.new(session_id="s1" + "x" * 8, user="ann", question="neutral", answer="a", confidence=0.9))
    return store, bases


def test_reviewer_refit_recovers_the_base_value_users_saw(tmp_path):
    earlier = Stage("platt", {"a": 1.5, "b": 0.3}, fitted_at="2026-11-01T00:00:00Z")
    cal = Calibration(reviewers={"rag": [earlier]})
    store, bases = rated_store(tmp_path, cal)
    data, shown = service.labelled_from_feedback(store, cal)
    xs, ys = data["rag"]
    assert np.allclose(sorted(xs), bases, atol=1e-4)  # the reviewer stage active then was inverted
    assert sum(ys) == sum(bases >= 0.5) and len(shown) == 60
    new, report = service.fit_reviewers(cal, data, min_ratings=50)
    assert len(new.reviewers["rag"]) == 2 and report[0]["method"] == "platt"
    few, report = service.fit_reviewers(cal, data, min_ratings=100)
    assert len(few.reviewers["rag"]) == 1 and "at least 100" in report[0]["kept"]
    store.close()


@pytest.fixture
def cli_app(tmp_path, monkeypatch):
    from cli import calibrate as cli

    monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    application = typer.Typer()
    cli.register(application)
    application.command("noop")(lambda: None)  # more than one command: typer keeps the subcommand name
    return application


def test_cli_fits_from_an_eval_run_then_shows_it(tmp_path, cli_app):
    x, y = overconfident(200, 3)
    rows = [
        {"route": "rag", "abstained": False, "raw_confidence": a, "correct": bool(b), "error": None}
        for a, b in zip(x, y)
    ]
    rows.append({"route": "rag", "abstained": True, "raw_confidence": 0.1, "correct": True, "error": None})
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli_app, ["calibrate", "--from-eval", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "200 answers" in result.output  # the abstention is left out
    written = Calibration.load(tmp_path / "data" / "calibration.json")
    assert written.base["rag"].n == 200
    shown = runner.invoke(cli_app, ["calibrate"])
    assert shown.exit_code == 0 and "rag" in shown.output and "reviewers' ratings: 0" in shown.output


def test_cli_names_a_missing_run(tmp_path, cli_app):
    result = CliRunner().invoke(cli_app, ["calibrate", "--from-eval", str(tmp_path / "nope.jsonl")])
    assert result.exit_code != 0
    assert "nope.jsonl" in str(result.exception or result.output)
    assert not (tmp_path / "data" / "calibration.json").exists()
