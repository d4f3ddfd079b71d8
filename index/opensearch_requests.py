"""Pure request/response shaping for the OpenSearch backend: index mappings, query bodies, documents.

Kept apart from index/opensearch.py (the client calls) so the shapes OpenSearch documents can
be tested without a cluster (tests/unit/test_opensearch_requests.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from config.errors import DocentError
from index.protocol import Child, ChildHit, Filters, Parent
from index.text import identifier_parts, query_terms

META_ID = "__docent_meta__"
BULK_CHUNK = 500
PAGE = 1000
FILTER_FIELDS = {"source": "source", "kind": "kind", "title": "title.raw"}
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128


class OpenSearchIndexError(DocentError, RuntimeError):
    """OpenSearch refused or could not be reached; the message names the endpoint and what to check."""


# --- request bodies (pure) ---------------------------------------------------------------------
def children_index_body(dim: int, engine: str) -> dict[str, Any]:
    """Mapping of the children index: BM25 text fields, filter keywords and the HNSW vector."""
    # Vectors are L2-normalised before indexing, so inner product is the cosine; faiss supports
    # cosinesimil only on recent versions, innerproduct everywhere (Serverless included).
    space = "cosinesimil" if engine == "lucene" else "innerproduct"
    text = {"type": "text", "analyzer": "english"}
    return {
        "settings": {"index": {"knn": True}},
        "mappings": {
            "dynamic": False,
            "properties": {
                "doc_id": {"type": "keyword"},
                "parent_id": {"type": "keyword"},
                "source": {"type": "keyword"},
                "kind": {"type": "keyword"},
                "generation": {"type": "keyword"},
                "title": {**text, "fields": {"raw": {"type": "keyword", "ignore_above": 1024}}},
                "section": text,
                "text": text,
                "identifiers": text,
                "embedding": {
                    "type": "knn_vector",
                    "dimension": dim,
                    "method": {
                        "name": "hnsw",
                        "space_type": space,
                        "engine": engine,
                        "parameters": {"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION},
                    },
                },
            },
        },
    }


def parents_index_body() -> dict[str, Any]:
    """Parents are fetched by id only: nothing but the keys is indexed."""
    return {
        "mappings": {
            "dynamic": False,
            "properties": {
                "doc_id": {"type": "keyword"},
                "source": {"type": "keyword"},
                "generation": {"type": "keyword"},
            },
        }
    }


def sources_index_body() -> dict[str, Any]:
    return {
        "mappings": {
            "dynamic": False,
            "properties": {"doc_type": {"type": "keyword"}, "source": {"type": "keyword"}},
        }
    }


def filter_clauses(filters: Filters | None) -> list[dict[str, Any]]:
    """`term` for one value, `terms` for several; unknown keys are refused."""
    clauses: list[dict[str, Any]] = []
    for key, value in (filters or {}).items():
        if key not in FILTER_FIELDS:
            raise ValueError(f"unknown filter '{key}': use source, kind or title")
        field = FILTER_FIELDS[key]
        if isinstance(value, str):
            clauses.append({"term": {field: value}})
        else:
            clauses.append({"terms": {field: list(value)}})
    return clauses


def lexical_body(query: str, k: int, filters: Filters | None = None) -> dict[str, Any] | None:
    """BM25 over the query's content terms (as the embedded backend uses); None when it has none."""
    terms = query_terms(query)
    if not terms:
        return None
    match = {
        "multi_match": {
            "query": " ".join(terms),
            "type": "best_fields",
            "fields": ["title^3", "section^2", "text", "identifiers"],
            "tie_breaker": 0.3,
        }
    }
    clauses = filter_clauses(filters)
    query_part = {"bool": {"must": [match], "filter": clauses}} if clauses else match
    return {"size": k, "_source": ["parent_id"], "query": query_part}


def dense_body(vector: np.ndarray, k: int, filters: Filters | None = None) -> dict[str, Any]:
    knn: dict[str, Any] = {"vector": _unit(vector).tolist(), "k": k}
    clauses = filter_clauses(filters)
    if clauses:
        knn["filter"] = {"bool": {"filter": clauses}}
    return {"size": k, "_source": ["parent_id"], "query": {"knn": {"embedding": knn}}}


def child_doc(child: Child, vector: np.ndarray, generation: str) -> dict[str, Any]:
    return {
        "doc_id": child.id,
        "parent_id": child.parent_id,
        "source": child.source,
        "kind": child.kind,
        "title": child.title,
        "section": child.section,
        "text": child.text,
        "identifiers": " ".join(identifier_parts(f"{child.title} {child.section} {child.text}")),
        "generation": generation,
        "embedding": vector.tolist(),
    }


def parent_doc(parent: Parent, generation: str) -> dict[str, Any]:
    return {
        "doc_id": parent.id,
        "source": parent.source,
        "title": parent.title,
        "text": parent.text,
        "kind": parent.kind,
        "headings": list(parent.headings),
        "page": parent.page,
        "sheet": parent.sheet,
        "rows": list(parent.rows) if parent.rows else None,
        "anchor": parent.anchor,
        "url": parent.url,
        "generation": generation,
    }


def parent_from_source(doc: dict[str, Any]) -> Parent:
    rows = doc.get("rows")
    return Parent(
        id=doc["doc_id"],
        source=doc["source"],
        title=doc.get("title", ""),
        text=doc.get("text", ""),
        kind=doc.get("kind", "text"),
        headings=list(doc.get("headings") or []),
        page=doc.get("page"),
        sheet=doc.get("sheet"),
        rows=(int(rows[0]), int(rows[1])) if rows else None,
        anchor=doc.get("anchor"),
        url=doc.get("url"),
    )


def child_from_source(doc: dict[str, Any]) -> Child:
    return Child(
        id=doc["doc_id"],
        parent_id=doc["parent_id"],
        source=doc["source"],
        kind=doc.get("kind", "text"),
        title=doc.get("title", ""),
        section=doc.get("section", ""),
        text=doc.get("text", ""),
    )


def hits_from_response(response: dict[str, Any]) -> list[ChildHit]:
    return [
        ChildHit(h["_id"], h["_source"]["parent_id"], float(h["_score"]))
        for h in response.get("hits", {}).get("hits", [])
    ]


def knn_score_to_cosine(score: float, engine: str) -> float:
    """OpenSearch turns k-NN distances into positive scores; give the fusion and the evidence check
    the cosine similarity the embedded index reports. lucene + cosinesimil: score = (1 + cos) / 2;
    faiss + innerproduct (unit vectors): score = 1 + ip when ip >= 0, else 1 / (1 - ip).

    >>> knn_score_to_cosine(0.9, "lucene"), knn_score_to_cosine(1.5, "faiss"), knn_score_to_cosine(0.5, "faiss")
    (0.8, 0.5, -1.0)
    """
    if engine == "faiss":
        return score - 1.0 if score >= 1.0 else 1.0 - 1.0 / score
    return round(2.0 * score - 1.0, 12)


def stale_query(source: str, generation: str | None = None) -> dict[str, Any]:
    """The source's docs, or only those not written by `generation`."""
    query: dict[str, Any] = {"bool": {"filter": [{"term": {"source": source}}]}}
    if generation is not None:
        query["bool"]["must_not"] = [{"term": {"generation": generation}}]
    return query


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


# --- capabilities the chain uses (term statistics, typo candidates, stored vectors) -------------
TEXT_FIELDS = ["title", "section", "text", "identifiers"]


def term_stats_body(terms: list[str]) -> dict[str, Any]:
    """Document frequency of each term in one request: a `filters` aggregation of `multi_match`
    queries, so each term goes through the fields' own analyzer (english: stemmed) as BM25 does."""
    return {
        "size": 0,
        "track_total_hits": True,
        "query": {"match_all": {}},
        "aggs": {
            "df": {
                "filters": {
                    "filters": {
                        str(i): {"multi_match": {"query": term, "fields": TEXT_FIELDS}} for i, term in enumerate(terms)
                    }
                }
            }
        },
    }


def term_stats_from_response(terms: list[str], response: dict[str, Any]) -> tuple[dict[str, int], int]:
    buckets = response.get("aggregations", {}).get("df", {}).get("buckets", {})
    total = response.get("hits", {}).get("total", {})
    total_count = int(total.get("value", 0) if isinstance(total, dict) else total or 0)
    return {t: int(buckets.get(str(i), {}).get("doc_count", 0)) for i, t in enumerate(terms)}, total_count


def similar_terms_body(term: str, limit: int) -> dict[str, Any]:
    """Indexed terms close to `term` (typo candidates) from the `term` suggester on the body text."""
    return {
        "size": 0,
        "suggest": {
            "near": {
                "text": term,
                "term": {
                    "field": "text",
                    "suggest_mode": "always",
                    "max_edits": 2,
                    "prefix_length": 1,
                    "min_word_length": 4,
                    "size": limit,
                    "sort": "frequency",
                },
            }
        },
    }


def similar_terms_from_response(response: dict[str, Any]) -> list[str]:
    entries = response.get("suggest", {}).get("near", [])
    return [o["text"] for e in entries for o in e.get("options", [])]


def vectors_from_docs(docs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {d["doc_id"]: np.asarray(d["embedding"], dtype=np.float32) for d in docs if d.get("embedding")}
