"""The stale-message sweeper: on a schedule (EventBridge in AWS, a timer thread locally), finds the records still
`queued` longer than the longest a delivery can take, counts them (`StaleQueued`, alarmed above 0) and marks them
`failed`.

The deadline is `max_delivery_seconds` of the delivery queue's own settings (attempts, back-off, visibility
timeout), the one place it is derived. One query on the messages table's status index reads only the stale records.
A run that fails is retried by the next one: nothing is lost in between.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import budgets, names
from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.logic.dead_letters import SweepDeps, sweep_stale_queued
from trialgw.logic.delivery import max_delivery_seconds
from trialgw.observability import lambda_entry, logger
from trialgw.settings import SweeperSettings

# Records marked per run at most, well within a run's time; more wait for the next run.
SWEEP_LIMIT = 500


def _settings() -> SweeperSettings:
    return trial_settings.load(SweeperSettings)


@cache
def _deps() -> SweepDeps:
    settings = _settings()
    log = DynamoMessageLog(aws.dynamodb(), settings.messages_table)
    events = SqsWebhookEventQueue(aws.sqs(), settings.webhook_events_queue_url)
    return SweepDeps(queued=log, statuses=log, clock=time.time, webhook_events=events)


def stale_after_seconds() -> int:
    settings = _settings()
    return max_delivery_seconds(
        max_attempts=settings.delivery_max_attempts,
        backoff_base_seconds=settings.delivery_backoff_base_seconds,
        visibility_timeout_seconds=names.OUTBOUND.visibility_timeout_seconds,
    )


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001 - a scheduled run
    deadline = stale_after_seconds()
    result = sweep_stale_queued(
        stale_after_seconds=deadline,
        limit=SWEEP_LIMIT,
        deps=_deps(),
        # A record is marked only while the remaining time covers one more at its worst (trialgw.budgets.SWEEPER), so
        # the run ends, and emits its count, before its timeout.
        keep_going=lambda: budgets.SWEEPER.admits(context.get_remaining_time_in_millis()),
    )
    logger.info("swept", extra={"stale": result.stale, "failed": result.failed, "stale_after_seconds": deadline})
    return {"stale": result.stale, "failed": result.failed, "staleAfterSeconds": deadline}
