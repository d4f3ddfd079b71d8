"""Streamlit glue every page shares: who is signed in, page guards, errors for people, the chat id."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import resources
import streamlit as st
from actions import valid_session_id
from safe_text import safe_markdown

from config.roles import PAGE_ROLES, Identity, IdentityError, RoleSpecs, can_view, resolve_identity
from config.settings import is_loopback

log = logging.getLogger("docent.app")
LOCAL_NOTICE = "Running as the local user with every role (embedded default)"
SIGN_IN_KEY = "docent_signin"  # assets/style.css keeps what is shown before sign-in below the top bar
PAGE_TITLES = {"chat": "Chat", "review": "Review", "analytics": "Analytics", "knowledge": "Knowledge"}


def show_error(what: str, exc: BaseException, todo: str = "") -> None:
    """One short message: what failed, the backend's reason, what to do. Never a traceback."""
    log.warning("%s failed: %s", what, exc, exc_info=exc)
    reason = str(exc).strip() or type(exc).__name__
    if len(reason) > 600:
        reason = reason[:600] + "…"
    reason = safe_markdown(reason)  # a message may quote what the user typed: no images or links from it
    st.error(f"**{what} failed.** {reason}" + (f" {todo}" if todo else ""), icon="⚠️")


@contextmanager
def guarded(what: str, todo: str = "Try again; if it keeps failing, tell your Docent administrator.") -> Iterator[None]:
    """`with guarded("Loading the review queue"): ...` shows a short st.error instead of a traceback."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the UI must never show a traceback
        if type(exc).__name__ in ("StopException", "RerunException"):
            raise
        show_error(what, exc, todo)


def _oidc_user() -> dict | None:
    try:
        user = st.user
        return {key: user.get(key) for key in ("is_logged_in", "email", "preferred_username", "sub")}
    except Exception:  # noqa: BLE001 - no auth configured in secrets.toml
        return None


def request_headers() -> dict[str, str]:
    """This browser session's HTTP headers (set by the trusted reverse proxy in auth_mode=header)."""
    return dict(st.context.headers or {})


def bound_address() -> str:
    """The address this Streamlit server listens on ('' = every interface, Streamlit's default)."""
    return str(st.get_option("server.address") or "")


def current_identity() -> Identity | None:
    """The signed-in person (None = must sign in first). Raises IdentityError when none can be had."""
    settings = resources.get_settings()  # looked up per call: tests swap the factory
    specs = RoleSpecs.from_settings(settings)
    headers = request_headers() if settings.auth_mode == "header" else None
    oidc = _oidc_user() if settings.auth_mode == "oidc" else None
    verify = None
    if settings.auth_mode == "header" and settings.auth_alb_arns.strip():
        verify = resources.get_alb_verifier(settings.auth_alb_arns, settings.auth_alb_key_url).verify
    elif settings.auth_mode == "header" and settings.auth_header_unsigned and not is_loopback(bound_address()):
        raise IdentityError(
            f"Docent listens on {bound_address() or 'every interface'} but trusts an unsigned identity header "
            "(DOCENT_AUTH_HEADER_UNSIGNED=true): anyone reaching the port could claim any identity. Start it with "
            "`docent app` (it listens on DOCENT_SERVER_ADDRESS=127.0.0.1) or set DOCENT_AUTH_ALB_ARNS."
        )
    return resolve_identity(
        settings.auth_mode,
        specs,
        oidc_user=oidc,
        headers=headers,
        header_name=settings.auth_header,
        verify_token=verify,
        user_claim=settings.auth_alb_user_claim,
        allow_unsigned=settings.auth_header_unsigned,
    )


def identity_or_stop() -> Identity:
    """The identity, or a sign-in screen / error and st.stop()."""
    try:
        identity = current_identity()
    except IdentityError as exc:
        with st.container(key=SIGN_IN_KEY):
            st.error(str(exc), icon="🔒")
        st.stop()
    except Exception as exc:  # noqa: BLE001 - bad settings and the like
        with st.container(key=SIGN_IN_KEY):
            show_error("Checking who you are", exc, "Fix the setting named above and restart Docent.")
        st.stop()
    if identity is None:
        st.container(key=SIGN_IN_KEY)
        st.title("Docent")
        st.write("Sign in with your company account to ask questions.")
        if st.button("Sign in", type="primary"):
            try:
                st.login()
            except Exception as exc:  # noqa: BLE001 - e.g. no [auth] section in .streamlit/secrets.toml
                if type(exc).__name__ in ("StopException", "RerunException"):
                    raise
                show_error(
                    "Signing in",
                    exc,
                    "Ask your administrator to configure [auth] in .streamlit/secrets.toml (DOCENT_AUTH_MODE=oidc).",
                )
        st.stop()
    return identity


def require(page: str) -> Identity:
    """Top of every page: refuse direct access (e.g. by URL) to a page the role may not use."""
    identity = identity_or_stop()
    if not can_view(identity, page):
        st.error(
            f"The {PAGE_TITLES.get(page, page)} page is for the {PAGE_ROLES.get(page, '?')} role; "
            f"you are signed in as {identity.user} ({', '.join(identity.sorted_roles)}). "
            "Ask your Docent administrator for access.",
            icon="🔒",
        )
        st.stop()
    return identity


def _mint_session() -> str:
    """A fresh conversation id made here (never taken from a link), remembered as this tab's own."""
    sid = uuid.uuid4().hex
    st.session_state.setdefault("own_sessions", set()).add(sid)
    return sid


def session_id(store, user: str) -> str:
    """This conversation's id, kept in the URL (?s=...) so a reload shows the same chat.

    An id from the URL is used only when `user` owns that conversation (or this tab made it); any
    other id, well-formed or not, starts a new conversation with a fresh id made here, so a link
    with a chosen id cannot make a victim write into the sender's conversation (issue 11).
    """
    own: set[str] = st.session_state.setdefault("own_sessions", set())
    requested = st.query_params.get("s")
    remembered = st.session_state.get("chat_session")
    current = None
    if valid_session_id(requested):
        if requested in own:
            current = requested
        else:
            try:
                owner = store.session_owner(requested)
            except Exception as exc:  # noqa: BLE001 - an unreachable store: start afresh, say why in the log
                log.warning("Could not check who owns conversation %s: %s", requested[:8], exc)
                owner = None
            if owner == user and not _deleted(store, requested, user):
                own.add(requested)
                current = requested
            elif owner is not None:
                st.info(
                    "That conversation link belongs to someone else, so it cannot be opened from your account. "
                    "This is a new conversation.",
                    icon="🔒",
                )
    elif requested is None and remembered in own:
        current = remembered  # back from another page (navigation drops the query string)
    if current is None:
        current = _mint_session()
    if requested != current:
        st.query_params["s"] = current
    st.session_state["chat_session"] = current
    return current


def _deleted(store, session_id: str, user: str) -> bool:
    """A conversation its owner deleted opens as a new one (undo is in the sidebar)."""
    try:
        record = store.conversation(session_id, user)
    except Exception as exc:  # noqa: BLE001 - an unreachable store: the history read will say so
        log.warning("Could not read conversation %s: %s", session_id[:8], exc)
        return False
    return record is not None and record.deleted


def open_chat(session_id: str, *, in_place: bool = True) -> str:
    """Make `session_id` this tab's conversation. `in_place` puts it in the address now; otherwise the caller
    navigates with it (st.switch_page(..., query_params={"s": ...})), so the browser's history gets one
    entry per conversation and Back returns to the previous one."""
    st.session_state.setdefault("own_sessions", set()).add(session_id)
    st.session_state["chat_session"] = session_id
    if in_place:
        st.query_params["s"] = session_id
    for key in [k for k in st.session_state if str(k).startswith(("thumbs_", "more_"))]:
        del st.session_state[key]
    return session_id


def new_chat(*, in_place: bool = True) -> str:
    return open_chat(_mint_session(), in_place=in_place)
