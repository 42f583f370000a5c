"""Channel delivery: SQS batches of queued messages (accepted sends and replies) handed to each channel's provider.

Partial batch responses: a message that failed transiently is reported as a batch item failure and made
visible again after an exponential back-off, so SQS redelivers it; after the queue's maxReceiveCount it
moves to the dead-letter queue, its record marked `failed` on the last attempt. Each message is delivered
at most once per message id (Powertools idempotency), so a redelivered SQS message never reaches a provider
twice.
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.delivery.registry import providers_for
from trialgw.errors import StoreError
from trialgw.logic.delivery import DeliveryDeps, RetryLater, deliver
from trialgw.models import Channel
from trialgw.observability import logger, metrics, tracer
from trialgw.ports import OutboundMessage
from trialgw.settings import DeliverySettings

# One partition for the delivery function's idempotency records, the same locally and in AWS.
IDEMPOTENCY_PARTITION = "idempotency#delivery"
# Long enough to cover every redelivery of a message: SQS keeps it at most 4 days on the queue.
IDEMPOTENCY_SECONDS = 4 * 24 * 3600


def _settings() -> DeliverySettings:
    return trial_settings.load(DeliverySettings)


@cache
def _deps() -> DeliveryDeps:
    settings = _settings()
    return DeliveryDeps(
        providers=providers_for(settings),
        statuses=DynamoMessageLog(aws.dynamodb(), settings.messages_table),
        clock=time.time,
        backoff_base_seconds=settings.delivery_backoff_base_seconds,
    )


@cache
def _idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(event_key_jmespath="message_id", expires_after_seconds=IDEMPOTENCY_SECONDS)


@cache
def _idempotent_deliver() -> Any:
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
    def deliver_once(*, body: dict[str, Any], attempt: int) -> str:
        message = parse_outbound(body)
        return deliver(message, attempt=attempt, max_attempts=settings.delivery_max_attempts, deps=_deps()).value

    return deliver_once


def parse_outbound(body: dict[str, Any]) -> OutboundMessage:
    """The queued message (`SqsOutboundQueue` wrote it); a malformed one raises ValueError or KeyError."""
    return OutboundMessage(
        channel=Channel(body["channel"]),
        to=str(body["to"]),
        text=str(body["text"]),
        kind=str(body["kind"]),
        message_id=str(body["message_id"]),
        key_hash=body.get("key_hash"),
        at=int(body["at"]) if body.get("at") is not None else None,
        sender=body.get("sender"),
        reference=body.get("reference"),
        rich_content=body.get("rich_content"),
    )


def _record(record: SQSRecord) -> str:
    attempt = int(record.attributes.approximate_receive_count)
    try:
        body = json.loads(record.body)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        parse_outbound(body)
    except (ValueError, KeyError, TypeError) as error:
        # Never deliverable: acknowledged (and logged) rather than retried into the dead-letter queue.
        logger.error("unreadable queued message dropped", extra={"error": type(error).__name__})
        return "unreadable"
    idempotent: Any = _idempotent_deliver()
    try:
        outcome: str = idempotent(body=body, attempt=attempt)
    except RetryLater as retry:
        _delay(record, retry.backoff_seconds)
        raise
    except StoreError:
        _delay(record, 5)
        raise
    return outcome


def _delay(record: SQSRecord, seconds: int) -> None:
    """Back-off: the failed message becomes visible again after `seconds` instead of the queue's timeout."""
    try:
        aws.sqs().change_message_visibility(
            QueueUrl=_settings().outbound_queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds
        )
    except (ClientError, BotoCoreError):
        # The queue's own visibility timeout then applies: a later retry, not a loss.
        logger.warning("could not set the retry back-off")


@logger.inject_lambda_context(clear_state=True)
# Never the response in a trace: answers carry trial keys (curl examples, wa.me links).
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # An attempt cut short by the function's timeout (or a crash) then blocks redelivery only until the invocation
    # would have ended, not for the idempotency records' whole lifetime.
    _idempotency_config().register_lambda_context(context)
    # A batch whose every message failed is still answered with its item failures, not raised: the failures are
    # retries on schedule, not errors of the function.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(process_partial_response(event=event, record_handler=_record, processor=processor, context=context))
