"""The API Lambda over the real HTTP API app (api.app, toy-embedder index): a recorded API Gateway
event in, the answer out, the user taken from the claims API Gateway's JWT authorizer verified."""

from __future__ import annotations

import copy
import json

from serverless.api_handler import build_adapter
from tests.api.conftest import ApiEnv
from tests.serverless.test_asgi_adapter import get, recorded


def test_a_recorded_event_asks_the_real_api_as_the_verified_user(tmp_path):
    env = ApiEnv(tmp_path / "data", auth_mode="header", auth_header="X-Docent-Identity")
    adapter = build_adapter(env.settings, lambda settings: env.app())
    event = copy.deepcopy(recorded("apigw_v2_post_jwt.json"))  # the client also sends x-docent-identity: admin@
    event["body"] = json.dumps({"question": "How many days of annual leave do employees get?"})
    event["headers"]["content-length"] = str(len(event["body"]))
    try:
        response = adapter(event, None)
        assert response["statusCode"] == 200, response["body"]
        body = json.loads(response["body"])
        assert "25 days" in body["answer"] and body["references"][0]["source"] == "hr/leave.md"
        assert env.store.get_turn(body["turn_id"]).user == "ana@corp.example"  # the claim, not the header

        spoofed = get("/v1/conversations")  # no authorizer claims: a client's own header is not trusted
        spoofed["headers"]["x-docent-identity"] = "ana@corp.example"
        refused = adapter(spoofed, None)
        assert refused["statusCode"] == 401 and json.loads(refused["body"])["error"] == "unauthorized"

        page = adapter(get("/rag"), None)
        assert page["statusCode"] == 200 and "<title>Docent" in page["body"]
    finally:
        adapter.close()
        env.store.close()
