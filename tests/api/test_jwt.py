"""Bearer JWTs against a JWKS document served on loopback: issuer, audience, expiry, kid, forgery."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

jwt = pytest.importorskip("jwt")
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

ISSUER = "https://idp.example.com/pool-1"
AUDIENCE = "docent-api"


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def keys():
    return {"k1": new_key(), "other": new_key()}


@pytest.fixture(scope="module")
def jwks(keys):
    """A JWKS server publishing k1 only; `.hits` counts fetches."""
    doc = {
        "keys": [
            json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys["k1"].public_key()))
            | {"kid": "k1", "use": "sig", "alg": "RS256"}
        ]
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            server.hits += 1
            body = json.dumps(doc).encode()
            self.send_response(200 if self.path == "/pool-1/.well-known/jwks.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.hits = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def token(key, kid="k1", **claims):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "email": "ana@corp.com", "iat": now, "exp": now + 300}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def client(env, jwks):
    url = f"http://127.0.0.1:{jwks.server_address[1]}/pool-1/.well-known/jwks.json"
    return env.client(api_auth="jwt", api_jwt_issuer=ISSUER, api_jwt_audience=AUDIENCE, api_jwks_url=url)


def call(client, tok):
    return client.get("/v1/conversations", headers={"Authorization": f"Bearer {tok}"})


def test_a_valid_token_names_the_user_and_their_roles(client, keys, env):
    assert call(client, token(keys["k1"])).status_code == 200
    turn = client.post(
        "/v1/ask",
        json={"question": "How do I set up the VPN?"},
        headers={"Authorization": f"Bearer {token(keys['k1'], email='boss@corp.com')}"},
    ).json()
    assert env.store.get_turn(turn["turn_id"]).user == "boss@corp.com"
    # analysts' routes follow DOCENT_ROLE_ANALYSTS, as in the app
    assert (
        client.get("/v1/export?what=turns", headers={"Authorization": f"Bearer {token(keys['k1'])}"}).status_code == 200
    )
    assert (
        client.get(
            "/v1/export?what=turns", headers={"Authorization": f"Bearer {token(keys['k1'], email='emp@corp.com')}"}
        ).status_code
        == 403
    )


def test_cognito_access_tokens_carry_client_id_instead_of_aud(client, keys):
    tok = token(keys["k1"], aud=None, client_id=AUDIENCE, email=None, username="ana")
    assert call(client, tok).status_code == 200
    assert call(client, token(keys["k1"], aud=None, client_id="someone-else")).status_code == 401


@pytest.mark.parametrize(
    "case, words",
    [
        ("expired", "expired"),
        ("forged", "Signature verification failed"),
        ("wrong issuer", "issuer"),
        ("wrong audience", "audience"),
        ("unknown kid", "cannot be verified"),
        ("no exp", "not valid"),
        ("garbage", "cannot be verified"),
        ("none alg", "not valid"),  # refused as an algorithm outside DOCENT_API_JWT_ALGORITHMS
    ],
)
def test_bad_tokens_are_401_with_a_reason(client, keys, case, words):
    now = int(time.time())
    tok = {
        "expired": lambda: token(keys["k1"], iat=now - 900, exp=now - 600),
        "forged": lambda: token(keys["other"]),  # signed by another key under the trusted kid
        "wrong issuer": lambda: token(keys["k1"], iss="https://evil.example.com"),
        "wrong audience": lambda: token(keys["k1"], aud="another-app"),
        "unknown kid": lambda: token(keys["other"], kid="k9"),
        "no exp": lambda: token(keys["k1"], exp=None),
        "garbage": lambda: "not.a.jwt",
        "none alg": lambda: jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60}, None, algorithm="none", headers={"kid": "k1"}
        ),
    }[case]()
    resp = call(client, tok)
    assert resp.status_code == 401, resp.text
    assert words in resp.json()["detail"] and resp.headers["WWW-Authenticate"] == "Bearer"


def test_missing_bearer_is_401_and_a_dead_jwks_is_503(env, keys):
    dead = env.client(api_auth="jwt", api_jwt_issuer=ISSUER, api_jwks_url="http://127.0.0.1:9/jwks.json")
    assert dead.get("/v1/conversations").status_code == 401
    resp = call(dead, token(keys["k1"]))
    assert resp.status_code == 503 and "DOCENT_API_JWKS_URL" in resp.json()["detail"]


def test_keys_are_cached_between_requests(client, keys, jwks):
    call(client, token(keys["k1"]))
    before = jwks.hits
    for _ in range(3):
        assert call(client, token(keys["k1"])).status_code == 200
    assert jwks.hits == before


def test_oidc_app_mode_means_jwt_and_the_api_needs_an_issuer(tmp_path):
    from api.app import create_app
    from config.settings import ConfigError, load_settings

    settings = load_settings(data_dir=tmp_path, auth_mode="oidc", role_admins="boss@corp.com")  # the app is fine
    assert settings.api_auth_mode == "jwt"
    with pytest.raises(ConfigError, match="DOCENT_API_JWT_ISSUER"):
        create_app(settings)
