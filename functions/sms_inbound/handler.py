"""The SMS topics' queue: end users' texts (two-way SMS) and the delivery events of SMS we sent, which AWS End User
Messaging publishes to two SNS topics subscribed to this function's queue. A notification that cannot be processed
is retried and then kept in the queue's dead-letter queue, never dropped.

A text goes to the inbound use case (`handle_inbound`), as the webhooks' messages do; a delivery event to the status
reports' (`apply_reports`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import budgets, wiring
from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.sqs_batches import QueueRecord, process_within_budget
from trialgw.errors import InvalidPayload
from trialgw.logic.inbound import InboundDeps, handle_inbound
from trialgw.logic.status_reports import apply_reports
from trialgw.observability import lambda_entry, logger
from trialgw.ports import MessageStatusStore
from trialgw.providers.aws_sms.inbound import parse_sns_sms
from trialgw.providers.aws_sms.status import parse_sms_delivery_event
from trialgw.providers.port import ProviderName
from trialgw.settings import SmsInboundSettings


def _settings() -> SmsInboundSettings:
    return trial_settings.load(SmsInboundSettings)


@cache
def _deps() -> InboundDeps:
    return wiring.inbound_deps(_settings())


@cache
def _statuses() -> MessageStatusStore:
    return wiring.status_store(_settings())


def _now() -> int:
    """The time as the use cases see it: their clock, one per function instance (a test's fake, or time.time)."""
    return int(_deps().clock())


def _notification(body: str) -> str:
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
        apply_reports(
            _statuses(), [report], now=_now(), provider=ProviderName.AWS_SMS.value, events=_deps().webhook_events
        )
        return "status"
    try:
        message = parse_sns_sms(notification, received_at=_now())
    except InvalidPayload as error:
        logger.warning("unusable two-way SMS notification", extra={"reason": error.message})
        return "unusable"
    return handle_inbound(message, _settings(), _deps()).value


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A batch of the SMS topics' queue. A notification whose processing fails (DependencyUnavailable, a bug) is a
    batch item failure: SQS retries it, and after the queue's maxReceiveCount keeps it in the dead-letter queue."""
    outcomes: dict[str, str] = {}

    def record_handler(record: QueueRecord) -> None:
        outcomes[record.message_id] = _notification(record.body)

    # A notification is started only while the remaining time covers its worst case; the rest go back onto the queue
    # untried, spending no receive towards the dead-letter queue (trialgw.budgets.SMS_INBOUND).
    answer = process_within_budget(
        event,
        context,
        record_handler,
        budget=budgets.SMS_INBOUND,
        sqs=aws.sqs(),
        queue_url=_settings().sms_inbound_queue_url or None,
    )
    # Lambda reads only batchItemFailures; the outcomes (by SQS message id) are for whoever looks: the local stack's
    # `/_local/mo` shows them to a tester.
    return {**answer, "outcomes": outcomes}
