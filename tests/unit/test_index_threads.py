"""The embedded index searches one query with OpenMP held to the calling thread, and gives the thread back
its setting (ingest's parallel HNSW inserts keep their threads)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")


class RecordingIndex:
    """Stands in for the FAISS index: records the calling thread's OpenMP setting during search."""

    def __init__(self):
        self.threads_during_search: list[int] = []

    def search(self, query, k, params=None):
        self.threads_during_search.append(faiss.omp_get_max_threads())
        return np.array([[0.9]], dtype=np.float32), np.array([[7]], dtype=np.int64)


@pytest.mark.parametrize("in_worker_thread", [False, True])
def test_one_query_searches_on_one_thread_and_restores_the_setting(in_worker_thread):
    from index.embedded import _one_thread_search

    index = RecordingIndex()
    seen: dict[str, object] = {}

    def run():
        faiss.omp_set_num_threads(2)
        scores, ids = _one_thread_search(index, np.zeros((1, 4), dtype=np.float32), 1)
        seen["after"] = faiss.omp_get_max_threads()
        seen["ids"] = ids.tolist()

    if in_worker_thread:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    else:
        before = faiss.omp_get_max_threads()
        try:
            run()
        finally:
            faiss.omp_set_num_threads(before)
    assert index.threads_during_search == [1]
    assert seen == {"after": 2, "ids": [[7]]}


def test_the_setting_is_restored_when_the_search_fails():
    from index.embedded import _one_thread_search

    class Failing:
        def search(self, query, k):
            raise RuntimeError("boom")

    before = faiss.omp_get_max_threads()
    with pytest.raises(RuntimeError, match="boom"):
        _one_thread_search(Failing(), np.zeros((1, 4), dtype=np.float32), 1)
    assert faiss.omp_get_max_threads() == before
