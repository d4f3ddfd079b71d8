"""The OpenSearch backend's requests, checked against the shapes OpenSearch documents.

No cluster runs here. A fake connection (tests/unit/opensearch_fake.py) records what
opensearch-py would send and answers in the documented response shapes. Documented shapes used:
- k-NN index: settings.index.knn=true; knn_vector{dimension, method{name: hnsw, space_type, engine}}
  (docs.opensearch.org: mappings/supported-field-types/knn-vector, knn-methods-engines)
- knn query with `filter` inside the field clause (vector-search/filter-search-knn)
- _msearch: NDJSON header line + body line per search, newline-terminated; `responses` array
- _bulk: NDJSON action line (+ source line for index); `items` array with per-item status
- Serverless vector collections: HNSW with faiss only, no _delete_by_query, no _refresh
  (AWS developer guide: serverless-vector-search, serverless-genref)
"""

from __future__ import annotations

import numpy as np
import pytest

from config.settings import Settings
from index.opensearch import (
    OpenSearchIndex,
    OpenSearchIndexError,
    build_client,
    children_index_body,
    dense_body,
    lexical_body,
)
from index.protocol import Child, EmbeddingModelMismatch, Parent, SourceRecord
from tests.contract.index_contract import KnowledgeIndexContract
from tests.unit.opensearch_fake import FakeOpenSearch

DIM = 4


def _vec(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def _source(name: str, n: int = 2, kind: str = "text") -> tuple[SourceRecord, list[Parent], list[Child], np.ndarray]:
    parents = [
        Parent(
            id=f"{name}-p{i}",
            source=name,
            title=f"{name} title",
            text=f"parent {i} of {name}",
            kind=kind,
            headings=["Setup", f"Step {i}"],
            page=i + 1,
            rows=(2, 9) if i else None,
            url=f"{name}#page={i + 1}",
        )
        for i in range(n)
    ]
    children = [
        Child(
            id=f"{name}-c{i}",
            parent_id=f"{name}-p{i}",
            source=name,
            kind=kind,
            title=f"{name} title",
            section=f"Setup > Step {i}",
            text=f"rotate the CreateTrainingJob keys {i}",
        )
        for i in range(n)
    ]
    vectors = np.stack([_vec(1, i + 1, 0, 0) for i in range(n)])
    return (
        SourceRecord(source=name, content_hash=f"h-{name}", kind=kind, title=f"{name} title"),
        parents,
        children,
        vectors,
    )


@pytest.fixture
def server() -> FakeOpenSearch:
    return FakeOpenSearch()


@pytest.fixture
def index(server: FakeOpenSearch) -> OpenSearchIndex:
    idx = OpenSearchIndex(server.client(), index_name="kb", endpoint="http://fake-opensearch:9200")
    idx.ensure_model("toy-model", DIM)
    return idx


# --- mapping --------------------------------------------------------------------------------------
def test_children_mapping_is_a_knn_index_with_bm25_and_keyword_fields(server, index):
    created = {r.path.strip("/"): r.body for r in server.requests if r.method == "PUT" and "_doc" not in r.path}
    assert set(created) == {"kb", "kb-parents", "kb-sources"}
    body = created["kb"]
    assert body["settings"]["index"]["knn"] is True
    props = body["mappings"]["properties"]
    assert props["embedding"] == {
        "type": "knn_vector",
        "dimension": DIM,
        "method": {
            "name": "hnsw",
            "space_type": "cosinesimil",
            "engine": "lucene",
            "parameters": {"m": 16, "ef_construction": 128},
        },
    }
    for field in ("title", "section", "text"):
        assert props[field]["type"] == "text"
    for field in ("source", "kind", "parent_id"):
        assert props[field] == {"type": "keyword"}
    assert props["title"]["fields"]["raw"]["type"] == "keyword"


def test_serverless_mapping_uses_faiss_hnsw_only():
    method = children_index_body(384, "faiss")["mappings"]["properties"]["embedding"]["method"]
    assert method["engine"] == "faiss" and method["name"] == "hnsw"
    assert method["space_type"] == "innerproduct"  # vectors are unit length: same ranking as cosine
    assert OpenSearchIndex(FakeOpenSearch().client(), serverless=True).engine == "faiss"


# --- writes ----------------------------------------------------------------------------------------
def test_replace_source_bulk_indexes_then_deletes_stale_generation(server, index):
    server.requests.clear()
    record, parents, children, vectors = _source("docs/a.pdf")
    index.replace_source(record, parents, children, vectors)

    bulk = server.find("POST", "/_bulk")
    assert len(bulk) == 1
    lines = bulk[0].body
    actions = lines[0::2]
    assert actions[0] == {"index": {"_index": "kb-parents", "_id": "docs/a.pdf-p0"}}
    assert actions[2] == {"index": {"_index": "kb", "_id": "docs/a.pdf-c0"}}
    child = lines[5]
    assert child["parent_id"] == "docs/a.pdf-p0" and child["source"] == "docs/a.pdf"
    assert len(child["embedding"]) == DIM and abs(np.linalg.norm(child["embedding"]) - 1) < 1e-5
    assert "create" in child["identifiers"] and "training" in child["identifiers"]
    generation = child["generation"]

    (dbq,) = server.find("POST", "/_delete_by_query")
    assert dbq.path == "/kb,kb-parents/_delete_by_query"
    assert dbq.body == {
        "query": {
            "bool": {"filter": [{"term": {"source": "docs/a.pdf"}}], "must_not": [{"term": {"generation": generation}}]}
        }
    }
    assert dbq.params["conflicts"] == "proceed"
    assert server.find("POST", "/_refresh")
    assert index.list_sources()["docs/a.pdf"].children == 2


def test_replacing_a_source_removes_children_it_no_longer_has(server, index):
    index.replace_source(*_source("a.md", n=3))
    index.replace_source(*_source("b.md", n=1))
    index.replace_source(*_source("a.md", n=1))
    assert set(index.get_children(["a.md-c0", "a.md-c1", "a.md-c2", "b.md-c0"])) == {"a.md-c0", "b.md-c0"}
    stats = index.stats()
    assert (stats.sources, stats.parents, stats.children) == (2, 2, 2)


def test_delete_source_and_version_changes(server, index):
    v0 = index.info().version
    index.replace_source(*_source("a.md"))
    v1 = index.info().version
    index.delete_source("a.md")
    assert len({v0, v1, index.info().version}) == 3
    assert index.list_sources() == {}
    assert index.get_parents(["a.md-p0"]) == {}
    assert server.find("DELETE", "/kb-sources/_doc/a.md")


def test_serverless_deletes_by_search_and_bulk_and_never_refreshes():
    server = FakeOpenSearch(serverless=True)
    idx = OpenSearchIndex(server.client(), index_name="kb", serverless=True)
    idx.ensure_model("toy-model", DIM)
    idx.replace_source(*_source("a.md", n=3))
    idx.replace_source(*_source("a.md", n=1))
    assert not server.find("POST", "/_delete_by_query") and not server.find("POST", "/_refresh")
    searches = [r for r in server.find("POST", "/kb/_search")]
    assert searches and searches[0].body["sort"] == [{"doc_id": "asc"}] and searches[0].body["_source"] is False
    deletes = [line for r in server.find("POST", "/_bulk") for line in r.body if "delete" in line]
    assert {"delete": {"_index": "kb", "_id": "a.md-c2"}} in deletes
    assert set(idx.get_children(["a.md-c0", "a.md-c1", "a.md-c2"])) == {"a.md-c0"}


# --- model -----------------------------------------------------------------------------------------
def test_ensure_model_stores_info_and_refuses_another_model(server, index):
    assert server.indices["kb-sources"]["docs"]["__docent_meta__"]["embedding_model"] == "toy-model"
    assert index.ensure_model("toy-model", DIM).dim == DIM
    with pytest.raises(EmbeddingModelMismatch, match="toy-model"):
        index.ensure_model("other-model", DIM)


def test_empty_cluster_reads_as_an_empty_index(server):
    idx = OpenSearchIndex(server.client(), index_name="nothing")
    assert idx.info() is None
    assert idx.list_sources() == {}
    assert idx.candidates("anything", _vec(1, 0, 0, 0), 5) == ([], [])
    assert idx.stats().children == 0
    with pytest.raises(RuntimeError, match="ensure_model"):
        idx.replace_source(*_source("a.md"))


# --- search ----------------------------------------------------------------------------------------
def test_candidates_sends_one_msearch_with_bm25_and_filtered_knn(server, index):
    index.replace_source(*_source("a.md"))
    server.requests.clear()
    filters = {"source": ["a.md", "b.md"], "kind": "text"}
    lexical, dense = index.candidates("rotate keys", _vec(1, 2, 0, 0), 7, filters)

    (msearch,) = server.requests
    assert (msearch.method, msearch.path) == ("POST", "/_msearch")
    header1, bm25, header2, knn = msearch.body
    assert header1 == header2 == {"index": "kb"}
    expected_filter = [{"terms": {"source": ["a.md", "b.md"]}}, {"term": {"kind": "text"}}]
    assert bm25["size"] == 7
    assert bm25["query"]["bool"]["filter"] == expected_filter
    match = bm25["query"]["bool"]["must"][0]["multi_match"]
    assert match["type"] == "best_fields" and match["fields"][:3] == ["title^3", "section^2", "text"]
    assert knn["query"] == {
        "knn": {
            "embedding": {
                "vector": knn["query"]["knn"]["embedding"]["vector"],
                "k": 7,
                "filter": {"bool": {"filter": expected_filter}},
            }
        }
    }
    assert [h.child_id for h in dense] == ["a.md-c1", "a.md-c0"]  # closest vector first
    assert dense[0].parent_id == "a.md-p1" and dense[0].score > dense[1].score
    assert {h.child_id for h in lexical} == {"a.md-c0", "a.md-c1"}


def test_bodies_without_filters_have_no_filter_clause():
    assert "bool" not in lexical_body("annual leave", 3)["query"]
    assert "filter" not in dense_body(_vec(1, 0, 0, 0), 3)["query"]["knn"]["embedding"]
    assert lexical_body("leave", 3, {"title": "Leave"})["query"]["bool"]["filter"] == [{"term": {"title.raw": "Leave"}}]
    with pytest.raises(ValueError, match="unknown filter 'page'"):
        lexical_body("leave", 3, {"page": "1"})


def test_lexical_query_uses_content_terms_and_split_identifiers():
    match = lexical_body("How do I call CreateTrainingJob?", 3)["query"]["multi_match"]
    assert match["query"] == "call createtrainingjob create training job"
    assert lexical_body('"what" OR ) AND * ?', 3) is None  # nothing to match: no BM25 request at all


def test_stopword_only_query_sends_only_the_knn_search(server, index):
    server.requests.clear()
    lexical, dense = index.candidates("what is it?", _vec(1, 0, 0, 0), 3)
    (msearch,) = server.requests
    assert len(msearch.body) == 2 and "knn" in msearch.body[1]["query"] and lexical == []


def test_documented_msearch_response_is_parsed_into_child_hits(server, index):
    documented = {
        "took": 4,
        "responses": [
            {
                "took": 2,
                "timed_out": False,
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                "hits": {
                    "total": {"value": 1, "relation": "eq"},
                    "max_score": 3.2,
                    "hits": [{"_index": "kb", "_id": "c9", "_score": 3.2, "_source": {"parent_id": "p9"}}],
                },
                "status": 200,
            },
            {
                "took": 1,
                "timed_out": False,
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []},
                "status": 200,
            },
        ],
    }
    server.fail_with = (200, documented)
    lexical, dense = index.candidates("rotate keys", _vec(1, 0, 0, 0), 3)
    assert [(h.child_id, h.parent_id, h.score) for h in lexical] == [("c9", "p9", 3.2)]
    assert dense == []


def test_parents_and_children_round_trip_through_mget(server, index):
    record, parents, children, vectors = _source("a.md")
    index.replace_source(record, parents, children, vectors)
    got = index.get_parents(["a.md-p1", "a.md-p0", "missing"])
    assert got["a.md-p1"] == parents[1] and got["a.md-p0"] == parents[0] and "missing" not in got
    assert index.get_children(["a.md-c0"])["a.md-c0"] == children[0]
    mget = server.find("POST", "/kb-parents/_mget")[-1]
    assert mget.body == {"ids": ["a.md-p1", "a.md-p0", "missing"]}


# --- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status, words",
    [
        (401, "credentials"),
        (403, "IAM policy"),
        (404, "missing"),
        (500, "HTTP 500"),
    ],
)
def test_errors_name_the_endpoint_and_what_to_check(server, index, status, words):
    server.fail_with = (status, {"error": {"type": "some_exception", "reason": "nope"}, "status": status})
    server.fail_on = "/_bulk"
    with pytest.raises(OpenSearchIndexError) as err:
        index.replace_source(*_source("a.md"))
    assert "http://fake-opensearch:9200" in str(err.value) and words in str(err.value)


def test_unreachable_endpoint_says_what_to_check():
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=["http://127.0.0.1:9"], max_retries=0, timeout=2)
    idx = OpenSearchIndex(client, index_name="kb")
    with pytest.raises(OpenSearchIndexError, match=r"127\.0\.0\.1:9.*could not be reached.*DOCENT_OPENSEARCH_URL"):
        idx.info()


def test_search_error_inside_msearch_is_raised(server, index):
    server.fail_with = (
        200,
        {
            "took": 1,
            "responses": [
                {"error": {"type": "search_phase_execution_exception", "reason": "bad"}, "status": 400},
                {"error": {"type": "search_phase_execution_exception", "reason": "bad"}, "status": 400},
            ],
        },
    )
    with pytest.raises(OpenSearchIndexError, match="search_phase_execution_exception"):
        index.candidates("rotate keys", _vec(1, 0, 0, 0), 3)


# --- client construction ---------------------------------------------------------------------------
class _RecordingAdapter:
    """A requests transport adapter that answers locally and keeps the signed request."""

    def __init__(self):
        import requests

        self.sent: list[requests.PreparedRequest] = []

        class Adapter(requests.adapters.BaseAdapter):
            def send(inner, request, **kwargs):  # noqa: N805
                self.sent.append(request)
                response = requests.Response()
                response.status_code = 200
                response._content = b'{"_index":"kb-sources","_id":"__docent_meta__","found":false}'
                response.headers["content-type"] = "application/json"
                response.request, response.url = request, request.url
                return response

            def close(inner):  # noqa: N805
                pass

        self.adapter = Adapter()


@pytest.mark.parametrize(
    "service, host",
    [
        ("es", "https://search-docent-abc.eu-west-1.es.amazonaws.com"),
        ("aoss", "https://abc123.eu-west-1.aoss.amazonaws.com"),
    ],
)
def test_sigv4_client_signs_for_the_service(monkeypatch, service, host):
    from opensearchpy import AWSV4SignerAuth

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    settings = Settings(
        index_backend="opensearch",
        opensearch_url=host,
        opensearch_auth="sigv4",
        opensearch_service=service,
        aws_region="eu-west-1",
    )
    client = build_client(settings)
    conn = client.transport.connection_pool.get_connection()
    assert isinstance(conn.session.auth, AWSV4SignerAuth) and conn.session.auth.service == service
    assert conn.use_ssl and conn.port == 443 and conn.session.verify is not False
    recorder = _RecordingAdapter()
    conn.session.mount("https://", recorder.adapter)

    idx = OpenSearchIndex(settings=settings, client=client, serverless=service == "aoss")
    assert idx.info() is None
    (request,) = recorder.sent
    auth = request.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/eu-west-1/{service}/aws4_request" in auth
    assert "x-amz-content-sha256" in auth  # the payload hash is signed, as Serverless requires
    assert request.url == f"{host}:443/kb-sources/_doc/__docent_meta__" or request.url.startswith(host)


def test_urllib3_connection_gets_the_urllib3_signer(monkeypatch):
    from opensearchpy import Urllib3AWSV4SignerAuth

    settings = Settings(
        index_backend="opensearch",
        opensearch_url="https://abc.eu-west-1.aoss.amazonaws.com",
        opensearch_auth="sigv4",
        opensearch_service="aoss",
        aws_region="eu-west-1",
    )
    conn = build_client(settings, connection="urllib3").transport.connection_pool.get_connection()
    assert isinstance(conn.http_auth, Urllib3AWSV4SignerAuth) and conn.http_auth.service == "aoss"


@pytest.mark.filterwarnings("ignore:Connecting to .* using SSL with verify_certs=False")
def test_basic_auth_and_verify_certs_from_settings():
    settings = Settings(
        index_backend="opensearch",
        opensearch_url="https://localhost:9200",
        opensearch_auth="basic",
        opensearch_username="admin",
        opensearch_password="s3cret",
        opensearch_verify_certs=False,
    )
    conn = build_client(settings).transport.connection_pool.get_connection()
    assert conn.session.auth == ("admin", "s3cret") and conn.session.verify is False
    idx = OpenSearchIndex(settings=settings)
    assert idx.endpoint == "https://localhost:9200" and idx.name == "docent-chunks" and not idx.serverless


def test_sigv4_without_credentials_says_how_to_provide_them(monkeypatch):
    import boto3

    monkeypatch.setattr(boto3.Session, "get_credentials", lambda self: None)
    settings = Settings(
        index_backend="opensearch",
        opensearch_url="https://x.eu-west-1.es.amazonaws.com",
        opensearch_auth="sigv4",
        aws_region="eu-west-1",
    )
    with pytest.raises(OpenSearchIndexError, match="AWS_PROFILE"):
        build_client(settings)


# --- the shared contract, against the fake ---------------------------------------------------------
class TestOpenSearchIndexOnFakeTransport(KnowledgeIndexContract):
    """Protocol behaviour (generations, filters, round trips, stats) through the real request path.

    Ranking assertions pass only because the fake's scoring is crude but sane; relevance on a real
    cluster is covered by tests/contract/test_index_opensearch.py when a cluster is available.
    """

    @pytest.fixture
    def index(self):
        return OpenSearchIndex(FakeOpenSearch().client(), index_name="contract", endpoint="http://fake:9200")


class TestServerlessOpenSearchIndexOnFakeTransport(KnowledgeIndexContract):
    """The same contract through the Serverless paths: search + bulk delete, no refresh."""

    @pytest.fixture
    def index(self):
        return OpenSearchIndex(FakeOpenSearch(serverless=True).client(), index_name="contract", serverless=True)
