"""Every answer of the send gateway, in CM's envelope, with the seed's texts verbatim.

One refusal per check of the table "Send: order of checks and answers" in DESIGN.md, built by
`trialgw.gateway.respond` from a refused outcome's reason. `details` always carries the check's text; CM's
per-message codes (301-305, 401-403; reference §2.3) are per-recipient reasons, so for those `messages[0]` repeats
the text as a `Rejected` entry, while request-level codes (101, 102, 202, 203, 999) answer with `messages: []`, as
CM does for a failed authentication.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trialgw.models import Channel

# The seed's texts ("Troubleshooting › Sending Messages"), exact: clients and external tests compare them.
NOT_JSON = "Incoming request is not JSON. Check the content-type and content."
INVALID_POST_DATA = "Invalid POST data. Please double check your JSON payload."
AT_CAPACITY = "The trial functionality is at capacity right now, please try again later."
INVALID_TOKEN = "Invalid or expired trial token"  # noqa: S105 - an error text, not a secret
MULTIPLE_CHANNELS = (
    "Using multiple channels in allowedChannels (channel fallback) is not supported in the trial. "
    "Please onboard to our platform to get the full functionality."
)
BULK_MESSAGES = (
    "Sending bulk messages in a single call is not supported in the trial. "
    "Please onboard to our platform to get the full functionality."
)
MULTIPLE_RECIPIENTS = (
    "Sending to multiple recipients in a single call is not supported in the trial. "
    "Please onboard to our platform to get the full functionality."
)
SMS_SENDER = (
    "The from: field for SMS is limited to 4-11 alphanumeric characters in the trial. "
    "Please onboard to our platform to get the full functionality."
)
COUNTRY_BLOCKED = (
    "Because of rules and regulations, the destination for this message is not allowed in the trial. "
    "Please onboard to our platform to get the full functionality."
)
# `[channel]` is literally in the seed's text; `quota_used_up` puts the channel's CM name there.
QUOTA_USED_UP = "You have reached the maximum amount of messages that can be sent via [channel] in this trial"
ONBOARD = "Please onboard to our platform to get the full functionality."
BINARY_NOT_SUPPORTED = (
    "Binary messages (body.type BINARY) are not supported in the trial: send text, with body.type AUTO or TEXT. "
    + ONBOARD
)
# Production's text (reference §2.3, code 304) for an SMS that needs more parts than `maximumNumberOfMessageParts`.
MAX_PARTS_EXCEEDED = "Maximum number of parts exceeded. (need at least {needed}, max is {maximum})"
CREATED_ONE = "Created 1 message(s)"
# Production's text (reference §2.3, code 304) for a message without content; the trial says why and what to do.
NO_CONTENT = "A body without content was found."
NO_SMS_CONTENT = (
    NO_CONTENT + " An SMS carries body.content only: richContent cannot replace it on SMS. Put the text in "
    "body.content, or send the richContent on a channel that carries it ({channels})."
)

# CM's errorCodes (reference §2.3).
CODE_OK = 0
CODE_AUTHENTICATION = 101
CODE_BALANCE = 102
CODE_MALFORMED = 202
CODE_MSG_ARRAY = 203
CODE_INVALID_FROM = 301
CODE_INVALID_TO = 302
CODE_INVALID_BODY = 304
CODE_OTHER_FIELD = 305
CODE_REJECTED = 403
CODE_UNKNOWN = 999

HTTP_OK = 200
# An echoed channel name is cut to this many characters: enough for any real name, too little to abuse.
_MAX_ECHOED = 40


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """One refused send: the HTTP answer's status, CM errorCode, text and extra headers.

    `reason` is a stable machine name for logs and metrics; `hint` says what was wrong for the log
    (a JSON path, never a value) and is not sent to the client, whose text stays the seed's.
    """

    http_status: int
    error_code: int
    details: str
    per_recipient: bool
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str
    hint: str | None = None


# Request-level refusals: the seed's texts.


def not_json(hint: str | None = None) -> Refusal:
    """Not JSON: the content-type is not JSON or the body does not parse."""
    return Refusal(
        http_status=400, error_code=CODE_MALFORMED, details=NOT_JSON, per_recipient=False, reason="not_json", hint=hint
    )


def invalid_post_data(hint: str | None = None) -> Refusal:
    """JSON, but not a valid send request."""
    return Refusal(
        http_status=400,
        error_code=CODE_MALFORMED,
        details=INVALID_POST_DATA,
        per_recipient=False,
        reason="invalid_post_data",
        hint=hint,
    )


def _try_later(details: str, reason: str, retry_after_seconds: int) -> Refusal:
    return Refusal(
        http_status=503,
        error_code=CODE_UNKNOWN,
        details=details,
        per_recipient=False,
        headers={"Retry-After": str(max(1, int(retry_after_seconds)))},
        reason=reason,
    )


def at_capacity(retry_after_seconds: int) -> Refusal:
    """The capacity breaker is tripped; 503 with `Retry-After`."""
    return _try_later(AT_CAPACITY, "at_capacity", retry_after_seconds)


def invalid_token() -> Refusal:
    """The key is missing, malformed, unknown, revoked or expired."""
    return Refusal(
        http_status=401,
        error_code=CODE_AUTHENTICATION,
        details=INVALID_TOKEN,
        per_recipient=False,
        reason="invalid_token",
    )


def multiple_channels() -> Refusal:
    """`allowedChannels` names more than one channel (channel fallback)."""
    return Refusal(
        http_status=400,
        error_code=CODE_MSG_ARRAY,
        details=MULTIPLE_CHANNELS,
        per_recipient=False,
        reason="multiple_channels",
    )


def bulk_messages() -> Refusal:
    """`msg` has more than one item."""
    return Refusal(
        http_status=400, error_code=CODE_MSG_ARRAY, details=BULK_MESSAGES, per_recipient=False, reason="bulk_messages"
    )


def multiple_recipients() -> Refusal:
    """`to` has more than one item (a per-recipient code in CM: 302, invalid `to`)."""
    return Refusal(
        http_status=400,
        error_code=CODE_INVALID_TO,
        details=MULTIPLE_RECIPIENTS,
        per_recipient=True,
        reason="multiple_recipients",
    )


def quota_used_up(channel: Channel) -> Refusal:
    """The trial's quota on `channel` is used up; the text names the channel as CM spells it."""
    return Refusal(
        http_status=429,
        error_code=CODE_BALANCE,
        details=QUOTA_USED_UP.replace("[channel]", Channel(channel).value),
        per_recipient=False,
        reason="quota_used_up",
    )


# Per-recipient reasons: the sender and destination checks quote the seed; the channel, length and whitelist
# checks have new texts.


def echo(value: str, limit: int = _MAX_ECHOED) -> str:
    """A client's value in our text: no control or invisible characters (no line breaks), and only a short prefix."""
    visible = "".join(ch for ch in value if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp"}).strip()
    return visible if len(visible) <= limit else visible[:limit] + "…"


def channel_not_offered(channel: str, offered: Iterable[Channel | str]) -> Refusal:
    """The requested channel is not one this trial offers; the text names it and the offered ones."""
    names = ", ".join(str(item) for item in offered)
    details = (
        f'The channel "{echo(channel)}" is not available in the trial. '
        f"Use one of these in allowedChannels: {names}. {ONBOARD}"
    )
    return Refusal(
        http_status=400,
        error_code=CODE_OTHER_FIELD,
        details=details,
        per_recipient=True,
        reason="channel_not_offered",
    )


def sms_sender_invalid() -> Refusal:
    """The SMS `from` is not 4-11 alphanumeric characters."""
    return Refusal(
        http_status=400,
        error_code=CODE_INVALID_FROM,
        details=SMS_SENDER,
        per_recipient=True,
        reason="sms_sender_invalid",
    )


def country_blocked() -> Refusal:
    """SMS to a destination country the trial does not serve."""
    return Refusal(
        http_status=403,
        error_code=CODE_REJECTED,
        details=COUNTRY_BLOCKED,
        per_recipient=True,
        reason="country_blocked",
    )


def too_many_parts(details: str) -> Refusal:
    """The SMS needs more parts than the trial allows; `details` states the limit."""
    return Refusal(
        http_status=400,
        error_code=CODE_INVALID_BODY,
        details=details,
        per_recipient=True,
        reason="too_many_parts",
    )


def binary_not_supported() -> Refusal:
    """`body.type` BINARY: the trial sends text only (an invalid body for CM: 304)."""
    return Refusal(
        http_status=400,
        error_code=CODE_INVALID_BODY,
        details=BINARY_NOT_SUPPORTED,
        per_recipient=True,
        reason="binary_not_supported",
    )


def dcs_not_supported(details: str) -> Refusal:
    """`dcs` the trial cannot honour for the text (another field invalid: 305); `details` says which to send."""
    return Refusal(
        http_status=400,
        error_code=CODE_OTHER_FIELD,
        details=details,
        per_recipient=True,
        reason="dcs_not_supported",
    )


def max_parts_exceeded(*, needed: int, maximum: int) -> Refusal:
    """The SMS needs more parts than the request's `maximumNumberOfMessageParts`: production's 304, its text."""
    return Refusal(
        http_status=400,
        error_code=CODE_INVALID_BODY,
        details=MAX_PARTS_EXCEEDED.format(needed=needed, maximum=maximum),
        per_recipient=True,
        reason="max_parts_exceeded",
    )


def no_content(details: str) -> Refusal:
    """Nothing to send: no text, and no rich content the channel carries (an invalid body for CM: 304)."""
    return Refusal(
        http_status=400,
        error_code=CODE_INVALID_BODY,
        details=details,
        per_recipient=True,
        reason="no_content",
    )


def rich_content_refused(details: str) -> Refusal:
    """`richContent` the trial cannot send on the channel (another field invalid: 305); `details` says why."""
    return Refusal(
        http_status=400,
        error_code=CODE_OTHER_FIELD,
        details=details,
        per_recipient=True,
        reason="rich_content_refused",
    )


def not_whitelisted(details: str) -> Refusal:
    """The recipient is not whitelisted on the channel; `details` says how to whitelist it."""
    return Refusal(
        http_status=403,
        error_code=CODE_INVALID_TO,
        details=details,
        per_recipient=True,
        reason="not_whitelisted",
    )


def invalid_recipient(details: str) -> Refusal:
    """The `to` is no address on the channel at all (not a phone number, not an id)."""
    return Refusal(
        http_status=400,
        error_code=CODE_INVALID_TO,
        details=details,
        per_recipient=True,
        reason="invalid_recipient",
    )


UNAVAILABLE = (
    "The message could not be accepted right now because a service the trial depends on failed. Please try again."
)


def unavailable(retry_after_seconds: int) -> Refusal:
    """Not a check: a store or the queue failed; nothing was taken or queued, so the client may simply retry."""
    return _try_later(UNAVAILABLE, "unavailable", retry_after_seconds)


# The Idempotency-Key header (beyond CM's API): what it refuses.
IDEMPOTENCY_KEY_INVALID = "The Idempotency-Key header must be 1 to 255 printable ASCII characters."
IDEMPOTENCY_KEY_REUSED = (
    "This Idempotency-Key was already used for a different request in this trial. Use a new key for a new message."
)
IDEMPOTENCY_KEY_BUSY = (
    "A request with this Idempotency-Key is still being processed. Retry it after Retry-After seconds for its answer."
)
HTTP_CONFLICT = 409


def invalid_idempotency_key() -> Refusal:
    """The Idempotency-Key header is empty, too long or not printable ASCII: 400, as a malformed request."""
    return Refusal(
        http_status=400,
        error_code=CODE_MALFORMED,
        details=IDEMPOTENCY_KEY_INVALID,
        per_recipient=False,
        reason="invalid_idempotency_key",
    )


def idempotency_key_reused() -> Refusal:
    """The key was used with another request body in this trial: 409, nothing sent."""
    return Refusal(
        http_status=HTTP_CONFLICT,
        error_code=CODE_MALFORMED,
        details=IDEMPOTENCY_KEY_REUSED,
        per_recipient=False,
        reason="idempotency_key_reused",
    )


def idempotency_key_busy(retry_after_seconds: int) -> Refusal:
    """Another request with the same key and body is being processed: 409 with `Retry-After`."""
    return Refusal(
        http_status=HTTP_CONFLICT,
        error_code=CODE_MALFORMED,
        details=IDEMPOTENCY_KEY_BUSY,
        per_recipient=False,
        headers={"Retry-After": str(max(1, int(retry_after_seconds)))},
        reason="idempotency_key_busy",
    )


# CM's envelope (reference §2.1).


def envelope(refusal: Refusal, *, to: str | None, reference: str | None) -> dict[str, Any]:
    """The JSON body of a refusal: `messages[0]` is a `Rejected` entry for a per-recipient reason, else empty."""
    messages: list[dict[str, Any]] = []
    if refusal.per_recipient:
        messages.append(
            {
                "to": to,
                "status": "Rejected",
                "reference": reference,
                "parts": 0,
                "messageDetails": refusal.details,
                "messageErrorCode": refusal.error_code,
            }
        )
    return {"details": refusal.details, "errorCode": refusal.error_code, "messages": messages}


def accepted_envelope(to: str, reference: str | None, parts: int, message_details: str | None) -> dict[str, Any]:
    """The JSON body of an accepted send (HTTP 200, `HTTP_OK`): one `Accepted` message with its SMS parts."""
    return {
        "details": CREATED_ONE,
        "errorCode": CODE_OK,
        "messages": [
            {
                "to": to,
                "status": "Accepted",
                "reference": reference,
                "parts": parts,
                "messageDetails": message_details,
                "messageErrorCode": CODE_OK,
            }
        ],
    }
