"""A small manifest next to the embedded index's SQLite file, so a lost database is noticed (issue 11, item 6).

SQLite creates an empty database when its file is missing, and an empty index answers every
question with "could not find" without a word. `index.manifest.json` records, outside the database,
that the index was populated (its uid and counts); when the database that opens is not the one the
manifest describes, the index says so (`EmbeddedIndex.health()`), on every page and in
`docent index status`, until it is restored or rebuilt by an ingest.

>>> import tempfile; from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> write_manifest(folder, uid="abc", sources=2, children=40)
>>> missing_database_notice(folder, uid="new", children=0) is not None
True
>>> missing_database_notice(folder, uid="abc", children=40) is None
True
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

MANIFEST = "index.manifest.json"


def read_manifest(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_manifest(folder: Path, uid: str, sources: int, children: int) -> None:
    """Atomically record which database holds this index and how much it held."""
    data = {
        "uid": uid,
        "sources": sources,
        "children": children,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    tmp = folder / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(data), encoding="utf-8")
    tmp.replace(folder / MANIFEST)


def missing_database_notice(folder: Path, uid: str | None, children: int) -> str | None:
    """A message when the manifest says this index held chunks and the open database is another one."""
    manifest = read_manifest(folder)
    if not manifest or not int(manifest.get("children") or 0):
        return None
    if manifest.get("uid") == uid and children:
        return None
    return (
        f"The knowledge index in {folder} held {manifest.get('sources', '?')} documents "
        f"({manifest['children']} chunks, last written {manifest.get('written_at', '?')}), but its database "
        f"{folder / 'index.sqlite3'} is missing or was replaced, so answers will say they could not find "
        "anything. Restore index.sqlite3 from a backup, or re-run `docent ingest` on your document folders "
        "to rebuild it."
    )
