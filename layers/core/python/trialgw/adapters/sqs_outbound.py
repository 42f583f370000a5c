"""The delivery queue over SQS: one JSON message per outbound message."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from trialgw.errors import QueueError
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
            body = {name: value for name, value in asdict(message).items() if value is not None}
            self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body, ensure_ascii=False))
        except (ClientError, BotoCoreError) as error:
            raise QueueError(f"could not queue the message: {type(error).__name__}") from error
