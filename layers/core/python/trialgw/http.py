"""Shared HTTP plumbing for the API functions: JSON bodies and domain errors as answers, in one place.

Powertools' event_handler is imported where it is first used (a function's first request), never at import, and
then only the REST resolver's modules: its package and the data classes' re-export every resolver and event class
Powertools has (`trialgw.lazy_reexports`, set up by `resolver`, the first use of event_handler in every API
function).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from trialgw.errors import DependencyUnavailable, InvalidInput, InvalidPayload, RateLimited
from trialgw.json_input import NotAnObject, UnreadableJson, decode_object
from trialgw.lazy_reexports import defer_reexports
from trialgw.media_types import is_json_content_type
from trialgw.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
    from aws_lambda_powertools.event_handler.exceptions import ServiceError
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

# The browser-facing API's CORS policy: one definition for the handlers, API Gateway's preflights
# (CDK) and the local stack. The only allowed origin is the site's. x-aws-waf-token carries the sign-up
# page's AWS WAF Challenge token (its SDK's fetch adds it) to the API on another origin.
CORS_ALLOW_HEADERS = ("Content-Type", "Authorization", "X-CM-PRODUCTTOKEN", "x-aws-waf-token")
CORS_EXPOSE_HEADERS = ("Retry-After",)
CORS_MAX_AGE_SECONDS = 600
# Powertools' content_types, without importing event_handler for two strings.
JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain"


def cors_config(site_origin: str) -> CORSConfig:
    from aws_lambda_powertools.event_handler import CORSConfig

    return CORSConfig(
        allow_origin=site_origin,
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=CORS_MAX_AGE_SECONDS,
    )


class BadRequest(Exception):
    """A request refused before its fields are read: a body that is not acceptable JSON (400: too large, not
    JSON, not an object), a body type other than JSON (415), another site's page (403)."""

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[str]:
    return text_response(status, json.dumps(body, ensure_ascii=False), JSON_CONTENT_TYPE, headers)


def text_response(
    status: int, body: str, content_type: str = TEXT_CONTENT_TYPE, headers: dict[str, str] | None = None
) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response

    return Response(status_code=status, content_type=content_type, body=body, headers=headers)


def resolver(*, site_url: str | None = None) -> APIGatewayRestResolver:
    """A REST resolver answering every domain error as documented (`register_error_answers`), with the site's CORS
    policy when given its URL (the browser-facing functions)."""
    # Before event_handler's first import (the module docstring).
    defer_reexports("aws_lambda_powertools.event_handler")
    defer_reexports("aws_lambda_powertools.utilities.data_classes")
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    app = APIGatewayRestResolver(cors=cors_config(site_url) if site_url is not None else None)
    register_error_answers(app)
    return app


def request_text(event: BaseProxyEvent) -> str | None:
    """The body as text, whether API Gateway passed it plain or base64-encoded."""
    try:
        return event.decoded_body
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The request body is not UTF-8 text.", "invalid_encoding") from None


def require_json(event: BaseProxyEvent) -> None:
    """Refuses a body not declared as JSON (415): form and `text/plain` posts are what another site's page can send
    without a CORS preflight."""
    if not is_json_content_type(event.headers.get("content-type")):
        raise BadRequest(
            "Send the request as JSON, with the header Content-Type: application/json.", "unsupported_media_type", 415
        )


def require_site_origin(event: BaseProxyEvent, site_url: str) -> None:
    """Refuses a browser request made by another site's page (403). Requests that name no origin (curl, SDKs,
    servers) pass: the browser is what another site could borrow, with its visitor's IP."""
    site = urlsplit(site_url)
    own = f"{site.scheme}://{site.netloc}".lower()
    origin = event.headers.get("origin")
    cross_site = event.headers.get("sec-fetch-site", "").strip().lower() == "cross-site"
    if (origin is not None and origin.strip().rstrip("/").lower() != own) or (origin is None and cross_site):
        raise BadRequest(
            f"This request came from another web site. Sign up on the trial's own page: {site_url}/",
            "forbidden_origin",
            403,
        )


def parse_json_object(raw: str | None, *, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, or BadRequest with a message a person can act on."""
    try:
        return decode_object(raw, max_bytes=max_bytes)
    except UnreadableJson as error:
        message, code = _UNREADABLE[error.problem]
        raise BadRequest(message.format(max_bytes=max_bytes), code) from None


_UNREADABLE = {
    NotAnObject.EMPTY: ("The request body is empty; send a JSON object.", "empty_body"),
    NotAnObject.TOO_LARGE: ("The request body is larger than {max_bytes} bytes.", "body_too_large"),
    NotAnObject.NOT_UNICODE: ("The request body is not UTF-8 text.", "invalid_encoding"),
    NotAnObject.NOT_JSON: ("The request body is not valid JSON.", "invalid_json"),
    NotAnObject.BEYOND_LIMITS: ("The request body nests too deeply or holds a number out of range.", "invalid_json"),
    NotAnObject.NOT_OBJECT: ("The request body must be a JSON object.", "invalid_json"),
}


def _bad_request(error: BadRequest) -> Response[str]:
    return json_response(error.status, {"message": error.message, "code": error.code})


def _invalid(error: InvalidInput) -> Response[str]:
    return json_response(422, {"message": error.message, "code": "invalid_fields", "fields": error.fields})


def _rate_limited(error: RateLimited) -> Response[str]:
    body = {"message": error.message, "code": "rate_limited"}
    if error.limit is not None:
        body["limit"] = error.limit
    return json_response(429, body, {"Retry-After": str(error.retry_after_seconds)})


def _unavailable(error: DependencyUnavailable) -> Response[str]:
    return json_response(
        503, {"message": error.message, "code": "unavailable"}, {"Retry-After": str(error.retry_after_seconds)}
    )


def _invalid_payload(error: InvalidPayload) -> Response[str]:
    return json_response(400, {"message": error.message, "code": "invalid_payload"})


def _http_error(error: ServiceError) -> Response[str]:
    # Powertools' own errors (e.g. an unknown route) keep their status.
    code = "not_found" if error.status_code == 404 else "http_error"
    return json_response(error.status_code, {"message": error.msg, "code": code})


def _unexpected(error: Exception) -> Response[str]:
    # The client learns nothing of the internals; the log keeps the traceback.
    logger.exception("unexpected error", extra={"error_type": type(error).__name__})
    return json_response(500, {"message": "Something went wrong on our side.", "code": "internal_error"})


def plain_route(route: Callable[[], Response[str]]) -> Callable[[], Response[str]]:
    """`route` for a resolver that writes an OpenAPI document: Powertools reads every route's annotations for it
    (documented or not), resolving them in the route's module, where `Response` is a name for the type checker only
    (the event_handler import waits for the first request). Registered without them, an operation is described by
    its own `responses`."""
    return lambda: route()  # noqa: PLW0108 - the lambda is the point: it has no annotations


def register_error_answers(app: APIGatewayRestResolver) -> None:
    """Every domain error becomes the same documented answer, whichever function raised it."""
    from aws_lambda_powertools.event_handler.exceptions import ServiceError

    app.exception_handler(BadRequest)(_bad_request)
    app.exception_handler(InvalidInput)(_invalid)
    app.exception_handler(InvalidPayload)(_invalid_payload)
    app.exception_handler(RateLimited)(_rate_limited)
    app.exception_handler(DependencyUnavailable)(_unavailable)
    app.exception_handler(ServiceError)(_http_error)
    app.exception_handler(Exception)(_unexpected)
