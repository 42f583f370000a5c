"""What sits on a queue now, for `/_local/outbound`: read from moto's memory, never received.

Peeking by `ReceiveMessage` (even with `VisibilityTimeout=0`) is not a peek: every receive counts
towards the redrive policy's `maxReceiveCount`, so a tester refreshing the page would push replies
into the dead-letter queue, and a receive returns at most 10 messages. The stack reads the queue
where moto keeps it instead (`MotoBackend.peek`), under the lock every SQS call runs under.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One SQS message still on its queue (not deleted), as moto holds it."""

    queue: str
    sqs_message_id: str
    body: str
    sent_at_ms: int
    receive_count: int
    # Received by a consumer and not yet deleted: invisible to other receives until its timeout.
    in_flight: bool

    def message(self) -> Any:
        """The body as the consumer will decode it: JSON when it is JSON, else the raw string."""
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body

    def to_json(self) -> dict[str, Any]:
        sent_at = datetime.fromtimestamp(self.sent_at_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
        return {
            "queue": self.queue,
            "sqsMessageId": self.sqs_message_id,
            "sentAt": sent_at,
            "receiveCount": self.receive_count,
            "inFlight": self.in_flight,
            "message": self.message(),
        }

    def addressed_to(self, to: str) -> bool:
        message = self.message()
        return isinstance(message, dict) and message.get("to") == to
