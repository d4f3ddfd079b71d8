"""Labelled answers for `docent calibrate`: from an evaluation run, or from reviewers' ratings (issue 10, item 5).

An answer is labelled right or wrong; abstentions are left out (their score measures how weak the evidence
was, and the chain does not calibrate it). From a run: the `correct` of each item (`docent eval`), on the
raw score. From reviewers: Likert 4-5 (agree) is right, 1-2 (disagree) wrong, 3 says nothing; on the base
probability behind the confidence the user was shown (chain.calibration.Calibration.base_value).

>>> rows = [{"route": "rag", "abstained": False, "raw_confidence": 0.8, "correct": True, "error": None}]
>>> labelled_from_items(rows)
{'rag': ([0.8], [1])}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from chain.calibration import Calibration, CalibrationError, Stage, fit
from config.errors import DocentError
from evaluation.scoring import calibration as reliability

Labelled = dict[str, tuple[list[float], list[int]]]


def labelled_from_items(rows: Iterable[dict[str, Any]]) -> Labelled:
    out: Labelled = {}
    for row in rows:
        if row.get("error") or row.get("abstained") or not row.get("route"):
            continue
        x = row.get("raw_confidence", row.get("confidence"))
        xs, ys = out.setdefault(row["route"], ([], []))
        xs.append(float(x))
        ys.append(int(bool(row["correct"])))
    return out


def read_items(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Rows of `docent eval` runs: items.jsonl, report.json, or the --out folder holding them."""
    rows: list[dict[str, Any]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            path = path / "items.jsonl"
        if not path.exists():
            raise DocentError(
                f"--from-eval {path}: no such file; pass the items.jsonl (or --out folder) of `docent eval`."
            )
        try:
            if path.suffix == ".json":
                rows.extend(json.loads(path.read_text(encoding="utf-8"))["items"])
            else:
                rows.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        except (ValueError, KeyError, TypeError) as exc:
            raise DocentError(f"--from-eval {path}: not a `docent eval` items file ({exc}).") from None
    for row in rows:
        if not isinstance(row, dict) or "correct" not in row:
            raise DocentError(
                f"--from-eval: a row without `correct` ({str(row)[:80]}); pass items written by `docent eval`."
            )
    return rows


def labelled_from_feedback(store, current: Calibration) -> tuple[Labelled, list[tuple[float, int]]]:
    """(base-probability samples per route, (shown confidence, right) pairs for the reliability diagram)."""
    turns = {t.turn_id: t for t in store.list_turns()}
    out: Labelled = {}
    shown: list[tuple[float, int]] = []
    for fb in store.list_feedback():
        turn = turns.get(fb.turn_id)
        if fb.likert is None or fb.likert == 3 or turn is None or turn.abstained:
            continue
        right = int(fb.likert >= 4)
        xs, ys = out.setdefault(turn.route, ([], []))
        xs.append(current.base_value(turn.route, turn.confidence, turn.created_at))
        ys.append(right)
        shown.append((turn.confidence, right))
    return out, shown


def reviewer_reliability(store, bins: int = 10) -> dict[str, Any]:
    """ECE and the reliability table of the confidences users were shown, judged by reviewers' ratings."""
    _, shown = labelled_from_feedback(store, Calibration())
    return reliability([p for p, _ in shown], [bool(y) for _, y in shown], bins)


def fit_base(current: Calibration, data: Labelled, source: str) -> tuple[Calibration, list[dict[str, Any]]]:
    """A calibration whose base stages are refitted from `data` (reviewer stages dropped: they were fitted on
    top of the old base). Routes with too few answers keep what they had."""
    new = Calibration(base=dict(current.base), reviewers={})
    report = []
    for route, (xs, ys) in sorted(data.items()):
        row = _row(route, xs, ys)
        try:
            stage = fit(xs, ys)
        except CalibrationError as exc:
            report.append({**row, "kept": str(exc)})
            new.reviewers[route] = current.reviewers.get(route, [])
            continue
        stage.fitted_on, stage.fitted_at = source, _now()
        new.base[route] = stage
        report.append(_after(row, stage.method, stage.log_loss, xs, ys, lambda x, s=stage: s.apply(x)))
    new.reviewers = {r: s for r, s in new.reviewers.items() if s}
    return new, report


def fit_reviewers(current: Calibration, data: Labelled, min_ratings: int) -> tuple[Calibration, list[dict[str, Any]]]:
    """Append a Platt stage per route with at least `min_ratings` ratings (both outcomes present)."""
    new = Calibration(base=dict(current.base), reviewers={r: list(s) for r, s in current.reviewers.items()})
    report = []
    for route, (xs, ys) in sorted(data.items()):
        row = _row(route, xs, ys)
        if len(xs) < min_ratings:
            report.append({**row, "kept": f"{len(xs)} ratings; at least {min_ratings} are needed (--min-ratings)"})
            continue
        try:
            stage = fit(xs, ys, methods=("platt",))
        except CalibrationError as exc:
            report.append({**row, "kept": str(exc)})
            continue
        stage.fitted_on, stage.fitted_at = "reviewers' ratings", _now()
        new.reviewers.setdefault(route, []).append(stage)
        report.append(_after(row, "platt", stage.log_loss, xs, ys, lambda x, s=stage: s.apply(x)))
    return new, report


def _row(route: str, xs: Sequence[float], ys: Sequence[int]) -> dict[str, Any]:
    return {
        "route": route,
        "n": len(xs),
        "right": int(sum(ys)),
        "ece_before": reliability(xs, [bool(y) for y in ys])["ece"],
    }


def _after(row, method, loss, xs, ys, f) -> dict[str, Any]:
    ece = reliability([f(x) for x in xs], [bool(y) for y in ys])["ece"]
    return {**row, "method": method, "cv_log_loss": loss, "ece_after": ece}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render(report: Sequence[dict[str, Any]]) -> str:
    lines = []
    for r in report:
        head = f"{r['route']:<10} {r['n']:>5} answers ({r['right']} right)  ECE {r['ece_before']}"
        if "kept" in r:
            lines.append(f"{head}  -> unchanged: {r['kept']}")
        else:
            lines.append(f"{head} -> {r['ece_after']}  ({r['method']}, cross-validated log loss {r['cv_log_loss']})")
    return "\n".join(lines) or "no labelled answers (abstentions and neutral ratings are left out)"


def describe(cal: Calibration) -> str:
    if not cal.fitted:
        return "no calibration: confidences are the routes' raw scores"
    lines = []
    for route, stage in sorted(cal.base.items()):
        lines.append(f"{route:<10} base {_stage_line(stage)}")
    for route, stages in sorted(cal.reviewers.items()):
        for s in stages:
            lines.append(f"{route:<10} reviewers {_stage_line(s)}")
    return "\n".join(lines)


def _stage_line(s: Stage) -> str:
    return f"{s.method}, {s.n} answers, fitted {s.fitted_at or '?'} on {s.fitted_on or '?'}"
