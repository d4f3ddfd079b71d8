"""Confidence as a calibrated probability that the answer is right (issue 10, item 5).

The chain computes a raw score per route (chain/confidence.py); a calibration maps it to the share of
answers with that score that were right. Two stages, each monotone:

1. **base**, fitted on a labelled evaluation run (`docent calibrate --from-eval items.jsonl` of the tune
   half): Platt scaling or isotonic regression, whichever has the lower cross-validated log loss.
2. **reviewers**, refitted from reviewers' ratings once enough exist (`docent calibrate --from-feedback`):
   Platt scaling of the probability users were shown. Platt is strictly monotone, so a rated turn's
   stage-1 value is recovered by inverting the reviewer stage that was active when it was answered.

Pure functions over plain data; the JSON file is read once by the chain.

>>> cal = fit([0.1, 0.2, 0.3, 0.7, 0.8, 0.9] * 10, [0, 0, 1, 0, 1, 1] * 10, folds=3)
>>> cal.method in ("platt", "isotonic"), 0.0 < cal.apply(0.2) < cal.apply(0.8) < 1.0
(True, True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from config.errors import DocentError

EPS = 1e-6
MIN_SAMPLES = 30  # per route, with both outcomes present; fewer and the route keeps its previous mapping


class CalibrationError(DocentError, ValueError):
    """Raised for a calibration file or labelled set that cannot be used; the message says what to do."""


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def fit_platt(x: Sequence[float], y: Sequence[int], l2: float = 1e-3) -> tuple[float, float]:
    """(a, b) of p = sigmoid(a * logit(x) + b) by Newton's method (a small ridge keeps it finite)."""
    z, t = _logit(np.asarray(x, float)), np.asarray(y, float)
    w = np.array([1.0, 0.0])
    design = np.column_stack([z, np.ones_like(z)])
    for _ in range(50):
        p = _sigmoid(design @ w)
        grad = design.T @ (p - t) + l2 * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(w[0]), float(w[1])


def fit_isotonic(x: Sequence[float], y: Sequence[int]) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators: knots (score, rate) of a non-decreasing step fit, interpolated between."""
    order = np.argsort(np.asarray(x, float), kind="stable")
    xs, ys = np.asarray(x, float)[order], np.asarray(y, float)[order]
    blocks: list[list[float]] = []  # [sum_y, count, sum_x]
    for xi, yi in zip(xs, ys):
        blocks.append([yi, 1.0, xi])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, n, sx = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
            blocks[-1][2] += sx
    knots_x = [b[2] / b[1] for b in blocks]
    knots_y = [min(1 - 0.01, max(0.01, b[0] / b[1])) for b in blocks]  # never certain on finite data
    return knots_x, knots_y


@dataclass
class Stage:
    """One monotone map from a score in [0, 1] to a probability."""

    method: str  # platt | isotonic | identity
    params: dict[str, Any] = field(default_factory=dict)
    n: int = 0
    log_loss: float | None = None  # cross-validated, on the labelled set it was fitted on
    fitted_on: str = ""
    fitted_at: str = ""  # ISO time; reviewer stages apply to turns answered from then on

    def apply(self, x: float) -> float:
        if self.method == "platt":
            return float(_sigmoid(self.params["a"] * _logit(np.array([x])) + self.params["b"])[0])
        if self.method == "isotonic":
            return float(np.interp(x, self.params["x"], self.params["y"]))
        return float(x)

    def invert(self, p: float) -> float:
        """The input that gives `p` (Platt only: strictly monotone when a > 0)."""
        if self.method == "identity":
            return float(p)
        if self.method != "platt" or self.params["a"] <= 0:
            raise CalibrationError(f"a {self.method} stage cannot be inverted")
        z = (float(_logit(np.array([p]))[0]) - self.params["b"]) / self.params["a"]
        return float(_sigmoid(np.array([z]))[0])


def log_loss(p: Sequence[float] | np.ndarray, y: Sequence[int] | np.ndarray) -> float:
    pa, ya = np.clip(np.asarray(p, float), EPS, 1 - EPS), np.asarray(y, float)
    return float(-np.mean(ya * np.log(pa) + (1 - ya) * np.log(1 - pa)))


def _stage(method: str, x: Sequence[float], y: Sequence[int]) -> Stage:
    if method == "platt":
        a, b = fit_platt(x, y)
        return Stage("platt", {"a": round(a, 6), "b": round(b, 6)}, n=len(x))
    kx, ky = fit_isotonic(x, y)
    return Stage("isotonic", {"x": [round(v, 6) for v in kx], "y": [round(v, 6) for v in ky]}, n=len(x))


def fit(x: Sequence[float], y: Sequence[int], methods: Sequence[str] = ("platt", "isotonic"), folds: int = 5) -> Stage:
    """The method with the lowest out-of-fold log loss, refitted on everything."""
    xa, ya = np.asarray(x, float), np.asarray(y, int)
    if len(xa) < MIN_SAMPLES or len(set(ya.tolist())) < 2:
        raise CalibrationError(
            f"{len(xa)} labelled answers ({int(ya.sum())} right): at least {MIN_SAMPLES} with both right and "
            "wrong answers are needed to fit a calibration"
        )
    fold: np.ndarray = np.arange(len(xa)) % folds
    np.random.default_rng(0).shuffle(fold)
    best: Stage | None = None
    for method in methods:
        oof = np.zeros(len(xa))
        for k in range(folds):
            held = fold == k
            oof[held] = [_stage(method, xa[~held], ya[~held]).apply(v) for v in xa[held]]
        loss = log_loss(oof, ya)
        if best is None or loss < (best.log_loss or math.inf):
            best = _stage(method, xa, ya)
            best.log_loss = round(loss, 5)
    assert best is not None
    return best


@dataclass
class Calibration:
    """Per route: the base stage and the reviewer stages (newest last). Identity where nothing was fitted."""

    base: dict[str, Stage] = field(default_factory=dict)
    reviewers: dict[str, list[Stage]] = field(default_factory=dict)

    def apply(self, route: str, raw: float) -> float:
        p = self.base[route].apply(raw) if route in self.base else raw
        stages = self.reviewers.get(route)
        return round(stages[-1].apply(p) if stages else p, 4)

    def base_value(self, route: str, shown: float, answered_at: str) -> float:
        """The stage-1 probability behind a confidence shown at `answered_at` (ISO time)."""
        active = [s for s in self.reviewers.get(route, []) if s.fitted_at and s.fitted_at <= answered_at]
        return active[-1].invert(shown) if active else float(shown)

    @property
    def fitted(self) -> bool:
        return bool(self.base or self.reviewers)

    def to_json(self) -> str:
        data = {
            "base": {r: asdict(s) for r, s in self.base.items()},
            "reviewers": {r: [asdict(s) for s in ss] for r, ss in self.reviewers.items()},
        }
        return json.dumps(data, indent=1) + "\n"

    @classmethod
    def load(cls, path: Path | None) -> Calibration:
        """The calibration in `path`; identity when there is no file."""
        if path is None or not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                base={r: Stage(**s) for r, s in data.get("base", {}).items()},
                reviewers={r: [Stage(**s) for s in ss] for r, ss in data.get("reviewers", {}).items()},
            )
        except (OSError, ValueError, TypeError) as exc:
            raise CalibrationError(
                f"{path}: not a readable calibration file ({exc}); delete it or rewrite it with `docent calibrate`."
            ) from None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
