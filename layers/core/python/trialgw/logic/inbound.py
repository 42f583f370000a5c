"""Inbound (MO) messages: whitelisting by trial key or join code, STOP, recording, and the replies to the end user.

A recipient becomes sendable only after it sent the trial key, from that very account or number, to the trial company,
or the trial's join code (`join amber-fox-river-482`, trialgw.join_codes), which whitelists the same way after one more
read: its lookup item, which names the trial. Every step is safe to repeat. A message is claimed first, as a lease for
the function's timeout, and the claim is completed once the message is processed: a redelivery of a completed one
changes nothing; a provider's retry of one that failed half-way is processed again at once (its lease is released), and
of one whose invocation died (a crash, a timeout) once the lease has run out. Processing twice is harmless: the
whitelist takes no second slot, the record is the same item (the first claim's time), and the reply keeps its id, which
the reply limit counts once and delivery sends once.

A key's message for a recipient new to the trial makes five AWS calls, in this order: the claim (its lease); the
trial's read; one transaction that whitelists (entry, reverse index, a slot in the trial's `members`), records the
message and counts the reply against the sender's limit, all or nothing; the reply queued; the claim completed. The
count is in the transaction, before the queue, so no reply is queued uncounted; the queue comes before the completion,
so a failure or crash between the transaction and the queue leaves the claim released (or its lease to run out), and
the retry finds the sender whitelisted: it records again (the same item, first write wins), takes the reply again
(its id is counted, so allowed without a second count) and queues it under the same message id, which delivery sends
once. Already whitelisted or full, the transaction writes nothing (a failed condition cancels all of it); then the
record and the count are one more transaction (already whitelisted: six calls), or the count alone (full: six).

Any other message from a whitelisted sender is recorded for each live trial it is whitelisted for, and each record
makes that trial's `inbound` webhook event (issue 18): one SQS SendMessage more per record, best effort (a queue that
fails loses the event, never the message: `trialgw.logic.webhook_forwarding`).

Every automatic reply counts against a limit per sender (channel + address) over a rolling window; above it the
message is processed all the same, only nothing is sent back, so a stranger's stream of dead keys costs at most
the limit in paid replies.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from trialgw.addresses import find_key, is_stop
from trialgw.channels import spec_of
from trialgw.errors import DependencyUnavailable, QueueError, StoreError
from trialgw.join_codes import find_join_code, hash_join_code
from trialgw.keys import hash_key, redact_keys
from trialgw.logic.stamps import MillisStamps
from trialgw.logic.webhook_forwarding import forward, inbound_event
from trialgw.mo_json import to_cm_mo_json
from trialgw.models import Channel, InboundMessage, InboundOutcome
from trialgw.observability import logger, mask_phone, metrics
from trialgw.ports import (
    Clock,
    InboundClaimState,
    LoggedMessage,
    MessageLog,
    OutboundMessage,
    OutboundQueue,
    ReplyCount,
    ReplyLimiter,
    TrialStore,
    WebhookEventQueue,
    Whitelisting,
    WhitelistOutcome,
    WhitelistStore,
)
from trialgw.settings import InboundSettings

# How long a provider message id is remembered; providers retry for far less (CM: up to a month of
# 5-minute retries only while we fail, and a claim is released on failure or its lease runs out).
SEEN_TTL_SECONDS = 7 * 24 * 3600
UNAVAILABLE = "The message could not be processed; please retry."
DAY_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class InboundDeps:
    trials: TrialStore
    whitelist: WhitelistStore
    messages: MessageLog
    outbound: OutboundQueue
    replies: ReplyLimiter
    clock: Clock
    # Whitelists, records and counts the reply in one write (the whitelisting path's calls, module docstring).
    whitelisting: Whitelisting
    # The trial's own webhook events (issue 18): each message recorded for a trial goes to its inbound URL.
    webhook_events: WebhookEventQueue
    # The time a message is recorded at, in milliseconds: what orders it among the trial's messages.
    stamps: MillisStamps = field(default_factory=MillisStamps)


def _utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _noun(channel: Channel) -> str:
    return spec_of(channel).addressing.noun


def handle_inbound(message: InboundMessage, settings: InboundSettings, deps: InboundDeps) -> InboundOutcome:
    """Processes one inbound message. Raises DependencyUnavailable (the provider should retry)."""
    now = int(deps.clock())
    # Within the second the message was received at (a clock that ticked on since keeps to its last millisecond).
    first_second = message.received_at * 1000
    received_ms = min(max(deps.stamps.next(deps.clock), first_second), first_second + 999)
    try:
        claim = deps.messages.claim(
            message.provider,
            message.provider_message_id,
            received_at=message.received_at,
            now=now,
            lease_seconds=settings.inbound_lease_seconds,
            ttl=now + SEEN_TTL_SECONDS,
            received_at_ms=received_ms,
        )
    except StoreError as error:
        raise DependencyUnavailable(UNAVAILABLE) from error
    if claim.state is InboundClaimState.DONE:
        return InboundOutcome.DUPLICATE
    if claim.state is InboundClaimState.BUSY:
        # Not "duplicate": the holder may still die, and then only a retry processes the message.
        wait = max(1, claim.lease_until - now)
        logger.info(
            "inbound message in progress in another invocation; the provider is asked to retry",
            extra={"channel": message.channel.value, "retry_after_seconds": wait},
        )
        raise DependencyUnavailable("The message is being processed; please retry.", retry_after_seconds=wait)
    if claim.received_at:
        # A retry of a message first claimed earlier: recorded at that time, so as the same item.
        message = message._replace(received_at=claim.received_at, received_at_ms=claim.received_at_ms)
    try:
        outcome = _process(message, settings, deps)
    except Exception as error:
        # Whatever failed (a store, the queue, a bug), the provider's retry need not wait for the lease.
        try:
            deps.messages.release(claim)
        except StoreError:
            logger.warning("could not release a message claim; the provider's retry is processed once its lease ends")
        if isinstance(error, StoreError | QueueError):
            raise DependencyUnavailable(UNAVAILABLE) from error
        raise
    try:
        deps.messages.complete(claim, ttl=int(deps.clock()) + SEEN_TTL_SECONDS)
    except StoreError:
        # Processed all the same, so answered as such. A redelivery after the lease processes it again, which is
        # harmless (see the module docstring); before the lease it is asked to retry.
        logger.warning(
            "inbound message processed but its claim not completed; a redelivery after its lease repeats it harmlessly",
            extra={"channel": message.channel.value},
        )
    logger.info("inbound processed", extra={"channel": message.channel.value, "outcome": outcome.value})
    return outcome


def reply_message_id(message: InboundMessage) -> str:
    """The id of the one reply a message gets: the same on every processing of the message, so delivery's
    idempotency on the message id sends it once (32 hex characters, like every message id)."""
    return hashlib.sha256(f"{message.provider}:{message.provider_message_id}".encode()).hexdigest()[:32]


def _process(message: InboundMessage, settings: InboundSettings, deps: InboundDeps) -> InboundOutcome:
    now = int(deps.clock())
    key = find_key(message.text)
    if key is not None:
        return _whitelist(message, hash_key(key), now, settings, deps)
    code = find_join_code(message.text)
    if code is not None:
        # One read more than the key's path: the code's lookup item names the trial (trialgw.join_codes).
        return _whitelist(message, deps.trials.joined(hash_join_code(code)), now, settings, deps, by_code=True)
    if is_stop(message.text):
        return _stop(message, now, settings, deps)
    active = [m for m in deps.whitelist.memberships(message.channel, message.sender) if m.expires_at > now]
    if active:
        for membership in active:
            _record(message, membership.key_hash, membership.expires_at, settings, deps)
        return InboundOutcome.RECORDED
    day = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")
    if not deps.whitelist.claim_join_hint(message.channel, message.sender, day=day, ttl=now + 2 * DAY_SECONDS):
        return InboundOutcome.IGNORED
    _reply(
        message,
        f"Hi! This is the {settings.brand} messaging trial. To receive test messages here, send the trial "
        f"key (or its short join code) from your sign-up e-mail. No key yet? Sign up at {settings.site_url}/",
        InboundOutcome.JOIN_HINT,
        now=now,
        settings=settings,
        deps=deps,
    )
    return InboundOutcome.JOIN_HINT


def _whitelist(
    message: InboundMessage,
    key_hash: str | None,
    now: int,
    settings: InboundSettings,
    deps: InboundDeps,
    *,
    by_code: bool = False,
) -> InboundOutcome:
    """Whitelists the sender for the trial of `key_hash` (the key's, or the one a join code names: None when the code
    names none)."""
    trial = None if key_hash is None else deps.trials.get(key_hash)
    if trial is None or not trial.is_usable(now):
        what, again = ("join code", "send its join code") if by_code else ("trial key", "send it")
        _reply(
            message,
            f"That {what} is invalid or has expired. Get a new key at {settings.site_url}/ and {again} again.",
            InboundOutcome.INVALID_KEY,
            now=now,
            settings=settings,
            deps=deps,
        )
        return InboundOutcome.INVALID_KEY
    # The key's message makes one write: the whitelist, its record and its reply's count, all or nothing. An
    # outcome that adds nothing (ALREADY, FULL) wrote nothing, and records (ALREADY) and counts on its own below.
    logged = _logged(message, trial.key_hash, trial.expires_at, settings)
    count = _reply_count(message, now, settings)
    added = deps.whitelisting.add_recorded(
        trial,
        message.channel,
        message.sender,
        now=now,
        limit=settings.max_recipients,
        ttl=trial.expires_at + settings.expired_retention_seconds,
        record=logged,
        reply=count,
    )
    if added.outcome is WhitelistOutcome.FULL:
        _reply(
            message,
            f"This trial already has {settings.max_recipients} whitelisted recipients, the most a trial can "
            f"have. Sign up for a new trial at {settings.site_url}/",
            InboundOutcome.WHITELIST_FULL,
            now=now,
            settings=settings,
            deps=deps,
        )
        return InboundOutcome.WHITELIST_FULL
    until = _utc(trial.expires_at)
    if added.outcome is WhitelistOutcome.ALREADY:
        _send_reply(
            message,
            f"This {_noun(message.channel)} is already whitelisted for this trial, until {until}.",
            InboundOutcome.ALREADY_WHITELISTED,
            allowed=deps.whitelisting.record_counted(logged, count),
            settings=settings,
            deps=deps,
        )
        return InboundOutcome.ALREADY_WHITELISTED
    _send_reply(
        message,
        f"You are whitelisted for the {settings.brand} messaging trial until {until}: test messages sent to "
        f"this {_noun(message.channel)} will now reach you. Reply STOP to be removed.",
        InboundOutcome.WHITELISTED,
        allowed=added.reply_allowed,
        settings=settings,
        deps=deps,
    )
    logger.info("recipient whitelisted", extra={"channel": message.channel.value})
    return InboundOutcome.WHITELISTED


def _stop(message: InboundMessage, now: int, settings: InboundSettings, deps: InboundDeps) -> InboundOutcome:
    memberships = [m for m in deps.whitelist.memberships(message.channel, message.sender) if m.expires_at > now]
    if not memberships:
        # Not on any trial: nothing to undo, and an unasked reply would be just the spam STOP refuses.
        return InboundOutcome.IGNORED
    for membership in memberships:
        deps.whitelist.remove(membership.key_hash, message.channel, message.sender)
    _reply(
        message,
        "You have been removed from the messaging trial and will receive no more test messages. "
        "Send a trial key again to join.",
        InboundOutcome.STOPPED,
        now=now,
        settings=settings,
        deps=deps,
    )
    return InboundOutcome.STOPPED


def _logged(message: InboundMessage, key_hash: str, expires_at: int, settings: InboundSettings) -> LoggedMessage:
    # A key is stored only as its hash: the message that carried one is recorded with the key blanked out.
    text = redact_keys(message.text) if message.text is not None else None
    return LoggedMessage(
        key_hash=key_hash,
        direction="inbound",
        channel=message.channel,
        counterpart=message.sender,
        text=text,
        at=message.received_at,
        at_ms=message.received_at_ms,
        message_id=f"{message.provider}:{message.provider_message_id}",
        payload=redact_keys(json.dumps(to_cm_mo_json(message), ensure_ascii=False)),
        ttl=expires_at + settings.expired_retention_seconds,
    )


def _record(
    message: InboundMessage, key_hash: str, expires_at: int, settings: InboundSettings, deps: InboundDeps
) -> None:
    logged = _logged(message, key_hash, expires_at, settings)
    deps.messages.record(logged)
    # Once recorded, the trial's inbound webhook gets it (one SQS SendMessage more; the worker drops it when the trial
    # has no inbound URL). A provider's retry records the same item and makes the same event (its id is derived).
    # The key's, the join code's and STOP's messages make none: they are the gateway's business, not the trial's.
    forward(
        deps.webhook_events,
        inbound_event(
            key_hash=key_hash,
            message_id=logged.message_id,
            payload=logged.payload,
            at_ms=message.received_at_ms if message.received_at_ms is not None else message.received_at * 1000,
            ttl=logged.ttl,
        ),
    )


def _reply_count(message: InboundMessage, now: int, settings: InboundSettings) -> ReplyCount:
    # A message gets at most one reply, so its provider id names the reply: a provider's retry of a message whose
    # reply was counted before a later step failed (or before its invocation died) is not counted twice, and the
    # reply's message id is the same, so delivery sends it once.
    return ReplyCount(
        channel=message.channel,
        address=message.sender,
        now=now,
        limit=settings.reply_limit_per_sender,
        window_seconds=settings.reply_window_seconds,
        reply_id=f"{message.provider}:{message.provider_message_id}",
    )


def _reply(
    message: InboundMessage,
    text: str,
    outcome: InboundOutcome,
    *,
    now: int,
    settings: InboundSettings,
    deps: InboundDeps,
) -> None:
    # A StoreError propagates like any other: the message answers 503, its claim is released and the provider
    # retries. Sending unlimited would hand the limit to whoever can make the store fail, and skipping would lose a
    # real person's confirmation for good.
    allowed = _reply_count(message, now, settings).take(deps.replies)
    _send_reply(message, text, outcome, allowed=allowed, settings=settings, deps=deps)


def _send_reply(
    message: InboundMessage,
    text: str,
    outcome: InboundOutcome,
    *,
    allowed: bool,
    settings: InboundSettings,
    deps: InboundDeps,
) -> None:
    """Queues the reply the limiter allowed (`allowed`), or says why none goes."""
    if not allowed:
        logger.warning(
            "reply suppressed: sender over the reply limit",
            extra={
                "channel": message.channel.value,
                "sender": mask_phone(message.sender),
                "outcome": outcome.value,
                "reply_limit": settings.reply_limit_per_sender,
                "reply_window_seconds": settings.reply_window_seconds,
            },
        )
        metrics.add_metric(name="RepliesSuppressed", unit="Count", value=1)
        return
    # Replies go through the delivery queue like any send, but count against no quota.
    deps.outbound.enqueue(
        OutboundMessage(
            channel=message.channel, to=message.sender, text=text, kind="reply", message_id=reply_message_id(message)
        )
    )


__all__ = ["InboundDeps", "InboundOutcome", "handle_inbound", "reply_message_id"]
