"""Roles in the app: pages a role may not use are neither listed nor reachable directly."""

from __future__ import annotations

import pytest

from config.roles import PAGE_ROLES
from tests.fixtures.app_corpus import APP_DIR, AppBackend, app_test, install

pytestmark = pytest.mark.slow

ROLE_SETTINGS = {"role_reviewers": "bo@corp.com", "role_analysts": "@analysts.corp.com", "role_admins": "root@corp.com"}


@pytest.fixture(scope="module")
def base(tmp_path_factory, minilm):
    return AppBackend(tmp_path_factory.mktemp("access") / "data", minilm)


def _nav(at) -> list[str]:
    """The pages the menu lists. Every page is registered (a hidden one refuses by name, not "Page not
    found"); app.py records the visible ones, since AppTest does not expose st.Page's visibility."""
    assert len(at._registered_pages) == 4
    return sorted(at.session_state["menu_pages"])


def _page_text(at) -> str:
    return " ".join(e.value for e in at.error)


@pytest.fixture
def oidc(base, monkeypatch):
    backend = base.with_settings(auth_mode="oidc", **ROLE_SETTINGS)
    install(monkeypatch, backend)
    return backend


def test_oidc_without_login_shows_sign_in(oidc):
    at = app_test()
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.chat_input


def test_oidc_employee_sees_only_chat_and_is_refused_elsewhere(oidc):
    at = app_test()
    at.user = {"is_logged_in": True, "email": "ana@corp.com"}
    at.run()
    assert not at.exception
    assert _nav(at) == ["chat"]
    assert at.chat_input
    assert any("ana@corp.com" in m.value for m in at.sidebar.markdown)
    from streamlit.testing.v1 import AppTest  # not at collection: every xdist worker would pay its import

    for page in ("review", "analytics", "knowledge"):
        # opened by its address (hidden from the menu): the page says which role it needs
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception
        assert f"page is for the {PAGE_ROLES[page]} role" in _page_text(at)
        assert not at.dataframe and not at.get("download_button")
        direct = AppTest.from_file(str(APP_DIR / "views" / f"{page}.py"), default_timeout=180)
        direct.user = {"is_logged_in": True, "email": "ana@corp.com"}
        direct.run()
        assert not direct.exception
        assert "Ask your Docent administrator for access" in _page_text(direct)
        assert not direct.dataframe and not direct.get("download_button") and not direct.title


def test_oidc_reviewer_and_admin(oidc):
    at = app_test()
    at.user = {"is_logged_in": True, "email": "bo@corp.com"}
    at.run()
    assert _nav(at) == ["chat", "review"]
    assert not [e for e in at.sidebar.expander if e.label == "Backend"]  # backend details: admins only
    admin = app_test()
    admin.user = {"is_logged_in": True, "email": "root@corp.com"}
    admin.run()
    assert _nav(admin) == ["analytics", "chat", "knowledge", "review"]
    assert [e for e in admin.sidebar.expander if e.label == "Backend"]
    admin.switch_page("views/knowledge.py").run()
    assert not admin.error and admin.title[0].value == "Knowledge base"


def test_header_mode_uses_the_proxy_header(base, monkeypatch):
    install(
        monkeypatch,
        base.with_settings(
            auth_mode="header", auth_header="X-Forwarded-User", auth_header_unsigned=True, **ROLE_SETTINGS
        ),
    )
    import ui

    monkeypatch.setattr(ui, "bound_address", lambda: "127.0.0.1")  # as `docent app` starts it
    monkeypatch.setattr(ui, "request_headers", lambda: {"x-forwarded-user": "eve@analysts.corp.com"})
    at = app_test()
    at.run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert _nav(at) == ["analytics", "chat"]
    monkeypatch.setattr(ui, "request_headers", lambda: {})
    refused = app_test()
    refused.run()
    assert "no X-Forwarded-User header" in _page_text(refused)
    assert not refused.chat_input


def test_unsigned_header_mode_refuses_to_serve_on_every_interface(base, monkeypatch):
    """Issue 11: an unsigned identity header is only trusted when nothing but this host can reach the app."""
    install(
        monkeypatch,
        base.with_settings(
            auth_mode="header", auth_header="X-Forwarded-User", auth_header_unsigned=True, **ROLE_SETTINGS
        ),
    )
    import ui

    monkeypatch.setattr(ui, "bound_address", lambda: "0.0.0.0")
    monkeypatch.setattr(ui, "request_headers", lambda: {"x-forwarded-user": "root@corp.com"})
    at = app_test()
    at.run()
    assert not at.exception
    assert "anyone reaching the port could claim any identity" in _page_text(at)
    assert not at.chat_input
