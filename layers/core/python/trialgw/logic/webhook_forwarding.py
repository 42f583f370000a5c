"""A trial's own webhook events, made where things happen (issue 18): an end user's message recorded for the trial
(`inbound`, CM's MO JSON) and a send's status moving (`status`, CM's status-report JSON).

Each is put on the webhook queue, where the webhook worker picks it up, reads the trial's URL and secret, and POSTs
it. Best effort: the trial's own path (a recorded message, a delivery, a status report) never fails or repeats
because an event could not be queued; that is logged (without payload) and counted (`WebhookEventsNotQueued`).

Event ids are derived from what happened, not drawn at random: a provider retrying a message or a report, or
delivery writing a status again after a lost answer, makes the same event again, and the developer's endpoint sees
one `X-Trial-Event-Id` for it (the worker sends it; receivers dedupe on it).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import NamedTuple

from trialgw.errors import QueueError
from trialgw.observability import logger, metrics
from trialgw.ports import MessageStatus, WebhookEventQueue
from trialgw.status_json import to_cm_status_json
from trialgw.webhook_events import WebhookEvent, WebhookKind

NOT_QUEUED_METRIC = "WebhookEventsNotQueued"
# An id's characters after `evt_`: 27 of the digest's URL-safe base64 (162 bits), well within `is_event_id`.
_ID_CHARS = 27


def event_id(key_hash: str, *what: str) -> str:
    """The id of the trial's event about `what` (a message id, and a status): the same whenever it is made again."""
    digest = hashlib.sha256("|".join((key_hash, *what)).encode()).digest()
    return "evt_" + base64.urlsafe_b64encode(digest).decode("ascii")[:_ID_CHARS]


def _compact(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def inbound_event(*, key_hash: str, message_id: str, payload: str, at_ms: int, ttl: int) -> WebhookEvent:
    """The `inbound` event of a message recorded for the trial: `payload` is the record's (the CM MO JSON the
    dashboard shows, keys redacted), sent compact; `message_id` the record's (provider and its id)."""
    return WebhookEvent(
        event_id=event_id(key_hash, message_id),
        key_hash=key_hash,
        kind=WebhookKind.INBOUND,
        payload=_compact(json.loads(payload)),
        created_at_ms=at_ms,
        ttl=ttl,
    )


class StatusChange(NamedTuple):
    """A send's record moved to `status` at `at` (epoch seconds): what its status event says."""

    key_hash: str
    message_id: str
    to: str
    reference: str | None
    status: MessageStatus
    at: int
    reason: str | None
    # The record's expiry, which its events share.
    ttl: int


def status_event(change: StatusChange) -> WebhookEvent:
    """The `status` event of a send's status move: CM's status-report JSON."""
    payload = to_cm_status_json(
        to=change.to, reference=change.reference, status=change.status.value, at=change.at, reason=change.reason
    )
    return WebhookEvent(
        event_id=event_id(change.key_hash, change.message_id, change.status.value),
        key_hash=change.key_hash,
        kind=WebhookKind.STATUS,
        payload=_compact(payload),
        created_at_ms=change.at * 1000,
        ttl=change.ttl,
    )


def forward(queue: WebhookEventQueue, event: WebhookEvent) -> bool:
    """Puts `event` on the webhook queue; False (logged, counted) when the queue refused it. Never raises a queue's
    failure: the trial's own path goes on as if there were no webhooks."""
    try:
        queue.enqueue(event)
    except Exception as error:
        # A queue's failure (QueueError), or anything unexpected: either way the trial's own path must not fail or
        # be repeated for it (a delivery retried for an event would send the message again). Logged by type only:
        # never the payload (an end user's text), nothing secret.
        logger.error(
            "webhook event not queued",
            extra={
                "event_id": event.event_id,
                "kind": event.kind.value,
                "error": str(error) if isinstance(error, QueueError) else type(error).__name__,
            },
        )
        metrics.add_metric(name=NOT_QUEUED_METRIC, unit="Count", value=1)
        return False
    return True


__all__ = ["NOT_QUEUED_METRIC", "StatusChange", "event_id", "forward", "inbound_event", "status_event"]
