"""Who calls the API: bearer JWTs checked against the issuer's JWKS, the app's trusted proxy header
(the load balancer's signed token when DOCENT_AUTH_ALB_ARNS is set, as in the app), or the local user. Roles come from the same DOCENT_ROLE_* lists as the app (config/roles.py).

Verification is PyJWT (signature, exp/nbf/iat with leeway, iss) plus an audience check that also
accepts Cognito access tokens, which carry `client_id` instead of `aud`.

>>> from config.settings import Settings
>>> auth = ApiAuth(Settings(data_dir="/tmp/d"))
>>> auth.identify({}).user
'local'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from config.errors import DocentError
from config.roles import Identity, IdentityError, RoleSpecs, clean_user, resolve_identity, roles_for
from config.settings import ConfigError


class AuthError(DocentError):
    """The request carries no usable credentials (HTTP 401); the message says what to send."""


class AuthUnavailable(DocentError):
    """The issuer's key set could not be read (HTTP 503): the token may be fine, try again later."""


class ForbiddenError(DocentError):
    """The caller is known but lacks the role or does not own the record (HTTP 403)."""


def bearer_token(headers: Mapping[str, str]) -> str:
    value = headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(
            "This API needs a bearer token: send `Authorization: Bearer <JWT>` from your identity "
            "provider (an access or ID token)."
        )
    return token.strip()


def audience_ok(claims: Mapping[str, Any], audience: str | None) -> bool:
    """`aud` (a string or a list) names the audience, or there is no `aud` and `client_id` does (Cognito)."""
    if not audience:
        return True
    aud = claims.get("aud")
    if aud is None:
        return claims.get("client_id") == audience
    return audience in ([aud] if isinstance(aud, str) else list(aud))


class JwtVerifier:
    """Verifies bearer tokens against a JWKS URL; keys are cached and refetched when a `kid` is unknown."""

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str | None,
        algorithms: list[str],
        leeway_s: int = 30,
        user_claims: tuple[str, ...] = ("email", "sub"),
        jwks_client=None,
    ):
        import jwt

        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.leeway_s = leeway_s
        self.user_claims = user_claims
        self.jwks = jwks_client or jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=10)

    @classmethod
    def from_settings(cls, settings) -> JwtVerifier:
        issuer = settings.api_jwt_issuer.rstrip("/")
        url = settings.api_jwks_url or f"{issuer}/.well-known/jwks.json"
        algorithms = [a.strip() for a in settings.api_jwt_algorithms.split(",") if a.strip()]
        claims = tuple(c.strip() for c in settings.api_jwt_user_claims.split(",") if c.strip())
        return cls(
            url, settings.api_jwt_issuer, settings.api_jwt_audience, algorithms, settings.api_jwt_leeway_s, claims
        )

    def claims(self, token: str) -> dict[str, Any]:
        import jwt

        try:
            key = self.jwks.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthUnavailable(
                f"The identity provider's key set could not be read ({exc}); try again "
                "shortly, or ask your administrator to check DOCENT_API_JWKS_URL."
            ) from None
        except (jwt.PyJWKClientError, jwt.DecodeError) as exc:
            raise AuthError(
                f"The bearer token cannot be verified ({exc}): sign in again to get a token from the configured issuer."
            ) from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=self.algorithms,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("The bearer token has expired: sign in again (or refresh it) and retry.") from None
        except jwt.InvalidIssuerError:
            raise AuthError(
                f"The bearer token was issued by another issuer; this API accepts tokens from {self.issuer} only."
            ) from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"The bearer token is not valid ({exc}): sign in again and retry.") from None
        if not audience_ok(claims, self.audience):
            raise AuthError(
                f"The bearer token is for another application (audience); request a token for {self.audience}."
            )
        return claims

    def identify(self, token: str, specs: RoleSpecs) -> Identity:
        claims = self.claims(token)
        raw = next((claims[c] for c in self.user_claims if claims.get(c)), None)
        user = clean_user(raw, "the bearer token")
        return Identity(user, roles_for(user, specs), "jwt")


class ApiAuth:
    """Turns a request's headers into an Identity, the same way for every route."""

    def __init__(self, settings, verifier: JwtVerifier | None = None):
        self.settings = settings
        self.mode = settings.api_auth_mode
        if self.mode == "jwt" and not settings.api_jwt_issuer and verifier is None:
            # checked here, not in Settings: the app in oidc mode runs fine without the API
            raise ConfigError(
                "The API's JWT auth (DOCENT_API_AUTH=jwt, or DOCENT_AUTH_MODE=oidc) needs "
                "DOCENT_API_JWT_ISSUER (the token issuer URL; its JWKS is read from there)."
            )
        if self.mode == "header" and not settings.auth_alb_arns.strip() and not settings.auth_header_unsigned:
            raise ConfigError(
                "The API's header auth needs DOCENT_AUTH_ALB_ARNS (the load balancer whose signed "
                "x-amzn-oidc-data is checked), or DOCENT_AUTH_HEADER_UNSIGNED=true for a proxy on the same host "
                "(or API Gateway in front of the Lambda, which sets the header from the claims it verified)."
            )
        self.specs = RoleSpecs.from_settings(settings)
        self._verifier = verifier
        self._alb_verify = None
        if self.mode == "header" and settings.auth_alb_arns.strip():
            from config.alb_auth import ALBTokenVerifier

            self._alb_verify = ALBTokenVerifier.from_settings(settings).verify
        self._lock = threading.Lock()

    @property
    def verifier(self) -> JwtVerifier:
        if self._verifier is None:
            with self._lock:
                if self._verifier is None:
                    self._verifier = JwtVerifier.from_settings(self.settings)
        return self._verifier

    def identify(self, headers: Mapping[str, str]) -> Identity:
        """Raises AuthError (401) or AuthUnavailable (503); `headers` keys are lower-case (ASGI)."""
        if self.mode == "jwt":
            return self.verifier.identify(bearer_token(headers), self.specs)
        try:
            identity = resolve_identity(
                self.mode,
                self.specs,
                headers=headers,
                header_name=self.settings.auth_header,
                verify_token=self._alb_verify,
                user_claim=self.settings.auth_alb_user_claim,
                allow_unsigned=self.settings.auth_header_unsigned,
            )
        except IdentityError as exc:
            raise AuthError(str(exc)) from None
        assert identity is not None  # only oidc returns None, and oidc maps to jwt here
        return identity


def require_role(identity: Identity, role: str, what: str) -> None:
    if not identity.has(role):
        raise ForbiddenError(
            f"{what} needs the {role} role; {identity.user} has {', '.join(identity.sorted_roles)}. "
            f"Ask your administrator to add you to DOCENT_ROLE_{role.upper()}S."
        )


class RateLimiter:
    """A token bucket per identity: `per_minute` requests, refilled continuously; 0 turns it off.

    Per process: each API worker (or Lambda instance) counts on its own.

    >>> limiter = RateLimiter(2, clock=lambda: 0.0)
    >>> [limiter.check("ana") for _ in range(3)]
    [0.0, 0.0, 30.0]
    """

    def __init__(self, per_minute: int, clock=time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> float:
        """0.0 when the request may go ahead, else the seconds to wait before the next one."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > 100_000:  # forget idle callers rather than grow without bound
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
            return round((1.0 - tokens) / rate, 1)
