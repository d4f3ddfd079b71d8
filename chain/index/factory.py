"""Build the configured index backend from settings."""

from __future__ import annotations

from chain.index.protocol import KnowledgeIndex
from config.settings import Settings


def open_index(settings: Settings) -> KnowledgeIndex:
    if settings.index_backend == "opensearch":
        from chain.index.opensearch import OpenSearchIndex

        return OpenSearchIndex(settings=settings)
    from chain.index.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_dir)
