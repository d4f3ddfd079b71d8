"""The `sagemaker` Embedder: a feature-extraction endpoint (HF container or `docent serve-model --task
feature-extraction`). The request/response format lives in llm/sagemaker_protocol.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from config.errors import DocentError
from index.embeddings import _normalise
from llm.protocol import LLMError
from llm.sagemaker import build_runtime_client, call_with_backoff, describe_aws_error
from llm.sagemaker_protocol import LMIHandler, WireFormatError


class EmbeddingsError(DocentError, RuntimeError):
    """The embeddings endpoint failed; the message is fit to show a person."""


class SageMakerEmbeddings:
    """Embeddings from a SageMaker feature-extraction endpoint: batched, mean-pooled, L2-normalised.

    >>> emb = SageMakerEmbeddings("docent-minilm", endpoint_url="http://127.0.0.1:8081")  # doctest: +SKIP
    >>> emb.embed_query("annual leave").shape                                             # doctest: +SKIP
    (384,)
    """

    def __init__(
        self,
        endpoint_name: str,
        client: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        batch_size: int = 32,
        dim: int | None = None,
        model_id: str | None = None,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
    ):
        if not endpoint_name:
            raise EmbeddingsError(
                "No embeddings endpoint is set. Set DOCENT_EMBEDDINGS_ENDPOINT to the endpoint's name."
            )
        self.endpoint_name = endpoint_name
        self.model_id = model_id or f"sagemaker:{endpoint_name}"
        self.batch_size = max(1, batch_size)
        self._dim = dim
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url
        self._attempts = attempts
        self._backoff = backoff_seconds
        self.handler = LMIHandler()

    @classmethod
    def from_settings(cls, settings: Any, client: Any = None) -> SageMakerEmbeddings:
        from index.factory import TORCH_BATCH_SIZE  # the batch both non-ONNX embedders default to

        return cls(
            settings.embeddings_endpoint or "",
            client=client,
            region=settings.aws_region,
            endpoint_url=settings.sagemaker_endpoint_url,
            batch_size=settings.embeddings_batch_size or TORCH_BATCH_SIZE,
        )

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = build_runtime_client(self._region, self._endpoint_url)
            except LLMError as exc:
                raise EmbeddingsError(str(exc)) from None
        return self._client

    @property
    def dim(self) -> int:
        """Vector size; asks the endpoint once when it was not given."""
        if self._dim is None:
            self._dim = int(self._embed_batch(["dimension probe"]).shape[1])
        return self._dim

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        body = self.handler.encode_embedding_request(texts)

        def call():
            return self.client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                Body=body,
                ContentType=self.handler.content_type,
                Accept=self.handler.accept,
            )

        try:
            response = call_with_backoff(call, self._attempts, self._backoff, self.endpoint_name)
            vectors = self.handler.decode_embedding_response(response["Body"].read(), expected=len(texts))
        except WireFormatError as exc:
            raise EmbeddingsError(
                f"Embeddings endpoint '{self.endpoint_name}' answered in an unexpected format: {exc} "
                "Is it a feature-extraction endpoint?"
            ) from None
        except EmbeddingsError:
            raise
        except Exception as exc:
            region = getattr(getattr(self._client, "meta", None), "region_name", None) or self._region
            raise EmbeddingsError(
                describe_aws_error(exc, self.endpoint_name, "DOCENT_EMBEDDINGS_ENDPOINT", region)
            ) from None
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise EmbeddingsError(
                f"Embeddings endpoint '{self.endpoint_name}' returned {vectors.shape[1]}-dimensional vectors but "
                f"{self._dim} were expected. An index built with another embedding model must be rebuilt from the documents."
            )
        return vectors

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batches = [self._embed_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        vectors = _normalise(np.concatenate(batches, axis=0))
        if self._dim is None:
            self._dim = int(vectors.shape[1])
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
