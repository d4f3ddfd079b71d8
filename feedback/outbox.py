"""Never lose a write: `OutboxStore` keeps what a remote store could not take and delivers it later.

When the inner store raises `StoreUnavailableError` (connection refused, endpoint down,
throttling) on save_turn / save_feedback / add_qa_pairs, the record is written to a local SQLite
outbox (under DOCENT_DATA_DIR) and the call returns status "queued", so the UI can say
"saved (queued for delivery)". The outbox is delivered in order before the next write and by
`flush()`; the inner stores' writes are idempotent, so a record delivered twice is stored once.

>>> store = OutboxStore(DynamoDBFeedbackStore(client), "data/outbox.sqlite3")  # doctest: +SKIP
>>> store.save_feedback(Feedback.new(turn_id=t, reviewer="bo", kind="thumbs", thumbs=-1)).message  # doctest: +SKIP
'Saved (queued for delivery).'
>>> store.flush().delivered  # doctest: +SKIP
1
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feedback.conversations import Conversation
from feedback.records import Feedback, QAPair, Turn, utc_now
from feedback.sqlite import ThreadConnections
from feedback.store import FeedbackStore, QAAddResult, SaveResult, StoreUnavailableError

log = logging.getLogger(__name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL,
    payload TEXT NOT NULL,
    enqueued_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    dead INTEGER NOT NULL DEFAULT 0
)"""


@dataclass
class OutboxEntry:
    """One queued write as an administrator sees it."""

    seq: int
    op: str
    enqueued_at: str
    attempts: int
    dead: bool
    last_error: str
    payload: Any

    @classmethod
    def from_row(cls, row: Any) -> OutboxEntry:
        return cls(
            row["seq"],
            row["op"],
            row["enqueued_at"],
            row["attempts"],
            bool(row["dead"]),
            row["last_error"] or "",
            json.loads(row["payload"]),
        )

    @property
    def summary(self) -> str:
        """'feedback by bo on turn 1a2b…: "It is four weeks now…"' (what the entry would have written)."""
        p = self.payload
        if self.op == "turn":
            return (
                f"turn by {p.get('user')} in conversation {str(p.get('session_id'))[:8]}…: {_short(p.get('question'))}"
            )
        if self.op == "feedback":
            text = p.get("comment") or p.get("corrected_answer") or ""
            return f"{p.get('kind')} by {p.get('reviewer')} on turn {str(p.get('turn_id'))[:8]}…: {_short(text)}"
        pairs = p.get("pairs", [])
        return f"{len(pairs)} Q&A pair(s): {_short(pairs[0].get('question') if pairs else '')}"


def _short(text: Any, limit: int = 60) -> str:
    flat = " ".join(str(text or "").split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


@dataclass
class FlushReport:
    delivered: int = 0
    pending: int = 0  # still waiting (the store is still unreachable)
    failed: int = 0  # refused by the store for good (see OutboxStore.failed_entries())


class OutboxStore:
    """A `FeedbackStore` decorator: writes that cannot reach `inner` are queued locally, not lost."""

    def __init__(self, inner: FeedbackStore, outbox_path: str | Path, retry_interval_s: float = 15.0) -> None:
        self.inner = inner
        self.outbox_path = Path(outbox_path)
        self._db = ThreadConnections(self.outbox_path)
        self._db.get().execute(_SCHEMA)
        self._flush_lock = threading.Lock()
        # after a failed delivery, writes go straight to the outbox for a while instead of each
        # waiting on an unreachable endpoint (the UI stays quick); flush() always tries
        self.retry_interval_s = retry_interval_s
        self._unavailable_since: float | None = None
        self._deliver: dict[str, Callable[[Any], Any]] = {
            "turn": lambda p: inner.save_turn(Turn.from_dict(p)),
            "feedback": lambda p: inner.save_feedback(Feedback.from_dict(p)),
            "qa_pairs": lambda p: inner.add_qa_pairs([QAPair.from_dict(d) for d in p["pairs"]], replace=p["replace"]),
        }

    # --- the outbox ---------------------------------------------------------------------
    def pending(self) -> int:
        return self._db.get().execute("SELECT COUNT(*) FROM outbox WHERE dead = 0").fetchone()[0]

    def failed_entries(self) -> list[dict[str, Any]]:
        rows = self._db.get().execute("SELECT * FROM outbox WHERE dead = 1 ORDER BY seq")
        return [dict(r) for r in rows]

    def entries(self) -> list[OutboxEntry]:
        """Everything in the outbox, waiting and dead, oldest first (`docent stores outbox`, the admin view)."""
        rows = self._db.get().execute("SELECT * FROM outbox ORDER BY seq")
        return [OutboxEntry.from_row(r) for r in rows]

    def replay(self, seqs: Sequence[int] | None = None) -> FlushReport:
        """Put dead entries (all, or those numbered `seqs`) back in the queue and deliver the queue now.

        An entry refused again goes back to dead with the store's new reason."""
        with self._db.write() as conn:
            if seqs is None:
                conn.execute("UPDATE outbox SET dead = 0 WHERE dead = 1")
            else:
                for seq in seqs:
                    conn.execute("UPDATE outbox SET dead = 0 WHERE dead = 1 AND seq = ?", (int(seq),))
        self._unavailable_since = None
        return self.flush()

    def discard(self, seqs: Sequence[int]) -> int:
        """Delete dead entries for good (after copying out what is worth keeping); returns how many."""
        with self._db.write() as conn:
            return sum(
                conn.execute("DELETE FROM outbox WHERE dead = 1 AND seq = ?", (int(seq),)).rowcount for seq in seqs
            )

    def _enqueue(self, op: str, payload: Any, error: Exception) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO outbox (op, payload, enqueued_at, last_error) VALUES (?, ?, ?, ?)",
                (op, json.dumps(payload), utc_now(), str(error)),
            )
        log.warning("Feedback store unreachable; queued a %s for delivery: %s", op, error)

    def flush(self) -> FlushReport:
        """Deliver queued records in order; stops at the first 'still unreachable'."""
        report = FlushReport()
        with self._flush_lock:
            conn = self._db.get()
            for row in conn.execute("SELECT seq, op, payload FROM outbox WHERE dead = 0 ORDER BY seq").fetchall():
                try:
                    self._deliver[row["op"]](json.loads(row["payload"]))
                except StoreUnavailableError as exc:
                    self._unavailable_since = time.monotonic()
                    with self._db.write() as w:
                        w.execute(
                            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                            (str(exc), row["seq"]),
                        )
                    break
                except Exception as exc:  # refused for good (e.g. unknown turn): keep it, stop retrying it
                    log.error("Outbox entry %s (%s) was refused by the store: %s", row["seq"], row["op"], exc)
                    with self._db.write() as w:
                        w.execute(
                            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, dead = 1 WHERE seq = ?",
                            (f"{type(exc).__name__}: {exc}", row["seq"]),
                        )
                    report.failed += 1
                    continue
                with self._db.write() as w:
                    w.execute("DELETE FROM outbox WHERE seq = ?", (row["seq"],))
                report.delivered += 1
        report.pending = self.pending()
        if report.pending == 0:
            self._unavailable_since = None
        return report

    def _write(self, op: str, payload: Any, call: Callable[[], Any]) -> Any:
        # the caller has already run inner.check_record: a record the store must refuse is never queued
        recently_down = (
            self._unavailable_since is not None and time.monotonic() - self._unavailable_since < self.retry_interval_s
        )
        if self.pending() or recently_down:
            if not recently_down:
                self.flush()
            if self.pending() or recently_down:  # keep order: nothing overtakes what is still queued
                reason = "the store was unreachable moments ago" if recently_down else "earlier writes are still queued"
                self._enqueue(op, payload, StoreUnavailableError(reason))
                return None
        try:
            result = call()
        except StoreUnavailableError as exc:
            self._unavailable_since = time.monotonic()
            self._enqueue(op, payload, exc)
            return None
        self._unavailable_since = None
        return result

    # --- writes -------------------------------------------------------------------------
    def check_record(self, record: Turn | Feedback | QAPair) -> None:
        self.inner.check_record(record)

    def save_turn(self, turn: Turn) -> SaveResult:
        self.inner.check_record(turn)
        result = self._write("turn", turn.to_dict(), lambda: self.inner.save_turn(turn))
        return result or SaveResult("queued")

    def save_feedback(self, feedback: Feedback) -> SaveResult:
        self.inner.check_record(feedback)
        result = self._write("feedback", feedback.to_dict(), lambda: self.inner.save_feedback(feedback))
        return result or SaveResult("queued")

    def add_qa_pairs(self, pairs: Sequence[QAPair], *, replace: bool = False) -> QAAddResult:
        for pair in pairs:
            self.inner.check_record(pair)
        payload = {"pairs": [p.to_dict() for p in pairs], "replace": replace}
        result = self._write("qa_pairs", payload, lambda: self.inner.add_qa_pairs(pairs, replace=replace))
        if result is not None:
            return result
        unique = {p.pair_id for p in pairs}  # duplicates against the stored set are settled on delivery
        return QAAddResult(added=len(unique), duplicates=len(pairs) - len(unique), status="queued")

    # --- reads --------------------------------------------------------------------------
    def _queued_turns(self, session_id: str) -> list[Turn]:
        rows = self._db.get().execute("SELECT payload FROM outbox WHERE dead = 0 AND op = 'turn' ORDER BY seq")
        turns = [Turn.from_dict(json.loads(r["payload"])) for r in rows]
        return [t for t in turns if t.session_id == session_id]

    def session_owner(self, session_id: str) -> str | None:
        try:
            return self.inner.session_owner(session_id)
        except StoreUnavailableError:
            queued = self._queued_turns(session_id)
            if queued:  # a conversation begun during the outage
                return queued[0].user
            raise

    def session_turns(self, session_id: str, user: str) -> list[Turn]:
        """Stored turns plus the ones still queued, so the chat history survives an outage."""
        try:
            stored = self.inner.session_turns(session_id, user)
            owner = self.inner.session_owner(session_id)
        except StoreUnavailableError:
            stored, owner = [], None
        queued = self._queued_turns(session_id)
        if owner is None and queued:
            owner = queued[0].user
        if owner != user:
            return []
        seen = {t.turn_id for t in stored}
        merged = stored + [t for t in queued if t.turn_id not in seen and t.user == user]
        return sorted(merged, key=lambda t: t.created_at)

    def get_turn(self, turn_id: str) -> Turn | None:
        return self.inner.get_turn(turn_id)

    def clear_session(self, session_id: str, user: str) -> int:
        return self.inner.clear_session(session_id, user)

    # conversations: straight to the store (an unreachable one is said so by the UI, nothing to queue)
    def conversations(self, *args: Any, **kwargs: Any) -> list[Conversation]:
        return self.inner.conversations(*args, **kwargs)

    def conversation(self, session_id: str, user: str) -> Conversation | None:
        return self.inner.conversation(session_id, user)

    def rename_conversation(self, session_id: str, user: str, title: str) -> bool:
        return self.inner.rename_conversation(session_id, user, title)

    def delete_conversation(self, session_id: str, user: str) -> bool:
        return self.inner.delete_conversation(session_id, user)

    def restore_conversation(self, session_id: str, user: str) -> bool:
        return self.inner.restore_conversation(session_id, user)

    def share_conversation(self, session_id: str, user: str) -> str:
        return self.inner.share_conversation(session_id, user)

    def revoke_share(self, session_id: str, user: str) -> bool:
        return self.inner.revoke_share(session_id, user)

    def shared_conversation(self, token: str) -> tuple[Conversation, list[Turn]] | None:
        return self.inner.shared_conversation(token)

    def list_turns(self, *args: Any, **kwargs: Any) -> list[Turn]:
        return self.inner.list_turns(*args, **kwargs)

    def feedback_for_turn(self, turn_id: str) -> list[Feedback]:
        return self.inner.feedback_for_turn(turn_id)

    def list_feedback(self, *args: Any, **kwargs: Any) -> list[Feedback]:
        return self.inner.list_feedback(*args, **kwargs)

    def review_queue(self, *args: Any, **kwargs: Any) -> list[Turn]:
        return self.inner.review_queue(*args, **kwargs)

    def list_qa_pairs(self) -> list[QAPair]:
        return self.inner.list_qa_pairs()

    def delete_qa_pair(self, pair_id: str) -> bool:
        return self.inner.delete_qa_pair(pair_id)

    def qa_version(self) -> str:
        return self.inner.qa_version()

    def close(self) -> None:
        self._db.close()
        self.inner.close()
