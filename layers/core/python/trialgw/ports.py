"""Ports: what the logic needs from the outside world. Adapters implement them; tests use fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from trialgw.models import Trial

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
