"""CM's MO webhook JSON (Business Messaging inbound messages) to `InboundMessage` (and back: `trialgw.mo_json`).

CM documents JSON keys as case-insensitive, so every key here is matched ignoring case. The payload is
one MO object; an array of them is accepted too (each item parsed alike), so a batch is never half-read.
"""

from __future__ import annotations

from trialgw.addresses import normalize_address
from trialgw.channels import Channel, channels, parse_channel, spec_of
from trialgw.errors import InvalidPayload
from trialgw.json_input import (
    as_object,
    describe,
    lookup,
    optional_object,
    optional_str,
    required_id,
    required_str,
)
from trialgw.models import InboundMessage
from trialgw.providers.cm import PROVIDER

_MAX_BATCH = 1000


def _channel(value: object, path: str) -> Channel:
    if value is None:
        raise InvalidPayload(f"{path}.channel is required.")
    if not isinstance(value, str):
        raise InvalidPayload(f"{path}.channel must be a string, not {describe(value)}.")
    # CM's spellings, and the .NET SDK's unspaced `FacebookMessenger` (the registry's).
    channel = parse_channel(value)
    if channel is None:
        offered = ", ".join(c.value for c in channels())
        raise InvalidPayload(f"{path}.channel {describe(value)} is not supported; expected one of {offered}.")
    return channel


def _parse_one(value: object, path: str, received_at: int) -> InboundMessage:
    mo = as_object(value, path)
    channel = _channel(lookup(mo, "channel", ignore_case=True), path)
    reference = required_id(mo, "reference", path, ignore_case=True)
    sender = optional_object(mo, "from", path, ignore_case=True)
    if sender is None:
        raise InvalidPayload(f"{path}.from is required.")
    number = required_str(sender, "number", f"{path}.from", ignore_case=True)
    address = normalize_address(channel, number)
    if address is None:
        kind = spec_of(channel).addressing.kind
        raise InvalidPayload(f"{path}.from.number must be {kind} for channel {channel.value}.")
    recipient = optional_object(mo, "to", path, ignore_case=True)
    if recipient is None:
        raise InvalidPayload(f"{path}.to is required.")
    to_number = required_str(recipient, "number", f"{path}.to", ignore_case=True)
    message = optional_object(mo, "message", path, ignore_case=True)
    text = None if message is None else optional_str(message, "text", f"{path}.message", ignore_case=True)
    return InboundMessage(
        channel=channel,
        sender=address,
        recipient=to_number.strip(),
        text=text,
        provider=PROVIDER,
        provider_message_id=reference,
        received_at=received_at,
        sender_name=optional_str(sender, "name", f"{path}.from", ignore_case=True),
    )


def parse_cm_mo(body: object, *, received_at: int) -> list[InboundMessage]:
    """The inbound messages in a CM MO webhook body (one MO object, or an array of them).

    `received_at` (Unix seconds) is our clock, not CM's `timeUtc`: CM retries for up to a month, and
    trial expiry is judged by when the message reached us. Raises InvalidPayload for anything else:
    wrong types, a missing `reference`/`from.number`/`to.number`/`channel`, a channel the trial does not
    offer (e.g. Viber), or a sender that is not an address on its channel.
    """
    if isinstance(body, list):
        if len(body) > _MAX_BATCH:
            raise InvalidPayload(f"At most {_MAX_BATCH} MO messages per call.")
        return [_parse_one(item, f"body[{index}]", received_at) for index, item in enumerate(body)]
    return [_parse_one(body, "body", received_at)]
