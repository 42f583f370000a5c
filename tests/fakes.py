"""In-memory fakes of the ports. They record what they were asked, and can be told to fail."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from trialgw import names
from trialgw.channels import channels
from trialgw.errors import JoinCodeTaken, MailError, QueueError, StoreError
from trialgw.models import Channel, Trial, TrialState, TrialStatus, member_token
from trialgw.ports import (
    STATUS_MOVES_FROM,
    AttemptClaim,
    AttemptState,
    BreakerState,
    CapacityStore,
    CapacityWindow,
    Clock,
    InboundClaim,
    InboundClaimState,
    InvalidCursor,
    LoggedMessage,
    Mailer,
    Membership,
    MessageLog,
    MessagePage,
    MessageRef,
    MessageStatus,
    MessageStatusStore,
    OutboundMessage,
    OutboundQueue,
    OutgoingEmail,
    QueuedMessages,
    QuotaTake,
    ReplyCount,
    ReplyLimiter,
    SendKeyClaim,
    SendKeys,
    SendKeyState,
    SignupCount,
    SignupCounter,
    StatusHook,
    StatusMove,
    StoredMessage,
    TopSender,
    TrialStore,
    WebhookAttempt,
    WebhookAttemptPage,
    WebhookConfig,
    WebhookEventQueue,
    WebhookLog,
    WebhookTargets,
    Whitelisted,
    WhitelistEntry,
    WhitelistOutcome,
    WhitelistStore,
)
from trialgw.providers.port import Delivered, DeliveryFailed, Provider, ProviderName
from trialgw.webhook_events import WebhookEvent


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeTrialStore:
    """Trials with their whitelisted `members` and `sent` counters, as the trial item holds them in DynamoDB."""

    trials: dict[str, Trial] = field(default_factory=dict)
    ttls: dict[str, int] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    sent: dict[str, dict[Channel, int]] = field(default_factory=dict)
    # The message ids the `sent` counters count, as the trial item's `counted` set.
    counted: dict[str, set[str]] = field(default_factory=dict)
    # Join codes' hashes and the key hash each names, as their lookup items.
    joins: dict[str, str] = field(default_factory=dict)
    # The trials with a status webhook URL (issue 18), as `webhook_status_url` on their item.
    status_webhooks: set[str] = field(default_factory=set)
    fail_create: bool = False
    fail_delete: bool = False
    fail_state: bool = False
    fail_take: bool = False
    fail_give_back: bool = False
    deleted: list[str] = field(default_factory=list)
    state_reads: list[str] = field(default_factory=list)
    takes: list[tuple[str, Channel, str, int, int]] = field(default_factory=list)
    given_back: list[tuple[str, Channel]] = field(default_factory=list)
    # The capacity window each take counted in, and each give-back uncounted from.
    windows: list[int] = field(default_factory=list)
    windows_given_back: list[int] = field(default_factory=list)

    def create(self, trial: Trial, *, ttl: int, join_hash: str | None = None) -> None:
        if self.fail_create or trial.key_hash in self.trials:
            raise StoreError("create failed")
        if join_hash is not None and join_hash in self.joins:
            raise JoinCodeTaken("taken")
        self.trials[trial.key_hash] = trial
        self.ttls[trial.key_hash] = ttl
        if join_hash is not None:
            self.joins[join_hash] = trial.key_hash

    def joined(self, code_hash: str) -> str | None:
        return self.joins.get(code_hash)

    def get(self, key_hash: str) -> Trial | None:
        return self.trials.get(key_hash)

    def delete(self, key_hash: str, *, join_hash: str | None = None) -> None:
        if self.fail_delete:
            raise StoreError("delete failed")
        self.deleted.append(key_hash)
        if join_hash is not None:
            self.joins.pop(join_hash, None)
        self.trials.pop(key_hash, None)
        self.members.pop(key_hash, None)
        self.sent.pop(key_hash, None)

    def whitelist(self, key_hash: str, channel: Channel, address: str) -> None:
        """Test helper: what the whitelist's transaction does to the trial's `members`."""
        self.members.setdefault(key_hash, set()).add(member_token(channel, address))

    def _state(self, key_hash: str) -> TrialState | None:
        trial = self.trials.get(key_hash)
        if trial is None:
            return None
        counts = self.sent.get(key_hash, {})
        return TrialState(
            trial=trial,
            members=frozenset(self.members.get(key_hash, set())),
            sent={channel: counts.get(channel, 0) for channel in channels()},
        )

    def state(self, key_hash: str) -> TrialState | None:
        self.state_reads.append(key_hash)
        if self.fail_state:
            raise StoreError("state failed")
        return self._state(key_hash)

    def take_quota(
        self,
        key_hash: str,
        channel: Channel,
        address: str,
        *,
        now: int,
        limit: int,
        message_id: str,
        capacity_window: int,
    ) -> QuotaTake:
        """The DynamoDB adapter's condition: trial exists, active, `now < expires_at`, member, `sent < limit`; a
        message id already counted is not counted again."""
        self.takes.append((key_hash, channel, address, now, limit))
        self.windows.append(capacity_window)
        if self.fail_take:
            raise StoreError("take failed")
        hooked = key_hash in self.status_webhooks
        if message_id in self.counted.get(key_hash, set()):
            return QuotaTake(taken=True, state=self._state(key_hash), status_webhook=hooked)
        before = self._state(key_hash)
        if (
            before is None
            or before.trial.status is not TrialStatus.ACTIVE
            or not now < before.trial.expires_at
            or not before.is_whitelisted(channel, address)
            or before.sent[channel] >= limit
        ):
            return QuotaTake(taken=False, state=before)
        counts = self.sent.setdefault(key_hash, {})
        counts[channel] = counts.get(channel, 0) + 1
        self.counted.setdefault(key_hash, set()).add(message_id)
        return QuotaTake(taken=True, state=self._state(key_hash), status_webhook=hooked)

    def give_back_quota(self, key_hash: str, channel: Channel, message_id: str, *, capacity_window: int) -> None:
        """Uncounts the message if it is counted; a message never counted (or given back already), a counter at
        zero or a trial that is gone stays as it is."""
        self.given_back.append((key_hash, channel))
        self.windows_given_back.append(capacity_window)
        if self.fail_give_back:
            raise StoreError("give back failed")
        counted = self.counted.get(key_hash, set())
        if message_id not in counted:
            return
        counted.discard(message_id)
        counts = self.sent.get(key_hash, {})
        if counts.get(channel, 0) > 0:
            counts[channel] -= 1

    def revoke(self, key_hash: str) -> bool:
        """Sets the trial's status to revoked; False when there is no such trial."""
        trial = self.trials.get(key_hash)
        if trial is None:
            return False
        self.trials[key_hash] = trial._replace(status=TrialStatus.REVOKED)
        return True


@dataclass
class FakeSignupCounter:
    """Counts per (kind, subject, window start); takes all counts of a sign-up or none, like the transaction."""

    counts: dict[tuple[str, str, int], int] = field(default_factory=dict)
    acquired: list[list[SignupCount]] = field(default_factory=list)
    fail: bool = False

    def acquire(self, counts: Sequence[SignupCount]) -> list[SignupCount]:
        if self.fail:
            raise StoreError("counter failed")
        full = [c for c in counts if self.counts.get((c.kind, c.subject, c.window_start), 0) >= c.limit]
        if full:
            return full
        for c in counts:
            key = (c.kind, c.subject, c.window_start)
            self.counts[key] = self.counts.get(key, 0) + 1
        self.acquired.append(list(counts))
        return []

    def release(self, counts: Sequence[SignupCount]) -> None:
        for c in counts:
            key = (c.kind, c.subject, c.window_start)
            if self.counts.get(key, 0) > 0:
                self.counts[key] -= 1


@dataclass
class FakeMailer:
    sent: list[OutgoingEmail] = field(default_factory=list)
    fail: bool = False

    def send(self, email: OutgoingEmail) -> None:
        if self.fail:
            raise MailError("mail failed")
        self.sent.append(email)


@dataclass
class FakeWhitelistStore:
    listed: dict[str, set[tuple[Channel, str]]] = field(default_factory=dict)
    added_at: dict[tuple[str, Channel, str], int] = field(default_factory=dict)
    expiry: dict[str, int] = field(default_factory=dict)
    hints: set[tuple[Channel, str, str]] = field(default_factory=set)
    fail: bool = False

    def add(self, trial: Trial, channel: Channel, address: str, *, now: int, limit: int, ttl: int) -> WhitelistOutcome:
        if self.fail:
            raise StoreError("whitelist failed")
        entries = self.listed.setdefault(trial.key_hash, set())
        if (channel, address) in entries:
            return WhitelistOutcome.ALREADY
        if len(entries) >= limit:
            return WhitelistOutcome.FULL
        entries.add((channel, address))
        self.added_at[(trial.key_hash, channel, address)] = now
        self.expiry[trial.key_hash] = trial.expires_at
        return WhitelistOutcome.ADDED

    def memberships(self, channel: Channel, address: str) -> list[Membership]:
        if self.fail:
            raise StoreError("whitelist failed")
        return [
            Membership(key_hash=key_hash, expires_at=self.expiry[key_hash])
            for key_hash, entries in self.listed.items()
            if (channel, address) in entries
        ]

    def remove(self, key_hash: str, channel: Channel, address: str) -> None:
        self.listed.get(key_hash, set()).discard((channel, address))

    def claim_join_hint(self, channel: Channel, address: str, *, day: str, ttl: int) -> bool:
        if (channel, address, day) in self.hints:
            return False
        self.hints.add((channel, address, day))
        return True

    def entries(self, key_hash: str) -> list[WhitelistEntry]:
        return sorted(
            (
                WhitelistEntry(channel, address, self.added_at.get((key_hash, channel, address), 0))
                for channel, address in self.listed.get(key_hash, set())
            ),
            key=lambda entry: (entry.whitelisted_at, entry.channel.value, entry.address),
        )


@dataclass
class FakeReplyLimiter:
    """Each sender's replies as (time, reply id), counted over the rolling window as the DynamoDB log counts them."""

    log: dict[tuple[Channel, str], list[tuple[int, str]]] = field(default_factory=dict)
    fail: bool = False
    # Every call: (channel, address, now, limit, window_seconds, reply_id) and what it answered.
    takes: list[tuple[Channel, str, int, int, int, str, bool]] = field(default_factory=list)

    def take(self, channel: Channel, address: str, *, now: int, limit: int, window_seconds: int, reply_id: str) -> bool:
        if self.fail:
            raise StoreError("reply limiter failed")
        replies = self.log.setdefault((channel, address), [])
        if any(counted == reply_id for _, counted in replies):
            allowed = True
        else:
            allowed = sum(at > now - window_seconds for at, _ in replies) < limit
            if allowed:
                replies.append((now, reply_id))
        self.takes.append((channel, address, now, limit, window_seconds, reply_id, allowed))
        return allowed


@dataclass
class FakeMessageLog:
    # The claim held on each provider message id: OWNED while in progress (until its lease_until), or DONE.
    claims: dict[tuple[str, str], InboundClaim] = field(default_factory=dict)
    recorded: list[LoggedMessage] = field(default_factory=list)
    released: list[tuple[str, str]] = field(default_factory=list)
    completed: list[tuple[str, str]] = field(default_factory=list)
    forgotten: list[LoggedMessage] = field(default_factory=list)
    fail_record: bool = False
    fail_forget: bool = False
    fail_complete: bool = False
    fail_release: bool = False
    tokens: Iterator[int] = field(default_factory=itertools.count)

    def claim(
        self,
        provider: str,
        provider_message_id: str,
        *,
        received_at: int,
        now: int,
        lease_seconds: int,
        ttl: int,
        received_at_ms: int | None = None,
    ) -> InboundClaim:
        held = self.claims.get((provider, provider_message_id))
        if held is not None and held.state is InboundClaimState.DONE:
            return held._replace(token="")
        if held is not None and held.lease_until >= now:
            return held._replace(state=InboundClaimState.BUSY, token="")
        claim = InboundClaim(
            InboundClaimState.OWNED,
            provider,
            provider_message_id,
            token=f"token-{next(self.tokens)}",
            received_at=held.received_at if held is not None else received_at,
            lease_until=now + lease_seconds,
            received_at_ms=held.received_at_ms if held is not None else received_at_ms,
        )
        self.claims[(provider, provider_message_id)] = claim
        return claim

    def complete(self, claim: InboundClaim, *, ttl: int) -> None:
        if self.fail_complete:
            raise StoreError("complete failed")
        key = (claim.provider, claim.provider_message_id)
        self.completed.append(key)
        self.claims[key] = self.claims[key]._replace(state=InboundClaimState.DONE)

    def release(self, claim: InboundClaim) -> None:
        if self.fail_release:
            raise StoreError("release failed")
        key = (claim.provider, claim.provider_message_id)
        self.released.append(key)
        held = self.claims.get(key)
        if held is not None and held.state is InboundClaimState.OWNED and held.token == claim.token:
            self.claims[key] = held._replace(lease_until=0)

    def page(self, key_hash: str, *, limit: int, cursor: str | None) -> MessagePage:
        mine = sorted(
            (m for m in self.recorded if m.key_hash == key_hash),
            key=lambda m: names.message_sort_key(m.at, m.message_id, at_ms=m.at_ms),
            reverse=True,
        )
        if cursor is not None and not cursor.isdigit():
            raise InvalidCursor(cursor)
        start = int(cursor or 0)
        chunk = mine[start : start + limit]
        stored = [
            StoredMessage(
                m.message_id,
                m.direction,
                m.channel,
                m.counterpart,
                m.text,
                m.at,
                m.payload,
                m.status,
                m.reason,
                at_ms=m.at_ms,
                error_code=m.error_code,
            )
            for m in chunk
        ]
        return MessagePage(stored, str(start + limit) if start + limit < len(mine) else None)

    def record(self, message: LoggedMessage) -> None:
        if self.fail_record:
            raise StoreError("record failed")
        # The first write wins, as the adapter's conditional put: one record per message id and time.
        if any(
            (m.key_hash, m.at, m.message_id) == (message.key_hash, message.at, message.message_id)
            for m in self.recorded
        ):
            return
        self.recorded.append(message)

    def forget(self, message: LoggedMessage) -> None:
        self.forgotten.append(message)
        if self.fail_forget:
            raise StoreError("forget failed")
        self.recorded = [kept for kept in self.recorded if kept.message_id != message.message_id]


@dataclass
class FakeWhitelisting:
    """The whitelist, the record and the reply's count in one write, all or nothing, over the fakes that hold them."""

    whitelist: FakeWhitelistStore
    messages: FakeMessageLog
    replies: FakeReplyLimiter

    def add_recorded(
        self,
        trial: Trial,
        channel: Channel,
        address: str,
        *,
        now: int,
        limit: int,
        ttl: int,
        record: LoggedMessage,
        reply: ReplyCount,
    ) -> Whitelisted:
        self._may_write()
        outcome = self.whitelist.add(trial, channel, address, now=now, limit=limit, ttl=ttl)
        if outcome is not WhitelistOutcome.ADDED:
            return Whitelisted(outcome)
        return Whitelisted(outcome, reply_allowed=self.record_counted(record, reply))

    def record_counted(self, record: LoggedMessage, reply: ReplyCount) -> bool:
        self._may_write()
        self.messages.record(record)
        return reply.take(self.replies)

    def _may_write(self) -> None:
        if self.messages.fail_record or self.replies.fail:
            # One write: any part failing writes none of it.
            raise StoreError("whitelisting failed")


@dataclass
class FakeOutboundQueue:
    queued: list[OutboundMessage] = field(default_factory=list)
    fail: bool = False

    def enqueue(self, message: OutboundMessage) -> None:
        if self.fail:
            raise QueueError("queue failed")
        self.queued.append(message)


@dataclass
class FakeSendKeys:
    """Idempotency-Keys as the adapter keeps them: claim, lease, fingerprint, the first accepted answer."""

    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    fail_claim: bool = False
    fail_settle: bool = False
    tokens: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def claim(
        self,
        key_hash: str,
        idempotency_key: str,
        *,
        fingerprint: str,
        message_id: str,
        now: int,
        lease_seconds: int,
        now_ms: int | None = None,
    ) -> SendKeyClaim:
        if self.fail_claim:
            raise StoreError("claim failed")
        key = (key_hash, idempotency_key)
        old = self.items.get(key)
        token = f"t{next(self.tokens)}"
        if old is not None:
            if old["fingerprint"] != fingerprint:
                return SendKeyClaim(SendKeyState.REUSED)
            if old["state"] == "done":
                return SendKeyClaim(SendKeyState.ANSWERED, answer=old["answer"])
            if old["lease_until"] > now:
                return SendKeyClaim(SendKeyState.BUSY, lease_until=old["lease_until"])
        item: dict[str, Any] = {
            "fingerprint": fingerprint,
            "state": "in_progress",
            "lease_until": now + lease_seconds,
            "token": token,
            # A holder whose lease ran out keeps its message: the retry sends that same message.
            "message_id": old["message_id"] if old else message_id,
            "at": old["at"] if old else now,
            "at_ms": old["at_ms"] if old else now_ms,
        }
        self.items[key] = item
        return SendKeyClaim(
            SendKeyState.OWNED,
            message_id=item["message_id"],
            at=item["at"],
            at_ms=item["at_ms"],
            lease_until=item["lease_until"],
            token=token,
        )

    def complete(self, key_hash: str, idempotency_key: str, *, answer: str, ttl: int) -> None:
        if self.fail_settle:
            raise StoreError("complete failed")
        item = self.items[(key_hash, idempotency_key)]
        item.update(state="done", answer=answer, ttl=ttl)

    def release(self, key_hash: str, idempotency_key: str, *, token: str) -> None:
        if self.fail_settle:
            raise StoreError("release failed")
        key = (key_hash, idempotency_key)
        if self.items.get(key, {}).get("token") == token:
            del self.items[key]


@dataclass
class FakeCapacityStore:
    """The breaker flag and the windows' counters; every call is counted, attempts that fail included."""

    state: BreakerState = field(default_factory=lambda: BreakerState(tripped=False))
    counters: dict[int, CapacityWindow] = field(default_factory=dict)
    fail_breaker: bool = False
    fail_add: bool = False
    fail_trip: bool = False
    fail_reset: bool = False
    fail_windows: bool = False
    breaker_reads: int = 0
    adds: list[tuple[int, int]] = field(default_factory=list)
    trips: list[tuple[int, int]] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)
    # Window start → the trials' counts in it, as the trial items hold them.
    senders: dict[int, list[TopSender]] = field(default_factory=dict)

    def breaker(self) -> BreakerState:
        self.breaker_reads += 1
        if self.fail_breaker:
            raise StoreError("breaker read failed")
        return self.state

    def add(self, count: int, *, window_start: int, window_seconds: int, limit: int) -> int:
        self.adds.append((count, window_start))
        if self.fail_add:
            raise StoreError("add failed")
        old = self.counters.get(window_start)
        total = (old.accepted if old else 0) + count
        self.counters[window_start] = CapacityWindow(window_start, total, limit, window_seconds)
        return total

    def trip(self, *, now: int, count: int) -> None:
        self.trips.append((now, count))
        if self.fail_trip:
            raise StoreError("trip failed")
        if not self.state.tripped:
            self.state = BreakerState(tripped=True, tripped_at=now, tripped_count=count)

    def reset(self, *, now: int) -> None:
        self.resets.append(now)
        if self.fail_reset:
            raise StoreError("reset failed")
        self.counters.clear()
        self.state = BreakerState(tripped=False)

    def windows(self) -> list[CapacityWindow]:
        if self.fail_windows:
            raise StoreError("windows failed")
        return sorted(self.counters.values(), key=lambda window: window.start, reverse=True)

    def top_senders(self, window_start: int, *, limit: int) -> list[TopSender]:
        ranked = sorted(self.senders.get(window_start, []), key=lambda sender: -sender.accepted)
        return ranked[:limit]


@dataclass
class FakeMessageStatusStore:
    """Records per message: attempts and status (a ref absent from `statuses` has no record)."""

    statuses: dict[MessageRef, MessageStatus] = field(default_factory=dict)
    attempts: dict[MessageRef, int] = field(default_factory=dict)
    details: dict[MessageRef, dict[str, str | None]] = field(default_factory=dict)
    pointers: dict[tuple[str, str], MessageRef] = field(default_factory=dict)
    # The delivery lease on each record while an attempt holds it: (token, until when in epoch milliseconds).
    leases: dict[MessageRef, tuple[str, int]] = field(default_factory=dict)
    # Flagged sends' records (issue 18): what a status write returns of them, as the adapter's ALL_NEW does.
    hooks: dict[MessageRef, StatusHook] = field(default_factory=dict)
    released: list[MessageRef] = field(default_factory=list)
    fail_attempt: bool = False
    fail_status: bool = False
    fail_release: bool = False
    fail_query: bool = False
    tokens: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, ref: MessageRef) -> None:
        self.statuses[ref] = MessageStatus.QUEUED

    def begin_attempt(self, ref: MessageRef, *, now_ms: int, lease_until_ms: int) -> AttemptClaim:
        if self.fail_attempt:
            raise StoreError("attempt failed")
        status = self.statuses.get(ref)
        if status is None:
            return AttemptClaim(AttemptState.NO_RECORD)
        if status is not MessageStatus.QUEUED:
            return AttemptClaim(AttemptState.FINISHED, self.attempts.get(ref, 0))
        held = self.leases.get(ref)
        if held is not None and held[1] >= now_ms:
            return AttemptClaim(AttemptState.IN_FLIGHT, self.attempts.get(ref, 0), lease_until_ms=held[1])
        token = f"lease-{next(self.tokens)}"
        self.leases[ref] = (token, lease_until_ms)
        self.attempts[ref] = self.attempts.get(ref, 0) + 1
        return AttemptClaim(AttemptState.OWNED, self.attempts[ref], token=token, lease_until_ms=lease_until_ms)

    def release_attempt(self, ref: MessageRef, *, token: str) -> None:
        if self.fail_release:
            raise StoreError("release failed")
        self.released.append(ref)
        if self.leases.get(ref, ("", 0))[0] == token:
            del self.leases[ref]

    def set_status(
        self,
        ref: MessageRef,
        status: MessageStatus,
        *,
        at: int,
        reason: str | None = None,
        provider: str | None = None,
        provider_message_id: str | None = None,
        only_from: frozenset[MessageStatus] | None = None,
        lease_token: str | None = None,
    ) -> StatusMove | None:
        if self.fail_status:
            raise StoreError("status failed")
        current = self.statuses.get(ref)
        if current not in STATUS_MOVES_FROM[status] or (only_from is not None and current not in only_from):
            return None
        if lease_token is not None and self.leases.get(ref, ("", 0))[0] != lease_token:
            return None
        self.statuses[ref] = status
        if status in (MessageStatus.SENT, MessageStatus.FAILED):
            self.leases.pop(ref, None)
        self.details[ref] = {"reason": reason, "provider": provider, "provider_message_id": provider_message_id}
        if status is MessageStatus.SENT:
            self.pointers[("id", ref.message_id)] = ref
            if provider and provider_message_id:
                self.pointers[(provider, provider_message_id)] = ref
            # The adapter's `sent` write is a transaction with the pointers: it returns nothing of the record.
            return StatusMove()
        return StatusMove(hook=self.hooks.get(ref))

    def queued_before(self, cutoff: int, *, limit: int) -> list[MessageRef]:
        if self.fail_query:
            raise StoreError("query failed")
        queued = [ref for ref, status in self.statuses.items() if status is MessageStatus.QUEUED and ref.at < cutoff]
        return sorted(queued, key=lambda ref: ref.at)[:limit]

    def locate(
        self, *, message_id: str | None = None, provider: str | None = None, provider_message_id: str | None = None
    ) -> MessageRef | None:
        if message_id:
            return self.pointers.get(("id", message_id))
        if provider and provider_message_id:
            return self.pointers.get((provider, provider_message_id))
        return None


@dataclass
class FakeProvider:
    """A provider that records what it delivered, or fails as told (`failures` are raised in order, then success)."""

    name: ProviderName = ProviderName.SANDBOX
    delivered: list[OutboundMessage] = field(default_factory=list)
    failures: list[DeliveryFailed] = field(default_factory=list)

    def deliver(self, message: OutboundMessage) -> Delivered:
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append(message)
        return Delivered(self.name, f"{self.name.value}-{len(self.delivered)}")


def _implements_the_ports() -> None:
    """Never called: mypy checks here that every fake implements its port."""
    clock: Clock = FakeClock()
    trials: TrialStore = FakeTrialStore()
    counter: SignupCounter = FakeSignupCounter()
    mailer: Mailer = FakeMailer()
    whitelist: WhitelistStore = FakeWhitelistStore()
    replies: ReplyLimiter = FakeReplyLimiter()
    messages: MessageLog = FakeMessageLog()
    outbound: OutboundQueue = FakeOutboundQueue()
    capacity: CapacityStore = FakeCapacityStore()
    send_keys: SendKeys = FakeSendKeys()
    statuses: MessageStatusStore = FakeMessageStatusStore()
    queued: QueuedMessages = FakeMessageStatusStore()
    provider: Provider = FakeProvider()
    del clock, trials, counter, mailer, whitelist, replies, messages, outbound, capacity, send_keys, statuses, provider
    del queued


@dataclass
class FakeWebhookConfigStore:
    """A trial's own webhooks on its trial item, over a FakeTrialStore's trials (writes only while active)."""

    trials: FakeTrialStore
    urls: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    fail: bool = False

    def _active(self, key_hash: str) -> bool:
        if self.fail:
            raise StoreError("injected")
        trial = self.trials.trials.get(key_hash)
        return trial is not None and trial.status is TrialStatus.ACTIVE

    def config(self, key_hash: str) -> WebhookConfig | None:
        if self.fail:
            raise StoreError("injected")
        if key_hash not in self.trials.trials:
            return None
        inbound, status = self.urls.get(key_hash, (None, None))
        return WebhookConfig(inbound, status, key_hash in self.secrets)

    def save_urls(self, key_hash: str, *, inbound_url: str | None, status_url: str | None) -> WebhookConfig | None:
        if not self._active(key_hash):
            return None
        self.urls[key_hash] = (inbound_url, status_url)
        return self.config(key_hash)

    def save_secret(self, key_hash: str, secret: str, *, now: int) -> bool:
        if not self._active(key_hash):
            return False
        self.secrets[key_hash] = secret
        return True

    def signing_secret(self, key_hash: str) -> str | None:
        return self.secrets.get(key_hash)

    def targets(self, key_hash: str) -> WebhookTargets | None:
        if self.fail:
            raise StoreError("injected")
        trial = self.trials.trials.get(key_hash)
        if trial is None:
            return None
        inbound, status = self.urls.get(key_hash, (None, None))
        return WebhookTargets(
            inbound_url=inbound,
            status_url=status,
            secret=self.secrets.get(key_hash),
            expires_at=trial.expires_at,
            revoked=trial.status is not TrialStatus.ACTIVE,
        )


@dataclass
class FakeWebhookEventQueue:
    """The webhook queue: each event with the delay it was queued with."""

    queued: list[tuple[WebhookEvent, int]] = field(default_factory=list)
    fail: bool = False

    def enqueue(self, event: WebhookEvent, *, delay_seconds: int = 0) -> None:
        if self.fail:
            raise QueueError("webhook queue failed")
        self.queued.append((event, delay_seconds))

    @property
    def events(self) -> list[WebhookEvent]:
        return [event for event, _ in self.queued]


@dataclass
class FakeWebhookLog:
    """The webhook log as the adapter keeps it: attempts newest first (by time, then id), the events by id."""

    logged: dict[str, list[WebhookAttempt]] = field(default_factory=dict)
    events: dict[tuple[str, str], WebhookEvent] = field(default_factory=dict)
    fail: bool = False

    def record_attempt(self, attempt: WebhookAttempt, event: WebhookEvent) -> None:
        if self.fail:
            raise StoreError("injected")
        self.logged.setdefault(event.key_hash, []).append(attempt)
        self.events[(event.key_hash, event.event_id)] = event._replace(attempt=0, replay=False)

    def attempts(self, key_hash: str, *, limit: int, cursor: str | None) -> WebhookAttemptPage:
        if self.fail:
            raise StoreError("injected")
        ordered = sorted(self.logged.get(key_hash, []), key=lambda a: (a.at_ms, a.attempt_id), reverse=True)
        start = 0
        if cursor is not None:
            ids = [a.attempt_id for a in ordered]
            if cursor not in ids:
                raise InvalidCursor("unknown cursor")
            start = ids.index(cursor) + 1
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        return WebhookAttemptPage(attempts=page, cursor=page[-1].attempt_id if more and page else None)

    def event(self, key_hash: str, event_id: str) -> WebhookEvent | None:
        if self.fail:
            raise StoreError("injected")
        return self.events.get((key_hash, event_id))


def _implements_the_webhook_ports() -> None:
    """Never called: mypy checks here that the webhook fakes implement their ports."""
    queue: WebhookEventQueue = FakeWebhookEventQueue()
    log: WebhookLog = FakeWebhookLog()
    del queue, log
