"""langchain-tests' standard suites against DocentVectorStore / DocentRetriever on the embedded index.

Which tests apply and why some are skipped is recorded in docs/opensearch.md ("LangChain").
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import RetrieversIntegrationTests, VectorStoreIntegrationTests

from index.embedded import EmbeddedIndex
from index.langchain import DocentRetriever, DocentVectorStore
from tests.contract.index_contract import CORPUS, EMB, make_source


# The suite's async tests are plain `async def`; pytest-asyncio runs in strict mode, so mark them.
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function.*is marked with '@pytest.mark.asyncio'")
class TestDocentVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path) -> DocentVectorStore:
        return DocentVectorStore(EmbeddedIndex(tmp_path / "index"), self.get_embeddings())


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function.*is marked with '@pytest.mark.asyncio'")
class TestDocentRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _filled_index(self, tmp_path):
        index = EmbeddedIndex(tmp_path / "index")
        index.ensure_model(EMB.model_id, EMB.dim)
        for source, sections in CORPUS.items():
            index.replace_source(*make_source(source, sections))
        type(self)._index = index
        yield
        type(self)._index = None

    @property
    def retriever_constructor(self) -> type[DocentRetriever]:
        return DocentRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": self._index, "embedder": EMB}

    @property
    def retriever_query_example(self) -> str:
        return "leave vpn expense claims"


def test_fake_embedding_is_what_the_suite_uses():
    # The suite's get_embeddings() is langchain-core's DeterministicFakeEmbedding: the store must
    # accept a LangChain Embeddings as well as a Docent Embedder.
    assert isinstance(VectorStoreIntegrationTests.get_embeddings(), DeterministicFakeEmbedding)


@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function.*is marked with '@pytest.mark.asyncio'")
class TestDocentVectorStoreOnOpenSearchFakeStandard(VectorStoreIntegrationTests):
    """The same suite over OpenSearchIndex, through opensearch-py and the recording fake transport."""

    @pytest.fixture
    def vectorstore(self) -> DocentVectorStore:
        from index.opensearch import OpenSearchIndex
        from tests.unit.opensearch_fake import FakeOpenSearch

        index = OpenSearchIndex(FakeOpenSearch().client(), index_name="lc", endpoint="http://fake:9200")
        return DocentVectorStore(index, self.get_embeddings())
