"""The webhook queue over SQS (issue 18): one JSON message per event (`trialgw.webhook_events.to_message`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from trialgw.errors import QueueError
from trialgw.webhook_events import WebhookEvent, to_message

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS's longest delay of one message.
MAX_DELAY_SECONDS = 900


class SqsWebhookEventQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def enqueue(self, event: WebhookEvent, *, delay_seconds: int = 0) -> None:
        delay = max(0, min(int(delay_seconds), MAX_DELAY_SECONDS))
        try:
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=to_message(event), DelaySeconds=delay)
        except (ClientError, BotoCoreError) as error:
            raise QueueError(f"could not queue the webhook event: {type(error).__name__}") from error


__all__ = ["MAX_DELAY_SECONDS", "SqsWebhookEventQueue"]
