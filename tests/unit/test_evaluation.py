"""`docent eval` scoring, gold loading, reports and the baseline gate: pure logic over plain data."""

from __future__ import annotations

import json

import pytest

from evaluation import gate
from evaluation.gold import GoldFileError, load_gold
from evaluation.report import load_run, reliability_png, render_markdown, write_run
from evaluation.scoring import (
    ItemResult,
    calibration,
    compare,
    first_gold_rank,
    headline,
    key_fact_hits,
    normalise,
    percentile,
    retrieval_figures,
    summarise,
)


def test_key_facts_ignore_case_space_markdown_escapes_and_curly_quotes():
    answer = "Set **`num\\_round`** to 10.\nThe conversation\u2019s   HISTORY is hidden."
    assert key_fact_hits(answer, ["num_round", "conversation's history is hidden", "num_rounds"]) == [True, True, False]
    assert normalise("ml\\.p3\\.2xlarge") == "ml.p3.2xlarge"


def test_first_gold_rank_counts_distinct_pages_and_matches_paths():
    pages = ["a.md", "a.md", "docs/b.md", "c.md"]
    assert first_gold_rank(pages, ["b.md"]) == 1
    assert first_gold_rank(pages, ["c.md", "b.md"]) == 1
    assert first_gold_rank(pages, ["x.md"]) is None
    assert first_gold_rank(["xb.md"], ["b.md"]) is None


def test_retrieval_figures():
    figures = retrieval_figures([0, 1, 4, 9, None])
    assert figures == {
        "n": 5,
        "recall@1": 0.2,
        "recall@5": 0.6,
        "recall@10": 0.8,
        "mrr@10": round((1 + 1 / 2 + 1 / 5 + 1 / 10) / 5, 4),
    }
    assert retrieval_figures([]) == {"n": 0}


def test_calibration_ece_and_bins():
    perfect = calibration([0.95] * 20, [True] * 19 + [False])
    assert perfect["ece"] == pytest.approx(0.0, abs=1e-4)
    cal = calibration([0.9, 0.9, 0.1, 0.1, 1.0], [False, False, True, True, True])
    # bins: 0.1 -> acc 1.0 (2 items), 0.9 -> acc 0.0 (2 items), 1.0 falls in the last bin with 0.9s
    top = cal["bins"][9]
    assert top["n"] == 3 and top["accuracy"] == pytest.approx(1 / 3, abs=1e-3)
    expected = (2 / 5) * abs(1.0 - 0.1) + (3 / 5) * abs(1 / 3 - (0.9 + 0.9 + 1.0) / 3)
    assert cal["ece"] == pytest.approx(expected, abs=1e-3)
    assert len(cal["bins"]) == 10 and sum(b["n"] for b in cal["bins"]) == 5


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    assert percentile([], 50) is None


def _results():
    return [
        ItemResult(
            "a1",
            "answerable",
            "q",
            "fact",
            answer="It is 1 GB.",
            gold_pages=["p.md"],
            retrieved_pages=["x.md", "p.md"],
            cited_pages=["p.md"],
            key_facts=["1 gb"],
            fact_hits=[True],
            confidence=0.9,
            latency_ms=10,
            pre_llm_ms=5,
        ),
        ItemResult(
            "a2",
            "answerable",
            "q",
            "limit",
            answer="I could not find this.",
            abstained=True,
            gold_pages=["q.md"],
            retrieved_pages=["q.md"],
            key_facts=["5"],
            fact_hits=[False],
            confidence=0.2,
            latency_ms=20,
            pre_llm_ms=6,
        ),
        ItemResult("o1", "out_of_scope", "q", "other_cloud", abstained=True, confidence=0.1, latency_ms=30),
        ItemResult(
            "o2", "out_of_scope", "q", "workplace", abstained=False, llm_called=True, confidence=0.6, latency_ms=40
        ),
        ItemResult(
            "r1",
            "routing",
            "q",
            "heavy",
            route="finetuned",
            expected_route="finetuned",
            pair="P?",
            matched_question="P?",
            confidence=0.8,
            latency_ms=50,
        ),
        ItemResult(
            "r2",
            "routing",
            "q",
            "hard_negative",
            route="finetuned",
            expected_route="rag",
            confidence=0.7,
            latency_ms=60,
        ),
    ]


def test_summarise_reports_each_part_by_group():
    s = summarise(_results())
    assert s["counts"] == {"answerable": 2, "out_of_scope": 2, "routing": 2, "errors": 0}
    assert s["retrieval"]["retrieved"]["recall@1"] == 0.5 and s["retrieval"]["retrieved"]["mrr@10"] == 0.75
    assert s["retrieval"]["cited"]["recall@1"] == 0.5 and s["retrieval"]["cited"]["recall@10"] == 0.5
    assert s["key_facts"]["overall"] == {"n": 2, "hits": 1, "rate": 0.5}
    assert s["key_facts"]["by_category"]["limit"]["rate"] == 0.0
    assert s["refusals"]["answerable"]["overall"]["rate"] == 0.5
    assert s["refusals"]["out_of_scope"]["by_category"] == {
        "other_cloud": {"n": 1, "hits": 1, "rate": 1.0},
        "workplace": {"n": 1, "hits": 0, "rate": 0.0},
    }
    assert s["routing"]["by_variant"]["hard_negative"]["rate"] == 0.0
    assert s["routing"]["pair_matched"] == {"n": 1, "hits": 1, "rate": 1.0}
    assert s["calibration"]["n"] == 6
    assert s["latency_ms"]["p50"] == 35.0


def test_correctness_labels():
    a1, a2, o1, o2, r1, r2 = _results()
    assert a1.correct and not a2.correct and o1.correct and not o2.correct and r1.correct and not r2.correct
    a1.fact_hits = [True, False]
    assert not a1.correct
    a1.fact_hits, a1.error = [True], "bad question"
    assert not a1.correct


def test_compare_knows_which_direction_is_better():
    now, before = summarise(_results()), summarise(_results())
    before["refusals"]["answerable"]["overall"]["rate"] = 0.25
    before["key_facts"]["overall"]["rate"] = 0.25
    rows = {r["metric"]: r for r in compare(now, before)}
    assert rows["answerable refused"]["verdict"] == "worse" and rows["answerable refused"]["delta"] == 0.25
    assert rows["key-fact match"]["verdict"] == "better"
    assert rows["routing accuracy"]["verdict"] == "same"


def test_gate_fails_beyond_tolerance_only():
    summary = summarise(_results())
    baseline = gate.baseline_from(summary, "g.jsonl", "kb", None, "extractive")
    assert baseline["tolerance"]["key-fact match"] == pytest.approx(0.5001)  # one question of two
    ok, _ = gate.check(headline(summary), baseline)
    assert ok
    worse = dict(headline(summary))
    worse["answerable refused"] = 0.5 + 0.6
    ok, rows = gate.check(worse, baseline)
    assert not ok and {r["metric"] for r in rows if r["status"] == "FAIL"} == {"answerable refused"}
    better = dict(headline(summary), **{"answerable refused": 0.0, "routing accuracy": 1.0})
    assert gate.check(better, baseline)[0]
    assert "FAIL" in gate.render(rows)


def test_baseline_path_sits_beside_the_gold_file(tmp_path):
    assert gate.baseline_path(tmp_path / "demo_gold.jsonl") == tmp_path / "demo_baseline.json"
    with pytest.raises(Exception, match="--write-baseline"):
        gate.load_baseline(tmp_path / "demo_baseline.json")


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_load_gold_filters_split_and_keeps_unsplit_rows(tmp_path):
    path = _write(
        tmp_path / "g.jsonl",
        [
            {"id": "1", "kind": "answerable", "question": "a?", "pages": ["a.md"], "split": "test"},
            {"id": "2", "kind": "out_of_scope", "question": "b?", "split": "tune"},
            {"id": "3", "kind": "routing", "question": "c?", "pair": "C?"},
        ],
    )
    assert [i.id for i in load_gold(path, "test")] == ["1", "3"]
    assert [i.id for i in load_gold(path)] == ["1", "2", "3"]
    assert load_gold(path)[2].expected_route == "finetuned"


@pytest.mark.parametrize(
    "row, message",
    [
        ("not json", "not valid JSON"),
        ({"id": "1", "kind": "answerable", "question": " "}, '"question" is missing'),
        ({"id": "1", "kind": "faq", "question": "a?"}, '"kind" is'),
        ({"id": "1", "kind": "answerable", "question": "a?"}, 'needs "pages"'),
        ({"id": "1", "kind": "answerable", "question": "a?", "pages": "a.md"}, "list of strings"),
        ({"id": "1", "kind": "routing", "question": "a?", "expected_route": "llm"}, "expected_route"),
    ],
)
def test_bad_gold_rows_name_the_line(tmp_path, row, message):
    path = _write(tmp_path / "g.jsonl", [{"id": "0", "kind": "out_of_scope", "question": "ok?"}, row])
    with pytest.raises(GoldFileError, match=message) as err:
        load_gold(path)
    assert "g.jsonl:2" in str(err.value)


def test_gold_file_problems_are_clear(tmp_path):
    with pytest.raises(GoldFileError, match="no such gold file"):
        load_gold(tmp_path / "missing.jsonl")
    path = _write(tmp_path / "g.jsonl", [{"id": "1", "kind": "out_of_scope", "question": "a?", "split": "tune"}])
    with pytest.raises(GoldFileError, match="no questions in split 'test'"):
        load_gold(path, "test")
    with pytest.raises(GoldFileError, match="--split"):
        load_gold(path, "dev")
    dup = _write(tmp_path / "d.jsonl", [{"id": "1", "kind": "out_of_scope", "question": "a?"}] * 2)
    with pytest.raises(GoldFileError, match="used twice"):
        load_gold(dup)


def test_write_run_and_load_it_back(tmp_path):
    results = _results()
    report = {
        "gold": "g.jsonl",
        "split": "test",
        "created": "now",
        "backend": "extractive",
        "summary": summarise(results),
    }
    paths = write_run(tmp_path / "run", report, [r.to_dict() for r in results])
    assert paths["diagram"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(paths["items"].read_text().splitlines()) == 6
    back = load_run(tmp_path / "run")
    assert back["summary"]["key_facts"]["overall"]["rate"] == 0.5 and back["items"][0]["correct"] is True
    text = render_markdown(report)
    for heading in ("## Retrieval", "## Key-fact match", "## Refusals", "## Routing", "## Calibration", "## Latency"):
        assert heading in text
    with pytest.raises(Exception, match="no such run"):
        load_run(tmp_path / "nope.json")


def test_reliability_png_handles_an_empty_run(tmp_path):
    reliability_png(calibration([], []), tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 0
