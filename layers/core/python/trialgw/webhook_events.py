"""A trial's webhook events (issue 18): what the producers put on the webhook queue and the worker POSTs.

An event is made where something happens to a trial (an end user's message is recorded, a send's status moves, the
dashboard's "send test event"), with its payload already the exact JSON text CM would POST after onboarding: the
worker signs and sends those bytes, the log keeps them, a replay sends them again. The trial's URL and secret are
not in the event: the worker reads them when it sends, so a URL changed or removed in between is obeyed.
"""

from __future__ import annotations

import json
import secrets
from enum import StrEnum
from typing import NamedTuple

# An SQS message holds at most 256 KiB; an event's payload (an MO's CM JSON, a status report) is far smaller, and one
# larger than this is a bug, refused rather than cut.
MAX_PAYLOAD_CHARS = 64 * 1024


class WebhookKind(StrEnum):
    """Which of the trial's URLs an event goes to: inbound messages (and test events) to `inboundUrl`, status reports to
    `statusUrl`."""

    INBOUND = "inbound"
    STATUS = "status"
    TEST = "test"

    @property
    def url_field(self) -> str:
        """The Contract's name of the URL it goes to."""
        return "statusUrl" if self is WebhookKind.STATUS else "inboundUrl"


class WebhookEvent(NamedTuple):
    event_id: str
    # The trial's key hash.
    key_hash: str
    kind: WebhookKind
    # The exact JSON text POSTed (and signed).
    payload: str
    # When it happened, epoch milliseconds.
    created_at_ms: int
    # When its log items expire (epoch seconds): the trial's expiry plus the expired-trial retention, like its messages.
    ttl: int
    # The attempt that put it on the queue this time (0 the first time; the worker counts up on each retry it
    # schedules) and whether a person asked for it again (replay).
    attempt: int = 0
    replay: bool = False


def new_event_id() -> str:
    """A new event's id: `evt_` and 20 random bytes (URL-safe), unguessable and safe in a URL path."""
    return "evt_" + secrets.token_urlsafe(20)


def is_event_id(text: object) -> bool:
    return (
        isinstance(text, str)
        and text.startswith("evt_")
        and 8 <= len(text) <= 64
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in text)
    )


def to_message(event: WebhookEvent) -> str:
    """The SQS message body of an event."""
    return json.dumps(
        {
            "eventId": event.event_id,
            "trial": event.key_hash,
            "kind": event.kind.value,
            "payload": event.payload,
            "createdAtMs": event.created_at_ms,
            "ttl": event.ttl,
            "attempt": event.attempt,
            "replay": event.replay,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def from_message(body: str) -> WebhookEvent:
    """An event from its SQS message body; ValueError for anything `to_message` did not make."""
    try:
        data = json.loads(body)
        event = WebhookEvent(
            event_id=data["eventId"],
            key_hash=data["trial"],
            kind=WebhookKind(data["kind"]),
            payload=data["payload"],
            created_at_ms=data["createdAtMs"],
            ttl=data["ttl"],
            attempt=data.get("attempt", 0),
            replay=data.get("replay", False),
        )
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"not a webhook event: {type(error).__name__}") from None
    if not (
        is_event_id(event.event_id)
        and isinstance(event.key_hash, str)
        and event.key_hash
        and isinstance(event.payload, str)
        and len(event.payload) <= MAX_PAYLOAD_CHARS
        and all(isinstance(n, int) and not isinstance(n, bool) for n in (event.created_at_ms, event.ttl, event.attempt))
        and isinstance(event.replay, bool)
    ):
        raise ValueError("not a webhook event: a field has the wrong type")
    return event


__all__ = [
    "MAX_PAYLOAD_CHARS",
    "WebhookEvent",
    "WebhookKind",
    "from_message",
    "is_event_id",
    "new_event_id",
    "to_message",
]
