"""Build the configured index backend from settings."""

from __future__ import annotations

from index.protocol import KnowledgeIndex
from config.settings import Settings


def open_index(settings: Settings) -> KnowledgeIndex:
    if settings.index_backend == "opensearch":
        from index.opensearch import OpenSearchIndex

        return OpenSearchIndex(settings=settings)
    from index.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_dir)
