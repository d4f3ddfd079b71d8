"""config/roles.py: identity -> roles, pure."""

from __future__ import annotations

import pytest

from config.roles import (
    ROLES,
    IdentityError,
    RoleSpecs,
    can_view,
    is_member,
    parse_members,
    resolve_identity,
    roles_for,
    visible_pages,
)

SPECS = RoleSpecs(reviewers="bo@corp.com, @qa.corp.com", analysts="@corp.com", admins="root@corp.com")


def test_parse_members_splits_users_and_domains():
    assert parse_members(" Ana@Corp.com, @Ops.corp.com ,, @ ") == ({"ana@corp.com"}, {"ops.corp.com"})
    assert parse_members(None) == (set(), set())


@pytest.mark.parametrize(
    ("user", "spec", "expected"),
    [
        ("bo@corp.com", "bo@corp.com", True),
        ("BO@corp.com", "bo@corp.com", True),
        ("ana@qa.corp.com", "@qa.corp.com", True),
        ("ana@corp.com", "@qa.corp.com", False),
        ("ana@evilcorp.com", "@corp.com", False),  # exact domain, not a suffix
        ("ana@sub.corp.com", "@corp.com", False),
        ("corp.com", "@corp.com", False),
        ("", "@corp.com", False),
    ],
)
def test_is_member(user, spec, expected):
    assert is_member(user, spec) is expected


def test_roles_for_combines_lists_and_admin_has_all():
    assert roles_for("bo@corp.com", SPECS) == {"employee", "reviewer", "analyst"}
    assert roles_for("zed@qa.corp.com", SPECS) == {"employee", "reviewer"}
    assert roles_for("someone@else.org", SPECS) == {"employee"}
    assert roles_for("root@corp.com", SPECS) == set(ROLES)


def test_local_mode_is_one_user_with_every_role():
    identity = resolve_identity("local", RoleSpecs())
    assert identity.user == "local" and identity.roles == set(ROLES) and identity.source == "local"
    assert visible_pages(identity) == ["chat", "review", "analytics", "knowledge"]


def test_oidc_mode_needs_a_login_and_uses_the_email():
    assert resolve_identity("oidc", SPECS, oidc_user=None) is None
    assert resolve_identity("oidc", SPECS, oidc_user={"is_logged_in": False}) is None
    identity = resolve_identity("oidc", SPECS, oidc_user={"is_logged_in": True, "email": "bo@corp.com"})
    assert identity.user == "bo@corp.com" and identity.source == "oidc"
    assert visible_pages(identity) == ["chat", "review", "analytics"]
    fallback = resolve_identity("oidc", SPECS, oidc_user={"is_logged_in": True, "sub": "abc123"})
    assert fallback.user == "abc123" and fallback.roles == {"employee"}


def test_header_mode_reads_the_trusted_header_case_insensitively():
    identity = resolve_identity(
        "header",
        SPECS,
        headers={"x-forwarded-user": "root@corp.com"},
        header_name="X-Forwarded-User",
        allow_unsigned=True,
    )
    assert identity.user == "root@corp.com" and identity.roles == set(ROLES)


@pytest.mark.parametrize("headers", [None, {}, {"Other": "x"}])
def test_header_mode_without_the_header_is_refused(headers):
    with pytest.raises(IdentityError, match="X-User"):
        resolve_identity("header", SPECS, headers=headers, header_name="X-User", allow_unsigned=True)


@pytest.mark.parametrize("value", ["", "   ", "a\nb", "x" * 400])
def test_bad_user_names_are_refused(value):
    with pytest.raises(IdentityError):
        resolve_identity("header", SPECS, headers={"X-User": value}, header_name="X-User", allow_unsigned=True)


def test_plain_header_is_not_trusted_unless_the_deployment_says_so():
    """Issue 11: anyone reaching the port could send X-Amzn-Oidc-Identity: admin@... and become admin."""
    with pytest.raises(IdentityError, match="DOCENT_AUTH_ALB_ARNS"):
        resolve_identity("header", SPECS, headers={"X-Amzn-Oidc-Identity": "root@corp.com"})


def test_unknown_mode_is_refused_with_the_fix():
    with pytest.raises(IdentityError, match="local, oidc or header"):
        resolve_identity("saml", SPECS)


def test_can_view():
    employee = resolve_identity("oidc", SPECS, oidc_user={"is_logged_in": True, "email": "x@else.org"})
    assert can_view(employee, "chat") and not can_view(employee, "review")
    assert not can_view(employee, "knowledge") and not can_view(None, "chat")
    assert not can_view(employee, "no-such-page")
