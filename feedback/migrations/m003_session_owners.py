"""Each conversation belongs to one user (issue 11): the owner is whoever saved its first turn.

Existing sessions get the user of their earliest turn (SQLite picks the row of MIN(created_at)).
"""

STATEMENTS = [
    """CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX sessions_user ON sessions (user, created_at)",
    """INSERT OR IGNORE INTO sessions (session_id, user, created_at)
        SELECT session_id, user, MIN(created_at) FROM turns GROUP BY session_id""",
]


def up(conn) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
