"""The source viewer: a button per reference opens the cited passage, the sentences the answer used
highlighted (issue 12).

Passage text is data: it reaches the page only through `passage_html` (every piece escaped, only our
own <mark> and <div> tags; st.html parses no Markdown), st.text or st.dataframe, never st.markdown.
The lookup and the highlighting are chain/sources.py's pure functions.

>>> passage_html("<b>Hi</b> **there**", [(10, 19)])
'<div class="docent-passage" ...>&lt;b&gt;Hi&lt;/b&gt; <mark ...>**there**</mark></div>'
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
import ui
from actions import reference_line, safe_link
from safe_text import inline, show_text

from chain.sources import CitedPassage, find_passage, highlight_spans, split_highlighted, table_rows
from chain.types import Reference

NOT_LINKED = "The original is not linked: ask your administrator to set a base URL for this folder."
GONE = (
    "This passage is no longer in the knowledge base: its document was removed, or re-ingested without this "
    "place, since the answer was given."
)
CHANGED = "The document has changed since this answer was given: this is its current text."
# explicit colours so the highlight reads (4.5:1 and more) on the light and the dark theme alike
_MARK_STYLE = "background-color:#fde68a;color:#1f2328;padding:0 2px;border-radius:3px"
_PASSAGE_STYLE = "white-space:pre-wrap;line-height:1.6;overflow-wrap:anywhere"


def passage_html(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The passage as HTML: each piece of document text escaped, the highlighted ones in <mark>."""
    parts = [
        f'<mark style="{_MARK_STYLE}">{html.escape(piece)}</mark>' if marked else html.escape(piece)
        for piece, marked in split_highlighted(text, spans)
    ]
    return f'<div class="docent-passage" style="{_PASSAGE_STYLE}">{"".join(parts)}</div>'


def reference_label(ref: Reference, position: int) -> str:
    """'[1] Annual leave policy · section Booking leave' as a safe button label (labels are Markdown)."""
    label = f"[{ref.number(position)}] {ref.title or ref.source or 'source'}"
    if ref.locator:
        label += f" · {ref.locator}"
    return inline(label, max_chars=140)


def render_references(turn, index: Callable[[], Any]) -> None:
    """The references under an answer: `[n]` buttons that open the viewer, with a link to each original.

    `index` is called only when a viewer opens (resources.get_index), so a page of history reads nothing.
    """
    st.markdown("**References**")
    for position, ref in enumerate(turn.references, 1):
        key = f"source_{turn.turn_id}_{position}"
        if ref.source.startswith("qa:"):  # the Q&A set: no document to open
            st.markdown(f"\\[{ref.number(position)}\\] {reference_line(ref)}")
            continue
        link = safe_link(ref.url)
        row = st.columns([4, 1], vertical_alignment="center") if link else [st]
        if row[0].button(
            reference_label(ref, position),
            key=key,
            type="tertiary",
            icon=":material/article:",
            help="Show the passage, with the sentences the answer used highlighted",
        ):
            show_source(ref, position, turn.answer, index)
        if link:
            row[1].markdown(f"[Open the original](<{link.replace('>', '%3E').replace(' ', '%20')}>)")


def show_source(ref: Reference, position: int, answer: str, index: Callable[[], Any]) -> None:
    st.dialog(f"Source \\[{ref.number(position)}\\]", width="large")(_source_dialog)(ref, position, answer, index)


def _source_dialog(ref: Reference, position: int, answer: str, index: Callable[[], Any]) -> None:
    st.markdown(f"**{inline(ref.title or ref.source)}**" + (f" · {inline(ref.locator)}" if ref.locator else ""))
    if ref.source and ref.source != ref.title:
        st.caption(inline(ref.source))
    passage: CitedPassage | None = None
    with ui.guarded("Reading the passage"):
        passage = find_passage(index(), ref)
        _show_passage(ref, position, answer, passage)


def _show_passage(ref: Reference, position: int, answer: str, passage: CitedPassage | None) -> None:
    if passage is None:
        st.warning(GONE, icon=":material/find_in_page:")
        if ref.snippet.strip():
            st.caption("What the answer read there:")
            with st.container(border=True):
                show_text(ref.snippet)
        _original_link(ref.url)
        return
    if passage.changed:
        st.info(CHANGED, icon=":material/history:")
    spans = highlight_spans(passage.text, answer, ref.number(position))
    if passage.is_spreadsheet:
        rows = table_rows(passage.text, spans)
        if rows:
            st.caption("The rows the answer used:")
        else:
            st.caption("No row matches the answer's words closely; every row at this place:")
            rows = table_rows(passage.text, [(0, len(passage.text))])
        st.dataframe(rows, hide_index=True)
    else:
        st.caption(
            "Highlighted: the sentences the answer used."
            if spans
            else "No sentence here matches the answer's words closely; the whole passage is shown."
        )
        with st.container(border=True):
            st.html(passage_html(passage.text, spans))
    _original_link(passage.url or ref.url)


def _original_link(url: str | None) -> None:
    link = safe_link(url)
    if link:
        st.link_button("Open the original", link, icon=":material/open_in_new:")
    else:
        st.caption(NOT_LINKED)
