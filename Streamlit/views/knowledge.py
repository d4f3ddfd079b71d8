"""Knowledge (admins): upload and index documents, see and prune the index, manage the Q&A set."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st
import ui
from actions import (
    UploadProgress,
    import_qa_file,
    ingest_report,
    ingest_uploads,
    open_originals,
    remove_document,
    safe_filename,
    store_uploads,
    uploaded_names,
)
from outbox_view import render_outbox
from resources import get_embedder, get_index, get_settings, get_store
from safe_text import inline

from ingest.converters import SUPPORTED_SUFFIXES

identity = ui.require("knowledge")
settings = get_settings()
store = get_store()


@st.cache_resource(show_spinner=False)
def _originals(backend: str, bucket: str | None, prefix: str, folder: str):
    """The uploads store (a folder, or a bucket every replica sees), built once per setting."""
    return open_originals(settings)


originals = _originals(
    settings.uploads_backend, settings.uploads_s3_bucket, settings.uploads_s3_prefix, str(settings.uploads_dir)
)

st.title("Knowledge base")
docs_tab, index_tab, qa_tab, outbox_tab = st.tabs(["Add documents", "Index", "Q&A set", "Outbox"])

with docs_tab:
    st.caption(
        f"Markdown, text, HTML, PDF, Word, Excel and CSV. Files are kept in {inline(originals.where)}; "
        'uploading a file again re-indexes it only when it changed. "Published at" applies to the files '
        "uploaded with it."
    )
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            "Documents",
            type=[s.lstrip(".") for s in sorted(SUPPORTED_SUFFIXES)],
            accept_multiple_files=True,
            key="kb_files",
        )
        base_url = st.text_input(
            "Published at (optional)",
            placeholder="https://wiki.corp/docs",
            help="Where these files can be read online: references link there.",
            key="kb_base_url",
        )
        submitted = st.form_submit_button("Upload and index", type="primary")
    if submitted:
        if not files:
            st.warning("Choose at least one file first.")
        else:
            with ui.guarded("Indexing the uploaded files", "Check the files and try again."):
                names = store_uploads(files, originals)
                tracker = UploadProgress(len(names))
                bar = st.progress(0.0, text=f"Indexing {len(names)} file(s)…")

                def show(event):
                    fraction, text = tracker.update(event)
                    bar.progress(fraction, text=inline(text))

                embedder = get_embedder()
                hits = getattr(embedder, "hits", None)  # a caching embedder counts what it did not embed again
                summary = ingest_uploads(
                    settings, get_index(), embedder, names, base_url, originals=originals, on_progress=show
                )
                fraction, text = tracker.done()
                bar.progress(fraction, text=inline(text))
                cached = getattr(embedder, "hits", 0) - hits if hits is not None else None
                totals, *details = ingest_report(summary, cached)  # what `docent ingest` prints
                st.success(f"Indexed: {inline(totals.text)}.")
                for line in details:
                    st.warning(f"{line.label.capitalize()} {inline(line.text)}")

with index_tab:
    removed = st.session_state.pop("kb_removed", None)
    if removed:
        st.success(removed, icon=":material/delete:")
    with ui.guarded("Reading the index status"):
        index = get_index()
        stats = index.stats()
        m = st.columns(4)
        m[0].metric("Documents", stats.sources)
        m[1].metric("Sections", stats.parents)
        m[2].metric("Chunks", stats.children)
        m[3].metric("Version", stats.version or "-")
        st.caption(
            f"Backend: {stats.backend} ({stats.location}) · embedding model: {stats.embedding_model or 'none yet'}"
        )
        sources = index.list_sources()
        if sources:
            uploaded = uploaded_names(originals)
            st.dataframe(
                [
                    {
                        "source": r.source,
                        "title": r.title,
                        "kind": r.kind,
                        "chunks": r.children,
                        "indexed": r.indexed_at,
                        "uploaded": r.source in uploaded,
                    }
                    for r in sources.values()
                ],
                hide_index=True,
                width="stretch",
            )
            with st.form("delete_source"):
                victim = st.selectbox("Remove a document from the index", sorted(sources), key="kb_victim")
                confirm = st.checkbox(
                    "Yes, remove it from the index (and its uploaded copy, if it was uploaded here)", key="kb_confirm"
                )
                if st.form_submit_button("Remove"):
                    if not confirm:
                        st.warning("Tick the box to confirm first.")
                    else:
                        file_gone = remove_document(index, victim, originals)
                        st.session_state["kb_removed"] = f"Removed {inline(victim)} from the index" + (
                            " and deleted its uploaded file." if file_gone else "."
                        )
                        st.rerun()  # the table above lists the index as it is now
        else:
            st.info("The index is empty: add documents in the first tab or run `docent ingest FOLDER`.")

with qa_tab:
    st.caption(
        "A CSV (or JSONL) with columns `instruction,response[,context][,images]`. Questions already in "
        "the set are kept; Docent matches new questions against the set at once."
    )
    with st.form("qa_import", clear_on_submit=True):
        qa_file = st.file_uploader("Q&A file", type=["csv", "jsonl"], key="qa_file")
        if st.form_submit_button("Import", type="primary") and qa_file is not None:
            with ui.guarded("Importing the Q&A file", "Fix the rows named above and import again."):
                with tempfile.TemporaryDirectory(prefix="docent-qa-") as tmp:
                    path = Path(tmp) / safe_filename(qa_file.name)
                    path.write_bytes(qa_file.getvalue())
                    result, report = import_qa_file(store, path)
                if report:
                    st.warning("  \n".join(inline(line) for line in report.splitlines()))
                if result is not None:
                    st.success(f"{inline(qa_file.name)}: {result.message}")
    with ui.guarded("Reading the Q&A set"):
        pairs = store.list_qa_pairs()
        st.markdown(f"**{len(pairs)} pairs**")
        if pairs:
            st.dataframe(
                [
                    {
                        "question": p.question,
                        "answer": p.answer,
                        "origin": p.origin,
                        "added": p.created_at[:16].replace("T", " "),
                    }
                    for p in pairs
                ],
                hide_index=True,
                width="stretch",
            )
            with st.form("delete_pair"):
                by_label = {p.question: p.pair_id for p in pairs}
                choice = st.selectbox("Remove a pair", sorted(by_label), key="qa_victim")
                if st.form_submit_button("Remove pair"):
                    store.delete_qa_pair(by_label[choice])
                    st.success(f"Removed: {inline(choice)}")

with outbox_tab:
    with ui.guarded("Reading the outbox"):
        render_outbox(store)
