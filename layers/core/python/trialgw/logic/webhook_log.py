"""The dashboard's side of a trial's webhook deliveries (issue 18): a test event, the webhook log, a replay.

`POST /dashboard-api/webhooks/test` queues a test event: the CM MO JSON of a made-up message from the trial's first
whitelisted recipient (or an example number while none is) to the trial company, sent like any inbound event to the
inbound URL. `GET /dashboard-api/webhook-log` pages through the worker's attempts, newest first.
`POST /dashboard-api/webhook-log/{eventId}/replay` queues a logged event again under the same id (`replay`, attempt 0),
so a receiver that dedupes on `X-Trial-Event-Id` sees the same event.

Test events and replays are what a person asks for by pressing a button: they count against one limit per trial and
window (`webhook_manual_limit`), so the dashboard cannot be used to flood someone else's URL. The worker's own
retries are not counted, and no webhook traffic touches the trial's message quotas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from trialgw.channels import Channel, contacts
from trialgw.errors import DependencyUnavailable, QueueError, RateLimited, TrialGatewayError
from trialgw.logic.dashboard import UnknownTrial, Viewer, trial_status
from trialgw.logic.webhooks import TrialEnded
from trialgw.mo_json import to_cm_mo_json
from trialgw.models import InboundMessage
from trialgw.ports import Clock, WebhookAttempt, WebhookConfigStore, WebhookEventQueue, WebhookLog, WebhookSendLimit
from trialgw.quotas import iso_utc_ms
from trialgw.settings import DashboardSettings
from trialgw.webhook_events import WebhookEvent, WebhookKind, is_event_id, new_event_id

# A number set aside for fiction (Ofcom's drama range): what a test event comes from while nobody is whitelisted.
EXAMPLE_SENDER = "+447700900123"
NO_URL = "no_webhook_url"
LIMIT_NAME = "webhook_sends"


class NoWebhookUrl(TrialGatewayError):
    """A test event for a trial without an inbound URL: 400 `no_webhook_url`."""


class UnknownEvent(TrialGatewayError):
    """A replay of an event this trial's log does not hold (never attempted, expired, another trial's, or not an
    event id): 404."""


class WebhookLogDeps(NamedTuple):
    config: WebhookConfigStore
    log: WebhookLog
    queue: WebhookEventQueue
    limit: WebhookSendLimit
    clock: Clock
    new_event_id: Callable[[], str] = new_event_id


def test_text(brand: str) -> str:
    return f"This is a test event from the {brand} messaging trial"


def test_message(viewer: Viewer, settings: DashboardSettings, now: float) -> InboundMessage:
    """The made-up inbound message of a test event: from the trial's first whitelisted recipient on its channel (what
    the developer's code will see from their own phone), to the trial company's first contact point on it."""
    whitelist = viewer.state.whitelist()
    channel, sender = whitelist[0] if whitelist else (Channel.SMS, EXAMPLE_SENDER)
    recipient = next(iter(contacts(settings, channel).values()), "")
    return InboundMessage(
        channel=channel,
        sender=sender,
        recipient=recipient,
        text=test_text(settings.brand),
        provider="test",
        provider_message_id=new_event_id(),
        received_at=int(now),
    )


def _ensure_open(viewer: Viewer, now: float, what: str) -> None:
    if trial_status(viewer.state, now) != "active":
        raise TrialEnded(f"This trial has ended: it can no longer {what}. Sign up for a new one.")


def _take(viewer: Viewer, settings: DashboardSettings, deps: WebhookLogDeps, now: float) -> None:
    """Counts one event asked for by hand; RateLimited (429, Retry-After: the window's end) past the limit."""
    window = settings.webhook_manual_window_seconds
    start = int(now) // window * window
    if not deps.limit.take(
        viewer.state.trial.key_hash, window_start=start, window_seconds=window, limit=settings.webhook_manual_limit
    ):
        raise RateLimited(
            f"At most {settings.webhook_manual_limit} test events and replays per trial every "
            f"{window // 60} minutes, so these buttons cannot flood a receiver; try again later.",
            retry_after_seconds=max(1, start + window - int(now)),
            limit=LIMIT_NAME,
        )


def _enqueue(event: WebhookEvent, deps: WebhookLogDeps) -> None:
    try:
        deps.queue.enqueue(event)
    except QueueError as error:
        raise DependencyUnavailable("The event could not be queued; please retry.") from error


def send_test_event(viewer: Viewer, settings: DashboardSettings, deps: WebhookLogDeps) -> dict[str, Any]:
    """Queues a test event for the inbound URL: `{"eventId"}`. Raises TrialEnded, NoWebhookUrl, RateLimited,
    UnknownTrial, DependencyUnavailable (the queue) or StoreError."""
    now = deps.clock()
    _ensure_open(viewer, now, "send test events")
    config = deps.config.config(viewer.state.trial.key_hash)
    if config is None:
        raise UnknownTrial("There is no trial for this key. Sign up for a new one.")
    if config.inbound_url is None:
        raise NoWebhookUrl("There is no inbound URL to send a test event to: save one (inboundUrl) first.")
    _take(viewer, settings, deps, now)
    trial = viewer.state.trial
    event = WebhookEvent(
        event_id=deps.new_event_id(),
        key_hash=trial.key_hash,
        kind=WebhookKind.TEST,
        # Serialized as the inbound path serializes an MO's JSON.
        payload=json.dumps(to_cm_mo_json(test_message(viewer, settings, now)), ensure_ascii=False),
        created_at_ms=int(now * 1000),
        ttl=trial.expires_at + settings.expired_retention_seconds,
    )
    _enqueue(event, deps)
    return {"eventId": event.event_id}


def replay_event(viewer: Viewer, event_id: str, settings: DashboardSettings, deps: WebhookLogDeps) -> dict[str, Any]:
    """Queues logged event `event_id` again, same id, `replay` set, attempt 0: `{"eventId"}`. Raises UnknownEvent,
    TrialEnded, RateLimited, DependencyUnavailable (the queue) or StoreError."""
    now = deps.clock()
    if not is_event_id(event_id):
        raise UnknownEvent("There is no such event in this trial's webhook log.")
    _ensure_open(viewer, now, "replay events")
    event = deps.log.event(viewer.state.trial.key_hash, event_id)
    if event is None:
        raise UnknownEvent("There is no such event in this trial's webhook log.")
    _take(viewer, settings, deps, now)
    _enqueue(event._replace(attempt=0, replay=True), deps)
    return {"eventId": event.event_id}


def attempt_view(attempt: WebhookAttempt) -> dict[str, Any]:
    """One attempt as the Contract shows it, with `answer` and `willRetry` besides."""
    return {
        "id": attempt.attempt_id,
        "eventId": attempt.event_id,
        "kind": attempt.kind.value,
        "url": attempt.url,
        # The messages view's format: RFC 3339 UTC with milliseconds.
        "at": iso_utc_ms(attempt.at_ms),
        "status": attempt.status,
        "latencyMs": attempt.latency_ms,
        "error": attempt.error,
        "payload": attempt.payload,
        "answer": attempt.answer,
        "willRetry": attempt.will_retry,
    }


def webhook_log_view(
    viewer: Viewer, settings: DashboardSettings, deps: WebhookLogDeps, *, limit: int | None, cursor: str | None
) -> dict[str, Any]:
    """One page of attempts, newest first, like the messages view's pages. Raises InvalidCursor or StoreError."""
    size = settings.dashboard_page_size if limit is None else max(1, min(limit, settings.dashboard_page_size))
    page = deps.log.attempts(viewer.state.trial.key_hash, limit=size, cursor=cursor)
    return {"attempts": [attempt_view(attempt) for attempt in page.attempts], "next": page.cursor}


__all__ = [
    "EXAMPLE_SENDER",
    "LIMIT_NAME",
    "NO_URL",
    "NoWebhookUrl",
    "UnknownEvent",
    "WebhookLogDeps",
    "attempt_view",
    "replay_event",
    "send_test_event",
    "test_message",
    "test_text",
    "webhook_log_view",
]
