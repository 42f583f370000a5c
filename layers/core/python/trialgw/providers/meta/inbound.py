"""Meta's webhooks: the signature, the verify handshake, and the WhatsApp / Messenger / Instagram envelopes.

Meta batches: one POST may carry several entries, changes and events, of kinds we do not use (echoes
of our own sends, reactions, reads, postbacks, template updates). Those are counted in `ignored`, not
raised, because Meta retries anything but a 200 for days and they are not errors.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from trialgw.addresses import normalize_address, normalize_phone
from trialgw.channels import spec_of
from trialgw.errors import InvalidPayload
from trialgw.json_input import (
    as_list,
    as_object,
    describe,
    optional_int,
    optional_list,
    optional_object,
    optional_str,
    optional_timestamp,
    required_id,
    required_str,
)
from trialgw.models import Channel, InboundMessage
from trialgw.providers.meta import META_CHANNELS, PROVIDER

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_OBJECTS = {row.webhook_object: channel for channel, row in META_CHANNELS.items()}
# WhatsApp message types that are not something the end user wrote to the business.
_IGNORED_WHATSAPP_TYPES = frozenset({"reaction", "system", "request_welcome"})


class MetaStatus(NamedTuple):
    """A WhatsApp delivery status for a message we sent (`sent`, `delivered`, `read`, `failed`, …)."""

    channel: Channel
    provider_message_id: str
    status: str
    recipient: str
    error_code: int | None
    error_title: str | None
    at: int


@dataclass(slots=True)
class MetaBatch:
    """What one Meta webhook POST carried: end users' messages, statuses, and how many events were skipped."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[MetaStatus] = field(default_factory=list)
    ignored: int = 0


def sign(raw_body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` header value Meta would send for `raw_body` (`sha256=<lowercase hex>`)."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """True when `header` is Meta's HMAC-SHA256 of the exact raw body under `app_secret`.

    False for a missing or malformed header (including the legacy `sha1=` form) and for an empty
    secret, so an unconfigured gateway accepts nothing. Compared in constant time.
    """
    if not app_secret or not isinstance(header, str) or not isinstance(raw_body, bytes):
        return False
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        return False
    expected = sign(raw_body, app_secret).removeprefix("sha256=")
    return hmac.compare_digest(expected.encode("ascii"), match.group(1).lower().encode("ascii"))


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str | None:
    """The `hub.challenge` to echo when Meta's GET handshake is genuine, else None (answer 403).

    Genuine means `hub.mode` is `subscribe` and `hub.verify_token` equals `verify_token` (constant-time);
    an empty configured token never matches.
    """
    mode = params.get("hub.mode")
    token = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if not verify_token or mode != "subscribe" or not isinstance(token, str):
        return None
    if not isinstance(challenge, str) or not challenge:
        return None
    # surrogatepass: a query string can decode to lone surrogates, which plain UTF-8 refuses to encode.
    given = token.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(given, verify_token.encode("utf-8", "surrogatepass")):
        return None
    return challenge


def _address(channel: Channel, raw: str, path: str) -> str:
    address = normalize_address(channel, raw)
    if address is None:
        raise InvalidPayload(f"{path} must be {spec_of(channel).addressing.kind} for channel {channel.value}.")
    return address


def _whatsapp_names(value: Mapping[str, object], path: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for index, item in enumerate(optional_list(value, "contacts", path)):
        contact = as_object(item, f"{path}.contacts[{index}]")
        profile = optional_object(contact, "profile", f"{path}.contacts[{index}]")
        name = None if profile is None else optional_str(profile, "name", f"{path}.contacts[{index}].profile")
        wa_id = optional_str(contact, "wa_id", f"{path}.contacts[{index}]")
        if name is not None:
            names[wa_id or ""] = name
    return names


def _whatsapp_recipient(value: Mapping[str, object], path: str) -> str:
    metadata = optional_object(value, "metadata", path)
    if metadata is None:
        raise InvalidPayload(f"{path}.metadata is required.")
    display = optional_str(metadata, "display_phone_number", f"{path}.metadata")
    phone_id = optional_str(metadata, "phone_number_id", f"{path}.metadata")
    if display is not None:
        # Our own number, in the same E.164 form as senders; Meta's display form may carry spaces.
        return normalize_phone(display) or display.strip()
    if phone_id is not None:
        return phone_id.strip()
    raise InvalidPayload(f"{path}.metadata needs display_phone_number or phone_number_id.")


def _whatsapp_value(value: Mapping[str, object], path: str, received_at: int, batch: MetaBatch) -> None:
    recipient = _whatsapp_recipient(value, path)
    names = _whatsapp_names(value, path)
    for index, item in enumerate(optional_list(value, "messages", path)):
        where = f"{path}.messages[{index}]"
        message = as_object(item, where)
        kind = optional_str(message, "type", where)
        if kind in _IGNORED_WHATSAPP_TYPES:
            batch.ignored += 1
            continue
        raw_sender = required_str(message, "from", where)
        text = None
        if kind == "text":
            body = optional_object(message, "text", where)
            text = None if body is None else optional_str(body, "body", f"{where}.text")
        batch.messages.append(
            InboundMessage(
                channel=Channel.WHATSAPP,
                sender=_address(Channel.WHATSAPP, raw_sender, f"{where}.from"),
                recipient=recipient,
                text=text,
                provider=PROVIDER,
                provider_message_id=required_id(message, "id", where),
                received_at=received_at,
                # A single contact is the sender even when Meta's wa_id spelling differs from `from`.
                sender_name=names.get(raw_sender) or (next(iter(names.values())) if len(names) == 1 else None),
            )
        )
    for index, item in enumerate(optional_list(value, "statuses", path)):
        where = f"{path}.statuses[{index}]"
        status = as_object(item, where)
        raw_recipient = required_str(status, "recipient_id", where)
        errors = optional_list(status, "errors", where)
        first_error = as_object(errors[0], f"{where}.errors[0]") if errors else None
        error_title = None
        if first_error is not None:
            error_title = optional_str(first_error, "title", f"{where}.errors[0]") or optional_str(
                first_error, "message", f"{where}.errors[0]"
            )
        at = optional_timestamp(status, "timestamp", where)
        batch.statuses.append(
            MetaStatus(
                channel=Channel.WHATSAPP,
                provider_message_id=required_id(status, "id", where),
                status=required_str(status, "status", where),
                # Statuses are matched on the message id; the recipient is informative, so keep what we got.
                recipient=normalize_phone(raw_recipient) or raw_recipient.strip(),
                error_code=None if first_error is None else optional_int(first_error, "code", f"{where}.errors[0]"),
                error_title=error_title,
                at=received_at if at is None else at,
            )
        )


def _whatsapp_entry(entry: Mapping[str, object], path: str, received_at: int, batch: MetaBatch) -> None:
    for index, item in enumerate(optional_list(entry, "changes", path)):
        where = f"{path}.changes[{index}]"
        change = as_object(item, where)
        if change.get("field") != "messages":
            # Account, template and quality updates share the subscription; none is an end user's message.
            batch.ignored += 1
            continue
        value = optional_object(change, "value", where)
        if value is None:
            raise InvalidPayload(f"{where}.value is required.")
        _whatsapp_value(value, f"{where}.value", received_at, batch)


def _messaging_entry(
    channel: Channel, entry: Mapping[str, object], path: str, received_at: int, batch: MetaBatch
) -> None:
    # Standby events belong to another app that owns the thread (handover protocol); changes[] carries
    # comments and mentions on Instagram. Neither is a message to us.
    batch.ignored += len(optional_list(entry, "standby", path)) + len(optional_list(entry, "changes", path))
    for index, item in enumerate(optional_list(entry, "messaging", path)):
        where = f"{path}.messaging[{index}]"
        event = as_object(item, where)
        message = optional_object(event, "message", where)
        if message is None or message.get("is_echo") is True or message.get("is_deleted") is True:
            # Reads, deliveries, reactions, postbacks, our own echoes and unsent messages.
            batch.ignored += 1
            continue
        sender = optional_object(event, "sender", where)
        recipient = optional_object(event, "recipient", where)
        if sender is None:
            raise InvalidPayload(f"{where}.sender is required.")
        if recipient is None:
            raise InvalidPayload(f"{where}.recipient is required.")
        batch.messages.append(
            InboundMessage(
                channel=channel,
                sender=_address(channel, required_str(sender, "id", f"{where}.sender"), f"{where}.sender.id"),
                recipient=required_str(recipient, "id", f"{where}.recipient").strip(),
                text=optional_str(message, "text", f"{where}.message"),
                provider=PROVIDER,
                provider_message_id=required_id(message, "mid", f"{where}.message"),
                received_at=received_at,
            )
        )


def parse_meta(body: object, *, received_at: int) -> MetaBatch:
    """The messages and statuses in a (signature-checked) Meta webhook body.

    `object` selects the envelope: `whatsapp_business_account` (entry[].changes[].value with
    messages[] and statuses[]), `page` (Messenger) or `instagram` (entry[].messaging[]). Raises
    InvalidPayload for an unknown `object`, wrong types, missing ids, or a sender that is not an
    address on its channel; echoes, reactions, reads and unknown event kinds only count in `ignored`.
    """
    envelope = as_object(body, "body")
    kind = envelope.get("object")
    if not isinstance(kind, str) or kind not in _OBJECTS:
        expected = ", ".join(_OBJECTS)
        raise InvalidPayload(f"body.object {describe(kind)} is not supported; expected one of {expected}.")
    channel = _OBJECTS[kind]
    batch = MetaBatch()
    entries = envelope.get("entry")
    if entries is None:
        raise InvalidPayload("body.entry is required.")
    for index, item in enumerate(as_list(entries, "body.entry")):
        path = f"body.entry[{index}]"
        entry = as_object(item, path)
        if channel is Channel.WHATSAPP:
            _whatsapp_entry(entry, path, received_at, batch)
        else:
            _messaging_entry(channel, entry, path, received_at, batch)
    return batch
