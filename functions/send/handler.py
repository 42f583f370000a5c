"""The send gateway: `POST /messaging/messagingtrial/gw/` (CM Business Messaging JSON; also under production's
path, `…/gw/v1.0/message`, for SDKs that append it), the trial's state at
`GET /messaging/messagingtrial/status`, and the API's OpenAPI document at `GET /openapi.json` (of every public route:
the other functions' are described in trialgw.gateway.openapi)."""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_send_keys import DynamoSendKeys
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.sqs_outbound import SqsOutboundQueue
from trialgw.errors import DependencyUnavailable
from trialgw.gateway import openapi
from trialgw.gateway.openapi import IDEMPOTENCY_KEY_HEADER, TOKEN_HEADER
from trialgw.gateway.request import parse_send_request
from trialgw.gateway.respond import GatewayAnswer, refusal_for, send_answer, status_answer, unavailable_answer
from trialgw.http import (
    JSON_CONTENT_TYPE,
    BadRequest,
    json_response,
    plain_route,
    request_text,
    resolver,
    text_response,
)
from trialgw.keys import normalize_key
from trialgw.logic.capacity import CapacityBreaker
from trialgw.logic.send import RefusalNote, SendDeps, send, trial_status
from trialgw.logic.send_outcomes import Refused
from trialgw.observability import lambda_entry
from trialgw.settings import SendSettings
from trialgw.urls import GATEWAY_PATH, GATEWAY_SDK_PATH, STATUS_PATH

if TYPE_CHECKING:
    # Powertools' event_handler is imported on the first request (trialgw.http.resolver), not at the cold start's.
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient


def _settings() -> SendSettings:
    return trial_settings.load(SendSettings)


def build_deps(settings: SendSettings, dynamodb: DynamoDBClient, sqs: SQSClient) -> SendDeps:
    """What one function instance sends with: its adapters over these clients, and its own breaker (whose cached
    flag and pending count live as long as the instance)."""
    return SendDeps(
        trials=DynamoTrialStore(dynamodb, settings.trials_table),
        messages=DynamoMessageLog(dynamodb, settings.messages_table),
        outbound=SqsOutboundQueue(sqs, settings.outbound_queue_url),
        breaker=CapacityBreaker(
            DynamoCapacityStore(dynamodb, settings.trials_table),
            time.time,
            limit=settings.capacity_limit,
            window_seconds=settings.capacity_window_seconds,
            cache_seconds=settings.capacity_cache_seconds,
            flush_seconds=settings.capacity_flush_seconds,
        ),
        clock=time.time,
        new_message_id=lambda: uuid.uuid4().hex,
        send_keys=DynamoSendKeys(dynamodb, settings.messages_table),
        describe_refusal=lambda refused: _note(refused, settings),
    )


def _note(refused: Refused, settings: SendSettings) -> RefusalNote:
    """A refusal's record keeps the answer the developer got: its text and CM's errorCode."""
    refusal = refusal_for(refused, settings)
    return RefusalNote(refusal.details, refusal.error_code)


@cache
def _deps() -> SendDeps:
    return build_deps(_settings(), aws.dynamodb(), aws.sqs())


def _answer(answer: GatewayAnswer) -> Response[str]:
    return json_response(answer.status, answer.body, answer.headers)


def _header(name: str) -> str | None:
    # Powertools' headers are case-insensitive: clients send `x-cm-producttoken`, `X-CM-PRODUCTTOKEN`, ….
    return _app().current_event.headers.get(name)


def post_gateway() -> Response[str]:
    event = _app().current_event
    try:
        body = request_text(event)
    except BadRequest:
        # Not UTF-8: no JSON at all, which the parser refuses as such.
        body = None
    parsed = parse_send_request(
        body, _header("Content-Type"), _header(TOKEN_HEADER), max_body_bytes=_settings().send_max_body_bytes
    )
    outcome = send(parsed, _settings(), _deps(), idempotency_key=_header(IDEMPOTENCY_KEY_HEADER))
    return _answer(send_answer(outcome, _settings()))


def get_status() -> Response[str]:
    raw = _header(TOKEN_HEADER)
    token = normalize_key(raw) if raw is not None and len(raw) <= 64 else None
    return _answer(status_answer(trial_status(token, _settings(), _deps().trials, time.time), _settings()))


def _unavailable(error: DependencyUnavailable) -> Response[str]:
    # The send routes answer a failed store or queue in CM's envelope, not in the other functions' shape.
    return _answer(unavailable_answer(error))


def get_openapi() -> Response[str]:
    return text_response(200, openapi.document(_app(), _settings().api_url), JSON_CONTENT_TYPE)


@cache
def _app() -> APIGatewayRestResolver:
    app = resolver()
    # Powertools' REST resolver ignores a trailing slash, as API Gateway does: `/gw` and `/gw/` are one route.
    app.post(GATEWAY_PATH.rstrip("/"), **openapi.SEND_OPERATION)(plain_route(post_gateway))
    app.post(GATEWAY_SDK_PATH, **openapi.SEND_SDK_OPERATION)(plain_route(post_gateway))
    app.get(STATUS_PATH, **openapi.STATUS_OPERATION)(plain_route(get_status))
    app.get(openapi.OPENAPI_PATH, **openapi.OPENAPI_OPERATION)(plain_route(get_openapi))
    app.exception_handler(DependencyUnavailable)(_unavailable)
    return app


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _app().resolve(event, context)
