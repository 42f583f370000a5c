"""Delivery of one queued message: hand it to its channel's provider and record what happened.

The worker calls `deliver` once per SQS message. An accepted send is delivered only while its record
exists (a send answered 503 after SQS stored it anyway has none), and its record follows the outcome:
`sent` with the provider's id, or `failed` with the reason. A transient failure raises `RetryLater`,
so SQS redelivers the message after a back-off; the last attempt marks the record `failed` and raises
`GiveUp`, which sends the message to the dead-letter queue: no accepted message ever just disappears.
A permanent failure is recorded `failed` and consumed. Replies to end users have no record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from trialgw.delivery.provider import DeliveryFailed, Provider
from trialgw.delivery.status import StatusReport
from trialgw.errors import StoreError
from trialgw.models import Channel
from trialgw.observability import logger, metrics
from trialgw.ports import Clock, MessageRef, MessageStatus, MessageStatusStore, OutboundMessage

BACKOFF_BASE_SECONDS = 10
# SQS caps a message's visibility timeout at 12 hours; trials live 24 hours, so a few minutes is the useful range.
BACKOFF_CAP_SECONDS = 900


class DeliveryOutcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    NOT_ACCEPTED = "not_accepted"


class RetryLater(Exception):
    """A transient failure: leave the message on the queue and try again after `backoff_seconds`."""

    def __init__(self, reason: str, backoff_seconds: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.backoff_seconds = backoff_seconds


class GiveUp(RetryLater):
    """The last attempt failed transiently: the record is marked `failed`, and the message goes (at once) to the
    dead-letter queue, where an operator can inspect or redrive it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, backoff_seconds=0)


@dataclass(frozen=True, slots=True)
class DeliveryDeps:
    providers: Callable[[Channel], Provider]
    statuses: MessageStatusStore
    clock: Clock
    backoff_base_seconds: float = BACKOFF_BASE_SECONDS


def backoff_seconds(attempt: int, base_seconds: float = BACKOFF_BASE_SECONDS) -> int:
    """Exponential back-off for the `attempt`-th failed try (1-based): 10 s, 20 s, 40 s, … up to 15 minutes."""
    return int(min(BACKOFF_CAP_SECONDS, base_seconds * 2 ** max(0, attempt - 1)))


def _ref(message: OutboundMessage) -> MessageRef | None:
    if message.kind != "send" or message.key_hash is None or message.at is None:
        return None
    return MessageRef(key_hash=message.key_hash, at=message.at, message_id=message.message_id)


def deliver(message: OutboundMessage, *, attempt: int, max_attempts: int, deps: DeliveryDeps) -> DeliveryOutcome:
    """Delivers `message` on its `attempt`-th receive (SQS's receive count). Raises RetryLater for a transient
    failure before the last attempt, and StoreError when the record cannot be read or written (also retried)."""
    ref = _ref(message)
    if ref is not None and deps.statuses.begin_attempt(ref) is None:
        logger.warning(
            "queued send not delivered: no record, or already sent or failed", extra={"message_id": message.message_id}
        )
        return DeliveryOutcome.NOT_ACCEPTED
    try:
        # Choosing may read the provider credentials, which can fail like a delivery: transiently.
        delivered = deps.providers(message.channel).deliver(message)
    except DeliveryFailed as failure:
        return _failed(message, ref, failure, attempt=attempt, max_attempts=max_attempts, deps=deps)
    if ref is not None:
        try:
            deps.statuses.set_status(
                ref,
                MessageStatus.SENT,
                at=int(deps.clock()),
                provider=delivered.provider.value,
                provider_message_id=delivered.provider_message_id,
            )
        except StoreError:
            # The channel has the message: a retry would send it twice. The record stays `queued` until a status
            # report moves it on.
            logger.error("message sent but its status could not be recorded", extra={"message_id": ref.message_id})
    metrics.add_metric(name="MessageSent", unit="Count", value=1)
    logger.info("message sent", extra={"channel": message.channel.value, "provider": delivered.provider.value})
    return DeliveryOutcome.SENT


def _failed(
    message: OutboundMessage,
    ref: MessageRef | None,
    failure: DeliveryFailed,
    *,
    attempt: int,
    max_attempts: int,
    deps: DeliveryDeps,
) -> DeliveryOutcome:
    extra = {"channel": message.channel.value, "code": failure.code, "attempt": attempt, "reason": failure.reason}
    if failure.transient and attempt < max_attempts:
        logger.warning("delivery failed; retrying", extra=extra)
        raise RetryLater(failure.reason, backoff_seconds(attempt, deps.backoff_base_seconds))
    reason = failure.reason if not failure.transient else f"gave up after {attempt} attempts: {failure.reason}"
    if ref is not None:
        deps.statuses.set_status(ref, MessageStatus.FAILED, at=int(deps.clock()), reason=reason)
    metrics.add_metric(name="MessageFailed", unit="Count", value=1)
    logger.warning("delivery failed", extra=extra)
    if failure.transient:
        raise GiveUp(reason)
    # A permanent failure (invalid recipient, closed 24-hour window) is final: recorded, and not kept on any queue.
    return DeliveryOutcome.FAILED


def mark_dead_lettered(message: OutboundMessage, reason: str, deps: DeliveryDeps) -> bool:
    """Marks a send that reached the dead-letter queue `failed` (e.g. its record could not be written on the last
    attempt); True when the record moved. Raises StoreError."""
    ref = _ref(message)
    if ref is None:
        return False
    return deps.statuses.set_status(ref, MessageStatus.FAILED, at=int(deps.clock()), reason=reason)


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


def apply_reports(statuses: MessageStatusStore, reports: list[StatusReport], *, now: int, provider: str) -> int:
    """Applies a provider's status reports (by our message id, else by `provider`'s id); returns how many moved."""
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


__all__ = [
    "DeliveryDeps",
    "DeliveryOutcome",
    "GiveUp",
    "RetryLater",
    "apply_report",
    "apply_reports",
    "backoff_seconds",
    "deliver",
    "mark_dead_lettered",
]
