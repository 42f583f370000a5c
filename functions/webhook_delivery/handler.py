"""The trial's own webhooks (issue 18): SQS batches of webhook events, each POSTed signed to its trial's URL.

Partial batch responses. What an event comes to is `trialgw.logic.webhook_delivery`'s: delivered, retried (a new
message on the same queue, delayed by the back-off), failed for good, dropped or deferred; none of those is a batch
item failure. Only a record the worker could not finish (its trial read, its log write or its re-queue failed) is
reported failed, its visibility set to the delay it should have waited, so SQS delivers it again (at least once;
after the queue's maxReceiveCount it moves to the dead-letter queue, which alarms).

Time (trialgw.budgets.WEBHOOK_DELIVERY): an event is started only while the remaining time covers its worst case (the
POST with every redirect at its worst); the rest of the batch goes back onto the queue untried
(trialgw.adapters.sqs_batches).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from trialgw import budgets
from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_webhook_log import DynamoWebhookLog
from trialgw.adapters.dynamo_webhooks import DynamoWebhookConfigStore
from trialgw.adapters.sqs_batches import QueueRecord, process_within_budget
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.adapters.webhook_http import HttpWebhookPoster
from trialgw.logic.webhook_delivery import RetryLater, WebhookBatch, WebhookDeliveryDeps
from trialgw.observability import lambda_entry, logger
from trialgw.settings import WebhookDeliverySettings


def _settings() -> WebhookDeliverySettings:
    return trial_settings.load(WebhookDeliverySettings)


@cache
def _deps() -> WebhookDeliveryDeps:
    settings = _settings()
    return WebhookDeliveryDeps(
        targets=DynamoWebhookConfigStore(aws.dynamodb(), settings.trials_table),
        poster=HttpWebhookPoster(allow_loopback=settings.webhook_allow_loopback),
        log=DynamoWebhookLog(aws.dynamodb(), settings.messages_table),
        queue=SqsWebhookEventQueue(aws.sqs(), settings.webhook_events_queue_url),
        clock=time.time,
        retry_base_seconds=settings.webhook_retry_base_seconds,
    )


def _record(batch: WebhookBatch, record: QueueRecord) -> str:
    try:
        return batch.handle(record.body).value
    except RetryLater as retry:
        _delay(record, retry.seconds)
        raise


def _delay(record: QueueRecord, seconds: int) -> None:
    """The failed record becomes visible again after `seconds` instead of the queue's (long) visibility timeout."""
    try:
        aws.sqs().change_message_visibility(
            QueueUrl=_settings().webhook_events_queue_url,
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=seconds,
        )
    except (ClientError, BotoCoreError):
        # The queue's own visibility timeout then applies: a later retry, not a loss.
        logger.warning("could not set the webhook retry's back-off")


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # One batch's memory: each trial read once, and its attempts counted towards its share of the batch.
    batch = WebhookBatch(_deps())
    return process_within_budget(
        event,
        context,
        lambda record: _record(batch, record),
        budget=budgets.WEBHOOK_DELIVERY,
        sqs=aws.sqs(),
        queue_url=_settings().webhook_events_queue_url,
    )
