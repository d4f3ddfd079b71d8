"""Exact BM25 from per-term scores, each computed once per index version (the embedded index's lexical side).

FTS5's `bm25()` of a row is a sum over the query's phrases of that phrase's own term: its IDF
(rows in the table that contain it), its weighted frequency in the row, the row's length against
the average. No phrase's term depends on another phrase. So the scores of a query `"a" OR "b"`
equal, row by row, the score of `"a"` plus the score of `"b"`, and a term's scores can be computed
once (by FTS5, over its own posting list) and added in NumPy for every later question that has the
term. The ranking is the same as one FTS5 query over the union of the terms; what changes is the
cost: FTS5 scores ~1-2 us a row, adding a cached term's scores costs ~20 ns a row, and the common
terms, whose long posting lists made the lexical side grow with the index, are the ones that recur.

Any write to the index bumps its content version, which changes IDFs and lengths: the cache is then
dropped whole. It holds at most `max_rows` (rowid, score) pairs (12 bytes each), least recently used
first out.

>>> cache = TermScores(max_rows=5)
>>> cache.put("1", "gpu", np.array([3, 7]), np.array([1.5, 0.5]))
>>> cache.put("1", "spot", np.array([7, 9]), np.array([2.0, 1.0]))
>>> ids, scores = cache.combine([cache.get("1", "gpu"), cache.get("1", "spot")])
>>> ids.tolist(), scores.tolist()
([7, 3, 9], [2.5, 1.5, 1.0])
>>> cache.get("2", "gpu") is None          # the content changed: everything is recomputed
True
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

Entry = tuple[np.ndarray, np.ndarray]  # (rowids int64, scores float64; higher is better)


class TermScores:
    def __init__(self, max_rows: int = 2_000_000):
        self.max_rows = max_rows
        self._version: str | None = None
        self._terms: OrderedDict[str, Entry] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()

    def _check(self, version: str | None) -> None:
        if version != self._version:
            self._terms.clear()
            self._rows, self._version = 0, version

    def get(self, version: str | None, term: str) -> Entry | None:
        with self._lock:
            self._check(version)
            entry = self._terms.get(term)
            if entry is not None:
                self._terms.move_to_end(term)
            return entry

    def put(self, version: str | None, term: str, rowids: np.ndarray, scores: np.ndarray) -> None:
        size = len(rowids)
        if size > self.max_rows:
            return
        with self._lock:
            self._check(version)
            if term in self._terms:
                return
            while self._terms and self._rows + size > self.max_rows:
                _, (old, _) = self._terms.popitem(last=False)
                self._rows -= len(old)
            self._terms[term] = (np.asarray(rowids, dtype=np.int64), np.asarray(scores, dtype=np.float64))
            self._rows += size

    @property
    def rows(self) -> int:
        return self._rows

    @staticmethod
    def combine(entries: list[Entry], k: int | None = None) -> Entry:
        """Each row's summed score over the terms, best first (ties: lower rowid first), the top `k`."""
        entries = [e for e in entries if len(e[0])]
        if not entries:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        if len(entries) == 1:
            ids, scores = entries[0]
        else:
            all_ids = np.concatenate([e[0] for e in entries])
            ids, inverse = np.unique(all_ids, return_inverse=True)
            scores = np.bincount(inverse, weights=np.concatenate([e[1] for e in entries]), minlength=len(ids))
        if k is not None and k < len(ids):
            # The k best, with every row tied with the k-th kept so the tie-break below is by rowid.
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= kth
            ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))
        if k is not None:
            order = order[:k]
        return ids[order], scores[order]
