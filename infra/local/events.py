"""What API Gateway (REST, Lambda proxy integration) does around a handler, as pure functions.

`match_route` finds the route of a request, `build_event` turns the request into the proxy event a
handler receives in AWS, and `to_http_response` turns the handler's result back into an HTTP answer,
rejecting what API Gateway would reject as a malformed proxy response. No sockets, no clock, no
randomness here: the server passes those in, so all of it is unit-tested.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from infra.topology import RouteDef

# API Gateway refuses larger payloads before any Lambda sees them.
MAX_BODY_BYTES = 10 * 1024 * 1024
ACCOUNT_ID = "123456789012"
API_ID = "local"

# Set by the server from the real connection, never by the handler's answer.
_HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding", "upgrade"})
_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP request as it arrived: `target` is the raw request target (path and query, still encoded)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    @property
    def path(self) -> str:
        return split_target(self.target)[0]

    @property
    def query(self) -> str:
        return split_target(self.target)[1]

    def header(self, name: str) -> str | None:
        """The last value of a header, by case-insensitive name."""
        found = None
        for key, value in self.headers:
            if key.lower() == name.lower():
                found = value
        return found


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in reversed(self.headers) if k.lower() == name.lower()), None)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: RouteDef
    path_parameters: dict[str, str]


class InvalidLambdaResponse(ValueError):
    """The handler's result is not a valid proxy response (API Gateway answers 502)."""


def split_target(target: str) -> tuple[str, str]:
    """`/a/b?x=1` → (`/a/b`, `x=1`); an absolute-form target (`http://host/a`) is reduced to its path."""
    if target.startswith(("http://", "https://")):
        after_scheme = target.split("://", 1)[1]
        slash = after_scheme.find("/")
        target = after_scheme[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    path = path.split("#", 1)[0]
    return (path or "/"), query


def _strip_trailing_slash(path: str) -> str:
    return path.rstrip("/") or "/"


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    route: RouteDef
    pattern: re.Pattern[str]
    parameters: tuple[str, ...]
    # Lower sorts first: API Gateway prefers literal paths over {param} over {greedy+}.
    rank: tuple[int, int]


def _compile(route: RouteDef) -> _CompiledRoute:
    parts: list[str] = []
    parameters: list[str] = []
    greedy = 0
    for segment in _strip_trailing_slash(route.path).split("/")[1:]:
        param = re.fullmatch(r"\{([^{}]+?)(\+?)\}", segment)
        if param is None:
            parts.append(re.escape(segment))
            continue
        # Group names are positional: API Gateway parameter names need not be Python identifiers.
        group = f"p{len(parameters)}"
        parameters.append(param.group(1))
        greedy += bool(param.group(2))
        parts.append(f"(?P<{group}>.+)" if param.group(2) else f"(?P<{group}>[^/]+)")
    pattern = re.compile("/" + "/".join(parts)) if parts else re.compile("/")
    return _CompiledRoute(route, pattern, tuple(parameters), (greedy, len(parameters)))


def _candidates(routes: Iterable[RouteDef], path: str) -> list[tuple[_CompiledRoute, re.Match[str]]]:
    normalized = _strip_trailing_slash(path)
    found = []
    for compiled in sorted((_compile(r) for r in routes), key=lambda c: c.rank):
        match = compiled.pattern.fullmatch(normalized)
        if match is not None:
            found.append((compiled, match))
    return found


def match_route(routes: Iterable[RouteDef], method: str, path: str) -> RouteMatch | None:
    """The route for `method` + `path` (trailing slash tolerant), with its decoded path parameters."""
    for compiled, match in _candidates(routes, path):
        if compiled.route.method.upper() in (method.upper(), "ANY"):
            params = {name: unquote(match.group(f"p{i}")) for i, name in enumerate(compiled.parameters)}
            return RouteMatch(compiled.route, params)
    return None


def route_methods(routes: Iterable[RouteDef], path: str) -> set[str]:
    """Every method some route accepts on `path`; empty when the path is not part of the API."""
    return {compiled.route.method.upper() for compiled, _ in _candidates(routes, path)}


def parse_query(query: str) -> dict[str, list[str]]:
    """API Gateway's reading of a query string: percent-decoded, `+` kept, `?a` means `a=""`."""
    values: dict[str, list[str]] = {}
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        values.setdefault(unquote(key), []).append(unquote(value))
    return values


def _request_time(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    # Fixed English month names: strftime("%b") follows the locale, API Gateway does not.
    return f"{moment:%d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def _forwarding_headers(request: HttpRequest, host: str) -> list[tuple[str, str]]:
    """The client's headers plus the X-Forwarded-* ones API Gateway adds in front of the Lambda."""
    port = host.rpartition(":")[2] if ":" in host else "80"
    forwarded_for = request.header("X-Forwarded-For")
    replaced = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
    headers = [(k, v) for k, v in request.headers if k.lower() not in replaced]
    client = f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip
    return [*headers, ("X-Forwarded-For", client), ("X-Forwarded-Port", port), ("X-Forwarded-Proto", "http")]


def build_event(
    request: HttpRequest,
    match: RouteMatch,
    *,
    request_id: str,
    epoch_ms: int,
    stage: str = "local",
    host: str = "127.0.0.1",
) -> dict[str, Any]:
    """The API Gateway REST (v1) Lambda proxy event for `request` on the matched route."""
    path = request.path
    headers = _forwarding_headers(request, host)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query = parse_query(request.query)
    body: str | None
    try:
        body, is_base64 = request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        # API Gateway passes binary bodies base64-encoded; a handler must decode them itself.
        body, is_base64 = base64.b64encode(request.body).decode("ascii"), True
    return {
        "resource": match.route.path,
        # REST APIs pass the path still percent-encoded; path parameters arrive decoded.
        "path": path,
        "httpMethod": request.method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "extendedRequestId": request_id,
            "httpMethod": request.method.upper(),
            "identity": {
                "accessKey": None,
                "accountId": None,
                "apiKey": None,
                "apiKeyId": None,
                "caller": None,
                "clientCert": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": request.header("User-Agent"),
                "userArn": None,
            },
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": _request_time(epoch_ms),
            "requestTimeEpoch": epoch_ms,
            "resourceId": API_ID,
            "resourcePath": match.route.path,
            "stage": stage,
        },
        "body": body if request.body else None,
        "isBase64Encoded": is_base64 if request.body else False,
    }


def _string_map(value: object, what: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidLambdaResponse(f"{what} must be an object with string keys")
    return value


def _status(result: Mapping[str, object]) -> int:
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise InvalidLambdaResponse(f"statusCode must be an HTTP status code, got {status!r}")
    return status


def _headers(result: Mapping[str, object]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for name, values in _string_map(result.get("multiValueHeaders"), "multiValueHeaders").items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidLambdaResponse(f"multiValueHeaders[{name!r}] must be a list of strings")
        headers += [(name, v) for v in values]
    for name, value in _string_map(result.get("headers"), "headers").items():
        if not isinstance(value, str):
            raise InvalidLambdaResponse(f"headers[{name!r}] must be a string")
        # A pair given in both maps appears once, as API Gateway merges them.
        if (name.lower(), value) not in {(k.lower(), v) for k, v in headers}:
            headers.append((name, value))
    headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return headers


def _body(result: Mapping[str, object]) -> bytes:
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise InvalidLambdaResponse("body must be a string")
    is_base64 = result.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise InvalidLambdaResponse("isBase64Encoded must be a boolean")
    if body is None:
        return b""
    if not is_base64:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidLambdaResponse("body is not valid base64") from error


def to_http_response(result: object) -> HttpResponse:
    """The HTTP answer API Gateway makes of a handler's proxy response; raises InvalidLambdaResponse."""
    if not isinstance(result, dict):
        raise InvalidLambdaResponse(f"the handler returned {type(result).__name__}, not an object")
    unknown = set(result) - _RESPONSE_KEYS
    if unknown:
        raise InvalidLambdaResponse(f"unexpected keys in the proxy response: {sorted(unknown)}")
    return HttpResponse(status=_status(result), headers=tuple(_headers(result)), body=_body(result))


def gateway_error(status: int, message: str, error_type: str, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    """An answer API Gateway itself gives (no handler involved), in its JSON shape."""
    return json_response(status, {"message": message}, (("x-amzn-ErrorType", error_type), *headers))


def json_response(status: int, payload: object, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    body = json.dumps(payload, indent=None, ensure_ascii=False).encode("utf-8")
    return HttpResponse(status, (("Content-Type", "application/json"), *headers), body)
