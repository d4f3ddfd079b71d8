"""Check the identity an AWS Application Load Balancer signs, instead of trusting a plain header.

Behind an ALB with OIDC authentication, every request carries `x-amzn-oidc-data`: a JWT signed
with ES256 by the load balancer. Its header names the signer (the ALB's ARN), the key id (`kid`)
and the expiry; the public key is served at https://public-keys.auth.elb.{region}.amazonaws.com/{kid}.
Anyone who reaches the app port directly can send any `X-Amzn-Oidc-Identity` they like, but cannot
sign a token (issue 11). Keys are fetched through an injectable function and cached by kid.

>>> verifier = ALBTokenVerifier(arns=("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/docent/1",))
>>> try:
...     verifier.verify("not-a-token")
... except ALBTokenError as exc:
...     print(exc)
The load balancer's x-amzn-oidc-data token is malformed (not three dot-separated parts); open Docent through the load balancer.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from config.roles import IdentityError

TOKEN_HEADER = "x-amzn-oidc-data"
DEFAULT_KEY_URL = "https://public-keys.auth.elb.{region}.amazonaws.com/{kid}"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # a UUID in practice; never a path or a host
_ARN = re.compile(r"^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):\d{12}:loadbalancer/app/[\w.-]+/[\w]+$")
LEEWAY_S = 30


class ALBTokenError(IdentityError):
    """The signed identity is missing, forged, expired or from another load balancer."""


def _fail(reason: str) -> ALBTokenError:
    return ALBTokenError(
        f"The load balancer's {TOKEN_HEADER} token is {reason}; open Docent through the load balancer."
    )


def _b64(part: str) -> bytes:
    """ALB tokens are base64url and may carry '=' padding (which strict JWT libraries refuse)."""
    text = part.strip().rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _fail("malformed (bad base64)") from None


def region_of(arn: str) -> str:
    match = _ARN.match(arn.strip())
    if not match:
        raise IdentityError(
            f"DOCENT_AUTH_ALB_ARNS has {arn!r}, which is not an ALB ARN "
            "(arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID); copy it from the EC2 console."
        )
    return match.group(1)


def fetch_url(url: str, timeout: float = 5.0) -> bytes:
    """The default key fetcher (HTTPS GET). Tests pass another one, or point the URL at a loopback server."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - the URL template is a setting
        return resp.read(64 * 1024)


@dataclass
class ALBTokenVerifier:
    """Verifies `x-amzn-oidc-data` (ES256, signer in `arns`, not expired, key by kid) and returns its claims."""

    arns: Sequence[str]
    key_url: str = DEFAULT_KEY_URL
    fetch: Callable[[str], bytes] = fetch_url
    clock: Callable[[], float] = time.time
    _keys: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.arns = tuple(a.strip() for a in self.arns if a and a.strip())
        if not self.arns:
            raise IdentityError("DOCENT_AUTH_ALB_ARNS is empty: name the load balancer whose tokens Docent accepts.")
        for arn in self.arns:
            region_of(arn)

    @classmethod
    def from_settings(cls, settings: Any, fetch: Callable[[str], bytes] | None = None) -> ALBTokenVerifier:
        return cls(arns=settings.auth_alb_arns.split(","), key_url=settings.auth_alb_key_url, fetch=fetch or fetch_url)

    def _key(self, region: str, kid: str):
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        with self._lock:
            cached = self._keys.get((region, kid))
        if cached is not None:
            return cached
        url = self.key_url.format(region=region, kid=kid)
        try:
            pem = self.fetch(url)
        except Exception as exc:  # noqa: BLE001 - network errors of any client
            raise ALBTokenError(
                f"The load balancer's public key {kid} could not be fetched from {url} ({exc}); check that Docent "
                "can reach it (outbound HTTPS), or DOCENT_AUTH_ALB_KEY_URL."
            ) from None
        try:
            key = load_pem_public_key(pem)
        except ValueError:
            raise ALBTokenError(f"{url} did not return a PEM public key; check DOCENT_AUTH_ALB_KEY_URL.") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            raise ALBTokenError(f"{url} returned a key that is not ES256 (P-256); check DOCENT_AUTH_ALB_KEY_URL.")
        with self._lock:
            self._keys[(region, kid)] = key
        return key

    def verify(self, token: str) -> Mapping[str, Any]:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        parts = str(token or "").strip().split(".")
        if len(parts) != 3:
            raise _fail("malformed (not three dot-separated parts)")
        try:
            header = json.loads(_b64(parts[0]))
            claims = json.loads(_b64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            raise _fail("malformed (not JSON)") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise _fail("malformed (not JSON objects)")
        if header.get("alg") != "ES256":
            raise _fail(f"signed with {str(header.get('alg'))[:20]!r}, not ES256")
        signer = str(header.get("signer", ""))
        if signer not in self.arns:
            raise _fail("signed by another load balancer (its signer is not in DOCENT_AUTH_ALB_ARNS)")
        kid = str(header.get("kid", ""))
        if not _KID.match(kid):
            raise _fail("missing a valid key id (kid)")
        signature = _b64(parts[2])
        if len(signature) != 64:
            raise _fail("carrying a signature of the wrong length")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            self._key(region_of(signer), kid).verify(
                der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature:
            raise _fail("not signed by the load balancer (bad signature)") from None
        except UnicodeEncodeError:
            raise _fail("malformed (non-ASCII)") from None
        expiry = claims.get("exp", header.get("exp"))
        if not isinstance(expiry, (int, float)) or isinstance(expiry, bool):
            raise _fail("missing its expiry (exp)")
        if self.clock() > float(expiry) + LEEWAY_S:
            raise _fail("expired (reload the page to sign in again)")
        return claims
