"""Ports: what the logic needs from the outside world. Adapters implement them; tests use fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from trialgw.models import Channel, Trial

# Seconds since the epoch; injected so tests can move time.
Clock = Callable[[], float]


class TrialStore(Protocol):
    def create(self, trial: Trial, *, ttl: int) -> None:
        """Stores a new trial; raises StoreError (also when the key hash already exists)."""

    def get(self, key_hash: str) -> Trial | None:
        """The stored trial, expired or not (callers check `is_usable`); raises StoreError."""

    def delete(self, key_hash: str) -> None:
        """Removes a trial; raises StoreError."""


class SignupCounter(Protocol):
    def acquire(self, subject_hash: str, *, window_start: int, window_seconds: int, limit: int) -> bool:
        """Counts one signup in the window; False (and no count) when the limit is reached."""

    def release(self, subject_hash: str, *, window_start: int) -> None:
        """Gives one counted signup back (when the signup could not complete)."""


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
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


@dataclass(frozen=True, slots=True)
class Membership:
    """An address is whitelisted on a trial until `expires_at` (the trial's own expiry)."""

    key_hash: str
    expires_at: int


class WhitelistStore(Protocol):
    def add(self, trial: Trial, channel: Channel, address: str, *, now: int, limit: int, ttl: int) -> WhitelistOutcome:
        """Whitelists an address on a trial; one conditional transaction, exact under concurrency."""

    def memberships(self, channel: Channel, address: str) -> list[Membership]:
        """The trials an address is whitelisted on, expired ones included (callers check expiry)."""

    def remove(self, key_hash: str, channel: Channel, address: str) -> None:
        """Takes an address off a trial and frees its slot; nothing happens when it was not on it."""

    def claim_join_hint(self, channel: Channel, address: str, *, day: str, ttl: int) -> bool:
        """True once per address and day: whether a how-to-join reply may be sent."""


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    key_hash: str
    direction: str
    channel: Channel
    counterpart: str
    text: str | None
    at: int
    message_id: str
    payload: str
    ttl: int


class MessageLog(Protocol):
    def claim(self, provider: str, provider_message_id: str, *, ttl: int) -> bool:
        """True the first time a provider's message id is seen; False for a redelivery."""

    def release(self, provider: str, provider_message_id: str) -> None:
        """Forgets a claim, so that the provider's retry of a message that failed is processed again."""

    def record(self, message: LoggedMessage) -> None:
        """Stores a message on its trial's message list (idempotent per message id)."""


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message for the delivery queue: a reply to an end user, or (later) an accepted send."""

    channel: Channel
    to: str
    text: str
    kind: str
    message_id: str


class OutboundQueue(Protocol):
    def enqueue(self, message: OutboundMessage) -> None:
        """Puts a message on the delivery queue; raises QueueError."""
