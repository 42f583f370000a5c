"""The delivery queue over SQS: one JSON message per outbound message."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw.errors import QueueError
from trialgw.models import Channel
from trialgw.ports import OutboundMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsOutboundQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def enqueue(self, message: OutboundMessage) -> None:
        try:
            # Fields a reply does not have (its trial, sender, reference…) are left out rather than sent as null.
            body = {name: value for name, value in message._asdict().items() if value is not None}
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body, ensure_ascii=False))
        except (ClientError, BotoCoreError) as error:
            raise QueueError(f"could not queue the message: {type(error).__name__}") from error


def outbound_from_json(body: dict[str, Any]) -> OutboundMessage:
    """The message `SqsOutboundQueue.enqueue` wrote, from its parsed body; ValueError, KeyError or TypeError for one
    it could not have written."""
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
        at_ms=int(body["at_ms"]) if body.get("at_ms") is not None else None,
        status_webhook_ttl=int(body["status_webhook_ttl"]) if body.get("status_webhook_ttl") is not None else None,
    )


def read_outbound(raw: str) -> OutboundMessage:
    """An SQS message body of the delivery queue (or its dead-letter queue); ValueError for one that is not a message
    `enqueue` wrote."""
    try:
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        return outbound_from_json(body)
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a queued message: {type(error).__name__}") from error
