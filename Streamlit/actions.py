"""What the pages do, as small functions over the backend objects (no Streamlit here, so tests and
the bench call exactly what the UI calls).

>>> # save_thumbs(store, turn_id, user="ana@corp.com", thumbs=-1).message
>>> # 'Saved.'
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from chain.types import Reference
from feedback.export import EXPORT_MIME, export_bytes, export_name  # noqa: F401 - the pages' API
from feedback.records import LIKERT_LABELS, Feedback, QAPair
from feedback.review import ReviewOutcome, review_limits, save_review, save_thumbs  # noqa: F401
from ingest.originals import LocalFolderOriginals, OriginalsStore, is_safe_name, local_files
from ingest.originals import open_originals as open_originals  # the pages' API: the store the settings choose
from ingest.sync import Progress, ProgressFn, delete_source, ingest_report  # noqa: F401 - ingest_report: the pages' API
from ingest.uploads import safe_filename  # noqa: F401

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MIME = EXPORT_MIME


# --- chat -----------------------------------------------------------------------------------------


def valid_session_id(value: str | None) -> bool:
    return bool(value) and bool(SESSION_ID.match(value))


def safe_link(url: str | None) -> str | None:
    """Only http(s) links are rendered as links; anything else (file:, javascript:, data:) is not."""
    if not url:
        return None
    parsed = urlparse(str(url).strip())
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return str(url).strip()
    return None


def md_text(text: str) -> str:
    """Escape Markdown so document titles and paths render literally inside a link label or line."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>~$])", r"\\\1", str(text))


def reference_line(ref: Reference) -> str:
    """'[Title — section Setup](https://…)' or 'Title — page 2 (`hr/leave.pdf`)' as safe Markdown."""
    ref = Reference.from_dict(ref)  # a stored dict works too
    label = str(ref.title or ref.source or "source")
    locator = ref.locator
    if str(ref.source or "").startswith("qa:"):  # plain words for employees ("fine-tuning pair" is the chain's)
        locator = "an answer reviewed by your team"
    if locator:
        label += f" — {locator}"
    link = safe_link(ref.url)
    if link:
        return f"[{md_text(label)}](<{link.replace('>', '%3E').replace(' ', '%20')}>)"
    source = str(ref.source or "")
    if source.startswith("qa:"):
        return md_text(label)
    return f"{md_text(label)} ({md_text(source)})" if source else md_text(label)


BAND_COLOURS = {"high": "green", "medium": "orange", "low": "red"}


def confidence_label(confidence: float, band_name: str) -> tuple[str, str]:
    """('High confidence · 82%', 'green')."""
    return f"{band_name.capitalize()} confidence · {round(confidence * 100)}%", BAND_COLOURS.get(band_name, "gray")


ROUTE_LABELS = {"finetuned": "Answered from the Q&A set", "rag": "Answered from the documents"}


def thumbs_widget_value(feedback: Sequence[Feedback], user: str) -> int | None:
    """The st.feedback value (1 up, 0 down) of the user's existing thumbs, if any."""
    for f in feedback:
        if f.reviewer == user and f.kind == "thumbs" and f.thumbs is not None:
            return 1 if f.thumbs == 1 else 0
    return None


def likert_text(value: int) -> str:
    return f"{value} · {LIKERT_LABELS[value]}"


# --- analytics + exports ----------------------------------------------------------------------


def load_window(store, since=None, until=None):
    """(the feedback in the window, every turn up to its end): one read each, shared by the Analytics page's
    table and usage figures (a rating may judge a turn asked before the window)."""
    return store.list_feedback(since, until), store.list_turns(until=until)


def feedback_frame(store, since=None, until=None, loaded=None):
    """One row per feedback joined with its turn (feedback/export.py shapes it); `loaded`: load_window's result."""
    from feedback.export import feedback_rows, to_frame

    feedback, listed = loaded if loaded is not None else load_window(store, since, until)
    turns = {t.turn_id: t for t in listed}  # one read instead of one per feedback
    for turn_id in {f.turn_id for f in feedback} - turns.keys():
        turn = store.get_turn(turn_id)
        if turn is not None:
            turns[turn_id] = turn
    return to_frame(feedback_rows(feedback, turns), "feedback")


def filter_feedback(
    frame, route: str | None = None, rating: str | None = None, severity: str | None = None, reviewer: str | None = None
):
    """Narrow the feedback frame; rating is 'thumbs up', 'thumbs down' or 'reviewed'."""
    if frame.empty:
        return frame
    mask = frame["turn_id"].notna()
    if route:
        mask &= frame["route"] == route
    if severity:
        mask &= frame["severity"] == severity
    if reviewer:
        mask &= frame["reviewer"] == reviewer
    if rating == "thumbs up":
        mask &= frame["thumbs"] == 1
    elif rating == "thumbs down":
        mask &= frame["thumbs"] == -1
    elif rating == "reviewed":
        mask &= frame["kind"] == "review"
    return frame[mask]


def export_filter(what: str, route=None, rating=None, severity=None, reviewer=None, feedback_view=None):
    """What an export keeps of its rows so it matches the filters on screen (None: keep everything).

    Feedback: the same filters as the table. Conversations: the route, and with a rating, severity or
    reviewer filter only the answers that feedback in `feedback_view` (the filtered table) judges.
    The fine-tuning set is the Q&A set and its corrections: the filters do not apply."""
    if what == "feedback":
        return lambda frame: filter_feedback(frame, route, rating, severity, reviewer)
    if what == "turns" and (route or rating or severity or reviewer):

        def keep(frame):
            if frame.empty:
                return frame
            mask = frame["route"] == route if route else frame["turn_id"].notna()
            if (rating or severity or reviewer) and feedback_view is not None:
                mask &= frame["turn_id"].isin(set(feedback_view["turn_id"]))
            return frame[mask]

        return keep
    return None


def usage_in_window(loaded, since=None, until=None, route: str | None = None):
    """Usage figures (feedback/usage.py) for the questions asked in the window, on `route` if given;
    `loaded`: load_window's result for the same window."""
    from feedback.store import in_window, time_window
    from feedback.usage import usage

    feedback, turns = loaded
    lo, hi = time_window(since, until)
    asked = [t for t in turns if in_window(t.created_at, lo, hi) and (route is None or t.route == route)]
    return usage(asked, feedback)


def reliability(view) -> dict | None:
    """ECE and reliability bins of the confidences users were shown, judged by reviewers' Likert ratings
    (4-5 right, 1-2 wrong; neutral ratings and refusals left out, as `docent calibrate --from-feedback` does).
    None when no rated answer is in `view`."""
    from evaluation.scoring import calibration

    if view.empty:
        return None
    judged = view[view["likert"].isin([1, 2, 4, 5]) & view["confidence"].notna()]
    if "abstained" in judged:
        judged = judged[judged["abstained"].fillna(False).astype(bool) == False]  # noqa: E712 - a pandas mask
    if judged.empty:
        return None
    return calibration(judged["confidence"].astype(float).tolist(), (judged["likert"] >= 4).tolist())


# --- knowledge ----------------------------------------------------------------------------------


def store_uploads(files: Sequence[Any], originals: OriginalsStore) -> list[str]:
    """Keep uploaded files (objects with .name and .getvalue()) in the originals store, under safe names
    ('../../x.md' -> 'x.md'); returns the names, in order and without repeats."""
    names: list[str] = []
    for item in files:
        name = originals.put(safe_filename(item.name), item.getvalue())
        if name not in names:
            names.append(name)
    return names


def ingest_uploads(
    settings,
    index,
    embedder,
    paths: Path | Sequence[Path] | Sequence[str],
    base_url: str | None = None,
    *,
    originals: OriginalsStore | None = None,
    on_progress: ProgressFn | None = None,
):
    """Index `paths` (the files just uploaded, or a folder); unchanged files are skipped. Returns the SyncSummary.

    With `originals`, `paths` are names in that store: they are indexed from the store (a bucket's objects
    are fetched to a temporary folder first), so what is indexed is what every replica sees.
    `on_progress` gets ingest.sync.Progress events (UploadProgress turns them into a progress bar).

    Only what is given is indexed: re-syncing the whole uploads folder brought back documents an admin had
    removed and gave every earlier upload this upload's "Published at"."""
    from ingest.sync import SyncOptions, sync_paths

    options = SyncOptions(
        child_chars=settings.child_chunk_chars,
        overlap=settings.child_overlap_chars,
        parent_chars=settings.parent_chunk_chars,
        base_url=(base_url or "").strip() or None,
    )
    if originals is not None:
        with local_files(originals, [str(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]) as files:
            return sync_paths(files, index, embedder, options, progress=on_progress)
    paths = [paths] if isinstance(paths, Path | str) else list(paths)
    return sync_paths([Path(p) for p in paths], index, embedder, options, progress=on_progress)


class UploadProgress:
    """Turns ingest progress events into a bar's (fraction, text): files converted and written, chunks
    embedded, and the time left at the pace so far. Reading a file counts for half of it, writing it to
    the index (after its chunks are embedded) for the other half.

    >>> from ingest.sync import Progress
    >>> bar = UploadProgress(total=2, clock=iter([0.0, 4.0, 6.0]).__next__)
    >>> bar.update(Progress("file", 2, "b.md"))
    (0.25, 'File 2 of 2: b.md · 0 chunks embedded · about 12 s left')
    >>> bar.update(Progress("committed", 2, "b.md"))
    (1.0, 'Done: 2 of 2 files · 0 chunks embedded · 6 s')
    """

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic):
        self.total, self.clock = max(1, total), clock
        self.started = clock()
        self.read = self.written = self.chunks = 0
        self.source = ""

    def update(self, event: Progress) -> tuple[float, str]:
        self.chunks += event.chunks
        if event.event == "file":
            self.read, self.source = event.files_done - 1, event.source
        elif event.event == "committed":
            self.read = self.written = event.files_done
        if self.written >= self.total:
            return self.done()
        fraction = (self.read + self.written) / (2 * self.total)
        left = f" · about {self.elapsed() / fraction * (1 - fraction):.0f} s left" if fraction > 0 else ""
        current = f"File {min(self.read + 1, self.total)} of {self.total}: {self.source}"
        return fraction, f"{current} · {self.chunks:,} chunks embedded{left}"

    def done(self) -> tuple[float, str]:
        """The bar once the run is over (also when every file was unchanged and nothing was written)."""
        return (
            1.0,
            f"Done: {self.total} of {self.total} files · {self.chunks:,} chunks embedded · {self.elapsed():.0f} s",
        )

    def elapsed(self) -> float:
        return self.clock() - self.started


def uploaded_names(originals: OriginalsStore) -> set[str]:
    """The sources that have an uploaded original (removing them deletes it too)."""
    return set(originals.list())


def remove_document(index, source: str, originals: OriginalsStore | Path) -> bool:
    """Remove `source` from the index and, when it was uploaded here, its original from the store (so no later
    upload or sync brings it back). `originals` may be a local folder. Returns whether an original was deleted."""
    delete_source(index, source)
    store = LocalFolderOriginals(originals) if isinstance(originals, Path) else originals
    # index sources such as 'hr/leave.md' or 's3://bucket/key' came from `docent ingest`, never from an upload
    return is_safe_name(source) and store.delete(source)


def import_qa_file(store, path: Path):
    """Load a CSV/JSONL Q&A set into the store. Returns (QAAddResult | None, problems as text).

    Rows with an empty question or answer are reported (with their line) and left out; the rest is added.
    """
    from feedback.qa_file import load_pairs, validate_pairs

    pairs, report = load_pairs(path)
    if pairs:
        report = report.merge(validate_pairs(pairs, source=str(path)))
    report.source = path.name
    text = report.render().strip() if report.problems else ""
    complete = [p for p in pairs if p.instruction.strip() and p.response.strip()]
    if not complete:
        return None, text or f"{path.name}: no pairs found; the file needs 'instruction' and 'response' columns."
    records = [QAPair.from_row(p, origin="import") for p in complete]
    return store.add_qa_pairs(records), text


def flush_outbox(store) -> None:
    """Deliver writes a remote store could not take earlier (OutboxStore); other stores have no outbox."""
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()
