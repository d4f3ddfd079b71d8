"""Conversations in their owner's list (issue 12): last activity, first question, the owner's title,
deletion (undoable) and the share secret, on the `sessions` row.

Existing conversations get their last activity and first question from their turns.
"""

STATEMENTS = [
    "ALTER TABLE sessions ADD COLUMN updated_at TEXT",
    "ALTER TABLE sessions ADD COLUMN first_question TEXT",
    "ALTER TABLE sessions ADD COLUMN title TEXT",
    "ALTER TABLE sessions ADD COLUMN deleted_at TEXT",
    "ALTER TABLE sessions ADD COLUMN share_secret TEXT",
    """UPDATE sessions SET
        updated_at = COALESCE((SELECT MAX(t.created_at) FROM turns t WHERE t.session_id = sessions.session_id),
                              created_at),
        first_question = (SELECT t.question FROM turns t WHERE t.session_id = sessions.session_id
                          ORDER BY t.created_at, t.rowid LIMIT 1)""",
    "CREATE INDEX sessions_user_updated ON sessions (user, updated_at)",
]


def up(conn) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
