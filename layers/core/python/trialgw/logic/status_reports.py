"""Status reports: a provider says what became of a message we sent, and its record moves forward.

Each provider's wire format is read by its own parser (`trialgw.providers.<name>.status`: CM's JSON reports, WhatsApp's
statuses, AWS SMS delivery events) into `StatusReport`s; this use case finds each message by our id or the provider's
and moves its record. Statuses only move forward (`trialgw.ports.STATUS_MOVES_FROM`), so a late or repeated report
changes nothing.
"""

from __future__ import annotations

from trialgw.errors import DependencyUnavailable, StoreError
from trialgw.observability import logger
from trialgw.ports import MessageStatus, MessageStatusStore
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
) -> bool:
    """Moves a sent message's record by a provider's status report (found by our id or the provider's); False when
    the message is unknown (not one of ours, or its record expired) or the report is older than what is recorded."""
    ref = statuses.locate(message_id=message_id, provider=provider, provider_message_id=provider_message_id)
    if ref is None:
        return False
    moved = statuses.set_status(ref, status, at=at, reason=reason)
    logger.info("status report", extra={"status": status.value, "moved": moved})
    return moved


UNAVAILABLE = "The status reports could not be recorded; please retry."


def apply_reports(statuses: MessageStatusStore, reports: list[StatusReport], *, now: int, provider: str) -> int:
    """Applies a provider's status reports (by our message id, else by `provider`'s id); returns how many moved.
    Raises DependencyUnavailable when the store fails: the provider retries, and a report applied twice changes
    nothing."""
    try:
        return _apply_all(statuses, reports, now=now, provider=provider)
    except StoreError as error:
        raise DependencyUnavailable(UNAVAILABLE) from error


def _apply_all(statuses: MessageStatusStore, reports: list[StatusReport], *, now: int, provider: str) -> int:
    moved = 0
    for report in reports:
        status, at = MessageStatus(report.status), report.at or now
        if report.message_id:
            moved += apply_report(statuses, status, at=at, reason=report.reason, message_id=report.message_id)
        else:
            moved += apply_report(
                statuses,
                status,
                at=at,
                reason=report.reason,
                provider=provider,
                provider_message_id=report.provider_message_id,
            )
    return moved


__all__ = ["apply_report", "apply_reports"]
