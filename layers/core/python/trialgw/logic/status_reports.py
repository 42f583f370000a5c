"""Status reports: a provider says what became of a message we sent, and its record moves forward.

Each provider's wire format is read by its own parser (`trialgw.providers.<name>.status`: CM's JSON reports, WhatsApp's
statuses, AWS SMS delivery events) into `StatusReport`s; this use case finds each message by our id or the provider's
and moves its record. Statuses only move forward (`trialgw.ports.STATUS_MOVES_FROM`), so a late or repeated report
changes nothing.

A move of a send whose trial had a status webhook URL when it was accepted (its record is flagged, issue 18) makes
the trial's `status` event, from the record the write returned (no call more), best effort; a report that moves
nothing makes none.
"""

from __future__ import annotations

from trialgw.errors import DependencyUnavailable, StoreError
from trialgw.logic.webhook_forwarding import StatusChange, forward, status_event
from trialgw.observability import logger
from trialgw.ports import MessageStatus, MessageStatusStore, WebhookEventQueue
from trialgw.providers.status import StatusReport


def apply_report(
    statuses: MessageStatusStore,
    status: MessageStatus,
    *,
    at: int,
    reason: str | None = None,
    message_id: str | None = None,
    provider: str | None = None,
    provider_message_id: str | None = None,
    events: WebhookEventQueue,
) -> bool:
    """Moves a sent message's record by a provider's status report (found by our id or the provider's); False when
    the message is unknown (not one of ours, or its record expired) or the report is older than what is recorded. A
    flagged send's move goes to its trial's status webhook (`events`)."""
    ref = statuses.locate(message_id=message_id, provider=provider, provider_message_id=provider_message_id)
    if ref is None:
        return False
    moved = statuses.set_status(ref, status, at=at, reason=reason)
    logger.info("status report", extra={"status": status.value, "moved": moved is not None})
    if moved is not None and moved.hook is not None:
        hook = moved.hook
        change = StatusChange(ref.key_hash, ref.message_id, hook.to, hook.reference, status, at, reason, hook.ttl)
        forward(events, status_event(change))
    return moved is not None


UNAVAILABLE = "The status reports could not be recorded; please retry."


def apply_reports(
    statuses: MessageStatusStore,
    reports: list[StatusReport],
    *,
    now: int,
    provider: str,
    events: WebhookEventQueue,
) -> int:
    """Applies a provider's status reports (by our message id, else by `provider`'s id); returns how many moved.
    Raises DependencyUnavailable when the store fails: the provider retries, and a report applied twice changes
    nothing (and makes no second event)."""
    try:
        return _apply_all(statuses, reports, now=now, provider=provider, events=events)
    except StoreError as error:
        raise DependencyUnavailable(UNAVAILABLE) from error


def _apply_all(
    statuses: MessageStatusStore,
    reports: list[StatusReport],
    *,
    now: int,
    provider: str,
    events: WebhookEventQueue,
) -> int:
    moved = 0
    for report in reports:
        status, at = MessageStatus(report.status), report.at or now
        if report.message_id:
            moved += apply_report(
                statuses, status, at=at, reason=report.reason, message_id=report.message_id, events=events
            )
        else:
            moved += apply_report(
                statuses,
                status,
                at=at,
                reason=report.reason,
                provider=provider,
                provider_message_id=report.provider_message_id,
                events=events,
            )
    return moved


__all__ = ["apply_report", "apply_reports"]
