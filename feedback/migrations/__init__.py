"""Numbered schema migrations for the SQLite store: m001_initial.py, m002_..., applied in order.

Each module defines `up(conn)`; `apply_migrations` runs the ones not yet recorded in
`_migrations`, inside one write transaction, so concurrent openers apply each exactly once.
"""

from __future__ import annotations

import importlib
import pkgutil
import sqlite3

from feedback.records import utc_now


def migration_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name[:1] == "m" and m.name[1:4].isdigit())


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        applied = []
        for name in migration_names():
            if name in done:
                continue
            importlib.import_module(f"{__name__}.{name}").up(conn)
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, utc_now()))
            applied.append(name)
        conn.execute("COMMIT")
        return applied
    except BaseException:
        conn.execute("ROLLBACK")
        raise
