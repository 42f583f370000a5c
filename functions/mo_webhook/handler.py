"""Inbound traffic from the providers: end users' messages (CM's MO webhook, Meta's webhooks, two-way SMS through
SNS) and the status reports of messages we sent (CM's status webhook, Meta's `statuses`, SMS delivery events
through SNS). Both SMS topics deliver to one SQS queue that this function consumes, so a notification that cannot be
processed is retried and then kept in the dead-letter queue, never dropped.

Every entry point authenticates first (an unauthenticated call changes nothing and learns nothing), then
parses the provider's payload and hands it to one use case: inbound messages to `handle_inbound`, status
reports to `apply_reports`.
"""

from __future__ import annotations

import hmac
import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import budgets
from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_replies import DynamoReplyLimiter
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.adapters.secrets import webhook_secrets
from trialgw.adapters.sqs_batches import process_within_budget
from trialgw.adapters.sqs_outbound import SqsOutboundQueue
from trialgw.errors import DependencyUnavailable, InvalidPayload, StoreError
from trialgw.http import json_response, parse_json_object, register_error_answers, request_text
from trialgw.logic.inbound import InboundDeps, handle_inbound
from trialgw.logic.status_reports import apply_reports
from trialgw.models import InboundMessage
from trialgw.observability import lambda_entry, logger
from trialgw.ports import MessageStatusStore
from trialgw.providers.aws_sms.inbound import parse_sns_sms
from trialgw.providers.aws_sms.status import parse_sms_delivery_event
from trialgw.providers.cm.inbound import parse_cm_mo
from trialgw.providers.cm.status import parse_cm_status_report
from trialgw.providers.meta.inbound import parse_meta, verify_signature, verify_subscription
from trialgw.providers.meta.status import meta_status_reports
from trialgw.providers.port import ProviderName
from trialgw.providers.status import StatusReport
from trialgw.settings import MoWebhookSettings

NOT_FOUND = {"message": "Not found.", "code": "not_found"}


def _settings() -> MoWebhookSettings:
    return trial_settings.load(MoWebhookSettings)


@cache
def _statuses() -> MessageStatusStore:
    return DynamoMessageLog(aws.dynamodb(), _settings().messages_table)


@cache
def _deps() -> InboundDeps:
    settings = _settings()
    dynamodb = aws.dynamodb()
    return InboundDeps(
        trials=DynamoTrialStore(dynamodb, settings.trials_table),
        whitelist=DynamoWhitelistStore(dynamodb, settings.whitelist_table, settings.trials_table),
        messages=DynamoMessageLog(dynamodb, settings.messages_table),
        outbound=SqsOutboundQueue(aws.sqs(), settings.outbound_queue_url),
        # In the whitelist table: items keyed by the sender's address, beside the join hint's daily claim.
        replies=DynamoReplyLimiter(dynamodb, settings.whitelist_table),
        clock=time.time,
    )


def _now() -> int:
    """The time as the use cases see it: their clock, one per function instance (a test's fake, or time.time)."""
    return int(_deps().clock())


def _handle_all(messages: list[InboundMessage]) -> Response[str]:
    outcomes = [handle_inbound(message, _settings(), _deps()).value for message in messages]
    return json_response(200, {"processed": len(outcomes), "outcomes": outcomes})


def post_cm(secret: str) -> Response[str]:
    if not _cm_secret_matches(secret):
        return json_response(404, NOT_FOUND)
    body = parse_json_object(request_text(_app().current_event), max_bytes=_settings().webhook_max_body_bytes)
    return _handle_all(parse_cm_mo(body, received_at=_now()))


def post_cm_status(secret: str) -> Response[str]:
    if not _cm_secret_matches(secret):
        return json_response(404, NOT_FOUND)
    body = parse_json_object(request_text(_app().current_event), max_bytes=_settings().webhook_max_body_bytes)
    reports = parse_cm_status_report(body)
    moved = _apply(reports, provider=ProviderName.CM)
    return json_response(200, {"processed": len(reports), "updated": moved})


def _cm_secret_matches(secret: str) -> bool:
    expected = webhook_secrets(_settings()).cm_webhook_secret
    # Constant-time, and the same 404 as an unknown path: a wrong secret learns nothing.
    return bool(expected) and hmac.compare_digest(secret.encode("utf-8", "surrogatepass"), expected.encode())


def _apply(reports: list[StatusReport], *, provider: ProviderName) -> int:
    try:
        return apply_reports(_statuses(), reports, now=_now(), provider=provider.value)
    except StoreError as error:
        raise DependencyUnavailable("The status reports could not be recorded; please retry.") from error


def get_meta() -> Response[str]:
    params = _app().current_event.query_string_parameters or {}
    challenge = verify_subscription(params, webhook_secrets(_settings()).meta_verify_token)
    if challenge is None:
        return json_response(403, {"message": "Verification failed.", "code": "forbidden"})
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body=challenge)


def post_meta() -> Response[str]:
    event = _app().current_event
    max_bytes = _settings().webhook_max_body_bytes
    raw = request_text(event) or ""
    raw_bytes = raw.encode("utf-8", "surrogatepass")
    if len(raw_bytes) > max_bytes:
        return json_response(400, {"message": "The request body is too large.", "code": "body_too_large"})
    # The signature covers the exact bytes Meta sent, so it is checked before anything is parsed.
    signature = event.headers.get("x-hub-signature-256") or event.headers.get("X-Hub-Signature-256")
    if not verify_signature(raw_bytes, signature, webhook_secrets(_settings()).meta_app_secret):
        return json_response(401, {"message": "Invalid or missing X-Hub-Signature-256.", "code": "unauthorized"})
    batch = parse_meta(parse_json_object(raw, max_bytes=max_bytes), received_at=_now())
    _apply(meta_status_reports(batch.statuses), provider=ProviderName.META)
    return _handle_all(batch.messages)


@cache
def _app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    app.post("/webhooks/cm/<secret>")(post_cm)
    app.post("/webhooks/cm-status/<secret>")(post_cm_status)
    app.get("/webhooks/meta")(get_meta)
    app.post("/webhooks/meta")(post_meta)
    register_error_answers(app)
    return app


def _sms_notification(body: str) -> str:
    """One SNS notification of the SMS topics, as their queue holds it (SNS's JSON envelope); its outcome."""
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("Message"), str):
        # Not what SNS writes: it never becomes valid, so it is logged and consumed rather than retried.
        logger.warning("unusable SMS queue message: not an SNS notification")
        return "unusable"
    notification: str = envelope["Message"]
    report = parse_sms_delivery_event(notification)
    if report is not None:
        # A delivery event of an SMS we sent (the configuration set's topic), not an end user's text.
        _apply([report], provider=ProviderName.AWS_SMS)
        return "status"
    try:
        message = parse_sns_sms(notification, received_at=_now())
    except InvalidPayload as error:
        logger.warning("unusable two-way SMS notification", extra={"reason": error.message})
        return "unusable"
    return handle_inbound(message, _settings(), _deps()).value


def _handle_sms_queue(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A batch of the SMS topics' queue. A notification whose processing fails (DependencyUnavailable, a bug) is a
    batch item failure: SQS retries it, and after the queue's maxReceiveCount keeps it in the dead-letter queue."""
    outcomes: dict[str, str] = {}

    def record_handler(record: SQSRecord) -> None:
        outcomes[record.message_id] = _sms_notification(record.body)

    # A notification is started only while the remaining time covers its worst case; the rest go back onto the queue
    # untried, spending no receive towards the dead-letter queue (trialgw.budgets.MO_WEBHOOK).
    answer = process_within_budget(
        event,
        context,
        record_handler,
        budget=budgets.MO_WEBHOOK,
        sqs=aws.sqs(),
        queue_url=_settings().sms_inbound_queue_url or None,
    )
    # Lambda reads only batchItemFailures; the outcomes (by SQS message id) are for whoever looks: the local stack's
    # `/_local/mo` shows them to a tester.
    return {**answer, "outcomes": outcomes}


def _from_sqs(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return isinstance(records, list) and bool(records) and records[0].get("eventSource") == "aws:sqs"


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Two event sources: the SMS topics' queue (SQS records), and API Gateway (the webhooks).
    if _from_sqs(event):
        return _handle_sms_queue(event, context)
    return _app().resolve(event, context)
