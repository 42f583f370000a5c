"""The trial's domain model and the validated input of a signup."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trialgw.channels import Channel
from trialgw.linkable import linkable_part


class TrialStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class Trial:
    """A trial as stored: only the key's hash, never the key."""

    key_hash: str
    name: str
    email: str
    company: str | None
    created_at: int
    expires_at: int
    status: TrialStatus = TrialStatus.ACTIVE
    # The network the sign-up came from, masked (`203.0.113.0/24`): for operators tracing abuse, never the host.
    signup_network: str | None = None

    def is_usable(self, now: int) -> bool:
        """Active and not yet expired; DynamoDB's TTL is only the garbage collector."""
        return self.status is TrialStatus.ACTIVE and now < self.expires_at

    @property
    def expires_at_utc(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, tz=UTC)


def member_token(channel: Channel, address: str) -> str:
    """How one whitelisted recipient is spelled in the trial's set of members."""
    return f"{channel.value}#{address}"


@dataclass(frozen=True, slots=True)
class TrialState:
    """A trial with what its sends depend on: the whitelisted recipients and the messages sent per channel.

    One DynamoDB item holds all of it, so a send checks key, expiry, whitelist and quota in one
    conditional write.
    """

    trial: Trial
    members: frozenset[str]
    sent: Mapping[Channel, int]

    def is_whitelisted(self, channel: Channel, address: str) -> bool:
        return member_token(channel, address) in self.members

    def whitelist(self) -> list[tuple[Channel, str]]:
        """The whitelisted recipients as (channel, address), in a stable order."""
        pairs = []
        for token in sorted(self.members):
            channel, _, address = token.partition("#")
            pairs.append((Channel(channel), address))
        return pairs


def _clean_text(value: str, field: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    # Control characters (CR/LF included) have no place in a name and would let a value break
    # out of an e-mail header or a log line.
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value):
        raise ValueError(f"The {field} must not contain control characters.")
    # Strangers' names go into e-mails to whatever address they typed: a link or an address there would make
    # the trial a free sender of phishing mail.
    linkable = linkable_part(value)
    if linkable is not None:
        raise ValueError(
            f"The {field} must not contain {linkable}: what you enter here goes into e-mails, where mail "
            f"programs would turn it into a link. Please enter the {field} only."
        )
    return value


class SignupRequest(BaseModel):
    """What the signup form (or an API caller) sends."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=254)
    company: str | None = Field(default=None, max_length=100)
    # The page makes the box mandatory; API callers accept the terms by calling, so absence is fine,
    # but an explicit refusal is respected.
    consent: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _clean_text(value, "name")

    @field_validator("company")
    @classmethod
    def _company(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = _clean_text(value, "company")
        return cleaned or None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            # Syntax only: a deliverability check would cost a DNS lookup on every signup.
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"Enter a valid e-mail address, like name@example.com ({error}).") from error

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("Please agree to the trial terms to get a key.")
        return value


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message an end user sent to the trial company, whatever provider carried it.

    `sender` is normalized per channel (its registry addressing: E.164, or the provider's numeric account id such
    as Messenger's page-scoped id), so one person is one address however the provider spelled it.
    """

    channel: Channel
    sender: str
    recipient: str
    text: str | None
    provider: str
    provider_message_id: str
    received_at: int
    sender_name: str | None = None


__all__ = ["Channel", "InboundMessage", "SignupRequest", "Trial", "TrialState", "TrialStatus", "member_token"]
