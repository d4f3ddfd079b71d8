"""Trusted-header mode checks the load balancer's signed token (issue 11, item 5)."""

from __future__ import annotations

import pytest

from config.alb_auth import ALBTokenError, ALBTokenVerifier, fetch_url
from config.roles import IdentityError, RoleSpecs, resolve_identity
from tests.fixtures.alb import ARN, ALBKeys, key_server

SPECS = RoleSpecs(reviewers="bo@corp.com", admins="root@corp.com")


@pytest.fixture
def keys():
    return ALBKeys()


@pytest.fixture
def served(keys):
    with key_server(keys) as (url, log):
        yield ALBTokenVerifier(arns=[ARN], key_url=url, fetch=fetch_url), log


def test_a_signed_token_gives_its_claims_and_the_key_is_fetched_once(keys, served):
    verifier, log = served
    assert verifier.verify(keys.token({"email": "ana@corp.com"}))["email"] == "ana@corp.com"
    assert verifier.verify(keys.token({"email": "bo@corp.com"}))["email"] == "bo@corp.com"
    assert log == [f"/eu-west-1/{keys.kid}"]  # region from the signer's ARN, key cached by kid


def test_a_token_signed_with_another_key_is_refused(keys, served):
    verifier, _ = served
    forged = ALBKeys()
    forged.kid = keys.kid  # claims the real key id, signs with its own key
    with pytest.raises(ALBTokenError, match="bad signature"):
        verifier.verify(forged.token({"email": "root@corp.com"}))


def test_a_tampered_payload_is_refused(keys, served):
    verifier, _ = served
    header, _, signature = keys.token({"email": "ana@corp.com"}).split(".")
    other = keys.token({"email": "root@corp.com"}).split(".")[1]
    with pytest.raises(ALBTokenError, match="bad signature"):
        verifier.verify(f"{header}.{other}.{signature}")


def test_another_load_balancer_is_refused_before_any_fetch(keys, served):
    verifier, log = served
    other = ARN.replace("50dc6c495c0c9188", "ffffffffffffffff")
    with pytest.raises(ALBTokenError, match="another load balancer"):
        verifier.verify(keys.token({"email": "ana@corp.com"}, signer=other))
    assert log == []


def test_an_expired_token_is_refused(keys, served):
    verifier, _ = served
    with pytest.raises(ALBTokenError, match="expired"):
        verifier.verify(keys.token({"email": "ana@corp.com"}, exp_in=-600))


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256"])
def test_other_algorithms_are_refused(keys, served, alg):
    verifier, _ = served
    with pytest.raises(ALBTokenError, match="not ES256"):
        verifier.verify(keys.token({"email": "ana@corp.com"}, alg=alg))


def test_a_kid_that_is_a_path_is_never_fetched(keys, served):
    verifier, log = served
    with pytest.raises(ALBTokenError, match="key id"):
        verifier.verify(keys.token({"email": "ana@corp.com"}, kid="../../evil.com/x"))
    assert log == []


@pytest.mark.parametrize("token", ["", "a.b", "x.y.z", "....", "e30.e30.e30"])
def test_garbage_is_refused_with_a_message(served, token):
    verifier, _ = served
    with pytest.raises(ALBTokenError, match="open Docent through the load balancer"):
        verifier.verify(token)


def test_an_unreachable_key_endpoint_says_so(keys):
    def down(url):
        raise OSError("connection refused")

    verifier = ALBTokenVerifier(arns=[ARN], fetch=down)
    with pytest.raises(ALBTokenError, match="public-keys.auth.elb.eu-west-1.amazonaws.com"):
        verifier.verify(keys.token({"email": "ana@corp.com"}))


def test_a_bad_arn_setting_is_refused():
    with pytest.raises(IdentityError, match="not an ALB ARN"):
        ALBTokenVerifier(arns=["my-alb"])


def test_identity_comes_from_the_token_and_a_forged_plain_header_is_ignored(keys, served):
    verifier, _ = served
    headers = {"X-Amzn-Oidc-Identity": "root@corp.com", "x-amzn-oidc-data": keys.token({"email": "ana@corp.com"})}
    identity = resolve_identity("header", SPECS, headers=headers, verify_token=verifier.verify)
    assert identity.user == "ana@corp.com" and identity.roles == {"employee"}


def test_a_direct_request_with_only_the_plain_header_is_refused(served):
    verifier, _ = served
    with pytest.raises(IdentityError, match="no signed x-amzn-oidc-data"):
        resolve_identity(
            "header", SPECS, headers={"X-Amzn-Oidc-Identity": "root@corp.com"}, verify_token=verifier.verify
        )
