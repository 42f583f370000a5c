"""The use cases' dependencies built from settings with the AWS adapters, for the functions that share a use case:
the webhooks' function and the SMS queue's both handle end users' messages (`trialgw.logic.inbound`)."""

from __future__ import annotations

import time

from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_replies import DynamoReplyLimiter
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.adapters.dynamo_whitelisting import DynamoWhitelisting
from trialgw.adapters.sqs_outbound import SqsOutboundQueue
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.logic.inbound import InboundDeps
from trialgw.ports import MessageStatusStore, WebhookEventQueue
from trialgw.settings import InboundSettings


def inbound_deps(settings: InboundSettings) -> InboundDeps:
    dynamodb = aws.dynamodb()
    whitelist = DynamoWhitelistStore(dynamodb, settings.whitelist_table, settings.trials_table)
    messages = DynamoMessageLog(dynamodb, settings.messages_table)
    # In the whitelist table: items keyed by the sender's address, beside the join hint's daily claim.
    replies = DynamoReplyLimiter(dynamodb, settings.whitelist_table)
    return InboundDeps(
        trials=DynamoTrialStore(dynamodb, settings.trials_table),
        whitelist=whitelist,
        messages=messages,
        outbound=SqsOutboundQueue(aws.sqs(), settings.outbound_queue_url),
        replies=replies,
        clock=time.time,
        whitelisting=DynamoWhitelisting(dynamodb, whitelist, messages, replies),
        webhook_events=webhook_events(settings),
    )


def webhook_events(settings: InboundSettings) -> WebhookEventQueue:
    """Where the trial's webhook events go (issue 18): recorded messages', and status reports' (`status_store`)."""
    return SqsWebhookEventQueue(aws.sqs(), settings.webhook_events_queue_url)


def status_store(settings: InboundSettings) -> MessageStatusStore:
    """Where providers' status reports move sent messages' records (`trialgw.logic.status_reports`)."""
    return DynamoMessageLog(aws.dynamodb(), settings.messages_table)


__all__ = ["inbound_deps", "status_store", "webhook_events"]
