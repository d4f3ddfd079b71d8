"""Quality gate (issue 10): the demo gold set, answered by the default extractive backend on a fresh
index of the demo knowledge base, must hold the committed baseline within its tolerances.

When answers improve on purpose, re-baseline with one command and commit the file:

    docent eval bench/data/demo_gold.jsonl --write-baseline
"""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings
from evaluation import gate
from evaluation.gold import load_gold
from evaluation.scoring import headline
from evaluation.service import evaluate

ROOT = Path(__file__).resolve().parents[2]
GOLD = ROOT / "bench" / "data" / "demo_gold.jsonl"

pytestmark = pytest.mark.slow


def test_demo_gold_set_holds_its_baseline(tmp_path):
    baseline = gate.load_baseline(gate.baseline_path(GOLD))
    settings = Settings(data_dir=tmp_path / "data", llm_backend="extractive")
    report, rows = evaluate(
        settings,
        load_gold(GOLD),
        gold=str(GOLD),
        split="all",
        kb=ROOT / baseline["kb"],
        qa=ROOT / baseline["qa"] if baseline.get("qa") else None,
    )
    assert report["summary"]["counts"]["errors"] == 0, [r["error"] for r in rows if r["error"]]
    passed, table = gate.check(headline(report["summary"]), baseline)
    print("\ndemo quality gate\n" + gate.render(table))
    assert passed, (
        "the demo gold set dropped beyond tolerance:\n"
        + gate.render(table)
        + "\nIf the change is intended, run `docent eval bench/data/demo_gold.jsonl --write-baseline`."
    )
