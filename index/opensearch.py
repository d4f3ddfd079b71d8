"""The production KnowledgeIndex: OpenSearch (self-hosted, a managed domain, or Serverless).

Three indices per knowledge base (see docs/decisions.md for why not one):
`{name}` holds children (BM25 text fields + a `knn_vector`), `{name}-parents` the parent
sections, `{name}-sources` one record per source plus the meta document with IndexInfo.

Writes are per source and self-healing rather than transactional (OpenSearch has none): new docs
are bulk-indexed with a fresh `generation`, then the source's docs of other generations are
deleted, and the source record is written last. A failure midway leaves the old source record,
so the next `docent ingest` sees a changed hash and repeats the swap.

Request bodies are built by the pure functions in index/opensearch_requests.py; tests
compare them with the shapes OpenSearch documents.

>>> from opensearchpy import OpenSearch                            # doctest: +SKIP
>>> idx = OpenSearchIndex(OpenSearch("http://127.0.0.1:9200"), index_name="docent-chunks")  # doctest: +SKIP
>>> idx.ensure_model("sentence-transformers/all-MiniLM-L6-v2", 384).dim                    # doctest: +SKIP
384
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from config.settings import ConfigError
from index.opensearch_requests import (  # noqa: F401 - re-exported for callers and tests
    BULK_CHUNK,
    FILTER_FIELDS,
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    META_ID,
    PAGE,
    OpenSearchIndexError,
    _unit,
    child_doc,
    child_from_source,
    children_index_body,
    dense_body,
    filter_clauses,
    hits_from_response,
    knn_score_to_cosine,
    lexical_body,
    parent_doc,
    parent_from_source,
    parents_index_body,
    similar_terms_body,
    similar_terms_from_response,
    sources_index_body,
    stale_query,
    term_stats_body,
    term_stats_from_response,
    vectors_from_docs,
)
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- client --------------------------------------------------------------------------------------
def build_client(settings, connection: str = "requests"):
    """An OpenSearch client from settings: auth none | basic | sigv4 (service es or aoss)."""
    from opensearchpy import OpenSearch, RequestsHttpConnection, Urllib3HttpConnection

    if not settings.opensearch_url:
        raise OpenSearchIndexError("DOCENT_OPENSEARCH_URL is not set: point it at the domain or collection endpoint.")
    kwargs: dict[str, Any] = {
        "hosts": [settings.opensearch_url],
        "verify_certs": settings.opensearch_verify_certs,
        "connection_class": RequestsHttpConnection if connection == "requests" else Urllib3HttpConnection,
        "timeout": 30,
        "max_retries": 3,
        "retry_on_timeout": True,
    }
    if settings.opensearch_auth == "basic":
        kwargs["http_auth"] = (settings.opensearch_username, settings.opensearch_password.get_secret_value())
    elif settings.opensearch_auth == "sigv4":
        import boto3
        from opensearchpy import AWSV4SignerAuth, Urllib3AWSV4SignerAuth

        credentials = boto3.Session(region_name=settings.aws_region).get_credentials()
        if credentials is None:
            raise OpenSearchIndexError(
                f"DOCENT_OPENSEARCH_AUTH=sigv4 but no AWS credentials were found for {settings.opensearch_url}: "
                "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or attach an IAM role."
            )
        signer = AWSV4SignerAuth if connection == "requests" else Urllib3AWSV4SignerAuth
        kwargs["http_auth"] = signer(credentials, settings.aws_region, settings.opensearch_service)
    return OpenSearch(**kwargs)


class OpenSearchIndex:
    """KnowledgeIndex on OpenSearch. Pass a client, or let one be built from settings.

    >>> from config.settings import Settings                                            # doctest: +SKIP
    >>> s = Settings(index_backend="opensearch", opensearch_url="http://127.0.0.1:9200")  # doctest: +SKIP
    >>> OpenSearchIndex(settings=s).stats().backend                                      # doctest: +SKIP
    'opensearch'
    """

    backend = "opensearch"

    def __init__(
        self,
        client=None,
        index_name: str | None = None,
        settings=None,
        *,
        serverless: bool | None = None,
        engine: str | None = None,
        endpoint: str | None = None,
    ):
        if client is None and settings is None:
            raise ConfigError(
                "OpenSearchIndex needs the settings (DOCENT_OPENSEARCH_*) or a ready client; "
                "open it with index.factory.open_index(settings)."
            )
        self.client = client if client is not None else build_client(settings)
        self.name = index_name or (settings.opensearch_index if settings else "docent-chunks")
        self.serverless = (
            serverless if serverless is not None else bool(settings and settings.opensearch_service == "aoss")
        )
        # Serverless vector collections build HNSW with faiss only; lucene filters best elsewhere.
        self.engine = engine or ("faiss" if self.serverless else "lucene")
        self.endpoint = endpoint or (
            settings.opensearch_url if settings and settings.opensearch_url else _endpoint_of(self.client)
        )
        self.children_index = self.name
        self.parents_index = f"{self.name}-parents"
        self.sources_index = f"{self.name}-sources"

    # -- errors --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        from opensearchpy import exceptions as exc
        from opensearchpy.helpers import BulkIndexError

        where = f"OpenSearch at {self.endpoint} (index '{self.name}')"
        try:
            yield
        except exc.AuthenticationException as e:
            raise OpenSearchIndexError(
                f"{where} rejected the credentials while trying to {action} (HTTP 401): check "
                "DOCENT_OPENSEARCH_AUTH and the username/password or AWS credentials."
            ) from e
        except exc.AuthorizationException as e:
            raise OpenSearchIndexError(
                f"{where} refused to {action} (HTTP 403): check the IAM policy or data access policy "
                "(docs/opensearch.md lists the permissions) and DOCENT_AWS_REGION / DOCENT_OPENSEARCH_SERVICE."
            ) from e
        except exc.NotFoundError as e:
            raise OpenSearchIndexError(
                f"{where}: an index is missing while trying to {action}: run `docent ingest` to create it, "
                "or check DOCENT_OPENSEARCH_INDEX."
            ) from e
        except exc.ConnectionError as e:
            raise OpenSearchIndexError(
                f"{where} could not be reached to {action}: check DOCENT_OPENSEARCH_URL, the network path "
                f"(VPC, security group) and DOCENT_OPENSEARCH_VERIFY_CERTS ({e.__class__.__name__})."
            ) from e
        except BulkIndexError as e:
            first = e.errors[0] if e.errors else {}
            raise OpenSearchIndexError(
                f"{where}: {len(e.errors)} document(s) failed to {action}; first: {first}"
            ) from e
        except exc.TransportError as e:
            raise OpenSearchIndexError(f"{where} failed to {action}: HTTP {e.status_code} {e.error} {e.info}") from e

    def _refresh(self, *indices: str) -> None:
        if not self.serverless:  # Serverless refuses _refresh; it refreshes on its own interval.
            self.client.indices.refresh(index=",".join(indices), ignore_unavailable=True)

    # -- model ---------------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any] | None:
        with self._errors("read the index metadata"):
            doc = self.client.get(index=self.sources_index, id=META_ID, ignore=[404])
        return doc.get("_source") if doc.get("found") else None

    def info(self) -> IndexInfo | None:
        meta = self._meta()
        if meta is None:
            return None
        return IndexInfo(
            embedding_model=meta["embedding_model"],
            dim=int(meta["dim"]),
            created_at=meta.get("created_at", ""),
            version=meta.get("version", ""),
        )

    def ensure_model(self, embedding_model: str, dim: int) -> IndexInfo:
        info = self.info()
        if info is None:
            self._create_indices(dim)
            meta = {
                "doc_type": "meta",
                "embedding_model": embedding_model,
                "dim": dim,
                "created_at": _now(),
                "version": uuid.uuid4().hex,
            }
            with self._errors("write the index metadata"):
                self.client.index(index=self.sources_index, id=META_ID, body=meta)
            self._refresh(self.sources_index)
            return IndexInfo(embedding_model, dim, str(meta["created_at"]), str(meta["version"]))
        if info.embedding_model != embedding_model or info.dim != dim:
            raise EmbeddingModelMismatch(
                f"The OpenSearch index '{self.name}' at {self.endpoint} was built with the embedding model "
                f"'{info.embedding_model}' ({info.dim} dimensions), not '{embedding_model}' ({dim}). "
                f"{model_setting_hint(info.embedding_model, embedding_model)}, or use a new DOCENT_OPENSEARCH_INDEX "
                "and run `docent ingest` again."
            )
        return info

    def _create_indices(self, dim: int) -> None:
        bodies = {
            self.children_index: children_index_body(dim, self.engine),
            self.parents_index: parents_index_body(),
            self.sources_index: sources_index_body(),
        }
        for name, body in bodies.items():
            with self._errors(f"create the index '{name}'"):
                if not self.client.indices.exists(index=name):
                    # 400 resource_already_exists_exception: another process won the race.
                    self.client.indices.create(index=name, body=body, ignore=[400])

    def _bump_version(self) -> None:
        # A whole-document write rather than _update: the fewest API operations across deployments.
        meta = self._meta()
        if meta is not None:
            with self._errors("update the index version"):
                self.client.index(index=self.sources_index, id=META_ID, body={**meta, "version": uuid.uuid4().hex})

    # -- writes --------------------------------------------------------------------------------
    def list_sources(self) -> dict[str, SourceRecord]:
        out: dict[str, SourceRecord] = {}
        for hit in self._scan(self.sources_index, {"term": {"doc_type": "source"}}, "source", True):
            doc = {k: v for k, v in hit["_source"].items() if k != "doc_type"}
            out[doc["source"]] = SourceRecord(**doc)
        return dict(sorted(out.items()))

    def replace_source(
        self, record: SourceRecord, parents: Sequence[Parent], children: Sequence[Child], vectors: np.ndarray
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(children) != len(vectors):
            raise ValueError(f"{record.source}: {len(children)} children but {len(vectors)} vectors")
        info = self.info()
        if info is None:
            raise RuntimeError(f"call ensure_model() before writing to the OpenSearch index '{self.name}'")
        if len(vectors) and vectors.shape[1] != info.dim:
            raise EmbeddingModelMismatch(f"vectors have dimension {vectors.shape[1]}, the index {info.dim}")
        generation = uuid.uuid4().hex
        actions: list[dict[str, Any]] = [
            {"_op_type": "index", "_index": self.parents_index, "_id": p.id, "_source": parent_doc(p, generation)}
            for p in parents
        ]
        actions += [
            {
                "_op_type": "index",
                "_index": self.children_index,
                "_id": c.id,
                "_source": child_doc(c, _unit(v), generation),
            }
            for c, v in zip(children, vectors, strict=True)
        ]
        self._bulk(actions, f"index the source '{record.source}'")
        self._delete_matching(stale_query(record.source, generation), f"remove old parts of '{record.source}'")
        record.parents, record.children, record.indexed_at = len(parents), len(children), _now()
        with self._errors(f"write the source record of '{record.source}'"):
            self.client.index(
                index=self.sources_index, id=record.source, body={"doc_type": "source", **record.__dict__}
            )
        self._bump_version()
        self._refresh(self.children_index, self.parents_index, self.sources_index)

    def delete_source(self, source: str) -> None:
        if self._meta() is None:
            return
        self._delete_matching(stale_query(source), f"delete the source '{source}'")
        with self._errors(f"delete the source record of '{source}'"):
            self.client.delete(index=self.sources_index, id=source, ignore=[404])
        self._bump_version()
        self._refresh(self.children_index, self.parents_index, self.sources_index)

    def _bulk(self, actions: list[dict[str, Any]], action: str, ignore_status: tuple[int, ...] = ()) -> None:
        from opensearchpy import helpers

        if not actions:
            return
        with self._errors(action):
            helpers.bulk(
                self.client,
                actions,
                chunk_size=BULK_CHUNK,
                max_chunk_bytes=20 * 1024 * 1024,
                ignore_status=ignore_status,
            )

    def _delete_matching(self, query: dict[str, Any], action: str) -> None:
        indices = [self.children_index, self.parents_index]
        if not self.serverless:
            with self._errors(action):
                self.client.delete_by_query(
                    index=",".join(indices),
                    body={"query": query},
                    conflicts="proceed",
                    refresh=True,
                    ignore_unavailable=True,
                )
            return
        # Serverless has no _delete_by_query: page through the ids and bulk-delete them.
        for index in indices:
            deletes = [
                {"_op_type": "delete", "_index": index, "_id": hit["_id"]}
                for hit in self._scan(index, query, "doc_id", False)
            ]
            self._bulk(deletes, action, ignore_status=(404,))

    def _scan(self, index: str, query: dict[str, Any], sort_field: str, source: bool) -> Iterator[dict[str, Any]]:
        """Every hit of `query`, paged with search_after on a keyword (no scroll context to keep or clear)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"size": PAGE, "query": query, "sort": [{sort_field: "asc"}], "_source": source}
            if after is not None:
                body["search_after"] = after
            with self._errors(f"search '{index}'"):
                response = self.client.search(index=index, body=body, ignore=[404])
            hits = response.get("hits", {}).get("hits", [])
            yield from hits
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    # -- reads ---------------------------------------------------------------------------------
    def candidates(
        self, query: str, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> tuple[list[ChildHit], list[ChildHit]]:
        header = {"index": self.children_index}
        lexical = lexical_body(query, k, filters)
        body = [header, dense_body(vector, k, filters)]
        if lexical is not None:
            body = [header, lexical, *body]
        with self._errors("search"):
            responses = self.client.msearch(body=body)["responses"]
        out: list[list[ChildHit]] = []
        for response in responses:
            error = response.get("error")
            if error:
                if isinstance(error, dict) and error.get("type") == "index_not_found_exception":
                    out.append([])  # nothing ingested yet
                    continue
                raise OpenSearchIndexError(
                    f"OpenSearch at {self.endpoint} (index '{self.name}') failed a search: {error}"
                )
            out.append(hits_from_response(response))
        dense = [ChildHit(h.child_id, h.parent_id, knn_score_to_cosine(h.score, self.engine)) for h in out[-1]]
        return (out[0] if lexical is not None else []), dense

    def _mget(self, index: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), BULK_CHUNK):
            with self._errors(f"fetch documents from '{index}'"):
                response = self.client.mget(index=index, body={"ids": unique[start : start + BULK_CHUNK]}, ignore=[404])
            yield from (d["_source"] for d in response.get("docs", []) if d.get("found"))

    def get_parents(self, ids: Sequence[str]) -> dict[str, Parent]:
        return {p.id: p for p in map(parent_from_source, self._mget(self.parents_index, ids))}

    def get_children(self, ids: Sequence[str]) -> dict[str, Child]:
        return {c.id: c for c in map(child_from_source, self._mget(self.children_index, ids))}

    def source_parents(self, source: str) -> list[Parent]:
        """Every parent of `source` by id (ingest numbers them in document order), paged with search_after."""
        hits = self._scan(self.parents_index, stale_query(source), "doc_id", True)
        return [parent_from_source(hit["_source"]) for hit in hits]

    def _count(self, index: str, query: dict[str, Any] | None = None) -> int:
        with self._errors(f"count '{index}'"):
            response = self.client.count(index=index, body={"query": query} if query else None, ignore=[404])
        return int(response.get("count", 0))

    def stats(self) -> IndexStats:
        info = self.info()
        return IndexStats(
            sources=self._count(self.sources_index, {"term": {"doc_type": "source"}}),
            parents=self._count(self.parents_index),
            children=self._count(self.children_index),
            embedding_model=info.embedding_model if info else None,
            version=info.version if info else None,
            backend=self.backend,
            location=f"{self.endpoint}/{self.name}",
        )

    # -- capabilities (index.protocol.KnowledgeIndex) -------------------------------------------
    def term_stats(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many chunks contain each term (after the index's english analyzer), and how many in all."""
        unique = list(dict.fromkeys(terms))
        if not unique:
            return {}, self._count(self.children_index)
        with self._errors("count term frequencies"):
            response = self.client.search(index=self.children_index, body=term_stats_body(unique), ignore=[404])
        df, total = term_stats_from_response(unique, response)
        return {t: df.get(t, 0) for t in terms}, total

    def similar_terms(self, term: str, limit: int = 50) -> list[str]:
        """Indexed terms within two edits of `term` (typo candidates), most frequent first."""
        if len(term) < 4 or not term.isalnum():
            return []
        with self._errors("look up similar terms"):
            response = self.client.search(index=self.children_index, body=similar_terms_body(term, limit), ignore=[404])
        return similar_terms_from_response(response)

    def child_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the given children (lexical-only hits get their exact cosine)."""
        unique = list(dict.fromkeys(ids))
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(unique), BULK_CHUNK):
            with self._errors(f"fetch vectors from '{self.children_index}'"):
                response = self.client.mget(
                    index=self.children_index,
                    ignore=[404],
                    body={"ids": unique[start : start + BULK_CHUNK]},
                    params={"_source_includes": "doc_id,embedding"},
                )
            out.update(vectors_from_docs([d["_source"] for d in response.get("docs", []) if d.get("found")]))
        return out

    def flush(self) -> None:
        """Make every write searchable now (Serverless refreshes on its own interval)."""
        with self._errors("refresh the indices"):
            self._refresh(self.children_index, self.parents_index, self.sources_index)

    def warm_up(self) -> None:
        """Load the native k-NN graphs into memory before the first question (faiss engine only;
        the lucene engine and Serverless manage this themselves)."""
        if self.serverless or self.engine == "lucene":
            return
        with self._errors("warm up the k-NN index"):
            self.client.transport.perform_request(
                "GET", f"/_plugins/_knn/warmup/{self.children_index}", params={"ignore": 404}
            )

    def drop(self) -> None:
        """Delete the three indices (tests, or starting over with another embedding model)."""
        with self._errors("delete the indices"):
            for name in (self.children_index, self.parents_index, self.sources_index):
                self.client.indices.delete(index=name, ignore=[404])


def _endpoint_of(client) -> str:
    """scheme://host:port of the client's first node, never with credentials."""
    try:
        conn = client.transport.connection_pool.connections[0]
        return f"{conn.scheme}://{conn.hostname}:{conn.port}"
    except (AttributeError, IndexError):
        return "the configured endpoint"
