"""Build the configured index backend and embedder from settings."""

from __future__ import annotations

from config.settings import Settings
from index.embeddings import Embedder, LocalEmbeddings
from index.protocol import KnowledgeIndex


def open_index(settings: Settings) -> KnowledgeIndex:
    if settings.index_backend == "opensearch":
        from index.opensearch import OpenSearchIndex

        return OpenSearchIndex(settings=settings)
    from index.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_dir)


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for (`local` or `sagemaker`)."""
    if settings.embeddings_backend == "sagemaker":
        from index.sagemaker_embeddings import SageMakerEmbeddings

        return SageMakerEmbeddings.from_settings(settings)
    return LocalEmbeddings(settings.embeddings_model, batch_size=settings.embeddings_batch_size)
