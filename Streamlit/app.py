"""Docent's web app: `streamlit run Streamlit/app.py` (or `make run`).

A thin shell: identity and roles (config/roles.py), role-aware navigation, the shared sidebar.
Each page lives in views/ and calls chain/ and feedback/ through actions.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # pages import actions, resources, ui from here
    sys.path.insert(0, str(HERE))
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import conversations_view  # noqa: E402
import streamlit as st  # noqa: E402
import ui  # noqa: E402
from resources import get_chain, get_settings, get_store  # noqa: E402

from config.roles import can_view  # noqa: E402

ASSETS = ROOT / "assets"

st.set_page_config(page_title="Docent", page_icon=str(ASSETS / "logo-icon.svg"), layout="wide")
css = ASSETS / "style.css"
if css.is_file():
    # our own stylesheet (trusted, from the repo); never model or document text
    st.html(f"<style>{css.read_text(encoding='utf-8')}</style>")
# the wordmark follows the theme (logo.svg); beside a closed sidebar, the mark alone (no text to lose on dark)
st.logo(str(ASSETS / "logo.svg"), size="large", icon_image=str(ASSETS / "logo-icon.svg"))
# on a phone the sidebar covers the page: it closes after a page switch (assets/phone_sidebar.html says why)
st.html(ASSETS / "phone_sidebar.html", unsafe_allow_javascript=True)

identity = ui.identity_or_stop()

# Every page is registered, so opening one the role may not use (a bookmark, a shared link) shows which role it
# needs (ui.require) instead of Streamlit's "Page not found"; pages the role may not use stay out of the menu.
PAGE_SPECS = {
    "chat": dict(title="Chat", icon=":material/chat:", default=True),
    "review": dict(title="Review", icon=":material/rate_review:"),
    "analytics": dict(title="Analytics", icon=":material/monitoring:"),
    "knowledge": dict(title="Knowledge", icon=":material/library_books:"),
}
PAGES = {
    name: st.Page(
        str(HERE / "views" / f"{name}.py"),
        url_path=name,
        visibility="visible" if can_view(identity, name) else "hidden",
        **spec,
    )
    for name, spec in PAGE_SPECS.items()
}
page = st.navigation(list(PAGES.values()))
st.session_state["menu_pages"] = [name for name in PAGES if can_view(identity, name)]  # what the menu lists

with st.sidebar:
    st.markdown(f"**{identity.user}**")
    st.caption("Roles: " + ", ".join(identity.sorted_roles))
    if identity.source == "local":
        st.caption(ui.LOCAL_NOTICE)
    if can_view(identity, "chat"):
        if st.button("New chat", icon=":material/add_comment:", width="stretch"):
            st.switch_page(PAGES["chat"], query_params={"s": ui.new_chat(in_place=False)})
    # filled after the page ran, so a conversation begun by this run's question is already listed
    conversation_slot = st.container() if can_view(identity, "chat") else None
    if identity.source == "oidc" and st.button("Sign out", width="stretch"):
        st.logout()
    if identity.has("admin"):  # backend details are for the people who run Docent, not for employees
        with st.expander("Backend", expanded=False):
            with ui.guarded("Reading the backend settings"):
                s = get_settings()
                st.caption(
                    f"Index: {s.index_backend} · Embeddings: {s.embeddings_backend} · "
                    f"Answers: {s.llm_backend} · Store: {s.store_backend}"
                )

try:
    get_store()
    with st.spinner("Loading Docent's models (first start only)…"):
        chain = get_chain()
    for notice in getattr(chain.retriever.index, "health", list)():  # a lost or rebuilt index: say so everywhere
        st.warning(notice, icon=":material/warning:")
except Exception as exc:  # noqa: BLE001 - a page without its backend would only fail again
    ui.show_error("Starting Docent", exc, "Check the settings and the logs, then reload the page.")
    st.stop()


def list_conversations() -> None:
    if conversation_slot is not None:
        with conversation_slot, ui.guarded("Loading your conversations"):
            conversations_view.render_sidebar_list(
                get_store(), identity.user, lambda sid: st.switch_page(PAGES["chat"], query_params={"s": sid})
            )


try:
    page.run()
except BaseException as exc:
    if type(exc).__name__ == "StopException":  # the page stopped early (a share link, a refusal): still list
        list_conversations()
    raise
list_conversations()
