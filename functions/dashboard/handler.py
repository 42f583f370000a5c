"""The dashboard API: `GET /dashboard-api/trial|whitelist|messages` for the page at `/dashboard/#<key>`, and the
trial's own webhooks: `GET|PUT /dashboard-api/webhooks`, `POST /dashboard-api/webhooks/secret`,
`POST /dashboard-api/webhooks/test`, `GET /dashboard-api/webhook-log`,
`POST /dashboard-api/webhook-log/{eventId}/replay` (issue 18).

The key comes in `Authorization: Bearer <key>`; the page never puts it in a URL. The webhook routes are the only
writes, and only to the trial's own item (and the webhook queue: test events and replays).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import settings as trial_settings
from trialgw.adapters import aws, dns
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_webhook_limit import DynamoWebhookSendLimit
from trialgw.adapters.dynamo_webhook_log import DynamoWebhookLog
from trialgw.adapters.dynamo_webhooks import DynamoWebhookConfigStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.errors import DependencyUnavailable, StoreError
from trialgw.http import json_response, parse_json_object, request_text, require_json, resolver
from trialgw.logic.dashboard import (
    DashboardDeps,
    Unauthorized,
    UnknownTrial,
    Viewer,
    authenticate,
    messages_view,
    trial_view,
    whitelist_view,
)
from trialgw.logic.webhook_log import (
    NO_URL,
    NoWebhookUrl,
    UnknownEvent,
    WebhookLogDeps,
    replay_event,
    send_test_event,
    webhook_log_view,
)
from trialgw.logic.webhooks import InvalidWebhooks, TrialEnded, WebhookDeps, rotate_secret, save_webhooks, webhooks_view
from trialgw.observability import lambda_entry
from trialgw.ports import InvalidCursor
from trialgw.settings import DashboardSettings
from trialgw.urls import (
    WEBHOOK_LOG_PATH,
    WEBHOOK_REPLAY_PATH,
    WEBHOOK_SECRET_PATH,
    WEBHOOK_TEST_PATH,
    WEBHOOKS_PATH,
)
from trialgw.webhook_signing import new_secret

if TYPE_CHECKING:
    # Powertools' event_handler is imported on the first request (trialgw.http.resolver), not at the cold start's.
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

# The answers may hold the key (curl examples), personal data or a signing secret: never cached by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}
# A PUT of the webhooks holds two URLs of at most 2,000 characters each.
WEBHOOKS_MAX_BODY_BYTES = 8 * 1024


def _settings() -> DashboardSettings:
    return trial_settings.load(DashboardSettings)


@cache
def _deps() -> DashboardDeps:
    settings = _settings()
    dynamodb = aws.dynamodb()
    return DashboardDeps(
        trials=DynamoTrialStore(dynamodb, settings.trials_table),
        whitelist=DynamoWhitelistStore(dynamodb, settings.whitelist_table, settings.trials_table),
        messages=DynamoMessageLog(dynamodb, settings.messages_table),
        clock=time.time,
    )


@cache
def _webhook_deps() -> WebhookDeps:
    return WebhookDeps(
        store=DynamoWebhookConfigStore(aws.dynamodb(), _settings().trials_table),
        resolve=dns.resolve,
        new_secret=new_secret,
        clock=time.time,
    )


@cache
def _webhook_log_deps() -> WebhookLogDeps:
    settings = _settings()
    dynamodb = aws.dynamodb()
    return WebhookLogDeps(
        config=DynamoWebhookConfigStore(dynamodb, settings.trials_table),
        log=DynamoWebhookLog(dynamodb, settings.messages_table),
        queue=SqsWebhookEventQueue(aws.sqs(), settings.webhook_events_queue_url),
        limit=DynamoWebhookSendLimit(dynamodb, settings.trials_table),
        clock=time.time,
    )


def _viewer() -> Viewer:
    try:
        return authenticate(_app().current_event.headers.get("Authorization"), _deps())
    except StoreError as error:
        raise DependencyUnavailable("The trial could not be read; please retry.") from error


def _ok(body: dict[str, Any]) -> Response[str]:
    return json_response(200, body, dict(NO_STORE))


def _ok_unless_store_fails(build: Callable[[], dict[str, Any]], failure: str) -> Response[str]:
    """200 with what `build` answers; 503 saying `failure` when DynamoDB fails under it."""
    try:
        return _ok(build())
    except StoreError as error:
        raise DependencyUnavailable(failure) from error


def get_trial() -> Response[str]:
    return _ok(trial_view(_viewer(), _settings(), _deps().clock()))


def get_whitelist() -> Response[str]:
    viewer = _viewer()
    return _ok_unless_store_fails(
        lambda: whitelist_view(viewer, _settings(), _deps()), "The whitelist could not be read; please retry."
    )


def _page(read: Callable[[int | None, str | None], dict[str, Any]], failure: str) -> Response[str]:
    """A page of a list (`limit` and `cursor` query parameters): 400 for a bad limit or a cursor this API did not give
    out, 503 saying `failure` when DynamoDB fails."""
    params = _app().current_event.query_string_parameters or {}
    raw_limit = params.get("limit")
    # ASCII digits only: "²" is a digit to str.isdigit() but not to int() (found by the fuzz suite: a 500).
    if raw_limit is not None and not (
        raw_limit.isascii() and raw_limit.isdigit() and 0 < len(raw_limit) <= 4 and int(raw_limit) > 0
    ):
        return json_response(400, {"message": "limit must be a whole number from 1.", "code": "invalid_limit"})
    try:
        return _ok(read(int(raw_limit) if raw_limit else None, params.get("cursor")))
    except InvalidCursor:
        return json_response(400, {"message": "The cursor is not one this API gave out.", "code": "invalid_cursor"})
    except StoreError as error:
        raise DependencyUnavailable(failure) from error


def get_messages() -> Response[str]:
    viewer = _viewer()
    return _page(
        lambda limit, cursor: messages_view(viewer, _settings(), _deps(), limit=limit, cursor=cursor),
        "The messages could not be read; please retry.",
    )


def get_webhooks() -> Response[str]:
    viewer = _viewer()
    return _ok_unless_store_fails(
        lambda: webhooks_view(viewer, _webhook_deps()), "The webhooks could not be read; please retry."
    )


def put_webhooks() -> Response[str]:
    viewer = _viewer()
    event = _app().current_event
    require_json(event)
    body = parse_json_object(request_text(event), max_bytes=WEBHOOKS_MAX_BODY_BYTES)
    return _ok_unless_store_fails(
        lambda: save_webhooks(viewer, body, _settings(), _webhook_deps()),
        "The webhooks could not be saved; please retry.",
    )


def post_webhook_secret() -> Response[str]:
    viewer = _viewer()
    return _ok_unless_store_fails(
        lambda: rotate_secret(viewer, _webhook_deps()), "The secret could not be saved; please retry."
    )


def post_webhook_test() -> Response[str]:
    viewer = _viewer()
    try:
        return json_response(202, send_test_event(viewer, _settings(), _webhook_log_deps()), dict(NO_STORE))
    except StoreError as error:
        raise DependencyUnavailable("The test event could not be sent; please retry.") from error


def get_webhook_log() -> Response[str]:
    viewer = _viewer()
    return _page(
        lambda limit, cursor: webhook_log_view(viewer, _settings(), _webhook_log_deps(), limit=limit, cursor=cursor),
        "The webhook log could not be read; please retry.",
    )


def post_webhook_replay(eventId: str) -> Response[str]:
    viewer = _viewer()
    try:
        return json_response(202, replay_event(viewer, eventId, _settings(), _webhook_log_deps()), dict(NO_STORE))
    except StoreError as error:
        raise DependencyUnavailable("The event could not be replayed; please retry.") from error


def _unauthorized(error: Unauthorized) -> Response[str]:
    return json_response(401, {"message": str(error), "code": "unauthorized"}, {"WWW-Authenticate": "Bearer"})


def _unknown(error: UnknownTrial) -> Response[str]:
    return json_response(404, {"message": str(error), "code": "not_found"})


def _invalid_webhooks(error: InvalidWebhooks) -> Response[str]:
    return json_response(400, {"message": error.message, "code": error.code})


def _ended(error: TrialEnded) -> Response[str]:
    return json_response(409, {"message": str(error), "code": "trial_ended"})


def _no_url(error: NoWebhookUrl) -> Response[str]:
    return json_response(400, {"message": str(error), "code": NO_URL})


def _unknown_event(error: UnknownEvent) -> Response[str]:
    return json_response(404, {"message": str(error), "code": "not_found"})


@cache
def _app() -> APIGatewayRestResolver:
    # Built on first use, not at import: CORS needs the site's origin from the settings, and the resolver's import is
    # the first request's.
    app = resolver(site_url=_settings().site_url)
    app.get("/dashboard-api/trial")(get_trial)
    app.get("/dashboard-api/whitelist")(get_whitelist)
    app.get("/dashboard-api/messages")(get_messages)
    app.get(WEBHOOKS_PATH)(get_webhooks)
    app.put(WEBHOOKS_PATH)(put_webhooks)
    app.post(WEBHOOK_SECRET_PATH)(post_webhook_secret)
    app.post(WEBHOOK_TEST_PATH)(post_webhook_test)
    app.get(WEBHOOK_LOG_PATH)(get_webhook_log)
    # Powertools writes a path parameter as `<name>` where API Gateway writes `{name}`.
    app.post(WEBHOOK_REPLAY_PATH.replace("{eventId}", "<eventId>"))(post_webhook_replay)
    app.exception_handler(Unauthorized)(_unauthorized)
    app.exception_handler(UnknownTrial)(_unknown)
    app.exception_handler(InvalidWebhooks)(_invalid_webhooks)
    app.exception_handler(TrialEnded)(_ended)
    app.exception_handler(NoWebhookUrl)(_no_url)
    app.exception_handler(UnknownEvent)(_unknown_event)
    return app


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _app().resolve(event, context)
