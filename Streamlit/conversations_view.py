"""The conversation list in the sidebar, the open conversation's actions (rename, share, delete with
undo), and what a share link shows. The rules live in the store (feedback/conversations.py).

Titles are the user's words: always through `inline`, never Markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st
import ui
from safe_text import inline

SHOWN = 15  # conversations listed before "Show all"
UNDO_KEY = "undo_delete"


def share_url(token: str) -> str:
    """The address of this app's chat page with ?share=TOKEN (relative when the page's address is unknown)."""
    try:
        here = urlsplit(str(st.context.url or ""))
    except Exception:  # noqa: BLE001 - older Streamlit, or no browser session
        here = urlsplit("")
    query = urlencode({"share": token})
    if not here.netloc:
        return f"/chat?{query}"
    path = here.path.rstrip("/")
    path = path[: -len("/chat")] if path.endswith("/chat") else path
    return urlunsplit((here.scheme, here.netloc, f"{path}/chat", query, ""))


def render_sidebar_list(store, user: str, go_to_chat: Callable[[str], None]) -> None:
    """Newest first, with search; clicking one opens it on the Chat page (`go_to_chat(session_id)` navigates)."""
    st.markdown("**Conversations**")
    undo = st.session_state.get(UNDO_KEY)
    if undo:
        with st.container(border=True):
            st.caption(f"Deleted “{inline(undo['title'], 60)}”.")
            cols = st.columns(2)
            if cols[0].button("Undo", key="undo_delete_button", icon=":material/undo:"):
                with ui.guarded("Restoring the conversation"):
                    store.restore_conversation(undo["session_id"], user)
                    st.session_state.pop(UNDO_KEY, None)
                    go_to_chat(ui.open_chat(undo["session_id"], in_place=False))
            if cols[1].button("Dismiss", key="undo_dismiss_button"):
                st.session_state.pop(UNDO_KEY, None)
                st.rerun()
    search = st.text_input(
        "Search conversations",
        key="conversation_search",
        placeholder="Search conversations",
        label_visibility="collapsed",
        icon=":material/search:",
    )
    found = []
    with ui.guarded("Loading your conversations"):
        found = store.conversations(user, search=search or None)
    if not found:
        st.caption("No conversation matches." if search else "Your conversations will be listed here.")
        return
    current = st.session_state.get("chat_session")
    show_all = st.session_state.get("conversations_show_all", False)
    for conv in found if show_all else found[:SHOWN]:
        label = inline(conv.title, 48) + ("  ·  shared" if conv.shared else "")
        if st.button(
            label,
            key=f"conversation_{conv.session_id}",
            type="primary" if conv.session_id == current else "tertiary",
            help=f"Last question {conv.updated_at[:16].replace('T', ' ')} UTC",
            width="stretch",
        ):
            go_to_chat(ui.open_chat(conv.session_id, in_place=False))
    if len(found) > SHOWN and not show_all and st.button(f"Show all {len(found)}", key="conversations_more"):
        st.session_state["conversations_show_all"] = True
        st.rerun()


def render_actions(store, session_id: str, user: str) -> None:
    """Rename, share and delete the open conversation (shown once it has a turn)."""
    conv = store.conversation(session_id, user)
    if conv is None:
        return
    cols = st.columns(3)
    with cols[0].popover("Rename", icon=":material/edit:", width="stretch"):
        with st.form(f"rename_{session_id}", border=False):
            title = st.text_input("Title", value=conv.title, max_chars=200)
            if st.form_submit_button("Save title"):
                try:
                    store.rename_conversation(session_id, user, title)
                except ValueError as exc:
                    st.warning(str(exc), icon="✏️")
                else:
                    st.rerun()
    with cols[1].popover("Share", icon=":material/share:", width="stretch"):
        st.caption(
            "Anyone signed in to Docent who has the link can read this conversation (not rate or continue it). "
            "Stop sharing to turn every earlier link off."
        )
        if conv.shared:
            with ui.guarded("Reading the share link"):
                st.code(share_url(store.share_conversation(session_id, user)), language=None, wrap_lines=True)
            if st.button("Stop sharing", key=f"unshare_{session_id}", icon=":material/link_off:"):
                with ui.guarded("Stopping the share link"):
                    store.revoke_share(session_id, user)
                    st.toast("Sharing stopped: earlier links no longer open this conversation.")
                    st.rerun()
        elif st.button("Create a read-only link", key=f"share_{session_id}", icon=":material/link:"):
            with ui.guarded("Creating the share link"):
                store.share_conversation(session_id, user)
                st.rerun()
    if cols[2].button("Delete", key=f"delete_{session_id}", icon=":material/delete:", width="stretch"):
        with ui.guarded("Deleting the conversation"):
            if store.delete_conversation(session_id, user):
                st.session_state[UNDO_KEY] = {"session_id": session_id, "title": conv.title}
                ui.new_chat()
                st.rerun()


def render_shared(store, token: str, render_turn: Callable) -> None:
    """A shared conversation, read-only; a revoked or unknown link says so."""
    shared = None
    with ui.guarded("Opening the shared conversation"):
        shared = store.shared_conversation(token)
    if shared is None:
        st.error(
            "This share link does not open a conversation: its owner stopped sharing it or deleted it, or the "
            "link is incomplete. Ask them for a new link.",
            icon="🔒",
        )
        return
    conv, turns = shared
    st.title(inline(conv.title, 120))
    st.caption(f"Shared by {inline(conv.owner)} · read-only")
    for turn in turns:
        render_turn(turn)
    if st.button("Start your own conversation", icon=":material/add_comment:"):
        del st.query_params["share"]
        ui.new_chat()
        st.rerun()
