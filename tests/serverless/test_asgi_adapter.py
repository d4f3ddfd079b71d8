"""The API Gateway HTTP API (2.0) -> ASGI adapter, driven by recorded events against a small Starlette app."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from serverless.asgi_adapter import ApiGatewayAdapter, UnsupportedEvent, event_from_response, is_text

EVENTS = Path(__file__).parent / "events"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def recorded(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def build_app(startups: list[str]):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        startups.append("start")
        yield {"greeting": "hello from lifespan"}
        startups.append("stop")

    async def hello(request: Request):
        return JSONResponse(
            {
                "name": request.path_params["name"],
                "path": request.url.path,
                "tags": request.query_params.getlist("tag"),
                "q": request.query_params["q"],
                "cookies": dict(request.cookies),
                "url": str(request.url),
                "client": request.client.host,
                "greeting": request.state.greeting,
            }
        )

    async def echo(request: Request):
        body = await request.body()
        return Response(
            body,
            media_type=request.headers.get("content-type", "application/octet-stream"),
            headers={"x-length": str(len(body))},
        )

    async def ask(request: Request):
        data = await request.json()
        return JSONResponse(
            {
                "question": data["question"],
                "identity": request.headers.get("x-docent-identity"),
                "authorization": request.headers.get("authorization", "")[:6],
            }
        )

    async def image(request: Request):
        return Response(PNG, media_type="image/png")

    async def cookies(request: Request):
        response = PlainTextResponse("ok")
        response.set_cookie("session", "abc", httponly=True)
        response.set_cookie("theme", "dark")
        response.headers.append("vary", "Accept")
        response.headers.append("vary", "Cookie")
        return response

    async def events(request: Request):
        async def stream():
            for n in range(3):
                yield f"event: token\ndata: part {n}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    async def boom(request: Request):
        raise RuntimeError("database on fire")

    async def big(request: Request):
        return PlainTextResponse("x" * (7 * 1024 * 1024))

    async def rag(request: Request):
        return PlainTextResponse(f"root_path={request.scope['root_path']} path={request.url.path}")

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/hello/{name}", hello),
            Route("/echo", echo, methods=["POST"]),
            Route("/v1/ask", ask, methods=["POST"]),
            Route("/image", image),
            Route("/cookies", cookies),
            Route("/events", events),
            Route("/boom", boom),
            Route("/big", big),
            Route("/rag", rag),
        ],
    )


@pytest.fixture
def startups():
    return []


@pytest.fixture
def adapter(startups):
    adapter = ApiGatewayAdapter(build_app(startups), identity_header="X-Docent-Identity")
    yield adapter
    adapter.close()
    assert startups[-1:] == ["stop"] or not startups  # lifespan shutdown ran when it had started


def get(path: str, **changes) -> dict:
    """The recorded GET event, pointed at another path."""
    event = copy.deepcopy(recorded("apigw_v2_get.json"))
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event.update(changes)
    return event


def test_get_with_encoded_path_query_and_cookies(adapter, startups):
    response = adapter(recorded("apigw_v2_get.json"), None)
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is False
    assert response["headers"]["content-type"] == "application/json"
    data = json.loads(response["body"])
    assert data["name"] == "Jürgen M" and data["path"] == "/hello/Jürgen M"
    assert data["tags"] == ["a", "b"] and data["q"] == "tea&cake"
    assert data["cookies"] == {"theme": "dark", "lang": "de"}
    assert data["url"].startswith("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/hello/")
    assert data["client"] == "198.51.100.7"
    assert data["greeting"] == "hello from lifespan"
    adapter(recorded("apigw_v2_get.json"), None)
    assert startups == ["start"]  # lifespan startup once per container, not per request


def test_identity_header_comes_only_from_verified_claims(adapter):
    response = adapter(recorded("apigw_v2_post_jwt.json"), None)
    data = json.loads(response["body"])
    assert data == {
        "question": "How do I book annual leave?",
        "identity": "ana@corp.example",
        "authorization": "Bearer",
    }

    unverified = recorded("apigw_v2_post_jwt.json")
    del unverified["requestContext"]["authorizer"]
    data = json.loads(adapter(unverified, None)["body"])
    assert data["identity"] is None  # the client's own x-docent-identity header never reaches the app

    sub_only = recorded("apigw_v2_post_jwt.json")
    del sub_only["requestContext"]["authorizer"]["jwt"]["claims"]["email"]
    assert json.loads(adapter(sub_only, None)["body"])["identity"] == "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def test_without_identity_header_the_request_headers_pass_unchanged(startups):
    plain = ApiGatewayAdapter(build_app(startups))
    data = json.loads(plain(recorded("apigw_v2_post_jwt.json"), None)["body"])
    plain.close()
    assert data["identity"] == "admin@corp.example"


def test_binary_request_and_response_bodies_round_trip_as_base64(adapter):
    response = adapter(recorded("apigw_v2_post_binary.json"), None)
    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == b"\x00\xff\x80\x81PK\x03\x04\x14\xe8\t"
    assert response["headers"]["x-length"] == "11"

    image = adapter(get("/image"), None)
    assert image["isBase64Encoded"] is True and base64.b64decode(image["body"]) == PNG


def test_set_cookie_becomes_cookies_and_repeated_headers_are_joined(adapter):
    response = adapter(get("/cookies"), None)
    assert [c.split(";")[0] for c in response["cookies"]] == ["session=abc", "theme=dark"]
    assert "HttpOnly" in response["cookies"][0]
    assert "set-cookie" not in response["headers"]
    assert response["headers"]["vary"] == "Accept, Cookie"


def test_a_streamed_response_arrives_whole(adapter):
    response = adapter(get("/events"), None)
    assert response["headers"]["content-type"].startswith("text/event-stream")
    assert response["body"] == "".join(f"event: token\ndata: part {n}\n\n" for n in range(3))


def test_an_app_error_is_a_500_with_a_message_not_a_traceback(adapter, caplog):
    response = adapter(get("/boom"), None)
    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert "request failed on the server" in body["detail"] and "database on fire" not in response["body"]
    assert "database on fire" in caplog.text  # the cause goes to the log (CloudWatch)


def test_a_response_over_the_lambda_limit_is_a_clear_502(adapter):
    response = adapter(get("/big"), None)
    assert response["statusCode"] == 502 and "larger than AWS Lambda can return" in response["body"]


def test_unknown_route_is_the_apps_own_404(adapter):
    assert adapter(get("/nowhere"), None)["statusCode"] == 404


def test_a_named_stage_is_the_root_path(adapter):
    response = adapter(recorded("apigw_v2_named_stage.json"), None)
    assert response["statusCode"] == 200
    assert response["body"] == "root_path=/prod path=/prod/rag"


def test_other_event_shapes_are_refused_clearly(adapter):
    rest_api_v1 = {"version": "1.0", "httpMethod": "GET", "path": "/", "requestContext": {}}
    with pytest.raises(UnsupportedEvent, match="payload format 2.0"):
        adapter(rest_api_v1, None)
    with pytest.raises(UnsupportedEvent):
        adapter(recorded("s3_object_created.json"), None)


def test_apps_without_lifespan_support_still_run():
    async def bare(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("only http")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    auto, strict = ApiGatewayAdapter(bare), ApiGatewayAdapter(bare, lifespan="on")
    assert auto(get("/x"), None)["statusCode"] == 204
    with pytest.raises(RuntimeError, match="only http"):
        strict(get("/x"), None)
    auto.close()
    strict.close()


def test_text_detection():
    assert is_text("application/json") and is_text("text/html; charset=utf-8")
    assert is_text("application/vnd.api+json") and is_text("image/svg+xml")
    assert not is_text("image/png") and not is_text("application/octet-stream")
    assert not is_text("application/json", "gzip")  # compressed bytes are binary
    undecodable = event_from_response(200, [(b"content-type", b"text/plain")], b"\xff\xfe")
    assert undecodable["isBase64Encoded"] is True
