"""Turns, feedback, Q&A pairs and a small key/value table for the Q&A version."""

STATEMENTS = [
    """CREATE TABLE turns (
        turn_id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        user TEXT NOT NULL,
        created_at TEXT NOT NULL,
        question TEXT NOT NULL,
        standalone_question TEXT NOT NULL,
        answer TEXT NOT NULL,
        route TEXT NOT NULL,
        abstained INTEGER NOT NULL,
        confidence REAL NOT NULL,
        matched_question TEXT,
        references_json TEXT NOT NULL,
        backend TEXT NOT NULL,
        model TEXT NOT NULL,
        index_version TEXT NOT NULL,
        timings_json TEXT NOT NULL,
        hidden INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX turns_session ON turns (session_id, created_at)",
    "CREATE INDEX turns_created ON turns (created_at)",
    "CREATE INDEX turns_route ON turns (route, created_at)",
    """CREATE TABLE feedback (
        turn_id TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        thumbs INTEGER,
        severity TEXT,
        likert INTEGER,
        corrected_answer TEXT,
        comment TEXT,
        approved INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (turn_id, reviewer, kind)
    )""",
    "CREATE INDEX feedback_created ON feedback (created_at)",
    "CREATE INDEX feedback_reviewer ON feedback (reviewer, created_at)",
    """CREATE TABLE qa_pairs (
        pair_id TEXT PRIMARY KEY,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        context TEXT NOT NULL,
        images_json TEXT NOT NULL,
        origin TEXT NOT NULL,
        source_turn_id TEXT,
        created_at TEXT NOT NULL
    )""",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT INTO meta (key, value) VALUES ('qa_version', '0')",
]


def up(conn) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
