"""Build the configured index backend from settings."""

from __future__ import annotations

from config.settings import Settings
from chain.index.protocol import KnowledgeIndex


def open_index(settings: Settings) -> KnowledgeIndex:
    if settings.index_backend == "opensearch":
        from chain.index.opensearch import OpenSearchIndex

        return OpenSearchIndex(settings=settings)
    from chain.index.embedded import EmbeddedIndex

    return EmbeddedIndex(settings.index_dir)
