"""The trial's domain model. The validated input of a signup is `trialgw.signup_input`'s, loaded only by sign-up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from trialgw.channels import Channel


class TrialStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class Trial(NamedTuple):
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


class TrialState(NamedTuple):
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


class InboundOutcome(StrEnum):
    """What became of an inbound message: the webhooks answer it per message (`outcomes`), and the API documents it."""

    WHITELISTED = "whitelisted"
    ALREADY_WHITELISTED = "already_whitelisted"
    WHITELIST_FULL = "whitelist_full"
    INVALID_KEY = "invalid_key"
    STOPPED = "stopped"
    RECORDED = "recorded"
    JOIN_HINT = "join_hint"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"


class InboundMessage(NamedTuple):
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
    # The time in epoch milliseconds the message is recorded at (its claim's, so a retry is the same item); None until
    # the inbound use case claims it.
    received_at_ms: int | None = None


__all__ = ["Channel", "InboundMessage", "Trial", "TrialState", "TrialStatus", "member_token"]
