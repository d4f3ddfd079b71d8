"""Who is asking and what they may do: identity -> roles, as plain functions (no Streamlit here).

Roles: every signed-in person is an `employee` (chat); `reviewer`, `analyst` and `admin` come from
DOCENT_ROLE_REVIEWERS / _ANALYSTS / _ADMINS, each a comma-separated list of users or `@domains`.
An admin may use every page. The app turns the identity source (local default, OIDC via
st.login, or a trusted reverse-proxy header) into plain values and calls `resolve_identity`.

>>> specs = RoleSpecs(reviewers="bo@corp.com", analysts="@corp.com", admins="")
>>> sorted(roles_for("ana@corp.com", specs))
['analyst', 'employee']
>>> resolve_identity("local", specs).roles == frozenset(ROLES)
True
>>> headers = {"X-User": "bo@corp.com"}
>>> can_view(resolve_identity("header", specs, headers=headers, header_name="X-User", allow_unsigned=True), "review")
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from config.errors import DocentError

Role = Literal["employee", "reviewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("employee", "reviewer", "analyst", "admin")
LOCAL_USER = "local"
MAX_USER_CHARS = 320  # longest valid email address

# The role each page needs.
PAGE_ROLES: dict[str, Role] = {"chat": "employee", "review": "reviewer", "analytics": "analyst", "knowledge": "admin"}


class IdentityError(DocentError, ValueError):
    """No usable identity: the message says why and what to do."""


@dataclass(frozen=True)
class RoleSpecs:
    """The three role lists as configured (comma-separated users or @domains)."""

    reviewers: str = ""
    analysts: str = ""
    admins: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> RoleSpecs:
        return cls(settings.role_reviewers, settings.role_analysts, settings.role_admins)


@dataclass(frozen=True)
class Identity:
    """A person and their roles; `source` says where the identity came from (local, oidc, header)."""

    user: str
    roles: frozenset[str]
    source: str = "local"

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def sorted_roles(self) -> list[str]:
        return [r for r in ROLES if r in self.roles]


def parse_members(spec: str | None) -> tuple[set[str], set[str]]:
    """'ana@corp.com, @ops.corp.com' -> ({'ana@corp.com'}, {'ops.corp.com'}): users and domains, lowercased."""
    users: set[str] = set()
    domains: set[str] = set()
    for item in (spec or "").split(","):
        item = item.strip().lower()
        if not item:
            continue
        if item.startswith("@"):
            if item[1:]:
                domains.add(item[1:])
        else:
            users.add(item)
    return users, domains


def is_member(user: str, spec: str | None) -> bool:
    """True when `user` is listed by name or its email domain is listed as @domain (exact domain only)."""
    who = user.strip().lower()
    if not who:
        return False
    users, domains = parse_members(spec)
    if who in users:
        return True
    if "@" in who:
        return who.rsplit("@", 1)[1] in domains
    return False


def roles_for(user: str, specs: RoleSpecs) -> frozenset[str]:
    """Everyone is an employee; admins get every role."""
    roles = {"employee"}
    if is_member(user, specs.admins):
        return frozenset(ROLES)
    if is_member(user, specs.reviewers):
        roles.add("reviewer")
    if is_member(user, specs.analysts):
        roles.add("analyst")
    return frozenset(roles)


def clean_user(value: Any, where: str) -> str:
    """A user name from an identity source, or IdentityError naming the source and the fix."""
    text = str(value or "").strip()
    if not text:
        raise IdentityError(f"{where} gave no user name; sign in again or ask your administrator to check {where}.")
    if len(text) > MAX_USER_CHARS or any(ord(c) < 32 for c in text):
        raise IdentityError(f"{where} gave an invalid user name; ask your administrator to check {where}.")
    return text


def header_value(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header look-up (proxies and frameworks disagree on case)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            return value
    return None


def resolve_identity(
    auth_mode: str,
    specs: RoleSpecs,
    *,
    oidc_user: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    header_name: str = "X-Amzn-Oidc-Identity",
    verify_token: Callable[[str], Mapping[str, Any]] | None = None,
    user_claim: str = "email",
    allow_unsigned: bool = False,
) -> Identity | None:
    """The identity for this request; None when the person still has to sign in (oidc).

    local:  one user "local" with every role (the embedded default, for a laptop or a demo).
    oidc:   `oidc_user` is st.user as a dict (is_logged_in, email, preferred_username, sub).
    header: with `verify_token` (config/alb_auth.py), the user is the `user_claim` of the load balancer's
            signed x-amzn-oidc-data token and plain identity headers are ignored; without it, only when
            `allow_unsigned` (a proxy on the same host), the header `header_name` carries the user.
    """
    if auth_mode == "local":
        return Identity(LOCAL_USER, frozenset(ROLES), "local")
    if auth_mode == "oidc":
        if not oidc_user or not oidc_user.get("is_logged_in"):
            return None
        raw = oidc_user.get("email") or oidc_user.get("preferred_username") or oidc_user.get("sub")
        user = clean_user(raw, "the sign-in provider")
        return Identity(user, roles_for(user, specs), "oidc")
    if auth_mode == "header" and verify_token is not None:
        token = header_value(headers, "x-amzn-oidc-data")
        if not token:
            raise IdentityError(
                "The request has no signed x-amzn-oidc-data header: open Docent through the company load balancer "
                "(a request straight to the app's port is refused)."
            )
        claims = verify_token(token)
        user = clean_user(claims.get(user_claim), f"the load balancer's token (claim {user_claim!r})")
        return Identity(user, roles_for(user, specs), "header")
    if auth_mode == "header":
        if not allow_unsigned:
            raise IdentityError(
                "DOCENT_AUTH_MODE=header needs DOCENT_AUTH_ALB_ARNS (signed identities from the load balancer) or "
                "DOCENT_AUTH_HEADER_UNSIGNED=true (a proxy on the same host); ask your administrator."
            )
        raw = header_value(headers, header_name)
        if raw is None:
            raise IdentityError(
                f"The request has no {header_name} header: open Docent through the company proxy, "
                "or ask your administrator to check DOCENT_AUTH_HEADER."
            )
        user = clean_user(raw, f"the {header_name} header")
        return Identity(user, roles_for(user, specs), "header")
    raise IdentityError(f"DOCENT_AUTH_MODE={auth_mode!r} is unknown; use local, oidc or header.")


def can_view(identity: Identity | None, page: str) -> bool:
    """Whether the identity may open `page` (one of PAGE_ROLES)."""
    if identity is None or page not in PAGE_ROLES:
        return False
    return identity.has(PAGE_ROLES[page])


def visible_pages(identity: Identity | None) -> list[str]:
    return [page for page in PAGE_ROLES if can_view(identity, page)]
