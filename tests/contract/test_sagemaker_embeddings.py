"""SageMakerEmbeddings against `docent serve-model --task feature-extraction` on loopback, via real boto3.

The served model is the packaged MiniLM, so the vectors must equal LocalEmbeddings' own.
"""

from __future__ import annotations

import numpy as np
import pytest

from finetune.serve import serve_in_thread
from index.sagemaker_embeddings import EmbeddingsError, SageMakerEmbeddings
from llm.protocol import ChatMessage, GenerationParams, LLMError
from llm.sagemaker import SageMakerLLM
from tests.fixtures.model_server import runtime_client

TEXTS = [
    "How many days of annual leave do I get?",
    "Submit expense claims within 30 days.",
    "The VPN guide is on the IT wiki.",
    "Parental leave is 26 weeks.",
    "Zürich office opens at 7 am ✓",
]


@pytest.fixture(scope="module")
def minilm_server(minilm):
    with serve_in_thread(embedder=minilm, endpoint_name="docent-minilm") as running:
        yield running


@pytest.fixture
def remote(minilm_server):
    return SageMakerEmbeddings("docent-minilm", client=runtime_client(minilm_server.url), batch_size=2)


class EmbedderContract:
    """What every Embedder must do. A subclass provides the `embedder` fixture."""

    def test_documents_are_float32_unit_vectors_of_dim(self, embedder):
        vectors = embedder.embed_documents(TEXTS)
        assert vectors.shape == (len(TEXTS), embedder.dim) and vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    def test_query_equals_the_same_text_as_a_document(self, embedder):
        assert np.allclose(embedder.embed_query(TEXTS[0]), embedder.embed_documents(TEXTS[:1])[0], atol=1e-5)

    def test_similar_texts_score_higher(self, embedder):
        query = embedder.embed_query("vacation days allowance")
        docs = embedder.embed_documents([TEXTS[0], TEXTS[2]])
        assert docs[0] @ query > docs[1] @ query

    def test_empty_input_gives_an_empty_matrix(self, embedder):
        assert embedder.embed_documents([]).shape == (0, embedder.dim)


class TestSageMakerEmbeddingsContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, remote):
        return remote


def test_vectors_equal_local_minilm(remote, minilm):
    assert np.allclose(remote.embed_documents(TEXTS), minilm.embed_documents(TEXTS), atol=1e-4)
    assert remote.dim == minilm.dim == 384
    assert remote.model_id == "sagemaker:docent-minilm"


def test_dim_is_discovered_from_the_endpoint(minilm_server):
    fresh = SageMakerEmbeddings("docent-minilm", client=runtime_client(minilm_server.url))
    assert fresh.dim == 384


def test_given_dim_that_disagrees_is_refused_with_a_fix(minilm_server):
    wrong = SageMakerEmbeddings("docent-minilm", client=runtime_client(minilm_server.url), dim=768)
    with pytest.raises(EmbeddingsError, match="384-dimensional.*768"):
        wrong.embed_query("hello")


def test_token_level_output_is_mean_pooled_and_normalised():
    class TokenLevel:  # what the HF feature-extraction container returns: one vector per token
        def embed_documents(self, texts):
            return (
                np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]] for _ in texts])
                * np.arange(1, len(texts) + 1)[:, None, None]
            )

    with serve_in_thread(embedder=TokenLevel()) as running:
        vectors = SageMakerEmbeddings("hf", client=runtime_client(running.url)).embed_documents(["a", "b"])
    assert np.allclose(vectors, [[2**-0.5, 2**-0.5, 0.0]] * 2, atol=1e-6)


def test_unknown_endpoint_names_it_and_the_setting(minilm_server):
    missing = SageMakerEmbeddings("docent-typo", client=runtime_client(minilm_server.url))
    with pytest.raises(EmbeddingsError, match="'docent-typo'.*does not exist.*DOCENT_EMBEDDINGS_ENDPOINT"):
        missing.embed_query("hello")


def test_streaming_from_a_feature_extraction_endpoint_is_a_clear_error(minilm_server):
    llm = SageMakerLLM("docent-minilm", client=runtime_client(minilm_server.url))
    with pytest.raises(LLMError, match="feature extraction"):
        list(llm.stream([ChatMessage("user", "hi")], GenerationParams(max_new_tokens=3)))


def test_from_settings(minilm_server, minilm):
    from config.settings import load_settings

    settings = load_settings(
        embeddings_backend="sagemaker", embeddings_endpoint="docent-minilm", sagemaker_endpoint_url=minilm_server.url
    )
    emb = SageMakerEmbeddings.from_settings(settings)
    assert np.allclose(emb.embed_query(TEXTS[1]), minilm.embed_query(TEXTS[1]), atol=1e-4)
