"""Channel delivery: SQS batches of queued messages (accepted sends and replies) handed to each channel's provider.

Partial batch responses: a message that failed transiently is reported as a batch item failure and made
visible again after an exponential back-off, so SQS redelivers it; after the queue's maxReceiveCount it
moves to the dead-letter queue, its record marked `failed` on the last attempt (or, when no attempt completed, by
the dead-letter consumer, `functions/dead_letters`).

At most once per message: an accepted send's record is its claim (trialgw.logic.delivery): one conditional write
counts the attempt and leases the record until this invocation's deadline, so a redelivered SQS message whose record
is sent, failed or leased never reaches a provider again; one leased by another invocation comes back when that lease
ends. The `sent` write that follows the provider's answer holds only with the lease. Should it fail, the message goes
back onto the queue as a new message carrying the status to write (`SENT_ATTRIBUTE`), whose receive writes it and
never calls the provider; the lease meanwhile keeps every other receive away. Only if that hand-back fails too is the
message retried, and once the lease has ended (the invocation's deadline) a later receive sends it again: a duplicate
rather than a loss, in that window only. Replies have no record: Powertools idempotency on the message id claims them.

Time (trialgw.budgets.DELIVERY): a message is started only while the invocation's remaining time covers its worst
case; the rest of the batch goes back onto the queue untried, as new messages that keep their attempt count and
spend no receive towards the dead-letter queue (trialgw.adapters.sqs_batches).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from trialgw import budgets
from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.sqs_batches import QueueRecord, attempt_number, hand_back_with, process_within_budget
from trialgw.adapters.sqs_outbound import outbound_from_json
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.errors import StoreError
from trialgw.logic.delivery import (
    DeliveryDeps,
    DeliveryOutcome,
    DeliveryResult,
    InFlight,
    RetryLater,
    SentStatus,
    backoff_seconds,
    deliver,
    record_sent,
)
from trialgw.observability import lambda_entry, logger
from trialgw.ports import OutboundMessage
from trialgw.providers.registry import providers_for
from trialgw.settings import DeliverySettings

if TYPE_CHECKING:
    # Powertools idempotency imports boto3's resource layer: loaded on the first reply, not at the cold start's import.
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

# One partition for the delivery function's idempotency records (replies'), the same locally and in AWS.
IDEMPOTENCY_PARTITION = "idempotency#delivery"
# Long enough to cover every redelivery of a message: SQS keeps it at most 4 days on the queue.
IDEMPOTENCY_SECONDS = 4 * 24 * 3600
# On a copy of a send the provider took whose `sent` could not be written: that status (`SentStatus.to_json`).
SENT_ATTRIBUTE = "trialgw-sent"


def _settings() -> DeliverySettings:
    return trial_settings.load(DeliverySettings)


@cache
def _deps() -> DeliveryDeps:
    settings = _settings()
    return DeliveryDeps(
        providers=providers_for(settings),
        statuses=DynamoMessageLog(aws.dynamodb(), settings.messages_table),
        clock=time.time,
        webhook_events=SqsWebhookEventQueue(aws.sqs(), settings.webhook_events_queue_url),
        backoff_base_seconds=settings.delivery_backoff_base_seconds,
    )


@cache
def _idempotency_config() -> IdempotencyConfig:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    return IdempotencyConfig(event_key_jmespath="message_id", expires_after_seconds=IDEMPOTENCY_SECONDS)


@cache
def _idempotent_reply() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    settings = _settings()
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PARTITION,
        expiry_attr="ttl",
        boto3_client=aws.dynamodb(),
    )

    @idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator is untyped
        data_keyword_argument="body", config=_idempotency_config(), persistence_store=persistence
    )
    def deliver_once(*, body: dict[str, Any], attempt: int, lease_until_ms: int) -> dict[str, Any]:
        message = parse_outbound(body)
        result = deliver(
            message,
            attempt=attempt,
            max_attempts=settings.delivery_max_attempts,
            deps=_deps(),
            lease_until_ms=lease_until_ms,
        )
        return {"outcome": result.outcome.value}

    return deliver_once


def parse_outbound(body: dict[str, Any]) -> OutboundMessage:
    """The queued message (`SqsOutboundQueue` wrote it); a malformed one raises ValueError or KeyError."""
    return outbound_from_json(body)


class PastLastAttempt(Exception):
    """A copy of a message handed back untried, received again after its last attempt (see `_record`)."""


def _record(record: QueueRecord, context: LambdaContext, deadline_ms: int) -> str:
    try:
        body = json.loads(record.body)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        message = parse_outbound(body)
        carried = _carried_sent(record)
    except (ValueError, KeyError, TypeError) as error:
        # Never deliverable: acknowledged (and logged) rather than retried into the dead-letter queue.
        logger.error("unreadable queued message dropped", extra={"error": type(error).__name__})
        return "unreadable"
    if carried is not None:
        # Before any count of attempts: this copy only writes what the provider's answer was, whichever attempt it is.
        return _retried(record, lambda: _write_sent(message, carried), attempt=0)
    # SQS's receive count, plus the attempts of the message's earlier copies (records handed back untried when the
    # invocation had no time left for them start again as new messages: trialgw.adapters.sqs_batches).
    attempt = attempt_number(record)
    if attempt > _settings().delivery_max_attempts:
        # Only a copy's count can pass the last attempt before SQS's own count reaches maxReceiveCount: the last
        # attempt already marked the record failed, so the message is only returned at once until SQS moves it to
        # the dead-letter queue, as every message that failed for good ends.
        _delay(record, 0)
        raise PastLastAttempt(f"attempt {attempt}")
    return _retried(
        record,
        lambda: _deliver(record, message, body=body, context=context, deadline_ms=deadline_ms, attempt=attempt),
        attempt=attempt,
    )


def _deliver(
    record: QueueRecord,
    message: OutboundMessage,
    *,
    body: dict[str, Any],
    context: LambdaContext,
    deadline_ms: int,
    attempt: int,
) -> str:
    if message.kind == "reply":
        result = _deliver_reply(body, context, deadline_ms, attempt)
    else:
        settings = _settings()
        result = deliver(
            message,
            attempt=attempt,
            max_attempts=settings.delivery_max_attempts,
            deps=_deps(),
            lease_until_ms=deadline_ms,
        )
    if result.unrecorded is not None:
        # Sent, but the `sent` write failed: a copy of the message carries it to a later receive, which writes it
        # without reaching the provider again. This one is acknowledged.
        handed_back = hand_back_with(
            record,
            {SENT_ATTRIBUTE: result.unrecorded.to_json()},
            sqs=aws.sqs(),
            queue_url=_settings().outbound_queue_url,
        )
        if not handed_back:
            # Retried once the lease has ended (it keeps every receive away until the invocation's deadline); that
            # receive sends the message again: the one duplicate window (module docstring).
            seconds = max(1, math.ceil((deadline_ms - time.time() * 1000) / 1000))
            raise RetryLater("sent, but neither recorded nor handed back", seconds)
    return result.outcome.value


def _deliver_reply(body: dict[str, Any], context: LambdaContext, deadline_ms: int, attempt: int) -> DeliveryResult:
    """A reply, once per message id: Powertools idempotency is its claim (it has no record)."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    # An attempt cut short by the function's timeout (or a crash) then blocks redelivery only until the invocation
    # would have ended, not for the idempotency records' whole lifetime.
    _idempotency_config().register_lambda_context(context)
    try:
        answer = _idempotent_reply()(body=body, attempt=attempt, lease_until_ms=deadline_ms)
    except IdempotencyAlreadyInProgressError:
        # Another invocation holds it: retried once that invocation has ended at the latest.
        raise InFlight(budgets.DELIVERY.timeout_seconds) from None
    return DeliveryResult(DeliveryOutcome(answer["outcome"]))


def _carried_sent(record: QueueRecord) -> SentStatus | None:
    """The `sent` status a copy of the message carries (`SENT_ATTRIBUTE`), if any; ValueError for a garbled one."""
    value = record.string_attribute(SENT_ATTRIBUTE)
    return SentStatus.from_json(value) if value is not None else None


def _write_sent(message: OutboundMessage, sent: SentStatus) -> str:
    deps = _deps()
    record_sent(message, sent, statuses=deps.statuses, events=deps.webhook_events)
    return DeliveryOutcome.SENT.value


def _retried(record: QueueRecord, work: Callable[[], str], *, attempt: int) -> str:
    """`work()`'s outcome; a failure is retried after its back-off (the record's visibility) and raised, so the batch
    reports it failed."""
    try:
        outcome: str = work()
    except RetryLater as retry:
        _delay(record, retry.backoff_seconds)
        raise
    except StoreError:
        _delay(record, 5)
        raise
    except Exception:
        # Not a provider's answer: a bug, or a dependency failing in a way nothing expected. Retried on the back-off
        # of a transient failure; after the last attempt it goes to the dead-letter queue at once, where the
        # dead-letter consumer marks the record `failed`.
        settings = _settings()
        logger.exception("delivery raised unexpectedly", extra={"attempt": attempt})
        last = attempt >= settings.delivery_max_attempts
        _delay(record, 0 if last else backoff_seconds(max(1, attempt), settings.delivery_backoff_base_seconds))
        raise
    return outcome


def _delay(record: QueueRecord, seconds: int) -> None:
    """Back-off: the failed message becomes visible again after `seconds` instead of the queue's timeout."""
    try:
        aws.sqs().change_message_visibility(
            QueueUrl=_settings().outbound_queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds
        )
    except (ClientError, BotoCoreError):
        # The queue's own visibility timeout then applies: a later retry, not a loss.
        logger.warning("could not set the retry back-off")


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Each send's lease runs until this invocation's deadline: Lambda ends the invocation there at the latest, so a
    # lease outlives no attempt, and a crashed or timed-out one blocks its message no longer.
    deadline_ms = int(time.time() * 1000) + context.get_remaining_time_in_millis()
    # A message is started only while the remaining time covers its worst case (provider call included), so the
    # timeout never cuts one off mid-call; those not started go back onto the queue untried. A batch whose every
    # message failed is still answered with its item failures, not raised: they are retries on schedule.
    return process_within_budget(
        event,
        context,
        lambda record: _record(record, context, deadline_ms),
        budget=budgets.DELIVERY,
        sqs=aws.sqs(),
        queue_url=_settings().outbound_queue_url,
    )
