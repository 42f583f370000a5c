"""The webhook worker (issue 18): each event on the webhook queue POSTed to its trial's URL, signed, logged, retried.

Per event (one SQS record):

- a body that is no event (`webhook_events.from_message` refuses it) is logged and dropped: retrying it could never
  help;
- the trial's URLs, secret and liveness are read when it is sent (one read per trial per batch), never carried in the
  event, so a URL changed or removed since is obeyed; no such trial, a trial expired or revoked, or no URL for the
  event's kind (`WebhookKind.url_field`): dropped without an attempt (logged at INFO, nothing in the webhook log);
- else one attempt (`WebhookPoster`: the URL checked again, redirects 307/308 followed), logged in the trial's webhook
  log (`WebhookLog.record_attempt`). 2xx: done. No answer (timeout, connection), 5xx or 429: retried, the event
  re-queued with `attempt + 1` after `retry_delay_seconds` (base × 2^attempt, at most 15 minutes, SQS's longest
  delay) for as long as the trial is live. Any other answer (4xx, a 3xx not followed) or a refused URL: not retried.
- A trial gets at most ATTEMPTS_PER_TRIAL attempts per batch: its further events in the batch are re-queued after
  DEFER_SECONDS without an attempt, so one trial's backlog (or a receiver that times out) cannot take a whole batch.

At least once: a log write or a re-queue that fails raises `RetryLater`, and the record comes back from SQS (the POST
may then be made again: receivers dedupe on `X-Trial-Event-Id`). The log is written before the retry is queued, so a
failed write never leaves two retries of one event going.

Never logged: the secret, the signature, the payload (an end user's message) or the receiver's answer (the webhook log
keeps those two for the trial's own dashboard, with the trial's messages' expiry).
"""

from __future__ import annotations

import math
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from trialgw import webhook_signing
from trialgw.errors import QueueError, StoreError
from trialgw.observability import logger
from trialgw.ports import (
    Clock,
    WebhookAttempt,
    WebhookCallFailure,
    WebhookCallResult,
    WebhookEventQueue,
    WebhookLog,
    WebhookPoster,
    WebhookTargetReader,
    WebhookTargets,
)
from trialgw.webhook_events import WebhookEvent, from_message

# SQS's longest delay of a message: the back-off's cap.
MAX_RETRY_DELAY_SECONDS = 900
# Attempts one trial gets in one batch, so one trial's backlog cannot fill a batch. Calls in flight are bounded apart
# from this: the event source runs at most `budgets.WEBHOOK_MAX_CONCURRENCY` invocations, each one call at a time.
ATTEMPTS_PER_TRIAL = 2
# How long an event deferred for its trial's share of the batch waits before it is received again.
DEFER_SECONDS = 5
USER_AGENT = "trialgw-webhooks/1"
EVENT_ID_HEADER = "X-Trial-Event-Id"
EVENT_KIND_HEADER = "X-Trial-Event-Kind"
# Statuses retried besides 5xx: the receiver asks us to slow down.
TOO_MANY_REQUESTS = 429


class WebhookOutcome(StrEnum):
    DELIVERED = "delivered"
    # Attempted, failed, re-queued to be tried again.
    RETRYING = "retrying"
    # Attempted, failed for good (or the trial ends before the next try).
    FAILED = "failed"
    # Not attempted: no trial, trial over, no URL for its kind.
    DROPPED = "dropped"
    # Not attempted: the trial had its share of this batch; re-queued.
    DEFERRED = "deferred"
    UNREADABLE = "unreadable"


class RetryLater(Exception):
    """The record could not be finished (a log write or a re-queue failed): SQS should deliver it again, after
    `seconds` (the handler sets its visibility)."""

    def __init__(self, message: str, seconds: int) -> None:
        super().__init__(message)
        self.seconds = seconds


def _new_attempt_id() -> str:
    return secrets.token_urlsafe(12)


@dataclass(frozen=True, slots=True)
class WebhookDeliveryDeps:
    targets: WebhookTargetReader
    poster: WebhookPoster
    log: WebhookLog
    queue: WebhookEventQueue
    clock: Clock
    retry_base_seconds: int = 10
    new_attempt_id: Callable[[], str] = field(default=_new_attempt_id)


def retry_delay_seconds(attempt: int, base_seconds: int) -> int:
    """How long the retry after attempt `attempt` (0: the first) waits: base × 2^attempt, at most 15 minutes."""
    # The exponent is capped so a long-lived chain never builds a huge integer: 2^10 × 1 s is already past the cap.
    delay: int = base_seconds * 2 ** min(max(0, attempt), 10)
    return min(delay, MAX_RETRY_DELAY_SECONDS)


def is_retried(result: WebhookCallResult) -> bool:
    """Whether trying again may help: no answer at all, a server error, or a 429."""
    if result.status is None:
        return result.failure is WebhookCallFailure.UNREACHABLE
    if result.failure is not None:
        return False
    return result.status >= 500 or result.status == TOO_MANY_REQUESTS  # 5xx


def request_headers(event: WebhookEvent, body: bytes, secret: str | None, now: float) -> dict[str, str]:
    """The headers of a POST of `event` (the Contract's), signed when the trial has a secret."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event.event_id,
        EVENT_KIND_HEADER: event.kind.value,
    }
    if secret:
        headers.update(webhook_signing.signed_headers(secret, int(now), body))
    return headers


class WebhookBatch:
    """One invocation's events: what it read of each trial, and how many attempts each trial has had."""

    def __init__(self, deps: WebhookDeliveryDeps) -> None:
        self._deps = deps
        self._targets: dict[str, WebhookTargets | None] = {}
        self._attempts: Counter[str] = Counter()

    def handle(self, body: str) -> WebhookOutcome:
        """What became of one queued event; raises RetryLater when SQS must deliver it again."""
        try:
            event = from_message(body)
        except ValueError as error:
            logger.error("unreadable webhook event dropped", extra={"error": str(error)})
            return WebhookOutcome.UNREADABLE
        context: dict[str, object] = {"event_id": event.event_id, "kind": event.kind.value, "attempt": event.attempt}
        targets = self._read(event)
        now = self._deps.clock()
        url = None if targets is None else targets.url_for(event.kind)
        if targets is None or not targets.is_live(now) or url is None:
            why = "no trial" if targets is None else "trial over" if not targets.is_live(now) else "no URL"
            logger.info("webhook event dropped", extra={**context, "why": why})
            return WebhookOutcome.DROPPED
        if self._attempts[event.key_hash] >= ATTEMPTS_PER_TRIAL:
            self._queue(event, DEFER_SECONDS, "could not defer the webhook event")
            logger.info("webhook event deferred: its trial had its attempts of this batch", extra=context)
            return WebhookOutcome.DEFERRED
        self._attempts[event.key_hash] += 1
        return self._attempt(event, targets, url, now, context)

    def _read(self, event: WebhookEvent) -> WebhookTargets | None:
        if event.key_hash not in self._targets:
            try:
                self._targets[event.key_hash] = self._deps.targets.targets(event.key_hash)
            except StoreError as error:
                raise RetryLater(
                    f"could not read the trial's webhooks: {error}", self._deps.retry_base_seconds
                ) from error
        return self._targets[event.key_hash]

    def _attempt(
        self, event: WebhookEvent, targets: WebhookTargets, url: str, now: float, context: dict[str, object]
    ) -> WebhookOutcome:
        body = event.payload.encode("utf-8")
        result = self._deps.poster.post(url, body, request_headers(event, body, targets.secret, now))
        delay = retry_delay_seconds(event.attempt, self._deps.retry_base_seconds)
        delivered = result.failure is None and result.status is not None and 200 <= result.status < 300
        # Retried only while the trial will still be live when the retry comes round.
        will_retry = not delivered and is_retried(result) and targets.is_live(now + delay)
        attempt = WebhookAttempt(
            attempt_id=self._deps.new_attempt_id(),
            event_id=event.event_id,
            kind=event.kind,
            url=url,
            at_ms=math.floor(now * 1000),
            status=result.status,
            latency_ms=result.latency_ms,
            error=result.error,
            answer=result.answer,
            payload=event.payload,
            will_retry=will_retry,
        )
        try:
            self._deps.log.record_attempt(attempt, event)
        except StoreError as error:
            # Before any retry is queued: the redelivered record attempts (and logs) again, one chain of retries.
            raise RetryLater(f"could not log the webhook attempt: {error}", self._deps.retry_base_seconds) from error
        outcome_context = {**context, "status": result.status, "latency_ms": result.latency_ms}
        if delivered:
            logger.info("webhook event delivered", extra=outcome_context)
            return WebhookOutcome.DELIVERED
        if will_retry:
            self._queue(event._replace(attempt=event.attempt + 1), delay, "could not queue the webhook retry")
            logger.info("webhook attempt failed; retried", extra={**outcome_context, "delay_seconds": delay})
            return WebhookOutcome.RETRYING
        logger.info("webhook attempt failed; not retried", extra={**outcome_context, "failure": result.failure})
        return WebhookOutcome.FAILED

    def _queue(self, event: WebhookEvent, delay: int, failed: str) -> None:
        try:
            self._deps.queue.enqueue(event, delay_seconds=delay)
        except QueueError as error:
            # The record itself comes back after the same delay (its visibility), in place of the copy.
            raise RetryLater(f"{failed}: {error}", delay) from error


__all__ = [
    "ATTEMPTS_PER_TRIAL",
    "DEFER_SECONDS",
    "MAX_RETRY_DELAY_SECONDS",
    "RetryLater",
    "WebhookBatch",
    "WebhookDeliveryDeps",
    "WebhookOutcome",
    "is_retried",
    "request_headers",
    "retry_delay_seconds",
]
