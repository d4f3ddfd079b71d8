"""The embedded default index: SQLite (records + FTS5 BM25) and FAISS HNSW (dense), on disk.

No server. SQLite holds every record, the BM25 index and a copy of each vector, so the FAISS
file is a cache that can always be rebuilt or caught up (it records the highest SQLite rowid it
holds). Deleted children stay in the HNSW graph until compaction but are never returned: every
hit is looked up in SQLite, which no longer has them.

>>> import tempfile, numpy as np
>>> idx = EmbeddedIndex(tempfile.mkdtemp())
>>> idx.ensure_model("toy", 2).embedding_model
'toy'
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.embedded_manifest import missing_database_notice, write_manifest
from index.protocol import (
    Child,
    ChildHit,
    EmbeddingModelMismatch,
    Filters,
    IndexInfo,
    IndexStats,
    Parent,
    SourceRecord,
    model_setting_hint,
)
from index.term_scores import TermScores
from index.text import query_terms, searchable_text

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY, content_hash TEXT NOT NULL, kind TEXT, title TEXT,
    parents INTEGER, children INTEGER, indexed_at TEXT);
CREATE TABLE IF NOT EXISTS parents (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, title TEXT, kind TEXT, headings TEXT, page INTEGER,
    sheet TEXT, row_start INTEGER, row_end INTEGER, anchor TEXT, url TEXT, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS parents_source ON parents(source);
CREATE TABLE IF NOT EXISTS children (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, parent_id TEXT NOT NULL,
    source TEXT NOT NULL, kind TEXT, title TEXT, section TEXT, text TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS children_source ON children(source);
CREATE VIRTUAL TABLE IF NOT EXISTS children_fts USING fts5(
    title, section, body, tokenize = 'porter unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS children_vocab USING fts5vocab(children_fts, 'row');
"""

# BM25 column weights: a term in the page title or section heading says more than one in the body.
BM25_WEIGHTS = (4.0, 2.0, 1.0)
_WEIGHTS = ", ".join(map(str, BM25_WEIGHTS))
# Terms in more than this share of chunks ("sagemaker" in a SageMaker guide) are left out of the
# lexical match: their BM25 weight is near zero, yet scoring their long posting lists dominated
# query time (measured on 19.5k chunks: p50 7.6 ms -> 2.9 ms at 0.10, quality unchanged at 0.15).
LEXICAL_MAX_DF = 0.15
LEXICAL_CUT_MIN_CHUNKS = 2000  # small indexes are fast anyway, and every term counts there
# FTS5 scores every row in the union of the kept terms' posting lists (~1-2 us a row here), so a
# fixed share of a growing index still grows the query (19.6k -> 78.3k chunks: 2.5x time). Terms
# are therefore kept rarest first until their posting lists add up to this many rows (the rarest
# is always kept): the most common kept terms weigh least in BM25, and the cost stops growing.
# Off (0) by default: on the 4x bench a budget that made search flat also cost recall@5 0.975 ->
# 0.900 (docs/benchmarks.md); turn it on only where speed at size matters more than that.
LEXICAL_MAX_ROWS = 0
# Per-term BM25 scores kept between questions (index/term_scores.py): (rowid, score) pairs, 12 bytes
# each, so 2M is ~24 MB. 0 turns the cache off: every question is one FTS5 query, as before.
LEXICAL_CACHE_ROWS = 2_000_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 160
COMPACT_DEAD_FRACTION = 0.25


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _within_row_budget(terms: Sequence[str], df: dict[str, int], max_rows: int) -> list[str]:
    """The rarest terms whose posting lists add up to at most `max_rows` (at least the rarest one),
    in their query order.

    >>> _within_row_budget(["create", "xgboost", "job"], {"create": 900, "xgboost": 40, "job": 700}, 1000)
    ['xgboost', 'job']
    """
    kept: set[str] = set()
    rows = 0
    for term in sorted(dict.fromkeys(terms), key=lambda t: df[t]):
        if kept and rows + df[term] > max_rows:
            break
        kept.add(term)
        rows += df[term]
    return [t for t in terms if t in kept]


def _fts_query(terms: Sequence[str]) -> str | None:
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


def _one_thread_search(index, query: np.ndarray, k: int, params=None):
    """One query's HNSW search with OpenMP held to this thread.

    A single query gains nothing from threads, but IndexIDMap maps the labels in an OpenMP loop, and
    the woken team then spin-waits: on a 2-core machine that starved ONNX Runtime's next query and
    doubled retrieval time (3.5 ms instead of 0.3 ms for the search, bench in docs/decisions.md). The
    setting is per calling thread and restored, so ingest's parallel inserts keep their threads.
    """
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(query, k, params=params) if params else index.search(query, k)
    finally:
        faiss.omp_set_num_threads(previous)


class EmbeddedIndex:
    """KnowledgeIndex on local disk: `path/index.sqlite3` and `path/vectors.faiss`."""

    backend = "embedded"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.db_path = self.path / "index.sqlite3"
        self.faiss_path = self.path / "vectors.faiss"
        self._local = threading.local()
        self._lock = threading.RLock()
        self._faiss = None
        self._faiss_version = -1
        self._max_rowid = 0
        self._df_cache: dict[str, int] = {}
        self._df_version: str | None = None
        self._total: int | None = None
        self._term_scores = TermScores(LEXICAL_CACHE_ROWS)
        self._notices: list[str] = []  # what went wrong with the files and what was done about it
        self._db().executescript(SCHEMA)

    # -- connections -----------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db

    class _Tx:
        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type, exc, tb) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _raw(self) -> sqlite3.Cursor:
        """A cursor on this thread's connection that yields plain tuples (bulk reads: no Row objects)."""
        cursor = self._db().cursor()
        cursor.row_factory = None
        return cursor

    def _tx(self) -> EmbeddedIndex._Tx:
        return self._Tx(self._db())

    def _meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    # -- model -----------------------------------------------------------------------------
    def info(self) -> IndexInfo | None:
        model = self._meta("embedding_model")
        if model is None:
            return None
        return IndexInfo(
            embedding_model=model,
            dim=int(self._meta("dim") or 0),
            created_at=self._meta("created_at") or "",
            version=self._meta("content_version") or "0",
        )

    def ensure_model(self, embedding_model: str, dim: int) -> IndexInfo:
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key='embedding_model'").fetchone()
            if row is None:
                self._set_meta(db, "embedding_model", embedding_model)
                self._set_meta(db, "dim", str(dim))
                self._set_meta(db, "created_at", _now())
                self._set_meta(db, "content_version", "0")
                self._set_meta(db, "vectors_version", "0")
                self._set_meta(db, "uid", os.urandom(8).hex())
            elif row[0] != embedding_model:
                raise EmbeddingModelMismatch(
                    f"The index at {self.path} was built with the embedding model '{row[0]}', not "
                    f"'{embedding_model}'. {model_setting_hint(row[0], embedding_model)}, or rebuild: "
                    f"delete {self.path} and run `docent ingest` again."
                )
        info = self.info()
        assert info is not None
        return info

    # -- writes ----------------------------------------------------------------------------
    def list_sources(self) -> dict[str, SourceRecord]:
        rows = self._db().execute("SELECT * FROM sources ORDER BY source").fetchall()
        return {r["source"]: SourceRecord(**dict(r)) for r in rows}

    def replace_source(
        self, record: SourceRecord, parents: Sequence[Parent], children: Sequence[Child], vectors: np.ndarray
    ) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(children) != len(vectors):
            raise ValueError(f"{record.source}: {len(children)} children but {len(vectors)} vectors")
        info = self.info()
        if info is None:
            raise RuntimeError("call ensure_model() before writing to the index")
        if len(vectors) and vectors.shape[1] != info.dim:
            raise EmbeddingModelMismatch(f"vectors have dimension {vectors.shape[1]}, the index {info.dim}")
        with self._lock, self._tx() as db:
            self._delete_rows(db, record.source)
            db.executemany(
                "INSERT INTO parents VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        p.id,
                        p.source,
                        p.title,
                        p.kind,
                        json.dumps(p.headings),
                        p.page,
                        p.sheet,
                        p.rows[0] if p.rows else None,
                        p.rows[1] if p.rows else None,
                        p.anchor,
                        p.url,
                        p.text,
                    )
                    for p in parents
                ],
            )
            for child, vec in zip(children, vectors):
                cur = db.execute(
                    "INSERT INTO children(id, parent_id, source, kind, title, section, text, vector) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (
                        child.id,
                        child.parent_id,
                        child.source,
                        child.kind,
                        child.title,
                        child.section,
                        child.text,
                        vec.tobytes(),
                    ),
                )
                rowid = cur.lastrowid
                db.execute(
                    "INSERT INTO children_fts(rowid, title, section, body) VALUES (?,?,?,?)",
                    (rowid, searchable_text(child.title), searchable_text(child.section), searchable_text(child.text)),
                )
            record.parents, record.children, record.indexed_at = len(parents), len(children), _now()
            db.execute(
                "INSERT INTO sources VALUES (?,?,?,?,?,?,?)",
                (
                    record.source,
                    record.content_hash,
                    record.kind,
                    record.title,
                    record.parents,
                    record.children,
                    record.indexed_at,
                ),
            )
            self._bump_versions(db)

    def delete_source(self, source: str) -> None:
        with self._lock, self._tx() as db:
            if self._delete_rows(db, source):
                self._bump_versions(db)

    def _delete_rows(self, db: sqlite3.Connection, source: str) -> bool:
        rowids = [r[0] for r in db.execute("SELECT rowid FROM children WHERE source=?", (source,))]
        for start in range(0, len(rowids), 500):
            chunk = rowids[start : start + 500]
            db.execute(f"DELETE FROM children_fts WHERE rowid IN ({','.join('?' * len(chunk))})", chunk)
        db.execute("DELETE FROM children WHERE source=?", (source,))
        db.execute("DELETE FROM parents WHERE source=?", (source,))
        existed = db.execute("DELETE FROM sources WHERE source=?", (source,)).rowcount > 0
        if rowids:
            dead = int(self._meta("dead_vectors") or 0) + len(rowids)
            self._set_meta(db, "dead_vectors", str(dead))
        return existed or bool(rowids)

    def _bump_versions(self, db: sqlite3.Connection) -> None:
        for key in ("content_version", "vectors_version"):
            row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            self._set_meta(db, key, str(int(row[0]) + 1 if row else 1))

    def flush(self) -> None:
        """Bring the vector index up to date and write it to disk (compacting it when many are dead)."""
        with self._lock:
            live = self._db().execute("SELECT COUNT(*) FROM children").fetchone()[0]
            dead = int(self._meta("dead_vectors") or 0)
            if dead and dead > COMPACT_DEAD_FRACTION * max(live, 1):
                self._faiss, self._max_rowid = None, 0
                with self._tx() as db:
                    self._set_meta(db, "dead_vectors", "0")
                self._catch_up(self._new_hnsw())
            else:
                self._vectors()
            self._save_vectors()
            uid = self._meta("uid")
            if uid:
                db = self._db()
                write_manifest(
                    self.path,
                    uid,
                    db.execute("SELECT COUNT(*) FROM sources").fetchone()[0],
                    db.execute("SELECT COUNT(*) FROM children").fetchone()[0],
                )

    def health(self) -> list[str]:
        """Problems a person should know about: a lost database, a vector file rebuilt from SQLite."""
        children = self._db().execute("SELECT COUNT(*) FROM children").fetchone()[0]
        missing = missing_database_notice(self.path, self._meta("uid"), children)
        return [*([missing] if missing else []), *self._notices]

    # -- vectors ---------------------------------------------------------------------------
    # SQLite rowids only grow (AUTOINCREMENT), so the FAISS file is "every child up to rowid N":
    # catching up after writes means adding the vectors of rowid > N. Deleted children stay in the
    # graph as dead entries until compaction; SQLite look-ups drop them from every result.
    def _new_hnsw(self):
        import faiss

        info = self.info()
        hnsw = faiss.IndexHNSWFlat(info.dim if info else 1, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        return faiss.IndexIDMap2(hnsw)

    def _vectors(self):
        """The FAISS index, loaded from disk once (rebuilt from SQLite when unreadable) and caught up."""
        version = int(self._meta("vectors_version") or 0)
        if self._faiss is not None and self._faiss_version == version:
            return self._faiss
        with self._lock:
            rebuilt = False
            if self._faiss is None:
                stamp = self.path / "vectors.maxrowid"
                uid, _, max_rowid = stamp.read_text().strip().partition(":") if stamp.exists() else ("", "", "")
                index = None
                if self.faiss_path.exists() and uid == self._meta("uid") and max_rowid.isdigit():
                    index = self._read_vectors()
                    rebuilt = index is None
                    self._max_rowid = int(max_rowid) if index is not None else 0
                if index is None:
                    index, self._max_rowid = self._new_hnsw(), 0
                self._faiss = index
            self._catch_up(self._faiss)
            if rebuilt:  # write the good file now, so the next start does not rebuild again
                self._save_vectors()
                self._notices.append(
                    f"{self.faiss_path} could not be read, so the vector index was rebuilt from "
                    f"{self.db_path} ({self._faiss.ntotal} vectors); nothing was lost."
                )
                log.warning(self._notices[-1])
            self._faiss_version = version
            return self._faiss

    def _read_vectors(self):
        """The FAISS file, or None when it is corrupt or truncated (it is rebuilt from SQLite then)."""
        import faiss

        try:
            index = faiss.read_index(str(self.faiss_path))
            faiss.downcast_index(index.index).hnsw.efSearch = HNSW_EF_SEARCH
            return index
        except Exception as exc:  # noqa: BLE001 - faiss raises RuntimeError, a wrong type AttributeError
            log.warning(
                "%s is unreadable (%s): rebuilding it from %s",
                self.faiss_path,
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                self.db_path,
            )
            return None

    def _catch_up(self, index) -> None:
        info = self.info()
        dim = info.dim if info else 0
        ids: list[int] = []
        blobs: list[bytes] = []
        rows = self._db().execute(
            "SELECT rowid, vector FROM children WHERE rowid > ? ORDER BY rowid", (self._max_rowid,)
        )
        for rowid, blob in rows:
            ids.append(rowid)
            blobs.append(blob)
            if len(ids) >= 8192:
                self._add_blobs(index, ids, blobs, dim)
                ids, blobs = [], []
        self._add_blobs(index, ids, blobs, dim)
        self._faiss = index

    def _add_blobs(self, index, ids: list[int], blobs: list[bytes], dim: int) -> None:
        if ids:
            vecs = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dim)
            index.add_with_ids(vecs, np.asarray(ids, dtype=np.int64))
            self._max_rowid = max(self._max_rowid, ids[-1])

    def _save_vectors(self) -> None:
        import faiss

        if self._faiss is None:
            return
        tmp = self.faiss_path.with_suffix(".tmp")
        faiss.write_index(self._faiss, str(tmp))
        tmp.replace(self.faiss_path)
        (self.path / "vectors.maxrowid").write_text(f"{self._meta('uid')}:{self._max_rowid}")

    # -- reads -----------------------------------------------------------------------------
    def _filter_sql(self, filters: Filters | None, alias: str = "c") -> tuple[str, list]:
        if not filters:
            return "", []
        clauses, args = [], []
        for key, value in filters.items():
            if key not in ("source", "kind", "title"):
                raise ValueError(f"unknown filter '{key}': use source, kind or title")
            values = [value] if isinstance(value, str) else list(value)
            clauses.append(f"{alias}.{key} IN ({','.join('?' * len(values))})")
            args.extend(values)
        return " AND " + " AND ".join(clauses), args

    def _doc_freq(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        version = self._meta("content_version")
        if version != self._df_version:
            self._df_cache, self._df_version, self._total = {}, version, None
        db = self._db()
        for term in terms:
            if term not in self._df_cache:
                row = db.execute(
                    "SELECT COUNT(*) FROM children_fts WHERE children_fts MATCH ?", (f'"{term}"',)
                ).fetchone()
                self._df_cache[term] = int(row[0])
        if self._total is None:  # COUNT(*) walks a whole index: once per content version
            self._total = int(db.execute("SELECT COUNT(*) FROM children").fetchone()[0])
        return {t: self._df_cache[t] for t in terms}, self._total

    def _lexical_terms(self, query: str, filters: Filters | None) -> tuple[list[str], dict[str, int], int]:
        """The query terms the lexical match uses, with every term's document frequency."""
        terms = [t for t in query_terms(query) if t.isalnum()]
        if not terms:
            return [], {}, 0
        keep = terms
        df, total = self._doc_freq(terms)
        if total >= LEXICAL_CUT_MIN_CHUNKS and not filters:
            keep = [t for t in terms if 0 < df[t] <= LEXICAL_MAX_DF * total]
            if not keep:  # every term is very common (or unknown): match on the rarest one that exists
                keep = sorted((t for t in terms if df[t] > 0), key=lambda t: df[t])[:1]
            if LEXICAL_MAX_ROWS:
                keep = _within_row_budget(keep, df, LEXICAL_MAX_ROWS)
        return keep, df, total

    def lexical_plan(self, query: str) -> dict:
        """Where the lexical side's time goes for one query (bench/bench_scale.py): terms, kept terms,
        their document frequencies and the rows FTS5 scores (the union of their posting lists)."""
        keep, df, total = self._lexical_terms(query, None)
        match = _fts_query(keep)
        rows = 0
        if match is not None:
            rows = (
                self._db()
                .execute("SELECT COUNT(*) FROM children_fts WHERE children_fts MATCH ?", (match,))
                .fetchone()[0]
            )
        return {"terms": df, "kept": keep, "chunks": total, "rows": int(rows)}

    def lexical(self, query: str, k: int, filters: Filters | None = None) -> list[ChildHit]:
        keep, _, _ = self._lexical_terms(query, filters)
        if not keep:
            return []
        if filters or not LEXICAL_CACHE_ROWS:
            return self._lexical_sql(keep, k, filters)
        # Unfiltered: the sum of each term's cached scores, the same ranking as one FTS5 OR query.
        version = self._meta("content_version")
        entries = []
        for term in keep:
            entry = self._term_scores.get(version, term)
            if entry is None:
                rows = self._raw().execute(
                    f"SELECT rowid, -bm25(children_fts, {_WEIGHTS}) FROM children_fts WHERE children_fts MATCH ?",
                    (f'"{term}"',),
                )
                table = np.array(rows.fetchall(), dtype=np.float64).reshape(-1, 2)
                entry = (table[:, 0].astype(np.int64), table[:, 1])
                self._term_scores.put(version, term, *entry)
            entries.append(entry)
        rowids, scores = TermScores.combine(entries, k)
        if not len(rowids):
            return []
        found = {
            r[0]: (r[1], r[2])
            for r in self._raw().execute(
                f"SELECT rowid, id, parent_id FROM children WHERE rowid IN ({','.join('?' * len(rowids))})",
                rowids.tolist(),
            )
        }
        return [ChildHit(*found[r], float(s)) for r, s in zip(rowids.tolist(), scores.tolist()) if r in found]

    def _lexical_sql(self, keep: Sequence[str], k: int, filters: Filters | None = None) -> list[ChildHit]:
        """One FTS5 query over the union of the terms (filtered searches, and the cache turned off)."""
        match = _fts_query(keep)
        if filters:
            where, args = self._filter_sql(filters)
            sql = (
                f"SELECT c.id, c.parent_id, bm25(children_fts, {_WEIGHTS}) AS s "
                f"FROM children_fts JOIN children c ON c.rowid = children_fts.rowid "
                f"WHERE children_fts MATCH ?{where} ORDER BY s LIMIT ?"
            )
            rows = self._db().execute(sql, [match, *args, k]).fetchall()
        else:  # rank first, join only the top k
            sql = (
                f"SELECT c.id, c.parent_id, f.s FROM (SELECT rowid, bm25(children_fts, {_WEIGHTS}) AS s "
                f"FROM children_fts WHERE children_fts MATCH ? ORDER BY s LIMIT ?) f "
                f"JOIN children c ON c.rowid = f.rowid ORDER BY f.s"
            )
            rows = self._db().execute(sql, [match, k]).fetchall()
        return [ChildHit(r[0], r[1], -float(r[2])) for r in rows]

    def dense(self, vector: np.ndarray, k: int, filters: Filters | None = None) -> list[ChildHit]:
        import faiss

        index = self._vectors()
        if index.ntotal == 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        dead = int(self._meta("dead_vectors") or 0)
        fetch = min(index.ntotal, k + dead if dead < 4 * k else 4 * k)
        params = None
        if filters:
            where, args = self._filter_sql(filters)
            allowed = [r[0] for r in self._db().execute(f"SELECT rowid FROM children c WHERE 1=1{where}", args)]
            if not allowed:
                return []
            params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)), efSearch=max(HNSW_EF_SEARCH, fetch)
            )
        scores, ids = _one_thread_search(index, query, fetch, params)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        if not pairs:
            return []
        placeholders = ",".join("?" * len(pairs))
        found = {
            r[0]: (r[1], r[2])
            for r in self._db().execute(
                f"SELECT rowid, id, parent_id FROM children WHERE rowid IN ({placeholders})", [p[0] for p in pairs]
            )
        }
        hits = [ChildHit(found[i][0], found[i][1], s) for i, s in pairs if i in found]
        return hits[:k]

    def candidates(
        self, query: str, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> tuple[list[ChildHit], list[ChildHit]]:
        return self.lexical(query, k, filters), self.dense(vector, k, filters)

    def get_parents(self, ids: Sequence[str]) -> dict[str, Parent]:
        out: dict[str, Parent] = {}
        for chunk in _chunks(list(dict.fromkeys(ids)), 500):
            rows = (
                self._db()
                .execute(f"SELECT * FROM parents WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                .fetchall()
            )
            for r in rows:
                out[r["id"]] = _parent_from_row(r)
        return out

    def source_parents(self, source: str) -> list[Parent]:
        """Every parent of `source` in the order it was written (document order)."""
        rows = self._db().execute("SELECT * FROM parents WHERE source=? ORDER BY rowid", (source,)).fetchall()
        return [_parent_from_row(r) for r in rows]

    def get_children(self, ids: Sequence[str]) -> dict[str, Child]:
        out: dict[str, Child] = {}
        for chunk in _chunks(list(dict.fromkeys(ids)), 500):
            rows = (
                self._db()
                .execute(
                    "SELECT id, parent_id, source, kind, title, section, text FROM children "
                    f"WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                .fetchall()
            )
            for r in rows:
                out[r["id"]] = Child(**dict(r))
        return out

    def child_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the given children (used as retrieval evidence by the router)."""
        out: dict[str, np.ndarray] = {}
        for chunk in _chunks(list(dict.fromkeys(ids)), 500):
            rows = (
                self._db()
                .execute(f"SELECT id, vector FROM children WHERE id IN ({','.join('?' * len(chunk))})", chunk)
                .fetchall()
            )
            for r in rows:
                out[r[0]] = np.frombuffer(r[1], dtype=np.float32)
        return out

    def parent_children(self, parent_ids: Sequence[str]) -> dict[str, list[Child]]:
        """All children of the given parents, in order (used for contextual compression)."""
        out: dict[str, list[Child]] = {}
        for chunk in _chunks(list(dict.fromkeys(parent_ids)), 500):
            rows = (
                self._db()
                .execute(
                    "SELECT id, parent_id, source, kind, title, section, text FROM children "
                    f"WHERE parent_id IN ({','.join('?' * len(chunk))}) ORDER BY rowid",
                    chunk,
                )
                .fetchall()
            )
            for r in rows:
                out.setdefault(r["parent_id"], []).append(Child(**dict(r)))
        return out

    def term_stats(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks contain each term (after the index's own stemming), and how many in all."""
        clean = [t for t in dict.fromkeys(terms) if t.isalnum()]
        counts, total = self._doc_freq(clean)
        return {t: counts.get(t, 0) for t in terms}, total

    def similar_terms(self, term: str, limit: int = 50) -> list[str]:
        """Indexed (stemmed) terms sharing the first three letters of `term`: typo candidates."""
        if len(term) < 4 or not term.isalnum():
            return []
        prefix = term[:3]
        rows = (
            self._db()
            .execute(
                "SELECT term FROM children_vocab WHERE term >= ? AND term < ? ORDER BY doc DESC LIMIT ?",
                (prefix, prefix + "\uffff", limit * 20),
            )
            .fetchall()
        )
        return [r[0] for r in rows][: limit * 20]

    def stats(self) -> IndexStats:
        db = self._db()
        info = self.info()
        return IndexStats(
            sources=db.execute("SELECT COUNT(*) FROM sources").fetchone()[0],
            parents=db.execute("SELECT COUNT(*) FROM parents").fetchone()[0],
            children=db.execute("SELECT COUNT(*) FROM children").fetchone()[0],
            embedding_model=info.embedding_model if info else None,
            version=info.version if info else None,
            backend=self.backend,
            location=str(self.path),
        )

    def warm_up(self) -> None:
        """Load the vector index now instead of on the first question."""
        self._vectors()


def _parent_from_row(r: sqlite3.Row) -> Parent:
    return Parent(
        id=r["id"],
        source=r["source"],
        title=r["title"],
        text=r["text"],
        kind=r["kind"],
        headings=json.loads(r["headings"] or "[]"),
        page=r["page"],
        sheet=r["sheet"],
        rows=(r["row_start"], r["row_end"]) if r["row_start"] is not None else None,
        anchor=r["anchor"],
        url=r["url"],
    )


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
