"""An in-memory stand-in for an OpenSearch node, plugged in as opensearch-py's connection class.

It records every request (method, path, params, decoded body) and answers in the response shapes
OpenSearch documents (index/get/delete/_bulk/_mget/_msearch/_search/_count/_delete_by_query).
Search is deliberately crude: `multi_match` scores by matching tokens, `knn` by exact cosine.
It checks request *shapes* and our parsing; it says nothing about OpenSearch's relevance.

    server = FakeOpenSearch()
    client = server.client()          # a real opensearchpy.OpenSearch; no socket is opened
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.connection import Connection

_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    body: Any  # parsed JSON, or a list of parsed NDJSON lines


def _not_found(index: str) -> tuple[int, dict[str, Any]]:
    err = {"type": "index_not_found_exception", "reason": f"no such index [{index}]", "index": index}
    return 404, {"error": {"root_cause": [err], **err}, "status": 404}


class FakeOpenSearch:
    def __init__(self, *, serverless: bool = False):
        self.serverless = serverless
        self.indices: dict[str, dict[str, Any]] = {}  # name -> {"body": create body, "docs": {id: source}}
        self.requests: list[Recorded] = []
        self.fail_with: tuple[int, dict[str, Any]] | None = None  # the next response...
        self.fail_on: str | None = None  # ...of the next request whose path ends so (None: any)

    def client(self) -> OpenSearch:
        server = self
        conn = type("FakeConnection", (_FakeConnection,), {"server": server})
        return OpenSearch(hosts=[{"host": "fake-opensearch", "port": 9200}], connection_class=conn, max_retries=0)

    def find(self, method: str, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    # -- routing -------------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        if self.fail_with is not None and (self.fail_on is None or path.endswith(self.fail_on)):
            failure, self.fail_with, self.fail_on = self.fail_with, None, None
            return failure
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:3] == ["_plugins", "_knn", "warmup"]:
            if parts[3] not in self.indices:
                return _not_found(parts[3])
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if parts == ["_bulk"]:
            return self._bulk(body)
        if parts == ["_msearch"]:
            return 200, {
                "took": 1,
                "responses": [self._search(body[i]["index"], body[i + 1])[1] for i in range(0, len(body), 2)],
            }
        index, rest = parts[0], parts[1:]
        if not rest:
            if method == "HEAD":
                return (200 if index in self.indices else 404), {}
            if method == "PUT":
                if index in self.indices:
                    return 400, {"error": {"type": "resource_already_exists_exception"}, "status": 400}
                self.indices[index] = {"body": body, "docs": {}}
                return 200, {"acknowledged": True, "shards_acknowledged": True, "index": index}
            if method == "DELETE":
                return (200, {"acknowledged": True}) if self.indices.pop(index, None) else _not_found(index)
        op = rest[0]
        if op == "_refresh":
            if self.serverless:
                return 404, {"error": "no handler found for uri [/_refresh]"}
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if op == "_delete_by_query":
            if self.serverless:
                return 404, {"error": "no handler found for uri [/_delete_by_query]"}
            deleted = 0
            for name in index.split(","):
                docs = self.indices.get(name, {}).get("docs", {})
                for doc_id in [i for i, d in docs.items() if _matches(d, body["query"])]:
                    del docs[doc_id]
                    deleted += 1
            return 200, {"took": 1, "timed_out": False, "deleted": deleted, "failures": []}
        if index not in self.indices:
            return _not_found(index)
        docs = self.indices[index]["docs"]
        if op == "_doc":
            doc_id = rest[1]
            if method in ("PUT", "POST"):
                result = "updated" if doc_id in docs else "created"
                docs[doc_id] = body
                return (200 if result == "updated" else 201), {"_index": index, "_id": doc_id, "result": result}
            if method == "DELETE":
                if docs.pop(doc_id, None) is None:
                    return 404, {"_index": index, "_id": doc_id, "result": "not_found"}
                return 200, {"_index": index, "_id": doc_id, "result": "deleted"}
            if doc_id in docs:
                return 200, {"_index": index, "_id": doc_id, "found": True, "_source": docs[doc_id]}
            return 404, {"_index": index, "_id": doc_id, "found": False}
        if op == "_mget":
            wanted = params.get("_source_includes")
            keep = wanted.split(",") if wanted else None
            return 200, {
                "docs": [
                    {
                        "_index": index,
                        "_id": i,
                        "found": True,
                        "_source": {k: v for k, v in docs[i].items() if keep is None or k in keep},
                    }
                    if i in docs
                    else {"_index": index, "_id": i, "found": False}
                    for i in body["ids"]
                ]
            }
        if op == "_count":
            query = (body or {}).get("query", {"match_all": {}})
            return 200, {"count": sum(_matches(d, query) for d in docs.values())}
        if op == "_search":
            return self._search(index, body)
        raise AssertionError(f"the fake does not know {method} {path}")

    def _bulk(self, lines: list[dict[str, Any]]) -> tuple[int, Any]:
        items, i = [], 0
        while i < len(lines):
            (op, meta), i = next(iter(lines[i].items())), i + 1
            docs = self.indices.setdefault(meta["_index"], {"body": None, "docs": {}})["docs"]
            if op == "delete":
                found = docs.pop(meta["_id"], None) is not None
                items.append(
                    {
                        op: {
                            "_index": meta["_index"],
                            "_id": meta["_id"],
                            "status": 200 if found else 404,
                            "result": "deleted" if found else "not_found",
                        }
                    }
                )
                continue
            source, i = lines[i], i + 1
            created = meta["_id"] not in docs
            docs[meta["_id"]] = source
            items.append(
                {
                    op: {
                        "_index": meta["_index"],
                        "_id": meta["_id"],
                        "status": 201 if created else 200,
                        "result": "created" if created else "updated",
                    }
                }
            )
        return 200, {"took": 1, "errors": any(list(it.values())[0]["status"] >= 300 for it in items), "items": items}

    def _search(self, index: str, body: dict[str, Any]) -> tuple[int, Any]:
        if index not in self.indices:
            status, error = _not_found(index)
            return status, error
        docs = self.indices[index]["docs"]
        query = body.get("query", {"match_all": {}})
        scored = [(doc_id, _score(d, query), d) for doc_id, d in docs.items() if _matches(d, query)]
        scored = [s for s in scored if s[1] > 0]
        if "sort" in body:
            field = next(iter(body["sort"][0]))
            scored.sort(key=lambda s: s[2].get(field, ""))
            if body.get("search_after"):
                scored = [s for s in scored if s[2].get(field, "") > body["search_after"][0]]
        else:
            scored.sort(key=lambda s: -s[1])
        size = body.get("size", 10)
        if "knn" in query:
            size = min(size, next(iter(query["knn"].values()))["k"])
        hits = []
        for doc_id, score, doc in scored[:size]:
            hit: dict[str, Any] = {"_index": index, "_id": doc_id, "_score": score}
            source = body.get("_source", True)
            if source is not False:
                hit["_source"] = {k: doc[k] for k in source if k in doc} if isinstance(source, list) else doc
            if "sort" in body:
                hit["sort"] = [doc.get(next(iter(body["sort"][0])), "")]
            hits.append(hit)
        response: dict[str, Any] = {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": len(scored), "relation": "eq"},
                "max_score": hits[0]["_score"] if hits else None,
                "hits": hits,
            },
            "status": 200,
        }
        for name, agg in body.get("aggs", {}).items():
            ((kind, spec),) = agg.items()
            assert kind == "filters", f"the fake does not know the aggregation {kind}"
            response.setdefault("aggregations", {})[name] = {
                "buckets": {
                    key: {"doc_count": sum(_analyzed_match(d, q) for d in docs.values())}
                    for key, q in spec["filters"].items()
                }
            }
        for name, suggestion in body.get("suggest", {}).items():
            response.setdefault("suggest", {})[name] = [_term_suggest(docs, suggestion["text"], suggestion["term"])]
        return 200, response


def _stem(word: str) -> str:
    """A crude stand-in for the english analyzer's Porter stemmer (plural and verb endings)."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _analyze(text: str) -> list[str]:
    return [_stem(w) for w in _TOKEN.findall(str(text).lower())]


def _analyzed_match(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """`multi_match` as the cluster runs it: analysed query terms against analysed fields (any term)."""
    ((kind, spec),) = query.items()
    assert kind == "multi_match", f"the fake counts only multi_match filters, not {kind}"
    wanted = set(_analyze(spec["query"]))
    return any(wanted & set(_analyze(doc.get(f.partition("^")[0], ""))) for f in spec["fields"])


def _within_edits(a: str, b: str, limit: int) -> bool:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] <= limit


def _term_suggest(docs: dict[str, Any], text: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The `term` suggester: indexed terms of the field within max_edits, sharing prefix_length letters."""
    freq: dict[str, int] = {}
    for doc in docs.values():
        for token in set(_analyze(doc.get(spec["field"], ""))):
            freq[token] = freq.get(token, 0) + 1
    term = text.lower()
    prefix = term[: spec.get("prefix_length", 1)]
    options = [
        {"text": t, "score": 0.8, "freq": n}
        for t, n in freq.items()
        if t != term and t.startswith(prefix) and _within_edits(term, t, spec.get("max_edits", 2))
    ]
    options.sort(key=lambda o: (-o["freq"], o["text"]))
    return {"text": text, "offset": 0, "length": len(text), "options": options[: spec.get("size", 5)]}


def _field(doc: dict[str, Any], field: str) -> Any:
    return doc.get(field.removesuffix(".raw"))


def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    ((kind, spec),) = query.items()
    if kind == "match_all":
        return True
    if kind == "term":
        ((field, value),) = spec.items()
        return _field(doc, field) == value
    if kind == "terms":
        ((field, values),) = spec.items()
        return _field(doc, field) in values
    if kind == "bool":
        return all(_matches(doc, q) for q in spec.get("filter", []) + spec.get("must", [])) and not any(
            _matches(doc, q) for q in spec.get("must_not", [])
        )
    if kind == "multi_match":
        return True
    if kind == "knn":
        ((field, knn),) = spec.items()
        return field in doc and ("filter" not in knn or _matches(doc, knn["filter"]))
    raise AssertionError(f"the fake does not know the query {kind}")


def _score(doc: dict[str, Any], query: dict[str, Any]) -> float:
    ((kind, spec),) = query.items()
    if kind == "bool":
        return sum(_score(doc, q) for q in spec.get("must", [])) if spec.get("must") else 1.0
    if kind == "multi_match":
        terms = set(_TOKEN.findall(spec["query"].lower()))
        total = 0.0
        for entry in spec["fields"]:
            name, _, boost = entry.partition("^")
            words = _TOKEN.findall(str(doc.get(name, "")).lower())
            total += float(boost or 1) * sum(w in terms for w in words)
        return total
    if kind == "knn":
        ((field, knn),) = spec.items()
        a, b = np.asarray(doc[field], dtype=np.float32), np.asarray(knn["vector"], dtype=np.float32)
        return float((1.0 + a @ b / (np.linalg.norm(a) * np.linalg.norm(b) or 1.0)) / 2.0)  # cosinesimil score
    return 1.0


class _FakeConnection(Connection):
    server: FakeOpenSearch

    def perform_request(self, method, url, params=None, body=None, timeout=None, ignore=(), headers=None):
        path = url.split("?")[0]
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        parsed: Any = None
        if text:
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            ndjson = path.endswith(("_bulk", "_msearch"))
            parsed = lines if ndjson else lines[0]
            if ndjson:
                assert text.endswith("\n"), "NDJSON bodies must end with a newline"
        params = {k: v.decode() if isinstance(v, bytes) else v for k, v in (params or {}).items()}
        self.server.requests.append(Recorded(method, path, params, parsed))
        status, payload = self.server.handle(method, path, params, parsed)
        raw = json.dumps(payload)
        if not 200 <= status < 300 and status not in ignore and not (method == "HEAD" and status == 404):
            self._raise_error(status, raw, "application/json")
        return status, {"content-type": "application/json"}, raw
