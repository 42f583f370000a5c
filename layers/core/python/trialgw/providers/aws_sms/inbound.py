"""AWS End User Messaging two-way SMS: the inbound JSON that AWS publishes to the SNS topic.

A Lambda subscriber gets it as the string `Records[i].Sns.Message`. AWS names the customer's number
`originationNumber` and ours `destinationNumber`: the reverse of sending.
"""

from __future__ import annotations

import json

from trialgw.addresses import normalize_phone
from trialgw.errors import InvalidPayload
from trialgw.json_input import as_object, optional_str, required_id, required_str
from trialgw.models import Channel, InboundMessage
from trialgw.providers.aws_sms import PROVIDER


def parse_sns_sms(message: str, *, received_at: int) -> InboundMessage:
    """The inbound SMS in an SNS record's `Message` (a JSON string from AWS End User Messaging).

    Uses `originationNumber` (sender), `destinationNumber` (our number), `messageBody` and
    `inboundMessageId` (the id duplicates are recognized by); `messageKeyword` and
    `previousPublishedMessageId` are not needed. Raises InvalidPayload when `message` is not that JSON
    or the sender is not an international phone number.
    """
    if not isinstance(message, str):
        raise InvalidPayload("The SNS message must be a string holding the inbound SMS JSON.")
    try:
        decoded: object = json.loads(message)
    except (ValueError, RecursionError) as error:
        # ValueError covers bad JSON and over-long integers; RecursionError, absurdly deep nesting.
        raise InvalidPayload("The SNS message is not JSON.") from error
    body = as_object(decoded, "Message")
    origination = required_str(body, "originationNumber", "Message")
    sender = normalize_phone(origination)
    if sender is None:
        raise InvalidPayload("Message.originationNumber must be an international phone number.")
    destination = required_str(body, "destinationNumber", "Message")
    return InboundMessage(
        channel=Channel.SMS,
        sender=sender,
        # Our own number; a short code is not a phone number and stays as AWS wrote it.
        recipient=normalize_phone(destination) or destination.strip(),
        text=optional_str(body, "messageBody", "Message"),
        provider=PROVIDER,
        provider_message_id=required_id(body, "inboundMessageId", "Message"),
        received_at=received_at,
    )
