"""The objects every request shares: settings, store, index, embedder and the chain, built once.

Anything can be handed in (tests, the bench, a Lambda wrapper); what is missing is built from the
settings the way `docent ask` builds it. The chain (and the embedding model) load on first use, or
up front with `warm_up()` (`docent api` does that before it accepts connections).
"""

from __future__ import annotations

import threading

from config.settings import Settings


class Services:
    def __init__(self, settings: Settings, *, store=None, chain=None, index=None, embedder=None):
        self.settings = settings
        self._store = store
        self._chain = chain
        self._index = index
        self._embedder = embedder
        self._lock = threading.RLock()
        self.ingest_lock = threading.Lock()  # one upload/delete at a time: sync reads then writes sources

    @property
    def store(self):
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from feedback.factory import open_store

                    self._store = open_store(self.settings)
        return self._store

    @property
    def chain(self):
        if self._chain is None:
            with self._lock:
                if self._chain is None:
                    from chain.service import build_chain
                    from feedback.qa_seed import seed_qa_set

                    seed_qa_set(self.settings, self.store)
                    self._chain = build_chain(self.settings, self.store, embedder=self._embedder, index=self._index)
        return self._chain

    @property
    def index(self):
        """The index the chain reads, so an uploaded document is answerable at once."""
        if self._index is None:
            self._index = self.chain.retriever.index
        return self._index

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = self.chain.retriever.embedder
        return self._embedder

    def warm_up(self) -> None:
        """Load the embedding model and the index now rather than on the first question."""
        self.chain.retriever.embedder.embed_query("warm up")
        warm = getattr(self.chain.retriever.index, "warm_up", None)
        if warm:
            warm()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
