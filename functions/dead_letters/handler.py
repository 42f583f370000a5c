"""Dead letters of the delivery queue: each accepted send whose delivery never completed is marked `failed`, once.

An SQS event source on the delivery queue's dead-letter queue, with partial batch responses: a dead letter whose
record could not be written is reported as a batch item failure and comes back after the queue's visibility timeout
(the dead-letter queue has no dead-letter queue of its own; the stale-message sweeper is the backstop). Every other
dead letter is consumed: marked, already final, a reply (logged and counted), or unreadable (logged).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import budgets
from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.sqs_batches import QueueRecord, process_within_budget
from trialgw.adapters.sqs_outbound import read_outbound
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.logic.dead_letters import DEAD_LETTERED_METRIC, DeadLetterDeps, settle_dead_letter
from trialgw.observability import lambda_entry, logger, metrics
from trialgw.settings import DeadLettersSettings


def _settings() -> DeadLettersSettings:
    return trial_settings.load(DeadLettersSettings)


@cache
def _deps() -> DeadLetterDeps:
    settings = _settings()
    return DeadLetterDeps(
        statuses=DynamoMessageLog(aws.dynamodb(), settings.messages_table),
        clock=time.time,
        webhook_events=SqsWebhookEventQueue(aws.sqs(), settings.webhook_events_queue_url),
    )


def _record(record: QueueRecord) -> str:
    try:
        message = read_outbound(record.body)
    except ValueError as error:
        # Nothing to mark: logged (never its content, which may hold a key or a phone number) and consumed.
        metrics.add_metric(name=DEAD_LETTERED_METRIC, unit="Count", value=1)
        cause = type(error.__cause__ or error).__name__
        logger.error("unreadable dead letter dropped", extra={"error": cause, "sqs_message_id": record.message_id})
        return "unreadable"
    # A StoreError propagates: the dead letter is retried.
    return settle_dead_letter(message, max_attempts=_settings().delivery_max_attempts, deps=_deps()).value


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A dead letter is started only while the remaining time covers it (trialgw.budgets.DEAD_LETTERS: half a batch at
    # its worst, a whole one as a rule); one not started is reported failed and comes back later.
    return process_within_budget(event, context, _record, budget=budgets.DEAD_LETTERS, sqs=None, queue_url=None)
