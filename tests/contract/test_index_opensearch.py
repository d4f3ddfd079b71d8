"""The KnowledgeIndex contract against a real OpenSearch cluster.

Runs only when DOCENT_TEST_OPENSEARCH_URL is set, e.g. after
`docker compose -f docker-compose.opensearch.yml up -d`:

    DOCENT_TEST_OPENSEARCH_URL=http://127.0.0.1:9200 .venv/bin/python -m pytest tests/contract/test_index_opensearch.py

Each test creates uniquely named indices and deletes them afterwards. A non-loopback URL is a
deliberate choice of the person running the tests, so the loopback guard is lifted for it.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlparse

import pytest

from tests.contract.index_contract import KnowledgeIndexContract

URL = os.environ.get("DOCENT_TEST_OPENSEARCH_URL")

pytestmark = [
    pytest.mark.opensearch,
    pytest.mark.skipif(not URL, reason="set DOCENT_TEST_OPENSEARCH_URL to a cluster (see docs/opensearch.md)"),
]


@pytest.fixture
def opensearch_client():
    from opensearchpy import OpenSearch

    from tests import conftest

    host = urlparse(URL).hostname
    if host and hasattr(conftest, "_ALLOWED_HOSTS"):
        conftest._ALLOWED_HOSTS.add(host)
    client = OpenSearch(hosts=[URL], timeout=30, max_retries=2, retry_on_timeout=True)
    yield client
    client.close()


class TestOpenSearchIndex(KnowledgeIndexContract):
    @pytest.fixture
    def index(self, opensearch_client):
        from index.opensearch import OpenSearchIndex

        idx = OpenSearchIndex(opensearch_client, index_name=f"docent-test-{uuid.uuid4().hex[:12]}", endpoint=URL)
        yield idx
        idx.drop()
