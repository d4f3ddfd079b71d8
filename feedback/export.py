"""Exports for analysts and for fine-tuning: shaping is pure (records -> rows -> DataFrame), writing is I/O.

>>> rows = feedback_rows([Feedback.new(turn_id="t1", reviewer="bo", kind="review", likert=5)], {})
>>> rows[0]["likert_label"]
'strongly agree'
>>> finetune_rows([], {}, [QAPair.new("Who approves travel?", "Your manager.")])
[{'instruction': 'Who approves travel?', 'response': 'Your manager.', 'context': '', 'images': []}]
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from chain.types import Reference
from config.errors import DocentError
from feedback.records import Feedback, QAPair, Turn, normalize_question
from feedback.safe_cells import spreadsheet_cell
from feedback.store import FeedbackStore, TimeBound, in_window, time_window

if TYPE_CHECKING:
    import pandas as pd

    from chain.types import Reference

ExportWhat = Literal["turns", "feedback", "finetune"]
ExportFormat = Literal["csv", "xlsx", "parquet", "jsonl"]
EXPORT_WHAT = ("turns", "feedback", "finetune")
EXPORT_FORMATS = ("csv", "xlsx", "parquet", "jsonl")
IMAGES_SEPARATOR = ";"  # how a CSV cell lists several image paths
EXPORT_MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "jsonl": "application/jsonl",
}


def reference_ids(references: Iterable[Reference | dict]) -> str:
    """'[1] hr/leave.pdf#page 2; [3] it/vpn.docx' — the passages an answer cited, by their number."""
    ids = []
    for position, stored in enumerate(references, 1):
        ref = Reference.from_dict(stored)  # a stored dict works too
        place = f"{ref.source}#{ref.locator}" if ref.locator else ref.source
        if place:
            ids.append(f"[{ref.number(position)}] {place}")
    return "; ".join(ids)


def _turn_columns(turn: Turn | None, prefix: str = "") -> dict[str, Any]:
    t = turn
    return {
        f"{prefix}session_id": t.session_id if t else None,
        f"{prefix}user": t.user if t else None,
        f"{prefix}created_at": t.created_at if t else None,
        "question": t.question if t else None,
        "standalone_question": t.standalone_question if t else None,
        "answer": t.answer if t else None,
        "route": t.route if t else None,
        "abstained": t.abstained if t else None,
        "confidence": t.confidence if t else None,
        "matched_question": t.matched_question if t else None,
        "reference_ids": reference_ids(t.references) if t else None,
        "backend": t.backend if t else None,
        "model": t.model if t else None,
        "index_version": t.index_version if t else None,
    }


def turn_rows(turns: Sequence[Turn], feedback: Sequence[Feedback] = ()) -> list[dict[str, Any]]:
    """One row per turn, with how reviewers rated it."""
    ups: Counter[str] = Counter()
    downs: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for f in feedback:
        count[f.turn_id] += 1
        ups[f.turn_id] += f.thumbs == 1
        downs[f.turn_id] += f.thumbs == -1
    rows = []
    for t in turns:
        row = {"turn_id": t.turn_id} | _turn_columns(t)
        row["timings_ms"] = json.dumps(t.timings_ms, sort_keys=True)
        row["references"] = json.dumps([r.to_dict() for r in t.references])
        row |= {"feedback_count": count[t.turn_id], "thumbs_up": ups[t.turn_id], "thumbs_down": downs[t.turn_id]}
        rows.append(row)
    return rows


def feedback_rows(feedback: Sequence[Feedback], turns: dict[str, Turn]) -> list[dict[str, Any]]:
    """One row per feedback, joined with the turn it judges (turn columns prefixed `turn_` where ambiguous)."""
    rows = []
    for f in feedback:
        row = {
            "turn_id": f.turn_id,
            "reviewer": f.reviewer,
            "kind": f.kind,
            "created_at": f.created_at,
            "updated_at": f.updated_at,
            "thumbs": f.thumbs,
            "severity": f.severity,
            "likert": f.likert,
            "likert_label": f.likert_label,
            "corrected_answer": f.corrected_answer,
            "comment": f.comment,
            "approved": f.approved,
        }
        rows.append(row | _turn_columns(turns.get(f.turn_id), prefix="turn_"))
    return rows


def finetune_rows(
    feedback: Sequence[Feedback], turns: dict[str, Turn], pairs: Sequence[QAPair]
) -> list[dict[str, Any]]:
    """Training examples: the Q&A set plus approved corrections; one per normalised question.

    An approved correction wins over a pair with the same question (the newest correction wins).
    """
    examples: dict[str, dict[str, Any]] = {}
    for p in sorted(pairs, key=lambda p: p.created_at):
        examples[normalize_question(p.question)] = {
            "instruction": p.question,
            "response": p.answer,
            "context": p.context,
            "images": list(p.images),
        }
    for f in sorted(feedback, key=lambda f: f.updated_at):
        turn = turns.get(f.turn_id)
        if not (f.approved and f.corrected_answer and turn):
            continue
        question = turn.standalone_question or turn.question
        examples[normalize_question(question)] = {
            "instruction": question,
            "response": f.corrected_answer,
            "context": "",
            "images": [],
        }
    return list(examples.values())


# Every export's columns, so an export with no rows still has its header row.
TURN_COLUMNS = [
    "turn_id",
    *_turn_columns(None),
    "timings_ms",
    "references",
    "feedback_count",
    "thumbs_up",
    "thumbs_down",
]
FEEDBACK_COLUMNS = [
    "turn_id",
    "reviewer",
    "kind",
    "created_at",
    "updated_at",
    "thumbs",
    "severity",
    "likert",
    "likert_label",
    "corrected_answer",
    "comment",
    "approved",
    *_turn_columns(None, prefix="turn_"),
]
TIME_COLUMNS = ("created_at", "updated_at", "turn_created_at")


def to_frame(rows: list[dict[str, Any]], what: ExportWhat = "turns") -> pd.DataFrame:
    import pandas as pd

    if what == "finetune":
        frame = pd.DataFrame(rows, columns=["instruction", "response", "context", "images"])
        # `instruction,response[,context][,images]`: optional columns only when some row uses them
        if not frame.empty and not frame["context"].astype(bool).any():
            frame = frame.drop(columns="context")
        if not frame.empty and not frame["images"].map(bool).any():
            frame = frame.drop(columns="images")
        return frame
    return pd.DataFrame(rows, columns=TURN_COLUMNS if what == "turns" else FEEDBACK_COLUMNS)


def typed_times(frame: pd.DataFrame, naive: bool = False) -> pd.DataFrame:
    """Timestamp columns as datetimes (UTC) for formats that keep types (Parquet, XLSX; `naive` for XLSX,
    which cannot hold a time zone); CSV and JSON Lines keep the ISO 8601 text."""
    import pandas as pd

    columns = [c for c in TIME_COLUMNS if c in frame.columns]
    if not columns:
        return frame
    typed = {c: pd.to_datetime(frame[c], utc=True, errors="coerce", format="ISO8601") for c in columns}
    if naive:
        typed = {c: v.dt.tz_localize(None) for c, v in typed.items()}
    return frame.assign(**typed)


class ExportError(DocentError, ValueError):
    """An export could not be written; the message names the file and what to do."""


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text cell neutralised and cleaned for CSV/XLSX (see feedback/safe_cells.py)."""
    text_columns = [c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype).startswith("str")]
    if not text_columns:
        return frame
    return frame.assign(**{c: frame[c].map(spreadsheet_cell) for c in text_columns})


def write_frame(frame: pd.DataFrame, fmt: ExportFormat, out: str | Path) -> Path:
    """Write csv / xlsx (openpyxl) / parquet (pyarrow) / jsonl (one object per line).

    CSV and XLSX cells are made safe for spreadsheets (no live formulas, no characters XLSX refuses).
    The file is written next to `out` under a temporary name and renamed when complete, so a failed
    export never leaves a partial file nor replaces a good one; the failure is an ExportError.
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"export format {fmt!r} is unknown; use one of {', '.join(EXPORT_FORMATS)}.")
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create the folder {out.parent} ({exc.strerror or exc}); "
            "choose another --out or fix its permissions."
        ) from None
    if fmt in ("parquet", "xlsx"):
        frame = typed_times(frame, naive=fmt == "xlsx")
    if fmt in ("csv", "xlsx"):
        if "images" in frame.columns:
            frame = frame.assign(images=frame["images"].map(lambda v: IMAGES_SEPARATOR.join(v or [])))
        frame = spreadsheet_safe(frame)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        _write(frame, fmt, tmp)
        os.replace(tmp, out)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        raise ExportError(
            f"could not write the {fmt} export to {out} ({reason}); nothing was written. "
            "Check the disk space and permissions there, or try another format."
        ) from exc
    return out


def _write(frame: pd.DataFrame, fmt: ExportFormat, path: Path) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    elif fmt == "parquet":
        frame.to_parquet(path, index=False, engine="pyarrow")
    else:
        with path.open("w", encoding="utf-8") as fh:
            for record in frame.to_dict(orient="records"):
                fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def collect(store: FeedbackStore, what: ExportWhat, since: TimeBound = None, until: TimeBound = None) -> pd.DataFrame:
    """Read what an export needs from the store and shape it (dates are inclusive)."""
    if what not in EXPORT_WHAT:
        raise ValueError(f"export {what!r} is unknown; use one of {', '.join(EXPORT_WHAT)}.")
    if what == "turns":
        listed = store.list_turns(since, until)
        return to_frame(turn_rows(listed, store.list_feedback(since=since)), what)  # feedback follows its turn
    feedback = store.list_feedback(since, until)
    turns: dict[str, Turn] = {}
    for turn_id in {f.turn_id for f in feedback}:
        turn = store.get_turn(turn_id)
        if turn is not None:
            turns[turn_id] = turn
    if what == "feedback":
        return to_frame(feedback_rows(feedback, turns), what)
    lo, hi = time_window(since, until)
    pairs = [p for p in store.list_qa_pairs() if in_window(p.created_at, lo, hi)]
    return to_frame(finetune_rows(feedback, turns, pairs), what)


def export(
    store: FeedbackStore,
    what: ExportWhat,
    fmt: ExportFormat,
    out: str | Path,
    since: TimeBound = None,
    until: TimeBound = None,
) -> int:
    """Write the export to `out`; returns the number of rows."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"export format {fmt!r} is unknown; use one of {', '.join(EXPORT_FORMATS)}.")
    frame = collect(store, what, since, until)
    write_frame(frame, fmt, out)
    return len(frame)


def export_bytes(
    store: FeedbackStore,
    what: ExportWhat,
    fmt: ExportFormat,
    since: TimeBound = None,
    until: TimeBound = None,
    keep: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> bytes:
    """The export as bytes (a download button, an HTTP response), written by `write_frame` so it is as safe.
    `keep` narrows the rows first (the app passes the filters on screen)."""
    frame = collect(store, what, since, until)
    if keep is not None:
        frame = keep(frame)
    with tempfile.TemporaryDirectory(prefix="docent-export-") as tmp:
        return write_frame(frame, fmt, Path(tmp) / f"export.{fmt}").read_bytes()


def export_name(what: str, fmt: str, since: TimeBound = None, until: TimeBound = None) -> str:
    """The download's file name.

    >>> export_name("feedback", "csv", "2026-01-01", "2026-01-31")
    'docent-feedback-2026-01-01-to-2026-01-31.csv'
    """
    span = f"-{since}" if since else ""
    span += f"-to-{until}" if until else ""
    return f"docent-{what}{span}.{fmt}"
