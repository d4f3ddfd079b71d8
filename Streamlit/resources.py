"""Objects shared by every session, built once per server process (@st.cache_resource).

The chain loads the embedding model (~10 s), so it is built once; the store and the index are
thread-safe (a connection per thread). Tests replace these factories with pre-built objects.

>>> # chain = get_chain(); store = get_store(); settings = get_settings()
"""

from __future__ import annotations

import streamlit as st


@st.cache_resource(show_spinner=False)
def get_settings():
    from config.settings import load_settings

    return load_settings()


@st.cache_resource(show_spinner=False)
def get_store():
    from feedback.factory import open_store

    return open_store(get_settings())


@st.cache_resource(show_spinner="Loading Docent's language models (first start only)…")
def get_chain():
    from chain.service import build_chain
    from feedback.qa_seed import seed_qa_set

    seed_qa_set(get_settings(), get_store())
    chain = build_chain(get_settings(), get_store())
    chain.retriever.embedder.embed_query("warm up")  # load the model now, under the spinner
    chain.retriever.index.warm_up()
    return chain


def get_index():
    """The index the chain reads, so documents ingested from the Knowledge page are answerable at once."""
    return get_chain().retriever.index


def get_embedder():
    return get_chain().retriever.embedder


@st.cache_resource(show_spinner=False)
def get_alb_verifier(arns: str, key_url: str):
    """The load balancer's token verifier (issue 11); keyed by its settings, it caches public keys by kid."""
    from config.alb_auth import ALBTokenVerifier

    return ALBTokenVerifier(arns=arns.split(","), key_url=key_url)
