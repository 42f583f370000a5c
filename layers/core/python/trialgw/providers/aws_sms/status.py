"""AWS End User Messaging SMS delivery events (the configuration set's SNS topic) as status reports: each carries
our message id in `context`, as `trialgw.providers.aws_sms.delivery` sent it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trialgw.providers.aws_sms import AWS_SMS_MASKING
from trialgw.providers.masking import mask_reason
from trialgw.providers.status import StatusReport

# Events that move a message forward; PENDING/QUEUED say nothing new, UNKNOWN (no carrier report within 72 h)
# does not prove a failure, so the message stays "sent".
_EVENT_STATUS: dict[str, str] = {
    "TEXT_SUCCESSFUL": "sent",
    "TEXT_SENT": "sent",
    "TEXT_DELIVERED": "delivered",
    "TEXT_INVALID": "failed",
    "TEXT_INVALID_MESSAGE": "failed",
    "TEXT_UNREACHABLE": "failed",
    "TEXT_CARRIER_UNREACHABLE": "failed",
    "TEXT_BLOCKED": "failed",
    "TEXT_CARRIER_BLOCKED": "failed",
    "TEXT_SPAM": "failed",
    "TEXT_TTL_EXPIRED": "failed",
    "TEXT_PROTECT_BLOCKED": "failed",
}


def parse_sms_delivery_event(message: str | dict[str, Any]) -> StatusReport | None:
    """The status report in one configuration-set event, or None when it has nothing for us.

    `message` is the event itself (a dict or its JSON), or the SNS envelope around it (an SQS body from the topic,
    or a Lambda record's `Sns`). None for events that do not move a message forward (`TEXT_PENDING`,
    `TEXT_QUEUED`, `TEXT_UNKNOWN`), for sends that did not carry our message id in `context`, and for anything that
    is not such an event.
    """
    event = _unwrap(message)
    if event is None:
        return None
    context = event.get("context")
    message_id = context.get("message_id") if isinstance(context, Mapping) else None
    event_type = event.get("eventType")
    status = _EVENT_STATUS.get(event_type) if isinstance(event_type, str) else None
    if not isinstance(message_id, str) or not message_id or status is None:
        return None
    reason = None
    if status == "failed":
        parts = [event.get("messageStatus"), event.get("messageStatusDescription")]
        reason = mask_reason(
            ": ".join(p for p in parts if isinstance(p, str) and p) or str(event_type), AWS_SMS_MASKING
        )
    stamp = event.get("eventTimestamp")
    # Event timestamps are epoch milliseconds; reports are seconds.
    at = stamp // 1000 if isinstance(stamp, int) and not isinstance(stamp, bool) else None
    provider_id = event.get("messageId")
    return StatusReport(
        message_id=message_id,
        status=status,
        reason=reason,
        at=at,
        provider_message_id=provider_id if isinstance(provider_id, str) and provider_id else None,
    )


def _unwrap(message: object) -> Mapping[str, Any] | None:
    # Up to three layers: Lambda record → SNS envelope → event (its `Message` a JSON string).
    for _ in range(3):
        if isinstance(message, str | bytes):
            try:
                message = json.loads(message)
            except ValueError:
                return None
        if not isinstance(message, Mapping):
            return None
        if "eventType" in message:
            return message
        inner = message.get("Sns", message.get("Message"))
        if isinstance(inner, Mapping) and "Message" in inner:
            inner = inner["Message"]
        if inner is None:
            return None
        message = inner
    return None
