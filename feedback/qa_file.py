"""The fine-tuning set: load question/answer pairs, validate them, split them, hash them.

Accepted files:

* CSV with columns ``instruction,response`` and optional ``context``, ``images``;
* JSONL with one object per line carrying the same keys.

Loading never stops at the first bad row: every problem is collected with its line number and
returned in a :class:`ValidationReport`, so a user fixes the file once.

Example::

    from feedback.qa_file import load_pairs, validate_pairs, split_pairs

    pairs, report = load_pairs("qa.csv")
    report = report.merge(validate_pairs(pairs, max_tokens=1024))
    if not report.ok:
        raise SystemExit(report.render())
    split = split_pairs(pairs, held_out_fraction=0.1, seed=42)
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from feedback.safe_cells import restore_formula

REQUIRED_COLUMNS = ("instruction", "response")
OPTIONAL_COLUMNS = ("context", "images")
# Below this many pairs a held-out split would leave too little to learn from or to measure.
MIN_PAIRS_FOR_HELD_OUT = 10


@dataclass(frozen=True)
class QARow:
    """One row of a Q&A file (a training example; stored as feedback.records.QAPair). ``line`` is where it came from (1-based, header is line 1 in CSV)."""

    instruction: str
    response: str
    context: str = ""
    images: tuple[str, ...] = ()
    line: int = 0

    def normalised(self) -> dict[str, object]:
        return {
            "instruction": _normalise(self.instruction),
            "response": _normalise(self.response),
            "context": _normalise(self.context),
            "images": list(self.images),
        }


@dataclass(frozen=True)
class Problem:
    line: int  # 0 when the problem concerns the whole file
    message: str
    fatal: bool = True

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{'error' if self.fatal else 'warning'}: {where}: {self.message}"


@dataclass
class ValidationReport:
    """Every problem found in a fine-tuning set; ``ok`` is False when any is fatal."""

    source: str = "<pairs>"
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.fatal]

    def add(self, line: int, message: str, fatal: bool = True) -> None:
        self.problems.append(Problem(line, message, fatal))

    def merge(self, other: ValidationReport) -> ValidationReport:
        return ValidationReport(self.source, [*self.problems, *other.problems])

    def render(self) -> str:
        lines = [p.render(self.source) for p in sorted(self.problems, key=lambda p: (p.line, not p.fatal))]
        if self.errors:
            lines.append(f"{len(self.errors)} error(s) in {self.source}: fix them and run again.")
        return "\n".join(lines)


@dataclass(frozen=True)
class Split:
    train: list[QARow]
    held_out: list[QARow]
    evaluate_on_train: bool  # True when the set was too small to hold anything out

    @property
    def eval_pairs(self) -> list[QARow]:
        return self.train if self.evaluate_on_train else self.held_out


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def _parse_images(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    text = str(value).strip()
    if text.startswith("["):
        try:
            return tuple(str(v).strip() for v in json.loads(text) if str(v).strip())
        except json.JSONDecodeError:
            pass
    return tuple(part.strip() for part in text.replace(";", ",").split(",") if part.strip())


def _row_to_pair(row: dict, line: int, report: ValidationReport) -> QARow | None:
    values = {}
    for key in (*REQUIRED_COLUMNS, "context"):
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            report.add(line, f"'{key}' must be text, got {type(value).__name__}")
            return None
        values[key] = (value or "").strip()
    return QARow(
        instruction=values["instruction"],
        response=values["response"],
        context=values["context"],
        images=_parse_images(row.get("images")),
        line=line,
    )


def _read_csv(path: Path, report: ValidationReport) -> list[QARow]:
    pairs: list[QARow] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            report.add(
                1,
                f"missing column(s) {', '.join(missing)}; the header must include "
                f"'instruction,response' (optional: context, images), found {header or 'nothing'}",
            )
            return pairs
        reader.fieldnames = header
        for row in reader:
            line = reader.line_num  # last physical line of this record
            # Docent's own CSV exports quote formula-leading cells for spreadsheets: read the text back
            row = {k: restore_formula(v) if isinstance(v, str) else v for k, v in row.items()}
            pair = _row_to_pair(row, line, report)
            if pair is not None:
                pairs.append(pair)
    return pairs


def _read_jsonl(path: Path, report: ValidationReport) -> list[QARow]:
    pairs: list[QARow] = []
    with path.open(encoding="utf-8-sig") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                report.add(line_no, f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(row, dict):
                report.add(line_no, "each line must be a JSON object with 'instruction' and 'response'")
                continue
            missing = [c for c in REQUIRED_COLUMNS if c not in row]
            if missing:
                report.add(line_no, f"missing key(s) {', '.join(missing)}")
                continue
            pair = _row_to_pair(row, line_no, report)
            if pair is not None:
                pairs.append(pair)
    return pairs


def load_pairs(path: str | Path) -> tuple[list[QARow], ValidationReport]:
    """Read a CSV or JSONL fine-tuning set. Returns the readable pairs and a report of problems."""
    path = Path(path)
    report = ValidationReport(source=str(path))
    if not path.is_file():
        report.add(0, "file not found; pass a CSV or JSONL file with 'instruction' and 'response'")
        return [], report
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            pairs = _read_csv(path, report)
        elif suffix in (".jsonl", ".ndjson", ".json"):
            pairs = _read_jsonl(path, report)
        else:
            report.add(0, f"unsupported file type '{suffix or '(none)'}'; use .csv or .jsonl")
            return [], report
    except UnicodeDecodeError as exc:
        report.add(0, f"not UTF-8 text ({exc.reason} at byte {exc.start}); re-save the file as UTF-8")
        return [], report
    except csv.Error as exc:
        report.add(0, f"malformed CSV ({exc}); check quoting")
        return [], report
    return pairs, report


def validate_pairs(
    pairs: Iterable[QARow],
    *,
    max_tokens: int | None = None,
    count_tokens: Callable[[str], int] | None = None,
    source: str = "<pairs>",
) -> ValidationReport:
    """Check a set for emptiness, blank fields, duplicate questions and over-long pairs.

    ``count_tokens`` (e.g. ``lambda s: len(tokenizer(s).input_ids)``) is used with ``max_tokens``;
    without it, length is estimated as characters / 4.
    """
    pairs = list(pairs)
    report = ValidationReport(source=source)
    if not pairs:
        report.add(0, "the fine-tuning set is empty; add rows with 'instruction' and 'response'")
        return report
    counter = count_tokens or (lambda text: (len(text) + 3) // 4)
    seen: dict[str, int] = {}
    for pair in pairs:
        if not pair.instruction:
            report.add(pair.line, "empty question ('instruction')")
        if not pair.response:
            report.add(pair.line, "empty answer ('response')")
        key = _normalise(pair.instruction).casefold()
        if key and key in seen:
            report.add(pair.line, f"duplicate question (first seen on line {seen[key]}); keep one answer per question")
        elif key:
            seen[key] = pair.line
        if max_tokens and pair.instruction and pair.response:
            n = counter(" ".join(filter(None, [pair.context, pair.instruction, pair.response])))
            if n > max_tokens:
                report.add(
                    pair.line, f"pair is {n} tokens, over the limit of {max_tokens}; shorten it or raise --max-length"
                )
    return report


def split_pairs(
    pairs: list[QARow], held_out_fraction: float = 0.1, seed: int = 42, min_pairs: int = MIN_PAIRS_FOR_HELD_OUT
) -> Split:
    """Deterministically split pairs into train and held-out sets.

    Sets smaller than ``min_pairs`` (or a fraction of 0) keep everything in train and are
    evaluated on train: ``Split.evaluate_on_train`` is then True and callers should warn.
    """
    if not 0.0 <= held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must be in [0, 1), got {held_out_fraction}")
    if len(pairs) < min_pairs or held_out_fraction == 0.0:
        return Split(train=list(pairs), held_out=[], evaluate_on_train=True)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_held = max(1, round(len(pairs) * held_out_fraction))
    held = sorted(order[:n_held])
    train = sorted(order[n_held:])
    return Split(train=[pairs[i] for i in train], held_out=[pairs[i] for i in held], evaluate_on_train=False)


def data_hash(pairs: Iterable[QARow]) -> str:
    """sha256 over the normalised rows, in order: the same data gives the same hash."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps(pair.normalised(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
