"""The conversation list of the SQLite store (feedback/conversations.py says what each call means).

A mixin of SQLiteFeedbackStore: the record is the `sessions` row (migration m004), turns are joined
for "has a visible turn" and for searching questions.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from feedback.conversations import (
    LIST_LIMIT,
    Conversation,
    clean_title,
    new_share_secret,
    newest_first,
    parse_share_token,
    search_conversations,
    secret_matches,
    share_token,
)
from feedback.records import Turn, utc_now
from feedback.store import StoreError, not_your_conversation

_VISIBLE = "EXISTS (SELECT 1 FROM turns t WHERE t.session_id = s.session_id AND t.user = s.user AND t.hidden = 0)"


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        session_id=row["session_id"],
        owner=row["user"],
        created_at=row["created_at"],
        updated_at=row["updated_at"] or row["created_at"],
        first_question=row["first_question"] or "",
        custom_title=row["title"] or "",
        shared=bool(row["share_secret"]),
        deleted=bool(row["deleted_at"]),
    )


class SQLiteConversations:
    _db: Any

    if TYPE_CHECKING:  # SQLiteFeedbackStore's

        def session_turns(self, session_id: str, user: str) -> list[Turn]: ...

    def record_turn_in_conversation(self, conn: sqlite3.Connection, turn: Turn) -> None:
        """Called inside save_turn's transaction once the turn is stored."""
        conn.execute(
            "UPDATE sessions SET first_question = COALESCE(first_question, ?),"
            " updated_at = MAX(COALESCE(updated_at, ''), ?) WHERE session_id = ?",
            (turn.question, turn.created_at, turn.session_id),
        )

    def conversations(self, user: str, search: str | None = None, limit: int = LIST_LIMIT) -> list[Conversation]:
        rows = self._db.get().execute(
            f"SELECT * FROM sessions s WHERE s.user = ? AND s.deleted_at IS NULL AND {_VISIBLE}"
            " ORDER BY s.updated_at DESC",
            (user,),
        )
        found = [_conversation(r) for r in rows]
        if search and search.split():
            questions: dict[str, list[str]] = {}
            for sid, question in self._db.get().execute(
                "SELECT session_id, question FROM turns WHERE user = ? AND hidden = 0", (user,)
            ):
                questions.setdefault(sid, []).append(question)
            found = search_conversations(found, search, questions)
        return newest_first(found, limit)

    def conversation(self, session_id: str, user: str) -> Conversation | None:
        row = (
            self._db.get()
            .execute("SELECT * FROM sessions WHERE session_id = ? AND user = ?", (session_id, user))
            .fetchone()
        )
        return _conversation(row) if row else None

    def _update_own(self, session_id: str, user: str, assignments: str, args: tuple = ()) -> bool:
        with self._db.write() as conn:
            cur = conn.execute(
                f"UPDATE sessions SET {assignments} WHERE session_id = ? AND user = ?", (*args, session_id, user)
            )
        return cur.rowcount > 0

    def rename_conversation(self, session_id: str, user: str, title: str) -> bool:
        return self._update_own(session_id, user, "title = ?", (clean_title(title),))

    def delete_conversation(self, session_id: str, user: str) -> bool:
        return self._update_own(session_id, user, "deleted_at = COALESCE(deleted_at, ?)", (utc_now(),))

    def restore_conversation(self, session_id: str, user: str) -> bool:
        return self._update_own(session_id, user, "deleted_at = NULL")

    def share_conversation(self, session_id: str, user: str) -> str:
        known = self.conversation(session_id, user)
        if known is not None and known.shared and not known.deleted:  # shown on every run: read, don't lock
            row = self._db.get().execute("SELECT share_secret FROM sessions WHERE session_id = ?", (session_id,))
            secret = row.fetchone()["share_secret"]
            if secret:
                return share_token(session_id, secret)
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT share_secret, deleted_at FROM sessions WHERE session_id = ? AND user = ?", (session_id, user)
            ).fetchone()
            if row is None or row["deleted_at"]:
                raise StoreError(not_your_conversation(session_id))
            secret = row["share_secret"]
            if not secret:  # the same link until revoked: only the first share writes
                secret = new_share_secret()
                conn.execute("UPDATE sessions SET share_secret = ? WHERE session_id = ?", (secret, session_id))
        return share_token(session_id, secret)

    def revoke_share(self, session_id: str, user: str) -> bool:
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE sessions SET share_secret = NULL WHERE session_id = ? AND user = ? AND share_secret IS NOT NULL",
                (session_id, user),
            )
        return cur.rowcount > 0

    def shared_conversation(self, token: str) -> tuple[Conversation, list[Turn]] | None:
        parsed = parse_share_token(token)
        if parsed is None:
            return None
        session_id, secret = parsed
        row = self._db.get().execute("SELECT * FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
        if row is None or row["deleted_at"] or not secret_matches(row["share_secret"], secret):
            return None
        conv = _conversation(row)
        return conv, self.session_turns(session_id, conv.owner)
