"""What the send use case and the status endpoint take and give: a parsed send request in, a domain outcome out.

An outcome says what happened in the domain's words: `Accepted` with its facts, `Replayed` (an Idempotency-Key's
first acceptance given again), `Refused` with one `Reason` and the data to explain it, or the trial's `TrialReport`.
None of them knows HTTP: `trialgw.gateway.respond` alone turns them into CM's envelopes, statuses and headers.
A failed store or queue is no outcome but the domain error `DependencyUnavailable`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from trialgw.addresses import normalize_address
from trialgw.models import Channel, TrialState
from trialgw.quotas import remaining
from trialgw.rich_content import RichProblem
from trialgw.settings import SendSettings
from trialgw.sms import SmsParts


class BodyType(StrEnum):
    """`body.type`, any letter case: `auto` (GSM-7 or Unicode, as the text needs; `dcs` does not apply), `text`
    (the encoding `dcs` names, when given) or `binary` (CM's machine messages, which the trial refuses)."""

    AUTO = "auto"
    TEXT = "text"
    BINARY = "binary"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """One parsed send: the first `msg` item and its first recipient, and how many of each the request named.

    `token` is the normalized (lower-case) key or None; it is left out of `repr` so it never reaches a log.
    `content` may be empty when `rich_content` is given (the use case checks it for the channel).
    `channel` is None when `channel_raw` is no trial channel. `to_raw` and `reference` are echoed as sent;
    `recipient` is the normalized address on `channel`, or None when it is not one. `most_channels` is the
    longest `allowedChannels` of any item (distinct channels), `items` the number of `msg` items, `recipients`
    the number of `to` entries of the first item: what the checks of unsupported features read.
    """

    token: str | None = field(repr=False)
    channel: Channel | None
    channel_raw: str
    sender: str
    to_raw: str
    content: str
    body_type: BodyType
    reference: str | None
    rich_content: dict[str, object] | None
    # CM's SMS options as given (None: absent): the bounds of the message's parts and the data coding scheme.
    min_parts: int | None = None
    max_parts: int | None = None
    dcs: int | None = None
    most_channels: int = 1
    items: int = 1
    recipients: int = 1
    # A hash of the whole JSON document, keys sorted: what an Idempotency-Key's retry must repeat.
    fingerprint: str = ""
    recipient: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        # Normalized once (a phone number is parsed): every check and the plan read it.
        object.__setattr__(self, "recipient", recipient_address(self.channel, self.to_raw))


def recipient_address(channel: Channel | None, raw: str) -> str | None:
    """The recipient's canonical address on `channel`: E.164 for SMS and WhatsApp (`+…`, `00…` or bare
    international digits), the numeric id for Messenger (PSID) and Instagram (IGSID); None when it is none."""
    if channel is None:
        return None
    return normalize_address(channel, raw)


class Reason(StrEnum):
    """Why a send (or a status request) was refused: one name per check, stable for logs and metrics."""

    NOT_JSON = "not_json"
    INVALID_POST_DATA = "invalid_post_data"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_BUSY = "idempotency_key_busy"
    AT_CAPACITY = "at_capacity"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - a reason's name, not a secret
    MULTIPLE_CHANNELS = "multiple_channels"
    BULK_MESSAGES = "bulk_messages"
    MULTIPLE_RECIPIENTS = "multiple_recipients"
    CHANNEL_NOT_OFFERED = "channel_not_offered"
    SMS_SENDER_INVALID = "sms_sender_invalid"
    COUNTRY_BLOCKED = "country_blocked"
    BINARY_NOT_SUPPORTED = "binary_not_supported"
    DCS_NOT_SUPPORTED = "dcs_not_supported"
    TOO_MANY_PARTS = "too_many_parts"
    MAX_PARTS_EXCEEDED = "max_parts_exceeded"
    NO_CONTENT = "no_content"
    RICH_CONTENT_REFUSED = "rich_content_refused"
    INVALID_RECIPIENT = "invalid_recipient"
    NOT_WHITELISTED = "not_whitelisted"
    QUOTA_USED_UP = "quota_used_up"


class Allowance(NamedTuple):
    """What a known-good trial has left: its expiry and the messages left on each offered channel."""

    expires_at: int
    remaining: tuple[tuple[Channel, int], ...]

    @classmethod
    def of(cls, state: TrialState, settings: SendSettings) -> Allowance:
        left = tuple((channel, remaining(state, settings, channel)) for channel in settings.offered_channels)
        return cls(state.trial.expires_at, left)


class Objection(NamedTuple):
    """A check's refusal before the request's echo and the trial are attached: the reason and what explains it."""

    reason: Reason
    # The request's channel (a quota, a whitelist), or the channel name as requested when it is no offered one.
    channel: Channel | None = None
    channel_raw: str | None = None
    recipient: str | None = None
    # The SMS's parts as counted, when it needs too many or its `dcs` does not fit it.
    sms: SmsParts | None = None
    # The request's `maximumNumberOfMessageParts`, when the SMS needs more; its `dcs`, when refused.
    max_parts: int | None = None
    dcs: int | None = None
    # What is wrong with the request's `richContent` for its channel.
    rich: RichProblem | None = None
    # How long to wait before retrying (the capacity breaker, an Idempotency-Key in use).
    retry_after_seconds: int | None = None
    # What was wrong, for the log only (a JSON path, never a value).
    hint: str | None = None


class Refused(NamedTuple):
    """A refused send: the objection, the request's `to` and `reference` as sent, and the trial's allowance once
    the key is known good (None before that, and when the key is the reason)."""

    objection: Objection
    to: str | None = None
    reference: str | None = None
    allowance: Allowance | None = None

    @property
    def reason(self) -> Reason:
        return self.objection.reason


class Accepted(NamedTuple):
    """An accepted send: the message is recorded, counted and on the delivery queue."""

    to: str
    reference: str | None
    parts: int
    # A country rule's notice (content replaced, or a content-filter warning).
    message_details: str | None
    allowance: Allowance

    def to_json(self) -> str:
        """The facts an Idempotency-Key keeps, to give the same acceptance again."""
        facts: dict[str, Any] = {
            "to": self.to,
            "reference": self.reference,
            "parts": self.parts,
            "messageDetails": self.message_details,
            "expiresAt": self.allowance.expires_at,
            "remaining": [[channel.value, left] for channel, left in self.allowance.remaining],
        }
        return json.dumps(facts, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Accepted:
        facts: Mapping[str, Any] = json.loads(raw)
        if "status" in facts:
            return _kept_as_answer(facts)
        left = tuple((Channel(name), int(count)) for name, count in facts["remaining"])
        return cls(
            to=str(facts["to"]),
            reference=facts["reference"],
            parts=int(facts["parts"]),
            message_details=facts["messageDetails"],
            allowance=Allowance(int(facts["expiresAt"]), left),
        )


def _kept_as_answer(answer: Mapping[str, Any]) -> Accepted:
    """An acceptance an Idempotency-Key kept as its whole HTTP answer (`status`, `body`, `headers`), as sends did
    before outcomes; such keys live for their trial's life and retention, and this reader no longer after that."""
    (message,) = answer["body"]["messages"]
    headers: Mapping[str, str] = answer["headers"]
    expires = datetime.fromisoformat(headers["X-Trial-Expires-At"].replace("Z", "+00:00"))
    by_name = {channel.short_name: channel for channel in Channel}
    left = tuple(
        (by_name[name.removeprefix("X-Trial-Remaining-")], int(value))
        for name, value in headers.items()
        if name.startswith("X-Trial-Remaining-")
    )
    return Accepted(
        to=str(message["to"]),
        reference=message["reference"],
        parts=int(message["parts"]),
        message_details=message["messageDetails"],
        allowance=Allowance(int(expires.timestamp()), left),
    )


class Replayed(NamedTuple):
    """A retry under an Idempotency-Key whose send was accepted already: the first acceptance, nothing sent again."""

    first: Accepted


SendOutcome = Accepted | Replayed | Refused


class TrialReport(NamedTuple):
    """`GET …/status` of a known-good trial: its expiry, quotas and whitelist."""

    seconds_left: int
    quotas: list[dict[str, Any]]
    max_recipients: int
    whitelist: list[tuple[Channel, str]]
    allowance: Allowance


StatusOutcome = TrialReport | Refused

__all__ = [
    "Accepted",
    "Allowance",
    "BodyType",
    "Objection",
    "Reason",
    "Refused",
    "Replayed",
    "SendOutcome",
    "SendRequest",
    "StatusOutcome",
    "TrialReport",
    "recipient_address",
]
