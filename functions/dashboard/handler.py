"""The dashboard API: `GET /dashboard-api/trial|whitelist|messages` for the page at `/dashboard/#<key>`.

Read-only. The key comes in `Authorization: Bearer <key>`; the page never puts it in a URL.
"""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.errors import DependencyUnavailable, StoreError
from trialgw.http import json_response, resolver
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
from trialgw.observability import lambda_entry
from trialgw.ports import InvalidCursor
from trialgw.settings import DashboardSettings

if TYPE_CHECKING:
    # Powertools' event_handler is imported on the first request (trialgw.http.resolver), not at the cold start's.
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

# The answers may hold the key (curl examples) and personal data: never cached by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}


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


def _viewer() -> Viewer:
    try:
        return authenticate(_app().current_event.headers.get("Authorization"), _deps())
    except StoreError as error:
        raise DependencyUnavailable("The trial could not be read; please retry.") from error


def _ok(body: dict[str, Any]) -> Response[str]:
    return json_response(200, body, dict(NO_STORE))


def get_trial() -> Response[str]:
    return _ok(trial_view(_viewer(), _settings(), _deps().clock()))


def get_whitelist() -> Response[str]:
    viewer = _viewer()
    try:
        return _ok(whitelist_view(viewer, _settings(), _deps()))
    except StoreError as error:
        raise DependencyUnavailable("The whitelist could not be read; please retry.") from error


def get_messages() -> Response[str]:
    viewer = _viewer()
    params = _app().current_event.query_string_parameters or {}
    raw_limit = params.get("limit")
    # ASCII digits only: "²" is a digit to str.isdigit() but not to int() (found by the fuzz suite: a 500).
    if raw_limit is not None and not (
        raw_limit.isascii() and raw_limit.isdigit() and 0 < len(raw_limit) <= 4 and int(raw_limit) > 0
    ):
        return json_response(400, {"message": "limit must be a whole number from 1.", "code": "invalid_limit"})
    try:
        return _ok(
            messages_view(
                viewer, _settings(), _deps(), limit=int(raw_limit) if raw_limit else None, cursor=params.get("cursor")
            )
        )
    except InvalidCursor:
        return json_response(400, {"message": "The cursor is not one this API gave out.", "code": "invalid_cursor"})
    except StoreError as error:
        raise DependencyUnavailable("The messages could not be read; please retry.") from error


def _unauthorized(error: Unauthorized) -> Response[str]:
    return json_response(401, {"message": str(error), "code": "unauthorized"}, {"WWW-Authenticate": "Bearer"})


def _unknown(error: UnknownTrial) -> Response[str]:
    return json_response(404, {"message": str(error), "code": "not_found"})


@cache
def _app() -> APIGatewayRestResolver:
    # Built on first use, not at import: CORS needs the site's origin from the settings, and the resolver's import is
    # the first request's.
    app = resolver(site_url=_settings().site_url)
    app.get("/dashboard-api/trial")(get_trial)
    app.get("/dashboard-api/whitelist")(get_whitelist)
    app.get("/dashboard-api/messages")(get_messages)
    app.exception_handler(Unauthorized)(_unauthorized)
    app.exception_handler(UnknownTrial)(_unknown)
    return app


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _app().resolve(event, context)
