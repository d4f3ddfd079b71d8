"""SQLite backend of `FeedbackStore`: one file under DOCENT_DATA_DIR, WAL, a connection per thread.

Streamlit runs each browser session on its own thread, so every thread gets its own connection;
writes take the lock up front (BEGIN IMMEDIATE) and wait up to `busy_timeout_ms` for each other.

>>> store = SQLiteFeedbackStore("/tmp/docent-doc/docent.sqlite3")   # doctest: +SKIP
>>> store.save_turn(Turn.new(session_id="s", user="u", question="q?", answer="a")).status  # doctest: +SKIP
'saved'
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from feedback.migrations import apply_migrations
from feedback.records import Feedback, QAPair, Turn
from feedback.sqlite_conversations import SQLiteConversations
from feedback.store import (
    QAAddResult,
    ReviewFilter,
    SaveResult,
    SessionOwnerError,
    TimeBound,
    UnknownTurnError,
    check_review_filter,
    merge_feedback,
    select_for_review,
    session_owner_message,
    time_window,
)


class ThreadConnections:
    """One sqlite3 connection per thread to one file, in WAL mode with a busy timeout.

    Streamlit starts a fresh thread for each script run, so connections of threads that have
    ended are closed when a new thread connects (otherwise file handles would pile up).

    >>> db = ThreadConnections("/tmp/docent-doc/x.sqlite3")
    >>> db.get().execute("SELECT 1").fetchone()[0]
    1
    """

    def __init__(self, path: str | Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._by_thread: dict[threading.Thread, sqlite3.Connection] = {}
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout_ms / 1000
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._lock:
                for thread in [t for t in self._by_thread if not t.is_alive()]:
                    self._by_thread.pop(thread).close()
                self._by_thread[threading.current_thread()] = conn
        return conn

    @property
    def open_connections(self) -> int:
        return len(self._by_thread)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        conn = self.get()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._by_thread.values():
                conn.close()
            self._by_thread.clear()
        self._local = threading.local()


def _turn_row(turn: Turn) -> dict[str, Any]:
    row = turn.to_dict()
    row["references_json"] = json.dumps(row.pop("references"))
    row["timings_json"] = json.dumps(row.pop("timings_ms"))
    row["images_json"] = json.dumps(row.pop("images"))
    row["abstained"] = int(turn.abstained)
    return row


def _turn(row: sqlite3.Row) -> Turn:
    data = dict(row)
    data["references"] = json.loads(data.pop("references_json"))
    data["timings_ms"] = json.loads(data.pop("timings_json"))
    data["images"] = json.loads(data.pop("images_json", None) or "[]")
    data["abstained"] = bool(data["abstained"])
    return Turn.from_dict(data)


def _feedback(row: sqlite3.Row) -> Feedback:
    data = dict(row)
    data["approved"] = bool(data["approved"])
    return Feedback.from_dict(data)


def _pair(row: sqlite3.Row) -> QAPair:
    data = dict(row)
    data["images"] = json.loads(data.pop("images_json"))
    return QAPair.from_dict(data)


def _window_sql(column: str, since: TimeBound, until: TimeBound) -> tuple[list[str], list[Any]]:
    lo, hi = time_window(since, until)
    where, args = [], []
    if lo:
        where.append(f"{column} >= ?")
        args.append(lo)
    if hi:
        where.append(f"{column} <= ?")
        args.append(hi)
    return where, args


def _where(clauses: list[str]) -> str:
    return (" WHERE " + " AND ".join(clauses)) if clauses else ""


class SQLiteFeedbackStore(SQLiteConversations):
    """`FeedbackStore` in one SQLite file; migrations are applied when it opens."""

    def __init__(self, path: str | Path, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self._db = ThreadConnections(self.path, busy_timeout_ms)
        self.applied_migrations = apply_migrations(self._db.get())

    # --- turns --------------------------------------------------------------------------
    def save_turn(self, turn: Turn) -> SaveResult:
        row = _turn_row(turn)
        columns = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self._db.write() as conn:
            owner = conn.execute("SELECT user FROM sessions WHERE session_id = ?", (turn.session_id,)).fetchone()
            if owner is None:
                conn.execute(
                    "INSERT INTO sessions (session_id, user, created_at) VALUES (?, ?, ?)",
                    (turn.session_id, turn.user, turn.created_at),
                )
            elif owner[0] != turn.user:
                raise SessionOwnerError(session_owner_message(turn.session_id))
            if conn.execute(f"INSERT OR IGNORE INTO turns ({columns}) VALUES ({marks})", row).rowcount:
                self.record_turn_in_conversation(conn, turn)
        return SaveResult("saved")

    def get_turn(self, turn_id: str) -> Turn | None:
        row = self._db.get().execute("SELECT * FROM turns WHERE turn_id = ?", (turn_id,)).fetchone()
        return _turn(row) if row else None

    def session_owner(self, session_id: str) -> str | None:
        row = self._db.get().execute("SELECT user FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        return row[0] if row else None

    def session_turns(self, session_id: str, user: str) -> list[Turn]:
        rows = self._db.get().execute(
            "SELECT t.* FROM turns t JOIN sessions s ON s.session_id = t.session_id"
            " WHERE t.session_id = ? AND s.user = ? AND t.user = ? AND t.hidden = 0 AND s.deleted_at IS NULL"
            " ORDER BY t.created_at, t.rowid",
            (session_id, user, user),
        )
        return [_turn(r) for r in rows]

    def clear_session(self, session_id: str, user: str) -> int:
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE turns SET hidden = 1 WHERE session_id = ? AND user = ? AND hidden = 0"
                " AND EXISTS (SELECT 1 FROM sessions s WHERE s.session_id = ? AND s.user = ?)",
                (session_id, user, session_id, user),
            )
        return cur.rowcount

    def check_record(self, record: Turn | Feedback | QAPair) -> None:
        """SQLite takes any size (text limits are applied where the text is typed, config/text.py)."""

    def list_turns(self, since: TimeBound = None, until: TimeBound = None, route: str | None = None) -> list[Turn]:
        where, args = _window_sql("created_at", since, until)
        if route:
            where.append("route = ?")
            args.append(route)
        rows = self._db.get().execute(f"SELECT * FROM turns{_where(where)} ORDER BY created_at, rowid", args)
        return [_turn(r) for r in rows]

    # --- feedback -----------------------------------------------------------------------
    def save_feedback(self, feedback: Feedback) -> SaveResult:
        with self._db.write() as conn:
            if not conn.execute("SELECT 1 FROM turns WHERE turn_id = ?", (feedback.turn_id,)).fetchone():
                raise UnknownTurnError(
                    f"Feedback names turn {feedback.turn_id!r}, which this store does not hold; save the turn first."
                )
            row = conn.execute(
                "SELECT * FROM feedback WHERE turn_id = ? AND reviewer = ? AND kind = ?", feedback.key
            ).fetchone()
            keep = merge_feedback(_feedback(row) if row else None, feedback)
            if keep is not None:
                data = keep.to_dict()
                data["approved"] = int(keep.approved)
                columns = ", ".join(data)
                marks = ", ".join(f":{k}" for k in data)
                conn.execute(f"INSERT OR REPLACE INTO feedback ({columns}) VALUES ({marks})", data)
        return SaveResult("saved")

    def feedback_for_turn(self, turn_id: str) -> list[Feedback]:
        rows = self._db.get().execute(
            "SELECT * FROM feedback WHERE turn_id = ? ORDER BY created_at, reviewer, kind", (turn_id,)
        )
        return [_feedback(r) for r in rows]

    def list_feedback(
        self,
        since: TimeBound = None,
        until: TimeBound = None,
        route: str | None = None,
        reviewer: str | None = None,
        severity: str | None = None,
    ) -> list[Feedback]:
        where, args = _window_sql("f.created_at", since, until)
        for column, value in (("t.route", route), ("f.reviewer", reviewer), ("f.severity", severity)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        rows = self._db.get().execute(
            "SELECT f.* FROM feedback f LEFT JOIN turns t ON t.turn_id = f.turn_id"
            f"{_where(where)} ORDER BY f.created_at, f.reviewer, f.kind",
            args,
        )
        return [_feedback(r) for r in rows]

    def review_queue(
        self,
        filter: ReviewFilter = "unrated",
        route: str | None = None,
        since: TimeBound = None,
        until: TimeBound = None,
        confidence_below: float | None = None,
        limit: int = 200,
    ) -> list[Turn]:
        check_review_filter(filter)
        turns = self.list_turns(since, until, route)
        ratings: dict[str, list[int | None]] = {}
        where, args = _window_sql("t.created_at", since, until)
        rows = self._db.get().execute(
            f"SELECT f.turn_id, f.thumbs FROM feedback f JOIN turns t ON t.turn_id = f.turn_id{_where(where)}", args
        )
        for row in rows:
            ratings.setdefault(row["turn_id"], []).append(row["thumbs"])
        return select_for_review(turns, ratings, filter, confidence_below, limit)

    # --- Q&A pairs ----------------------------------------------------------------------
    def add_qa_pairs(self, pairs: Sequence[QAPair], *, replace: bool = False) -> QAAddResult:
        result = QAAddResult()
        with self._db.write() as conn:
            for pair in pairs:
                data = pair.to_dict()
                data["images_json"] = json.dumps(data.pop("images"))
                exists = conn.execute("SELECT 1 FROM qa_pairs WHERE pair_id = ?", (pair.pair_id,)).fetchone()
                if exists and not replace:
                    result.duplicates += 1
                    result.duplicate_questions.append(pair.question)
                    continue
                columns = ", ".join(data)
                marks = ", ".join(f":{k}" for k in data)
                conn.execute(f"INSERT OR REPLACE INTO qa_pairs ({columns}) VALUES ({marks})", data)
                if exists:
                    result.replaced += 1
                else:
                    result.added += 1
            if result.added or result.replaced:
                self._bump_version(conn)
        return result

    def list_qa_pairs(self) -> list[QAPair]:
        return [_pair(r) for r in self._db.get().execute("SELECT * FROM qa_pairs ORDER BY created_at, pair_id")]

    def delete_qa_pair(self, pair_id: str) -> bool:
        with self._db.write() as conn:
            deleted = conn.execute("DELETE FROM qa_pairs WHERE pair_id = ?", (pair_id,)).rowcount > 0
            if deleted:
                self._bump_version(conn)
        return deleted

    def qa_version(self) -> str:
        row = self._db.get().execute("SELECT value FROM meta WHERE key = 'qa_version'").fetchone()
        return row[0]

    @staticmethod
    def _bump_version(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'qa_version'")

    def close(self) -> None:
        self._db.close()
