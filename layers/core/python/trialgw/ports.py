"""Ports: what the logic needs from the outside world. Adapters implement them; tests use fakes.

The values the ports pass are `NamedTuple`s, not dataclasses: every function loads this module on its cold start, and a
frozen dataclass costs about 0.9 ms to create (it compiles its generated methods), a NamedTuple about 0.15 ms
(`benchmarks/cold_start.py` measures the sum). They are as immutable; change one with `_replace`.

For the same reason this module, unlike the others, does not use `from __future__ import annotations`: a NamedTuple
compiles each field annotation given as a string (a `ForwardRef`), half of what the class costs to make, so its
annotations are the types themselves, and only those naming a class defined further down are strings.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol

from trialgw.models import Channel, Trial, TrialState
from trialgw.webhook_events import WebhookEvent, WebhookKind

# Seconds since the epoch; injected so tests can move time.
Clock = Callable[[], float]


class TrialStore(Protocol):
    def create(self, trial: Trial, *, ttl: int, join_hash: str | None = None) -> None:
        """Stores a new trial, with the lookup item of its join code's hash `join_hash` in the same write; raises
        JoinCodeTaken when another trial has that code (nothing written), StoreError (also when the key hash already
        exists)."""

    def joined(self, code_hash: str) -> str | None:
        """The key hash of the trial whose join code hashes to `code_hash` (expired or not), or None; raises
        StoreError."""

    def get(self, key_hash: str) -> Trial | None:
        """The stored trial, expired or not (callers check `is_usable`); raises StoreError."""

    def delete(self, key_hash: str, *, join_hash: str | None = None) -> None:
        """Removes a trial, and its join code's lookup item when `join_hash` is given; raises StoreError."""

    def state(self, key_hash: str) -> TrialState | None:
        """The trial with its whitelist and sent counts, expired or not; raises StoreError."""

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
    ) -> "QuotaTake":
        """Counts message `message_id` on `channel`, and in the capacity window starting at `capacity_window`, in one
        conditional write: only when the trial is usable at `now`, `address` is whitelisted on `channel` and fewer
        than `limit` were sent. One message id counts once, however often the write is repeated. Raises StoreError,
        after which the message may or may not be counted (an answer lost after the write): `give_back_quota`
        settles it."""

    def give_back_quota(self, key_hash: str, channel: Channel, message_id: str, *, capacity_window: int) -> None:
        """Uncounts message `message_id` if `take_quota` counted it and it was not given back yet, whose send could
        not complete; raises StoreError."""

    def revoke(self, key_hash: str) -> bool:
        """Sets the trial's status to revoked, so its key is refused at once everywhere; False when there is no
        such trial. Raises StoreError."""


class ListedTrial(NamedTuple):
    """A trial as the operator's lists find it: enough to order trials and to read each one."""

    key_hash: str
    created_at: int


class TrialDirectory(Protocol):
    """Every trial, for the operator CLI: a read of the whole table, never on a function's path."""

    def listed(self, *, trial_id: str | None = None) -> list[ListedTrial]:
        """Every trial, or those whose public id is `trial_id`; in no particular order."""
        ...


class QuotaTake(NamedTuple):
    """What `take_quota` did: `taken`, and the trial as it is after (taken) or as it was (refused, None
    when there is no such trial), so the caller can tell which condition refused it."""

    taken: bool
    state: TrialState | None
    # Whether the trial has a status webhook URL (issue 18), read from the same write: only then does the send's
    # record carry what its status events are made of, so a trial without one costs no AWS call more.
    status_webhook: bool = False


class SignupCount(NamedTuple):
    """One counter a sign-up is counted in: what it counts (`kind`: mailbox, network, domain, overall), whose
    (`subject`: a hash, never an address), in which fixed window, and how many sign-ups it allows."""

    kind: str
    subject: str
    window_start: int
    window_seconds: int
    limit: int


class SignupCounter(Protocol):
    def acquire(self, counts: Sequence[SignupCount]) -> list[SignupCount]:
        """Counts one sign-up in every counter of `counts` at once, or in none: returns the counters that were full
        (empty when the sign-up was counted). Raises StoreError."""

    def release(self, counts: Sequence[SignupCount]) -> None:
        """Gives back a sign-up `acquire` counted (when the sign-up could not complete); raises StoreError."""


class OutgoingEmail(NamedTuple):
    to: str
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> None:
        """Hands the e-mail to the mail service; raises MailError."""


class WhitelistOutcome(StrEnum):
    ADDED = "added"
    ALREADY = "already"
    FULL = "full"


class Membership(NamedTuple):
    """An address is whitelisted on a trial until `expires_at` (the trial's own expiry)."""

    key_hash: str
    expires_at: int


class WhitelistEntry(NamedTuple):
    channel: Channel
    address: str
    whitelisted_at: int


class WhitelistStore(Protocol):
    def add(self, trial: Trial, channel: Channel, address: str, *, now: int, limit: int, ttl: int) -> WhitelistOutcome:
        """Whitelists an address on a trial; one conditional transaction, exact under concurrency."""

    def memberships(self, channel: Channel, address: str) -> list[Membership]:
        """The trials an address is whitelisted on, expired ones included (callers check expiry)."""

    def remove(self, key_hash: str, channel: Channel, address: str) -> None:
        """Takes an address off a trial and frees its slot; nothing happens when it was not on it."""

    def claim_join_hint(self, channel: Channel, address: str, *, day: str, ttl: int) -> bool:
        """True once per address and day: whether a how-to-join reply may be sent."""

    def entries(self, key_hash: str) -> list[WhitelistEntry]:
        """A trial's whitelisted recipients, oldest first; raises StoreError."""


class ReplyLimiter(Protocol):
    def take(self, channel: Channel, address: str, *, now: int, limit: int, window_seconds: int, reply_id: str) -> bool:
        """Counts one automatic reply to `address` on `channel` if fewer than `limit` were counted in the rolling
        `window_seconds` before `now`; False (and no count) otherwise. One conditional write, exact under
        concurrency. One `reply_id` counts once, however often it is taken: True again while it is remembered.
        Raises StoreError, after which the reply may or may not be counted (an answer lost after the write):
        taking it again with the same id settles it."""


class ReplyCount(NamedTuple):
    """One automatic reply to count against its sender's limit: what `ReplyLimiter.take` is given."""

    channel: Channel
    address: str
    now: int
    limit: int
    window_seconds: int
    reply_id: str

    def take(self, limiter: ReplyLimiter) -> bool:
        """Counts this reply with `limiter`: its answer."""
        return limiter.take(
            self.channel,
            self.address,
            now=self.now,
            limit=self.limit,
            window_seconds=self.window_seconds,
            reply_id=self.reply_id,
        )


class Whitelisted(NamedTuple):
    outcome: WhitelistOutcome
    # ADDED only: whether the reply may go (counted in the same write, or already by an earlier attempt of the
    # message). ALREADY and FULL counted nothing.
    reply_allowed: bool = False


class Whitelisting(Protocol):
    def add_recorded(
        self,
        trial: Trial,
        channel: Channel,
        address: str,
        *,
        now: int,
        limit: int,
        ttl: int,
        record: "LoggedMessage",
        reply: ReplyCount,
    ) -> Whitelisted:
        """`WhitelistStore.add`, and when it adds, `MessageLog.record(record)` and `ReplyLimiter.take(reply)` in the
        same write: all or nothing. ALREADY and FULL write nothing (the caller records and counts what those
        outcomes need). Raises StoreError, after which all or none of it is written."""

    def record_counted(self, record: "LoggedMessage", reply: ReplyCount) -> bool:
        """`MessageLog.record(record)` and `ReplyLimiter.take(reply)` in one write, for a key's message that
        whitelists nothing new; `take`'s answer. Raises StoreError, after which all or none of it is written."""


class LoggedMessage(NamedTuple):
    key_hash: str
    direction: str
    # A refused send's channel may be none of the trial's: the request's `allowedChannels` as given.
    channel: Channel | str
    counterpart: str
    text: str | None
    at: int
    message_id: str
    payload: str
    ttl: int
    # Outbound messages: queued → sent → delivered/read, or failed; `refused` for a refused send attempt (with its
    # answer's text as `reason` and CM's `error_code`). Inbound ones have none.
    status: str | None = None
    # The time in epoch milliseconds (`at` is its whole seconds), which orders the list; None for a record written
    # before times had milliseconds, and for inbound messages, timed by their claim's whole second.
    at_ms: int | None = None
    reason: str | None = None
    error_code: int | None = None
    # A send of a trial with a status webhook URL when it was accepted (issue 18): its status moves make status
    # events, from the record's recipient, the developer's `reference` (kept on the record for them) and `ttl`.
    status_webhook: bool = False
    reference: str | None = None


# The status of a refused send attempt on a trial's list (never a delivery status: nothing moves it).
REFUSED = "refused"


class StoredMessage(NamedTuple):
    """A message on a trial's list, as the dashboard shows it."""

    message_id: str
    direction: str
    channel: Channel | str
    counterpart: str
    text: str | None
    at: int
    payload: str
    status: str | None
    reason: str | None
    # Who took an outbound message (recorded when it became `sent`): "sandbox" means the local simulated phone.
    provider: str | None = None
    # Epoch milliseconds when recorded with them; a refused attempt's CM errorCode.
    at_ms: int | None = None
    error_code: int | None = None


class MessagePage(NamedTuple):
    messages: list[StoredMessage]
    # Where the next (older) page starts; None on the last page.
    cursor: str | None


class InvalidCursor(ValueError):
    """A paging cursor that is not one `MessageLog.page` gave out."""


class InboundClaimState(StrEnum):
    """What claiming a provider's message id found."""

    # This call holds the lease: process the message, then `complete` the claim (or `release` it on failure). A
    # first claim, or one whose earlier holder died (crash, timeout) without completing: its lease ran out.
    OWNED = "owned"
    # Processed already: a redelivery, acknowledged and ignored.
    DONE = "done"
    # Another invocation holds a lease that has not run out: it may still finish, or die and leave it to a retry.
    BUSY = "busy"


class InboundClaim(NamedTuple):
    state: InboundClaimState
    provider: str
    provider_message_id: str
    # This call's mark on an OWNED claim: `complete` and `release` act on this claim only, never on a later one's.
    token: str = ""
    # When the message was first claimed: a retry records it at that time, so its record is the same item.
    received_at: int = 0
    # Until when the holder's lease runs (OWNED: this call's; BUSY: the other invocation's).
    lease_until: int = 0
    # `received_at` in milliseconds, when the claim kept them (None: a claim written before claims had them).
    received_at_ms: int | None = None


class MessageLog(Protocol):
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
        """Claims a provider's message id for `lease_seconds` from `now`: OWNED when it was never claimed or its
        holder's lease ran out (its first `received_at` kept), DONE once it was completed, BUSY while another
        holder's lease runs. The item lives until `ttl`. Raises StoreError (and then holds no lease)."""

    def complete(self, claim: InboundClaim, *, ttl: int) -> None:
        """Marks the message processed: every later claim is DONE until `ttl`. Raises StoreError."""

    def release(self, claim: InboundClaim) -> None:
        """Ends this claim's lease at once (its message failed), so the provider's retry is processed without waiting
        for the lease to run out; a later holder's claim is left alone. Raises StoreError."""

    def record(self, message: LoggedMessage) -> None:
        """Stores a message on its trial's message list (idempotent per message id)."""

    def forget(self, message: LoggedMessage) -> None:
        """Removes a recorded message (a send that was not accepted after all); raises StoreError."""

    def page(self, key_hash: str, *, limit: int, cursor: str | None) -> MessagePage:
        """A trial's messages, newest first, `limit` at a time from `cursor`; raises InvalidCursor, StoreError."""


class SendKeyState(StrEnum):
    """What claiming a send's Idempotency-Key found."""

    # This request owns the key: send with the claim's message id and time (a first claim, or one whose earlier
    # holder died before answering: its lease ran out, and the retry goes on with the same message).
    OWNED = "owned"
    # The key's send was accepted already: `answer` is the first answer, to give again.
    ANSWERED = "answered"
    # Another request with this key and body is being processed right now, until `lease_until`.
    BUSY = "busy"
    # The key was used with another request body in this trial.
    REUSED = "reused"


class SendKeyClaim(NamedTuple):
    state: SendKeyState
    message_id: str = ""
    at: int = 0
    answer: str | None = None
    lease_until: int = 0
    # The message's time in milliseconds (None: a claim written before claims kept them).
    at_ms: int | None = None
    # This request's mark on an OWNED claim: what `release` gives back (never another request's claim).
    token: str = ""


class SendKeys(Protocol):
    """Idempotency-Keys of sends, per trial: one key is one message, however often the client sends it."""

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
        """Claims the key for this request for `lease_seconds`: OWNED (with the message id and time to send with:
        these, or those of a holder whose lease ran out), ANSWERED, BUSY or REUSED. Raises StoreError."""

    def complete(self, key_hash: str, idempotency_key: str, *, answer: str, ttl: int) -> None:
        """Keeps the accepted answer for the key until `ttl`; raises StoreError."""

    def release(self, key_hash: str, idempotency_key: str, *, token: str) -> None:
        """Forgets this request's claim, the one `token` marks (its send was refused or failed: a retry is processed
        afresh); raises StoreError."""


class OutboundMessage(NamedTuple):
    """A message for the delivery queue: a reply to an end user (`kind` "reply"), or an accepted send ("send").

    A send also carries its trial (`key_hash`) and the time its record was written (`at`), which locate the
    record whose status delivery updates; the SMS sender a developer chose (`sender`), their `reference`, and
    `rich_content` for the provider. `text` is what the end user gets (the replacement text where a country
    rule replaced the content).
    """

    channel: Channel
    to: str
    text: str
    kind: str
    message_id: str
    key_hash: str | None = None
    at: int | None = None
    sender: str | None = None
    reference: str | None = None
    rich_content: dict[str, object] | None = None
    # The record's time in milliseconds (None: a message queued before records had them).
    at_ms: int | None = None
    # Set for a send whose trial had a status webhook URL when it was accepted (issue 18): the expiry (`ttl`, the
    # record's) its status events carry. None: its status moves make no events.
    status_webhook_ttl: int | None = None


class OutboundQueue(Protocol):
    def enqueue(self, message: OutboundMessage) -> None:
        """Puts a message on the delivery queue; raises QueueError."""


class MessageStatus(StrEnum):
    """An outbound message's life: queued → sent → delivered → read, or failed (with a reason)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


# Statuses only move forward: a late "sent" report never undoes "delivered", and nothing leaves "failed" or "read".
STATUS_MOVES_FROM: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.SENT: frozenset({MessageStatus.QUEUED}),
    MessageStatus.DELIVERED: frozenset({MessageStatus.QUEUED, MessageStatus.SENT}),
    MessageStatus.READ: frozenset({MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED}),
    MessageStatus.FAILED: frozenset({MessageStatus.QUEUED, MessageStatus.SENT}),
}


class MessageRef(NamedTuple):
    """Where an accepted send's record is: its trial, the time it was recorded (seconds, and milliseconds when the
    record has them: they are in its key), its id."""

    key_hash: str
    at: int
    message_id: str
    at_ms: int | None = None


class AttemptState(StrEnum):
    """What beginning a delivery attempt on a send's record found."""

    # This call holds the record's lease and counted the attempt: hand the message to its provider.
    OWNED = "owned"
    # Sent or failed already: never handed to a provider again.
    FINISHED = "finished"
    # Queued, and another invocation's lease has not run out: it may still finish, or end and leave it to a retry.
    IN_FLIGHT = "in_flight"
    # No record: the send was answered 503 although SQS stored it; it must not be delivered.
    NO_RECORD = "no_record"


class AttemptClaim(NamedTuple):
    state: AttemptState
    # Attempts counted on the record (OWNED: this one included).
    attempts: int = 0
    # This call's mark on an OWNED lease: the `sent` write and `release_attempt` act on this lease only.
    token: str = ""
    # Until when the holder's lease runs, epoch milliseconds (OWNED: this call's; IN_FLIGHT: the other holder's).
    lease_until_ms: int = 0


class StatusHook(NamedTuple):
    """What the status events of a flagged send (`LoggedMessage.status_webhook`) are made of, from its record."""

    to: str
    reference: str | None
    ttl: int


class StatusMove(NamedTuple):
    """A status write that moved a record. `hook`: what its status event is made of, when the record is a flagged send
    and the write returned it; every write does but `sent`'s (one transaction with its pointers, which returns
    nothing), whose caller, delivery, has the same from the message (`OutboundMessage.status_webhook_ttl`)."""

    hook: StatusHook | None = None


class MessageStatusStore(Protocol):
    def begin_attempt(self, ref: MessageRef, *, now_ms: int, lease_until_ms: int) -> AttemptClaim:
        """Counts one delivery attempt on the record and leases it to this call until `lease_until_ms`, in one
        conditional write: only while it is `queued` and no other lease runs at `now_ms`. Otherwise says what it
        found (FINISHED, IN_FLIGHT, NO_RECORD). Raises StoreError (and then holds no lease)."""

    def release_attempt(self, ref: MessageRef, *, token: str) -> None:
        """Ends the lease `token` marks (its attempt failed and will be retried), so the retry is not refused as in
        flight; a later holder's lease is left alone. Raises StoreError."""

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
        """Moves the record to `status` if `STATUS_MOVES_FROM` allows it (and, given `only_from`, only from those of
        its statuses; given `lease_token`, only while that lease is held); None when it did not. Moving to `sent` or
        `failed` ends any delivery lease. Moving to `sent` with a provider id also records where status reports find
        the message (`locate`). Raises StoreError."""

    def locate(
        self, *, message_id: str | None = None, provider: str | None = None, provider_message_id: str | None = None
    ) -> MessageRef | None:
        """The record a status report means, by our message id or by the provider's; None when unknown."""


class QueuedMessages(Protocol):
    def queued_before(self, cutoff: int, *, limit: int) -> list[MessageRef]:
        """Up to `limit` records still `queued` that were recorded before `cutoff` (epoch seconds), oldest first, from
        an eventually consistent index (a record that just moved on may still be listed). Raises StoreError."""


class BreakerState(NamedTuple):
    """The capacity breaker as stored: tripped or not, and when and at what count it tripped."""

    tripped: bool
    tripped_at: int | None = None
    tripped_count: int | None = None


class CapacityWindow(NamedTuple):
    """Messages accepted across all trials in one fixed window starting at `start` (`accepted`, not `count`, which
    would shadow `tuple.count`)."""

    start: int
    accepted: int
    limit: int
    window_seconds: int


class TopSender(NamedTuple):
    """A trial by how many messages it had accepted in one capacity window: who to look at when the breaker trips."""

    key_hash: str
    email: str
    signup_network: str | None
    created_at: int
    accepted: int


class CapacityStore(Protocol):
    def breaker(self) -> BreakerState:
        """The breaker's persisted state; raises StoreError."""

    def add(self, count: int, *, window_start: int, window_seconds: int, limit: int) -> int:
        """Adds `count` accepted messages to the window; returns the window's total. Raises StoreError."""

    def trip(self, *, now: int, count: int) -> None:
        """Persists the tripped breaker (keeping the first trip's time); raises StoreError."""

    def reset(self, *, now: int) -> None:
        """Closes the breaker and empties the current windows, so counting starts afresh; raises StoreError."""

    def windows(self) -> list[CapacityWindow]:
        """The windows still stored, newest first; raises StoreError."""

    def top_senders(self, window_start: int, *, limit: int) -> list[TopSender]:
        """The `limit` trials that had the most messages accepted in the window starting at `window_start`, most
        first; raises StoreError."""


class WebhookConfig(NamedTuple):
    """A trial's own webhooks as the dashboard shows them: never the signing secret, only whether there is one."""

    inbound_url: str | None = None
    status_url: str | None = None
    has_secret: bool = False


class WebhookConfigStore(Protocol):
    """A trial's own webhooks (kept on its trial item). Writes succeed only while the trial is active (not revoked);
    they answer None or False when there is no such trial, or it was revoked."""

    def config(self, key_hash: str) -> WebhookConfig | None:
        """The trial's webhook URLs and whether it has a secret (None: no such trial), without reading the secret;
        raises StoreError."""

    def save_urls(self, key_hash: str, *, inbound_url: str | None, status_url: str | None) -> WebhookConfig | None:
        """Replaces both URLs (None removes one); the webhooks as saved. Raises StoreError."""

    def save_secret(self, key_hash: str, secret: str, *, now: int) -> bool:
        """Replaces the signing secret; the old one signs nothing from now on. Raises StoreError."""

    def signing_secret(self, key_hash: str) -> str | None:
        """The secret to sign the trial's webhook calls with (the delivery worker's read only), None without one;
        raises StoreError."""


class WebhookEventQueue(Protocol):
    """The queue between the trial's events and the webhook worker (issue 18)."""

    def enqueue(self, event: WebhookEvent, *, delay_seconds: int = 0) -> None:
        """Puts an event on the webhook queue, to be received no sooner than `delay_seconds` (at most 900, SQS's
        limit) from now; raises QueueError."""


class WebhookAttempt(NamedTuple):
    """One POST of an event to the trial's URL, as the webhook log shows it."""

    attempt_id: str
    event_id: str
    kind: WebhookKind
    url: str
    # When it started, epoch milliseconds.
    at_ms: int
    # The HTTP status answered; None when there was no answer (timeout, refused connection, refused URL).
    status: int | None
    latency_ms: int
    # Why there was no usable answer (None for any HTTP answer, 5xx included: `status` says it).
    error: str | None
    # The first bytes of the answer's body, as text (undecodable bytes replaced).
    answer: str
    # The JSON text POSTed.
    payload: str
    # Whether the worker will try this event again after this attempt.
    will_retry: bool = False


class WebhookAttemptPage(NamedTuple):
    attempts: list[WebhookAttempt]
    # Where the next (older) page starts; None on the last page.
    cursor: str | None


class WebhookLog(Protocol):
    """The trial's webhook log: each attempt (newest first), and each event it was made for (to replay it). Kept in the
    messages table under the trial, with the trial's messages' expiry."""

    def record_attempt(self, attempt: WebhookAttempt, event: WebhookEvent) -> None:
        """Stores an attempt of `event` (and the event itself, for a replay) in one write; raises StoreError."""

    def attempts(self, key_hash: str, *, limit: int, cursor: str | None) -> WebhookAttemptPage:
        """The trial's attempts, newest first, `limit` at most, from `cursor` on; raises InvalidCursor for a cursor
        this log did not give out, StoreError."""

    def event(self, key_hash: str, event_id: str) -> WebhookEvent | None:
        """The trial's event `event_id` as first attempted (None: no attempt of it was logged, or it expired); raises
        StoreError."""


# A dataclass, not a NamedTuple: its `secret` stays out of the repr (`field(repr=False)`), and a NamedTuple would
# put it in the array `json.dumps` (a structured log's encoder) makes of any tuple.
@dataclass(frozen=True, slots=True)
class WebhookTargets:
    """What the webhook worker needs of a trial to send it one event (issue 18), read in one go: its URLs, its signing
    secret (never logged: kept out of the repr) and whether it is still live."""

    inbound_url: str | None
    status_url: str | None
    secret: str | None = field(repr=False)
    expires_at: int
    revoked: bool = False

    def url_for(self, kind: WebhookKind) -> str | None:
        """The URL an event of `kind` goes to (`WebhookKind.url_field`), None when the trial has none."""
        return self.status_url if kind.url_field == "statusUrl" else self.inbound_url

    def is_live(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at


class WebhookTargetReader(Protocol):
    """The webhook worker's read of a trial's webhooks (the trials table)."""

    def targets(self, key_hash: str) -> WebhookTargets | None:
        """The trial's URLs, secret and liveness in one read (None: no such trial); raises StoreError."""


class WebhookCallFailure(StrEnum):
    """Why a webhook call gave no answer to act on."""

    # The URL, or a redirect's target, may not be called (`trialgw.webhook_urls`), or the redirect cannot be followed:
    # trying again would not change it.
    REFUSED = "refused"
    # No answer: the name did not resolve in time, the connection failed or timed out, TLS failed, the answer timed
    # out. May pass: retried.
    UNREACHABLE = "unreachable"


class WebhookCallResult(NamedTuple):
    """What one POST of an event to a trial's URL (its redirects followed) came to."""

    # The last HTTP status answered (a 3xx not followed included); None: no answer.
    status: int | None
    latency_ms: int
    # The first bytes of the last answer's body (at most 1 KiB), as text.
    answer: str = ""
    # Why the call failed without an answer to act on (None: `status` says it all).
    error: str | None = None
    failure: WebhookCallFailure | None = None


class WebhookPoster(Protocol):
    """POSTs one event's exact bytes to a trial's URL, checking the URL (and each redirect's) before it connects."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookCallResult:
        """The call's result; never raises for anything the receiver or the network does."""


class WebhookSendLimit(Protocol):
    """How many events a person may ask for by hand (the dashboard's test events and replays) per trial and window, so
    its buttons cannot flood a third party's URL (issue 18). Webhook traffic never touches the trial's quotas."""

    def take(self, key_hash: str, *, window_start: int, window_seconds: int, limit: int) -> bool:
        """Counts one event in the window starting at `window_start` (epoch seconds) in one conditional write, only
        while fewer than `limit` were counted in it and the trial is active; False when refused (nothing counted).
        Raises StoreError."""
