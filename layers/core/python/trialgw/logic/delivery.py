"""Delivery of one queued message: hand it to its channel's provider and record what happened.

The worker calls `deliver` once per SQS message. An accepted send's record is its claim: one conditional write
(`begin_attempt`) counts the attempt and leases the record to this invocation until its deadline, only while the
record exists, is `queued` and no other lease runs; a send answered 503 after SQS stored it anyway has no record, and
a record sent or failed is never delivered again. A message whose lease another invocation holds (SQS handed it out
twice) raises `InFlight`, retried once that lease has ended. The record then follows the outcome: `sent` with the
provider's id (written only while this lease holds), or `failed` with the reason; a `sent` that cannot be written is
handed back to the worker (`DeliveryResult.unrecorded`) to write later, never by sending again. A transient failure
ends the lease and raises `RetryLater`, so SQS redelivers the message after a back-off; the last attempt marks the
record `failed` and raises `GiveUp`, which sends the message to the dead-letter queue: no accepted message ever just
disappears. A permanent failure is recorded `failed` and consumed. Replies to end users have no record (the worker
keeps a claim of its own for them).

A send whose trial had a status webhook URL when it was accepted (`OutboundMessage.status_webhook_ttl`, issue 18)
makes a `status` event once its `sent` or final `failed` is written (and the sandbox's `delivered` report one more,
through the status reports' path): one SQS SendMessage each, best effort, after the write, so an event that cannot be
queued never makes a message fail or be sent again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple

from trialgw.errors import DependencyUnavailable, StoreError
from trialgw.logic.status_reports import apply_reports
from trialgw.logic.webhook_forwarding import StatusChange, forward, status_event
from trialgw.models import Channel
from trialgw.observability import logger, metrics
from trialgw.ports import (
    AttemptState,
    Clock,
    MessageRef,
    MessageStatus,
    MessageStatusStore,
    OutboundMessage,
    WebhookEventQueue,
)
from trialgw.providers.port import NOT_CONFIGURED, Delivered, DeliveryFailed, Provider

BACKOFF_BASE_SECONDS = 10
# Emitted for each message on a channel set to a provider without its credentials or account id (alarmed).
CHANNEL_NOT_CONFIGURED_METRIC = "ChannelNotConfigured"
# SQS caps a message's visibility timeout at 12 hours; trials live 24 hours, so a few minutes is the useful range.
BACKOFF_CAP_SECONDS = 900


class DeliveryOutcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"
    NOT_ACCEPTED = "not_accepted"


class SentStatus(NamedTuple):
    """What a `sent` record says: the provider that took the message, its id there, and when."""

    provider: str
    provider_message_id: str | None
    at: int

    def to_json(self) -> str:
        """What a message carries when its `sent` is written on a later receive (the worker hands it back with it)."""
        return json.dumps(self._asdict())

    @classmethod
    def from_json(cls, raw: str) -> SentStatus:
        """The status `to_json` wrote; ValueError (or KeyError, TypeError) for anything else."""
        data = json.loads(raw)
        return cls(str(data["provider"]), data["provider_message_id"], int(data["at"]))


class DeliveryResult(NamedTuple):
    """How a delivery ended; `unrecorded` is a send the provider took whose `sent` status could not be written (the
    worker has it written with `record_sent` on a later receive, since the channel already has the message)."""

    outcome: DeliveryOutcome
    unrecorded: SentStatus | None = None


class RetryLater(Exception):
    """A transient failure: leave the message on the queue and try again after `backoff_seconds`."""

    def __init__(self, reason: str, backoff_seconds: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.backoff_seconds = backoff_seconds


class InFlight(RetryLater):
    """Another invocation holds the record's lease (SQS handed the message out again while it runs): retried once
    that lease has ended, when the holder has finished, or died and left the message to this retry."""

    def __init__(self, backoff_seconds: int) -> None:
        super().__init__("another invocation is delivering it", backoff_seconds)


class GiveUp(RetryLater):
    """The last attempt failed transiently: the record is marked `failed`, and the message goes (at once) to the
    dead-letter queue, where an operator can inspect or redrive it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, backoff_seconds=0)


class DeliveryDeps(NamedTuple):
    providers: Callable[[Channel], Provider]
    statuses: MessageStatusStore
    clock: Clock
    # The trial's own status webhook events (issue 18), of flagged sends only.
    webhook_events: WebhookEventQueue
    backoff_base_seconds: float = BACKOFF_BASE_SECONDS


def backoff_seconds(attempt: int, base_seconds: float = BACKOFF_BASE_SECONDS) -> int:
    """Exponential back-off for the `attempt`-th failed try (1-based): 10 s, 20 s, 40 s, … up to 15 minutes."""
    return int(min(BACKOFF_CAP_SECONDS, base_seconds * 2 ** max(0, attempt - 1)))


# Beyond the retry schedule itself: a backlog on the delivery queue up to what its age alarm tolerates (5 minutes).
DELIVERY_SLACK_SECONDS = 5 * 60


def max_delivery_seconds(*, max_attempts: int, backoff_base_seconds: float, visibility_timeout_seconds: int) -> int:
    """The longest an accepted send stays `queued` while every part works as designed: the one place this is derived.

    Each failed attempt but the last hides the message for at most the queue's visibility timeout (a crash or a
    timeout) plus its back-off (set by the function before its invocation ends, which is within the visibility
    timeout); after the last attempt the message reaches the dead-letter queue within one visibility timeout, and its
    consumer may need one more (a failed first try); and the queue may hold a backlog (`DELIVERY_SLACK_SECONDS`).
    A record still `queued` after this was lost by some path: the stale-message sweeper counts and fails it.
    """
    retries = sum(
        visibility_timeout_seconds + backoff_seconds(attempt, backoff_base_seconds)
        for attempt in range(1, max_attempts)
    )
    return retries + 2 * visibility_timeout_seconds + DELIVERY_SLACK_SECONDS


def _ref(message: OutboundMessage) -> MessageRef | None:
    if message.kind != "send" or message.key_hash is None or message.at is None:
        return None
    return MessageRef(key_hash=message.key_hash, at=message.at, message_id=message.message_id, at_ms=message.at_ms)


def deliver(
    message: OutboundMessage, *, attempt: int, max_attempts: int, deps: DeliveryDeps, lease_until_ms: int
) -> DeliveryResult:
    """Delivers `message` on its `attempt`-th receive (SQS's receive count, or the record's count of attempts when
    that is higher), holding its record's lease until `lease_until_ms` (epoch milliseconds: the invocation's
    deadline). Raises RetryLater for a transient failure before the last attempt, InFlight while another invocation
    holds the lease, and StoreError when the record cannot be read or written (also retried)."""
    ref = _ref(message)
    token: str | None = None
    if ref is not None:
        now_ms = int(deps.clock() * 1000)
        claim = deps.statuses.begin_attempt(ref, now_ms=now_ms, lease_until_ms=lease_until_ms)
        if claim.state is AttemptState.IN_FLIGHT:
            # At least a second: a lease that ends now is retried a moment later, not in a busy loop.
            raise InFlight(max(1, math.ceil((claim.lease_until_ms - now_ms) / 1000)))
        if claim.state is not AttemptState.OWNED:
            logger.warning(
                "queued send not delivered: no record, or already sent or failed",
                extra={"message_id": message.message_id, "found": claim.state.value},
            )
            return DeliveryResult(DeliveryOutcome.NOT_ACCEPTED)
        # Two copies of one message (a send SQS stored twice after a lost answer, or at-least-once delivery) each
        # have their own receive count; the record counts every attempt at the message, so the last attempt is the
        # last whichever copy makes it, and the provider never gets more than the attempts allowed.
        attempt = max(attempt, claim.attempts)
        token = claim.token
    try:
        try:
            # Choosing may read the provider credentials, which can fail like a delivery: transiently.
            delivered = deps.providers(message.channel).deliver(message)
        except DeliveryFailed as failure:
            return DeliveryResult(_failed(message, ref, failure, attempt=attempt, max_attempts=max_attempts, deps=deps))
    except GiveUp:
        # The record is `failed`: its lease ended with that write.
        raise
    except Exception:
        # A retry to come (a transient failure, a `failed` that could not be written, or not a provider's answer: a
        # bug, a dependency failing unexpectedly): the provider does not have the message, so the lease ends now.
        _release(ref, token, deps.statuses)
        raise
    metrics.add_metric(name="MessageSent", unit="Count", value=1)
    logger.info("message sent", extra={"channel": message.channel.value, "provider": delivered.provider.value})
    sent = SentStatus(delivered.provider.value, delivered.provider_message_id, int(deps.clock()))
    try:
        record_sent(message, sent, statuses=deps.statuses, events=deps.webhook_events, lease_token=token)
    except StoreError:
        # The channel has the message: a retry must not send it again, only write what happened. The lease stays
        # until its end, so no other receive sends it again meanwhile.
        logger.warning("message sent but its status not yet recorded", extra={"message_id": message.message_id})
        return DeliveryResult(DeliveryOutcome.SENT, unrecorded=sent)
    _apply_answer_reports(delivered, deps)
    return DeliveryResult(DeliveryOutcome.SENT)


def _apply_answer_reports(delivered: Delivered, deps: DeliveryDeps) -> None:
    """The reports a provider gave with its answer (only the sandbox's `delivered`), applied after `sent` is recorded
    (so its provider id locates the record) through the one status path webhooks take. Best effort, as a provider's
    callback that never came: the message is sent, and a failed report must not make it sent again."""
    if not delivered.reports:
        return
    try:
        apply_reports(
            deps.statuses,
            list(delivered.reports),
            now=int(deps.clock()),
            provider=delivered.provider.value,
            events=deps.webhook_events,
        )
    except DependencyUnavailable:
        logger.warning("the provider's status report could not be recorded", extra={"provider": delivered.provider})


def _release(ref: MessageRef | None, token: str | None, statuses: MessageStatusStore) -> None:
    """Ends this attempt's lease before its retry (a back-off shorter than the lease must not find it in flight).
    Best effort: a lease left behind only makes the retry wait until it ends."""
    if ref is None or token is None:
        return
    try:
        statuses.release_attempt(ref, token=token)
    except StoreError:
        logger.warning("could not release the delivery attempt's lease")


def record_sent(
    message: OutboundMessage,
    sent: SentStatus,
    *,
    statuses: MessageStatusStore,
    events: WebhookEventQueue,
    lease_token: str | None = None,
) -> None:
    """Records a send as `sent` (replies have no record); given `lease_token`, only while that lease holds (a later
    holder of the record writes its own). A record that has moved on (a status report came first, or an earlier write
    landed although its answer was lost) keeps its status. A flagged send that moved makes its `sent` event
    (`events`). Raises StoreError."""
    ref = _ref(message)
    if ref is not None:
        moved = statuses.set_status(
            ref,
            MessageStatus.SENT,
            at=sent.at,
            provider=sent.provider,
            provider_message_id=sent.provider_message_id,
            lease_token=lease_token,
        )
        if moved is not None:
            _status_event(message, ref, MessageStatus.SENT, at=sent.at, reason=None, events=events)


def _status_event(
    message: OutboundMessage,
    ref: MessageRef,
    status: MessageStatus,
    *,
    at: int,
    reason: str | None,
    events: WebhookEventQueue,
) -> None:
    """A flagged send's status event (none for any other message), from the message itself: the `sent` write, a
    transaction, returns nothing of the record."""
    ttl = message.status_webhook_ttl
    if ttl is None:
        return
    change = StatusChange(ref.key_hash, ref.message_id, message.to, message.reference, status, at, reason, ttl)
    forward(events, status_event(change))


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
        at = int(deps.clock())
        if deps.statuses.set_status(ref, MessageStatus.FAILED, at=at, reason=reason) is not None:
            _status_event(message, ref, MessageStatus.FAILED, at=at, reason=reason, events=deps.webhook_events)
    metrics.add_metric(name="MessageFailed", unit="Count", value=1)
    if failure.code == NOT_CONFIGURED:
        # The operator's to fix (its alarm says how), not the developer's: counted apart from refusals.
        metrics.add_metric(name=CHANNEL_NOT_CONFIGURED_METRIC, unit="Count", value=1)
    logger.warning("delivery failed", extra=extra)
    if failure.transient:
        raise GiveUp(reason)
    # A permanent failure (invalid recipient, closed 24-hour window) is final: recorded, and not kept on any queue.
    return DeliveryOutcome.FAILED


def mark_dead_lettered(
    message: OutboundMessage, reason: str, *, statuses: MessageStatusStore, now: int, events: WebhookEventQueue
) -> bool:
    """Marks a send that reached the dead-letter queue `failed` (its delivery never completed: a timeout, a crash, a
    store that failed on every attempt); True when the record moved, and then a flagged send makes its `failed` event
    (`events`). Only a `queued` record moves: one already sent (the provider has it) or failed (the last attempt said
    why) keeps its status and reason. Raises StoreError."""
    ref = _ref(message)
    if ref is None:
        return False
    moved = statuses.set_status(
        ref, MessageStatus.FAILED, at=now, reason=reason, only_from=frozenset({MessageStatus.QUEUED})
    )
    if moved is None:
        return False
    _status_event(message, ref, MessageStatus.FAILED, at=now, reason=reason, events=events)
    return True


__all__ = [
    "DeliveryDeps",
    "DeliveryOutcome",
    "DeliveryResult",
    "GiveUp",
    "InFlight",
    "RetryLater",
    "SentStatus",
    "backoff_seconds",
    "deliver",
    "mark_dead_lettered",
    "max_delivery_seconds",
    "record_sent",
]
