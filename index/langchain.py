"""LangChain access to Docent's knowledge index: a VectorStore and a hybrid Retriever.

Both work over any KnowledgeIndex (embedded or OpenSearch) and accept either a Docent Embedder
or a LangChain `Embeddings`.

- `DocentVectorStore`: dense similarity search, LangChain-style add/delete/get by id. Each added
  Document becomes its own synthetic source `langchain/<id>` (one parent + one child), so adding
  an existing id replaces it and deleting an id removes exactly it. Documents that Docent itself
  ingested are searchable and fetchable too; their metadata is built from the parent's locator.
- `DocentRetriever`: Docent's hybrid retrieval (BM25 + dense, fused, lifted to parent sections)
  with the index's metadata filters (`source`, `kind`, `title`).

>>> from langchain_core.embeddings import DeterministicFakeEmbedding
>>> from index.embedded import EmbeddedIndex
>>> import tempfile
>>> store = DocentVectorStore(EmbeddedIndex(tempfile.mkdtemp()), DeterministicFakeEmbedding(size=8))
>>> store.add_texts(["VPN setup: install GlobalProtect"], ids=["vpn"])
['vpn']
>>> [d.id for d in store.similarity_search("VPN setup: install GlobalProtect", k=1)]
['vpn']
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict

from index.protocol import Child, Filters, KnowledgeIndex, Parent, SourceRecord

SOURCE_PREFIX = "langchain/"
# The Protocol's Parent has no free-form metadata field; LangChain metadata rides in `anchor`
# (unused for synthetic sources) as JSON behind this marker.
METADATA_MARK = "langchain-metadata:"
PUSHDOWN_KEYS = ("kind", "title")  # stored verbatim for both LangChain and Docent documents


class LangChainEmbedder:
    """A LangChain `Embeddings` seen as a Docent Embedder (unit-length float32 vectors)."""

    def __init__(self, embeddings: Embeddings, model_id: str | None = None, dim: int | None = None):
        self.embeddings = embeddings
        size = getattr(embeddings, "size", None)
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        self.model_id = model_id or f"langchain:{type(embeddings).__name__}" + (f":{model}" if model else "") + (
            f":{size}" if size else ""
        )
        self.dim = dim or (size if isinstance(size, int) else len(embeddings.embed_query("dimension probe")))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit_rows(np.asarray(self.embeddings.embed_documents(list(texts)), dtype=np.float32))

    def embed_query(self, text: str) -> np.ndarray:
        return _unit_rows(np.asarray(self.embeddings.embed_query(text), dtype=np.float32))[0]


class EmbedderEmbeddings(Embeddings):
    """A Docent Embedder seen as a LangChain `Embeddings` (what `VectorStore.embeddings` returns)."""

    def __init__(self, embedder):
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()


def as_embedder(embedding):
    return LangChainEmbedder(embedding) if isinstance(embedding, Embeddings) else embedding


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.reshape(1, -1) if vectors.ndim == 1 else vectors
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def document_from_parent(parent: Parent) -> Document:
    """LangChain metadata as it was added, or a Docent parent's locator fields."""
    if parent.anchor and parent.anchor.startswith(METADATA_MARK):
        metadata = json.loads(parent.anchor[len(METADATA_MARK) :])
    else:
        metadata = {
            "source": parent.source,
            "title": parent.title,
            "kind": parent.kind,
            "section": parent.section,
            "locator": parent.locator(),
        }
        for key in ("page", "sheet", "url", "anchor"):
            if getattr(parent, key) is not None:
                metadata[key] = getattr(parent, key)
        if parent.rows is not None:
            metadata["rows"] = list(parent.rows)
    return Document(id=parent.id, page_content=parent.text, metadata=metadata)


def metadata_matcher(filter: dict[str, Any] | None) -> Callable[[dict[str, Any]], bool]:
    """`{"key": value}` means equality, `{"key": [v1, v2]}` membership; all keys must hold."""
    conditions = dict(filter or {})

    def matches(metadata: dict[str, Any]) -> bool:
        for key, wanted in conditions.items():
            value = metadata.get(key)
            if isinstance(wanted, (list, tuple, set)):
                if value not in wanted:
                    return False
            elif value != wanted:
                return False
        return True

    return matches


def pushdown_filters(filter: dict[str, Any] | None) -> Filters | None:
    """The part of a metadata filter the index can apply itself (string kind/title)."""
    out: Filters = {}
    for key in PUSHDOWN_KEYS:
        value = (filter or {}).get(key)
        if isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
            out[key] = value
    return out or None


class DocentVectorStore(VectorStore):
    """LangChain VectorStore over a Docent KnowledgeIndex.

    >>> from index.embedded import EmbeddedIndex                          # doctest: +SKIP
    >>> from index.embeddings import LocalEmbeddings                           # doctest: +SKIP
    >>> store = DocentVectorStore(EmbeddedIndex("data/index"), LocalEmbeddings())  # doctest: +SKIP
    >>> store.as_retriever().invoke("How many days of annual leave?")         # doctest: +SKIP
    """

    def __init__(self, index: KnowledgeIndex, embedding, *, overfetch: int = 4):
        self.index = index
        self.embedder = as_embedder(embedding)
        self._embeddings = embedding if isinstance(embedding, Embeddings) else EmbedderEmbeddings(embedding)
        self.overfetch = overfetch
        index.ensure_model(self.embedder.model_id, self.embedder.dim)

    @property
    def embeddings(self) -> Embeddings:
        return self._embeddings

    # -- writes ----------------------------------------------------------------------------------
    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        texts = list(texts)
        metadatas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        if len(metadatas) != len(texts):
            raise ValueError(f"add_texts got {len(texts)} texts but {len(metadatas)} metadatas: pass one per text.")
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"add_texts got {len(texts)} texts but {len(ids)} ids: pass one per text.")
        ids = [i or uuid.uuid4().hex for i in ids] if ids is not None else [uuid.uuid4().hex for _ in texts]
        records = []
        for doc_id, text, metadata in zip(ids, texts, metadatas, strict=True):
            metadata = metadata or {}
            source = f"{SOURCE_PREFIX}{doc_id}"
            title, kind = str(metadata.get("title", "")), str(metadata.get("kind", "text"))
            anchor = METADATA_MARK + json.dumps(metadata, default=str, sort_keys=True)
            parent = Parent(id=doc_id, source=source, title=title, text=text, kind=kind, anchor=anchor)
            child = Child(id=doc_id, parent_id=doc_id, source=source, kind=kind, title=title, section="", text=text)
            digest = hashlib.sha256(f"{text}\0{anchor}".encode()).hexdigest()
            records.append((SourceRecord(source=source, content_hash=digest, kind=kind, title=title), parent, child))
        vectors = self.embedder.embed_documents([child.embedding_text() for _, _, child in records])
        for (record, parent, child), vector in zip(records, vectors, strict=True):
            self.index.replace_source(record, [parent], [child], vector[None, :])
        return ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        if ids is None:
            raise ValueError(
                "DocentVectorStore.delete needs the ids to delete; to empty the index, delete its sources."
            )
        for doc_id in ids:
            self.index.delete_source(f"{SOURCE_PREFIX}{doc_id}")
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        parents = self.index.get_parents(list(ids))
        return [document_from_parent(parents[i]) for i in dict.fromkeys(ids) if i in parents]

    # -- search ----------------------------------------------------------------------------------
    def _search(
        self, query: str, vector: np.ndarray, k: int, filter: dict[str, Any] | None
    ) -> list[tuple[Document, float]]:
        fetch = k * self.overfetch if filter else k
        _, dense = self.index.candidates(query, np.asarray(vector, dtype=np.float32), fetch, pushdown_filters(filter))
        best: dict[str, float] = {}
        for hit in dense:  # best first: the first hit of a parent is its score
            best.setdefault(hit.parent_id, hit.score)
        parents = self.index.get_parents(list(best))
        matches = metadata_matcher(filter)
        out: list[tuple[Document, float]] = []
        for parent_id, score in best.items():
            if parent_id in parents:
                doc = document_from_parent(parents[parent_id])
                if matches(doc.metadata):
                    out.append((doc, score))
        return out[:k]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with the index's dense similarity (cosine for unit vectors; higher is closer)."""
        return self._search(query, self.embedder.embed_query(query), k, filter)

    def similarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        vector = _unit_rows(np.asarray(embedding, dtype=np.float32))[0]
        return [doc for doc, _ in self._search("", vector, k, filter)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        return lambda score: max(0.0, min(1.0, float(score)))

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        index: KnowledgeIndex | None = None,
        **kwargs: Any,
    ) -> DocentVectorStore:
        """Build a store over `index` (e.g. `index.factory.open_index(settings)`) and add `texts`."""
        if index is None:
            raise ValueError("DocentVectorStore.from_texts needs index=...: pass index.factory.open_index(settings).")
        store = cls(index, embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store


class DocentRetriever(BaseRetriever):
    """Docent's hybrid retrieval as a LangChain retriever: one Document per parent section.

    >>> retriever = DocentRetriever(index=index, embedder=LocalEmbeddings(), k=5,   # doctest: +SKIP
    ...                             filters={"source": ["hr/leave.md"]})
    >>> retriever.invoke("How many days of annual leave?")                          # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    embedder: Any
    k: int = 4
    filters: dict[str, Any] | None = None
    candidates: int = 60

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: Filters | None = None,
    ) -> list[Document]:
        from index.retrieval import HybridRetriever

        hybrid = HybridRetriever(self.index, as_embedder(self.embedder), candidates=self.candidates)
        passages = hybrid.retrieve(query, k=k or self.k, filters=filters if filters is not None else self.filters)
        out = []
        for passage in passages:
            doc = document_from_parent(passage.parent)
            doc.metadata = {
                **doc.metadata,
                "score": passage.score,
                "dense_score": passage.dense_score,
                "lexical_score": passage.lexical_score,
            }
            out.append(doc)
        return out
