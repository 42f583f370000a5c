"""Nothing accepted hangs: dead-lettered sends end `failed`, and any send still `queued` after the longest a delivery
can take is found, counted and failed.

A message reaches the delivery queue's dead-letter queue when none of its receives completed: the provider refused
it transiently every time (the last attempt marked it `failed` already), or something other than the provider
failed (a timeout, a crash, a bug, the store refusing the attempt counter). `settle_dead_letter` marks such a send's
record `failed`, once: statuses only move forward, so a record already sent or failed keeps what it says, however
often the dead-letter queue hands the message out. Replies to end users have no record: they are logged and counted.

`sweep_stale_queued` is the invariant's check: after any fault, no record stays `queued` longer than
`max_delivery_seconds`. Whatever it finds was lost by some path (a dead letter that never reached its consumer, a
record whose message never reached the queue); it is counted (the `StaleQueued` metric, which has an alarm) and
marked `failed`, so the developer's dashboard never shows a message waiting for ever.

Either `failed` of a send whose trial had a status webhook URL when it was accepted is that trial's `status` event
(issue 18), like delivery's own, best effort: one SQS SendMessage after the write.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple

from trialgw.errors import StoreError
from trialgw.logic.delivery import mark_dead_lettered
from trialgw.logic.webhook_forwarding import StatusChange, forward, status_event
from trialgw.observability import logger, metrics
from trialgw.ports import (
    Clock,
    MessageRef,
    MessageStatus,
    MessageStatusStore,
    OutboundMessage,
    QueuedMessages,
    StatusMove,
    WebhookEventQueue,
)

DEAD_LETTERED_METRIC = "DeadLettered"
STALE_METRIC = "StaleQueued"


class DeadLetterOutcome(StrEnum):
    # The send's record moved from `queued` to `failed`.
    FAILED = "failed"
    # Its record says `sent` or `failed` already (or is gone): nothing to change.
    ALREADY_FINAL = "already_final"
    # A reply to an end user: no record to mark.
    REPLY = "reply"


def dead_letter_reason(max_attempts: int) -> str:
    """What the dashboard says of a send whose delivery never completed."""
    return (
        f"not delivered: gave up after {max_attempts} attempts "
        "(the delivery never completed: a timeout or an internal error)"
    )


def stale_reason(stale_after_seconds: int) -> str:
    """What the dashboard says of a send the sweeper found still `queued`: not "not delivered", since in one case
    (the provider took it, and writing `sent` failed) it may have been."""
    minutes = max(1, round(stale_after_seconds / 60))
    return (
        f"not confirmed: no delivery outcome was recorded within {minutes} minutes "
        "(the delivery was interrupted and will not be retried)"
    )


class DeadLetterDeps(NamedTuple):
    statuses: MessageStatusStore
    clock: Clock
    # The trial's own status webhook events (issue 18), of flagged sends only.
    webhook_events: WebhookEventQueue


def settle_dead_letter(message: OutboundMessage, *, max_attempts: int, deps: DeadLetterDeps) -> DeadLetterOutcome:
    """Marks the record of a dead-lettered send `failed` with `dead_letter_reason`; once. Raises StoreError (the
    dead letter is then retried)."""
    metrics.add_metric(name=DEAD_LETTERED_METRIC, unit="Count", value=1)
    extra = {"message_id": message.message_id, "kind": message.kind, "channel": message.channel.value}
    if message.kind != "send":
        logger.warning("dead-lettered reply: not delivered to the end user", extra=extra)
        return DeadLetterOutcome.REPLY
    reason, now = dead_letter_reason(max_attempts), int(deps.clock())
    if not mark_dead_lettered(message, reason, statuses=deps.statuses, now=now, events=deps.webhook_events):
        logger.info("dead-lettered send already final", extra=extra)
        return DeadLetterOutcome.ALREADY_FINAL
    metrics.add_metric(name="MessageFailed", unit="Count", value=1)
    logger.warning("dead-lettered send marked failed", extra=extra)
    return DeadLetterOutcome.FAILED


class SweepDeps(NamedTuple):
    queued: QueuedMessages
    statuses: MessageStatusStore
    clock: Clock
    # The trial's own status webhook events (issue 18), of flagged sends only (the moved record says).
    webhook_events: WebhookEventQueue


class SweepResult(NamedTuple):
    # Records still `queued` past the deadline (marked `failed` now, or left for the next run when the store failed).
    stale: int
    failed: int


def sweep_stale_queued(
    *, stale_after_seconds: int, limit: int, deps: SweepDeps, keep_going: Callable[[], bool] = lambda: True
) -> SweepResult:
    """Finds up to `limit` records `queued` for longer than `stale_after_seconds` and marks them `failed`, each while
    `keep_going()` (the run's time budget admits one more); emits how many were stale (0 included, so the alarm's
    metric has data). Raises StoreError when the records cannot be read."""
    now = int(deps.clock())
    found = deps.queued.queued_before(now - stale_after_seconds, limit=limit)
    reason = stale_reason(stale_after_seconds)
    stale = failed = 0
    for ref in found:
        if not keep_going():
            # No time left for one more at its worst: the rest is found again by the next run.
            break
        try:
            moved = deps.statuses.set_status(
                ref, MessageStatus.FAILED, at=now, reason=reason, only_from=frozenset({MessageStatus.QUEUED})
            )
        except StoreError:
            # Still stale, and found again by the next run.
            stale += 1
            logger.warning("stale queued record could not be marked failed", extra={"message_id": ref.message_id})
            continue
        if moved is not None:
            stale += 1
            failed += 1
            logger.error("stale queued record marked failed", extra={"message_id": ref.message_id, "queued_at": ref.at})
            _stale_event(ref, moved, at=now, reason=reason, events=deps.webhook_events)
        # Not moved: the index lagged a status change that already took it out of `queued`; not stale.
    metrics.add_metric(name=STALE_METRIC, unit="Count", value=stale)
    if failed:
        metrics.add_metric(name="MessageFailed", unit="Count", value=failed)
    return SweepResult(stale=stale, failed=failed)


def _stale_event(ref: MessageRef, moved: StatusMove, *, at: int, reason: str, events: WebhookEventQueue) -> None:
    """A flagged send's `failed` event, from the record the write returned (the sweeper has no message)."""
    hook = moved.hook
    if hook is not None:
        change = StatusChange(
            ref.key_hash, ref.message_id, hook.to, hook.reference, MessageStatus.FAILED, at, reason, hook.ttl
        )
        forward(events, status_event(change))


__all__ = [
    "DEAD_LETTERED_METRIC",
    "STALE_METRIC",
    "DeadLetterDeps",
    "DeadLetterOutcome",
    "SweepDeps",
    "SweepResult",
    "dead_letter_reason",
    "settle_dead_letter",
    "stale_reason",
    "sweep_stale_queued",
]
