"""The quality gate: a run compared with a committed baseline, failing on drops beyond a tolerance.

A figure fails when it is worse than its baseline by more than its tolerance: one question's worth
of that figure (1/n) or 0.05, whichever is larger, so a single flipped answer in a small set does
not fail the build but two do. Better figures never fail; re-baseline to lock them in.

>>> check({"key-fact match": 0.5}, {"metrics": {"key-fact match": 0.8}, "tolerance": {"key-fact match": 0.1}})[0]
False
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from config.errors import DocentError
from evaluation.scoring import HEADLINE, lookup

GATED = {
    "retrieved recall@5": ("retrieval", "retrieved", "n"),
    "retrieved MRR@10": None,  # not a count: fixed tolerance
    "key-fact match": ("key_facts", "overall", "n"),
    "answerable refused": ("refusals", "answerable", "overall", "n"),
    "out-of-scope refused": ("refusals", "out_of_scope", "overall", "n"),
    "routing accuracy": ("routing", "overall", "n"),
}
MIN_TOLERANCE = 0.05


def baseline_path(gold: Path) -> Path:
    """bench/data/demo_gold.jsonl -> bench/data/demo_baseline.json."""
    gold = Path(gold)
    return gold.with_name(gold.stem.removesuffix("_gold") + "_baseline.json")


def baseline_from(summary: dict[str, Any], gold: str, kb: str | None, qa: str | None, backend: str) -> dict[str, Any]:
    metrics, tolerance = {}, {}
    for name, count_path in GATED.items():
        metrics[name] = lookup(summary, HEADLINE[name][0])
        n = lookup(summary, count_path) if count_path else None
        tolerance[name] = round(max(MIN_TOLERANCE, 1 / n + 1e-4 if n else MIN_TOLERANCE), 4)
    return {
        "gold": gold,
        "kb": kb,
        "qa": qa,
        "backend": backend,
        "written": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rule": "a figure fails when worse than its baseline by more than its tolerance "
        "(max(0.05, 1/n)); re-baseline with `docent eval GOLD --write-baseline`",
        "metrics": metrics,
        "tolerance": tolerance,
    }


def load_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DocentError(f"{path}: no baseline yet. Write one with `docent eval GOLD --write-baseline`.") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DocentError(f"{path}: not a readable baseline ({exc}); re-write it with --write-baseline.") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise DocentError(f'{path}: has no "metrics"; re-write it with `docent eval GOLD --write-baseline`.')
    return data


def check(current: dict[str, Any], baseline: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
    """(passed, rows): `current` maps headline names to figures (scoring.headline)."""
    rows, passed = [], True
    for name, base in baseline["metrics"].items():
        now = current.get(name)
        tol = float(baseline.get("tolerance", {}).get(name, MIN_TOLERANCE))
        direction = HEADLINE[name][1] if name in HEADLINE else +1
        if base is None:
            status, delta = "no baseline", None
        elif now is None:
            status, delta = "FAIL (missing)", None
        else:
            delta = round(now - base, 4)
            status = "FAIL" if -delta * direction > tol + 1e-9 else "ok"
        passed &= not status.startswith("FAIL")
        rows.append(
            {"metric": name, "baseline": base, "current": now, "delta": delta, "tolerance": tol, "status": status}
        )
    return passed, rows


def render(rows: list[dict[str, Any]]) -> str:
    def f(v):
        return "-" if v is None else f"{v:.3f}"

    lines = [f"{'metric':<22} {'baseline':>9} {'current':>9} {'delta':>8} {'allowed':>8}  status"]
    for r in rows:
        delta = "-" if r["delta"] is None else f"{r['delta']:+.3f}"
        lines.append(
            f"{r['metric']:<22} {f(r['baseline']):>9} {f(r['current']):>9} {delta:>8} "
            f"{r['tolerance']:>8.3f}  {r['status']}"
        )
    return "\n".join(lines)
