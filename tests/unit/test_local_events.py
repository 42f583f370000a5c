"""The local stack's API Gateway emulation: routing, request → proxy event, proxy response → HTTP.

Pure functions plus `LocalGateway.handle` with a fake function host: no sockets, no moto.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from infra import api_errors
from infra.local.events import (
    MAX_BODY_BYTES,
    HttpRequest,
    InvalidLambdaResponse,
    build_event,
    match_route,
    parse_query,
    route_methods,
    split_target,
    to_http_response,
)
from infra.local.invoke import FunctionHost, LambdaContext
from infra.local.mail import MailOutbox, parse_send_email
from infra.local.server import LocalGateway
from infra.local.static import Redirect, StaticFile, StaticSite
from infra.topology import FunctionDef, RouteDef
from trialgw import budgets
from trialgw.settings import TrialSettings

ROUTES = (
    RouteDef("POST", "/signup", "signup"),
    RouteDef("POST", "/messaging/messagingtrial/gw/", "send"),
    RouteDef("POST", "/webhooks/cm/{secret}", "mo"),
    RouteDef("GET", "/webhooks/meta", "meta"),
    RouteDef("POST", "/webhooks/meta", "meta"),
    RouteDef("GET", "/files/{proxy+}", "files"),
    RouteDef("GET", "/files/readme", "readme"),
)


def event_for(request: HttpRequest) -> dict[str, Any]:
    match = match_route(ROUTES, request.method, request.path)
    assert match is not None
    return build_event(request, match, request_id="req-1", epoch_ms=1_764_000_000_123, host="127.0.0.1:8080")


# --- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("POST", "/signup", "signup", {}),
        ("POST", "/signup/", "signup", {}),
        ("post", "/signup", "signup", {}),
        ("POST", "/messaging/messagingtrial/gw/", "send", {}),
        ("POST", "/messaging/messagingtrial/gw", "send", {}),
        ("POST", "/webhooks/cm/s3cr%2Ft", "mo", {"secret": "s3cr/t"}),
        ("GET", "/webhooks/meta", "meta", {}),
        ("POST", "/webhooks/meta", "meta", {}),
        ("GET", "/files/a/b/c", "files", {"proxy": "a/b/c"}),
        ("GET", "/files/readme", "readme", {}),
    ],
)
def test_match_route(method: str, path: str, function: str, params: dict[str, str]) -> None:
    match = match_route(ROUTES, method, path)
    assert match is not None
    assert match.route.function == function
    assert match.path_parameters == params


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/signup"),
        ("POST", "/signup/extra"),
        ("POST", "/webhooks/cm"),
        ("POST", "/webhooks/cm/a/b"),
        ("GET", "/"),
    ],
)
def test_no_route(method: str, path: str) -> None:
    assert match_route(ROUTES, method, path) is None


def test_route_methods() -> None:
    assert route_methods(ROUTES, "/webhooks/meta/") == {"GET", "POST"}
    assert route_methods(ROUTES, "/nothing") == set()


def test_split_target_and_query() -> None:
    assert split_target("/a/b?x=1&y") == ("/a/b", "x=1&y")
    assert split_target("http://host:1/a?q") == ("/a", "q")
    assert split_target("") == ("/", "")
    assert parse_query("a=1&a=2&b=x%20y&c&d=1+1") == {"a": ["1", "2"], "b": ["x y"], "c": [""], "d": ["1+1"]}


# --- request → event ---------------------------------------------------------------------------


def test_event_has_the_rest_proxy_shape() -> None:
    request = HttpRequest(
        method="POST",
        target="/webhooks/cm/abc%20def?x=1&x=2&y=3",
        headers=(("Content-Type", "application/json"), ("User-Agent", "curl/8"), ("X-Multi", "a"), ("X-Multi", "b")),
        body=b'{"a": "\xc3\xa9"}',
        source_ip="10.1.2.3",
    )
    event = event_for(request)
    assert event["resource"] == "/webhooks/cm/{secret}"
    assert event["path"] == "/webhooks/cm/abc%20def"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"secret": "abc def"}
    assert event["queryStringParameters"] == {"x": "2", "y": "3"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": ["3"]}
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["headers"]["X-Multi"] == "b"
    assert event["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert event["headers"]["X-Forwarded-For"] == "10.1.2.3"
    assert event["headers"]["X-Forwarded-Port"] == "8080"
    assert event["stageVariables"] is None
    assert event["body"] == '{"a": "é"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["requestId"] == "req-1"
    assert context["stage"] == "local"
    assert context["path"] == "/local/webhooks/cm/abc%20def"
    assert context["resourcePath"] == "/webhooks/cm/{secret}"
    assert context["httpMethod"] == "POST"
    assert context["identity"]["sourceIp"] == "10.1.2.3"
    assert context["identity"]["userAgent"] == "curl/8"
    assert context["requestTimeEpoch"] == 1_764_000_000_123
    assert context["requestTime"] == "24/Nov/2025:16:00:00 +0000"
    # The event crosses Lambda's wire as JSON.
    assert json.loads(json.dumps(event)) == event


def test_empty_request_has_nulls_where_api_gateway_has_them() -> None:
    event = event_for(HttpRequest(method="GET", target="/webhooks/meta"))
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_binary_body_is_base64() -> None:
    event = event_for(HttpRequest(method="POST", target="/signup", body=b"\xff\x00\xfe"))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00\xfe"


def test_forwarded_for_is_appended() -> None:
    request = HttpRequest(
        method="POST", target="/signup", headers=(("x-forwarded-for", "1.1.1.1"),), source_ip="127.0.0.1"
    )
    assert event_for(request)["headers"]["X-Forwarded-For"] == "1.1.1.1, 127.0.0.1"


def test_event_is_accepted_by_powertools_rest_resolver() -> None:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    app = APIGatewayRestResolver()

    @app.post("/webhooks/cm/<secret>")
    def mo(secret: str) -> dict[str, Any]:
        return {
            "secret": secret,
            "body": app.current_event.json_body,
            "q": app.current_event.get_query_string_value("y"),
        }

    request = HttpRequest(method="POST", target="/webhooks/cm/abc?y=3", body=b'{"k": 1}')
    context: Any = LambdaContext("fn", "arn", "256", "id", deadline_ms=0)
    result = app.resolve(event_for(request), context)
    response = to_http_response(result)
    assert response.status == 200
    assert json.loads(response.body) == {"secret": "abc", "body": {"k": 1}, "q": "3"}


# --- proxy response → HTTP ---------------------------------------------------------------------


def test_response_mapping() -> None:
    response = to_http_response(
        {
            "statusCode": 202,
            "headers": {"Content-Type": "application/json", "X-One": "1", "Content-Length": "999"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "X-One": ["1"]},
            "body": '{"ok": true}',
            "isBase64Encoded": False,
        }
    )
    assert response.status == 202
    assert response.body == b'{"ok": true}'
    assert [v for k, v in response.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert [v for k, v in response.headers if k == "X-One"] == ["1"]
    # The server computes the length of what it really sends.
    assert response.header("Content-Length") is None


def test_response_defaults_and_base64() -> None:
    response = to_http_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x89PNG").decode(), "isBase64Encoded": True}
    )
    assert response.body == b"\x89PNG"
    assert response.header("content-type") == "application/json"
    assert to_http_response({"statusCode": 204}).body == b""


@pytest.mark.parametrize(
    "result",
    [
        None,
        "hello",
        {},
        {"statusCode": "abc"},
        {"statusCode": 700},
        {"statusCode": True},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "headers": {"X": 1}},
        {"statusCode": 200, "multiValueHeaders": {"X": "a"}},
        {"statusCode": 200, "isBase64Encoded": "yes"},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "cookies": ["a=1"]},
    ],
)
def test_malformed_proxy_responses(result: object) -> None:
    with pytest.raises(InvalidLambdaResponse):
        to_http_response(result)


# --- the gateway, with fake functions ------------------------------------------------------------


def make_gateway(tmp_path: Path, handlers: dict[str, Any]) -> tuple[LocalGateway, list[str]]:
    web = tmp_path / "web"
    (web / "signup").mkdir(parents=True)
    (web / "signup" / "index.html").write_text("<h1>signup</h1>")
    (web / "signup" / "signup.js").write_text("1;")
    (web / ".secret").write_text("no")
    (tmp_path / "outside.txt").write_text("no")
    functions = [FunctionDef(name=n, description="", settings_model=TrialSettings) for n in handlers]
    host = FunctionHost(functions, load=lambda fn: handlers[fn.name])
    logs: list[str] = []
    gateway = LocalGateway(
        routes=[RouteDef("POST", "/signup", "signup"), RouteDef("POST", "/boom", "boom")],
        functions=host,
        site=StaticSite(web),
        outbox=MailOutbox(),
        base_url="http://127.0.0.1:8080",
        log=logs.append,
    )
    return gateway, logs


def test_gateway_invokes_the_handler_with_a_context(tmp_path: Path) -> None:
    seen: list[tuple[dict[str, Any], Any]] = []

    def signup(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append((event, context))
        return {"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    gateway, _ = make_gateway(tmp_path, {"signup": signup, "boom": signup})
    response = gateway.handle(HttpRequest("POST", "/signup", body=b"{}"))
    assert response.status == 202
    assert response.header("x-amzn-RequestId")
    event, context = seen[0]
    assert event["resource"] == "/signup"
    assert context.function_name == "trialgw-signup"
    assert context.invoked_function_arn.endswith(":function:trialgw-signup")
    assert context.memory_limit_in_mb == "256"
    # The function's timeout, from its time budget, counting down.
    assert 0 < context.get_remaining_time_in_millis() <= budgets.SIGNUP.timeout_seconds * 1000


def test_handler_error_is_a_502_and_the_traceback_stays_in_the_terminal(tmp_path: Path) -> None:
    def boom(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("secret detail")

    gateway, logs = make_gateway(tmp_path, {"signup": boom, "boom": lambda _e, _c: {"nope": 1}})
    response = gateway.handle(HttpRequest("POST", "/signup"))
    assert response.status == 502
    assert json.loads(response.body) == {"message": "Internal server error"}
    assert b"secret detail" not in response.body
    assert "secret detail" in logs[0]
    malformed = gateway.handle(HttpRequest("POST", "/boom"))
    assert malformed.status == 502
    assert "malformed" in logs[1]


def test_an_unknown_path_is_404_json_naming_the_send_route_never_missing_authentication_token(tmp_path: Path) -> None:
    gateway, _ = make_gateway(tmp_path, {"signup": None, "boom": None})
    # The API's paths (`/boom/x` is under an API-only prefix); the site's own missing pages stay the site's 404.
    for request in (HttpRequest("POST", "/nothing"), HttpRequest("DELETE", "/"), HttpRequest("GET", "/boom/x")):
        response = gateway.handle(request)
        assert response.status == 404, request
        assert response.header("Content-Type") == "application/json"
        # The very body the CDK API's MISSING_AUTHENTICATION_TOKEN gateway response gives.
        assert response.body.decode() == api_errors.no_route_body()
        assert "POST CM's JSON to /messaging/messagingtrial/gw/ " in json.loads(response.body)["message"]
    assert gateway.handle(HttpRequest("GET", "/missing")).body == b"Not found\n"
    assert gateway.handle(HttpRequest("GET", "/signup/missing.js")).body == b"Not found\n"


def test_a_known_path_with_another_method_is_405_with_allow(tmp_path: Path) -> None:
    gateway, _ = make_gateway(tmp_path, {"signup": None, "boom": None})
    for request in (HttpRequest("PUT", "/signup"), HttpRequest("GET", "/boom"), HttpRequest("DELETE", "/boom/")):
        response = gateway.handle(request)
        assert response.status == 405, request
        assert response.header("Allow") == "OPTIONS, POST"
        assert json.loads(response.body) == {
            "message": "This route does not take this method; it takes OPTIONS, POST (see the Allow header)."
        }


def test_preflight(tmp_path: Path) -> None:
    gateway, _ = make_gateway(tmp_path, {"signup": None, "boom": None})
    response = gateway.handle(HttpRequest("OPTIONS", "/signup", headers=(("Origin", "http://127.0.0.1:8080"),)))
    assert response.status == 204
    assert response.header("Access-Control-Allow-Origin") == "http://127.0.0.1:8080"
    assert "POST" in (response.header("Access-Control-Allow-Methods") or "")
    assert "Content-Type" in (response.header("Access-Control-Allow-Headers") or "")


def test_pages_carry_the_security_headers(tmp_path: Path) -> None:
    gateway, _ = make_gateway(tmp_path, {"signup": None, "boom": None})
    for path in ("/", "/signup/signup.js", "/config.json", "/missing"):
        response = gateway.handle(HttpRequest("GET", path))
        assert response.header("Content-Security-Policy"), path
        assert response.header("X-Content-Type-Options") == "nosniff"
    assert gateway.handle(HttpRequest("GET", "/")).body == b"<h1>signup</h1>"
    config = gateway.handle(HttpRequest("GET", "/config.json"))
    assert json.loads(config.body) == {"apiUrl": "http://127.0.0.1:8080"}
    # `/signup` is both an API route (POST) and a folder: a browser's GET gets the page.
    assert gateway.handle(HttpRequest("GET", "/signup")).header("Location") == "/signup/"


def test_local_mail_helper(tmp_path: Path) -> None:
    gateway, _ = make_gateway(tmp_path, {"signup": None, "boom": None})
    response = gateway.handle(HttpRequest("GET", "/_local/mail"))
    assert response.status == 200
    assert json.loads(response.body) == []
    assert gateway.handle(HttpRequest("GET", "/_local/other")).status == 404


# --- static files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/signup/..%2f..%2foutside.txt",
        "/signup/%2e%2e/%2e%2e/outside.txt",
        "/.secret",
        "/%2esecret",
        "/signup\\..\\..\\outside.txt",
        "/signup/%00",
        "/nothing.html",
        "/signup/nothing/",
    ],
)
def test_static_site_serves_nothing_outside_web(tmp_path: Path, path: str) -> None:
    web = tmp_path / "web"
    (web / "signup").mkdir(parents=True)
    (web / ".secret").write_text("no")
    (tmp_path / "outside.txt").write_text("no")
    assert StaticSite(web).resolve(path) is None


def test_static_site_resolution(tmp_path: Path) -> None:
    web = tmp_path / "web"
    (web / "signup").mkdir(parents=True)
    (web / "signup" / "index.html").write_text("x")
    (web / "signup" / "signup.css").write_text("x")
    (web / "empty").mkdir()
    site = StaticSite(web)
    root = site.resolve("/")
    assert isinstance(root, StaticFile)
    assert root.path.name == "index.html"
    assert root.content_type == "text/html; charset=utf-8"
    css = site.resolve("/signup/signup.css")
    assert isinstance(css, StaticFile)
    assert css.content_type == "text/css; charset=utf-8"
    assert site.resolve("/signup") == Redirect("/signup/")
    # No index.html, no listing.
    assert site.resolve("/empty") is None
    assert site.resolve("/empty/") is None


# --- the mail outbox ---------------------------------------------------------------------------------


def test_parse_sesv2_simple_email() -> None:
    body = json.dumps(
        {
            "FromEmailAddress": "Trials <trials@example.com>",
            "Destination": {"ToAddresses": ["jane@example.com"]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Your key"},
                    "Body": {"Text": {"Data": "text part"}, "Html": {"Data": "<p>html part</p>"}},
                }
            },
        }
    ).encode()
    mail = parse_send_email(body, "m-1").to_json()
    assert mail["to"] == "jane@example.com"
    assert mail["from"] == "Trials <trials@example.com>"
    assert (mail["subject"], mail["text"], mail["html"]) == ("Your key", "text part", "<p>html part</p>")
    assert mail["messageId"] == "m-1"
    assert mail["at"]


def test_outbox_filters_by_recipient() -> None:
    outbox = MailOutbox()
    outbox.record(parse_send_email(b'{"Destination": {"ToAddresses": ["a@example.com"]}, "Content": {}}'))
    outbox.record(parse_send_email(b'{"Destination": {"ToAddresses": ["b@example.com"]}, "Content": {}}'))
    assert [m.to for m in outbox.sent("A@example.com")] == ["a@example.com"]
    assert len(outbox.sent()) == 2


def test_body_limit_is_api_gateways() -> None:
    assert MAX_BODY_BYTES == 10 * 1024 * 1024
