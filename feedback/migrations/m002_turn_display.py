"""Turns keep what the pages show with them: the confidence band, a notice and the pair's images."""

STATEMENTS = [
    "ALTER TABLE turns ADD COLUMN confidence_band TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE turns ADD COLUMN notice TEXT",
    "ALTER TABLE turns ADD COLUMN images_json TEXT NOT NULL DEFAULT '[]'",
]


def up(conn) -> None:
    for statement in STATEMENTS:
        conn.execute(statement)
