"""Domain errors: logic raises them, each function's handler turns them into HTTP answers in one place."""

from __future__ import annotations


class TrialGatewayError(Exception):
    """Base of every error the logic raises on purpose."""


class InvalidInput(TrialGatewayError):
    """The request is well-formed JSON but its fields are wrong; `fields` maps field → message."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class RateLimited(TrialGatewayError):
    """Too many attempts; try again after `retry_after_seconds`."""

    def __init__(self, message: str, retry_after_seconds: int, limit: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_seconds = retry_after_seconds
        # Which limit refused (e.g. "mailbox"), for clients that explain it themselves.
        self.limit = limit


class InvalidPayload(TrialGatewayError):
    """A webhook payload that is not what the provider documents; `message` says what is wrong and where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DependencyUnavailable(TrialGatewayError):
    """An AWS service the operation needs failed; nothing usable was left behind."""

    def __init__(self, message: str, retry_after_seconds: int = 30) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_seconds = retry_after_seconds


class StoreError(Exception):
    """An adapter could not read or write its store (raised by adapters, mapped by logic)."""


class JoinCodeTaken(StoreError):
    """A new trial's join code is another trial's already (nothing was written): sign-up draws another key."""


class MailError(Exception):
    """The mailer could not hand the e-mail to the mail service."""


class QueueError(Exception):
    """The delivery queue did not take the message."""
