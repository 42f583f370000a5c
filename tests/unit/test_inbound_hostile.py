"""Hostile input for every inbound parser: any JSON value gives a valid result or InvalidPayload, nothing else.

A small seeded generator (no hypothesis): random JSON shapes, and mutations of the real fixtures so the
junk reaches deep into each parser (nulls, arrays where objects belong, huge strings, wrong types).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.hostile import HostileJson
from trialgw.addresses import normalize_address
from trialgw.errors import InvalidPayload
from trialgw.mo_json import to_cm_mo_json
from trialgw.models import Channel, InboundMessage
from trialgw.providers.aws_sms.inbound import parse_sns_sms
from trialgw.providers.cm.inbound import parse_cm_mo
from trialgw.providers.meta.inbound import MetaBatch, parse_meta, verify_signature, verify_subscription

EVENTS = Path(__file__).resolve().parent.parent / "events"
NOW = 1_772_443_200
ROUNDS = 400

INTERESTING_STRINGS = [
    "",
    " ",
    "0",
    "-1",
    "null",
    "+31612345678",
    "31612345678",
    "0031612345678",
    "5215512345678",
    "0612345678",
    "7012345678901234",
    "9" * 40,
    "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d",
    "WhatsApp",
    "sms",
    "Facebook Messenger",
    "FacebookMessenger",
    "Instagram",
    "Viber",
    "page",
    "instagram",
    "whatsapp_business_account",
    "messages",
    "text",
    "reaction",
    "subscribe",
    "STOP",
    "\ud800",
    "\x00\x01",
    "<script>alert(1)</script>",
    "é" * 3,
    "1" * 30,
]
INTERESTING_KEYS = [
    "reference", "Reference", "REFERENCE", "from", "FROM", "to", "number", "Number", "name", "message", "Message",
    "text", "channel", "Channel", "object", "entry", "changes", "field", "value", "metadata", "display_phone_number",
    "phone_number_id", "contacts", "profile", "wa_id", "messages", "statuses", "id", "type", "body", "timestamp",
    "recipient_id", "status", "errors", "code", "title", "messaging", "standby", "sender", "recipient", "mid",
    "is_echo", "is_deleted", "originationNumber", "destinationNumber", "messageBody", "inboundMessageId", "",
]  # fmt: skip


def generator(rng: random.Random) -> HostileJson:
    return HostileJson(rng, INTERESTING_STRINGS, INTERESTING_KEYS)


def fixture(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def hostile_inputs(seed: int, fixtures: list[Any]) -> list[Any]:
    rng = random.Random(seed)
    hostile = generator(rng)
    inputs: list[Any] = [hostile.value() for _ in range(ROUNDS // 4)]
    inputs += [hostile.mutate(rng.choice(fixtures)) for _ in range(ROUNDS)]
    return inputs


def check_message(message: InboundMessage, provider: str) -> None:
    assert isinstance(message, InboundMessage)
    assert isinstance(message.channel, Channel)
    assert message.provider == provider
    assert isinstance(message.sender, str)
    assert normalize_address(message.channel, message.sender) == message.sender
    assert isinstance(message.recipient, str)
    assert isinstance(message.provider_message_id, str)
    assert message.provider_message_id.strip()
    assert message.text is None or isinstance(message.text, str)
    assert message.sender_name is None or isinstance(message.sender_name, str)
    assert message.received_at == NOW
    # Everything is stored in DynamoDB: valid Unicode, and an id short enough to be part of a key.
    for value in (message.sender, message.recipient, message.provider_message_id, message.text, message.sender_name):
        assert value is None or value.encode("utf-8")
    assert len(message.provider_message_id.encode("utf-8")) <= 512


def run(parse: Callable[[Any], Any], inputs: list[Any], check: Callable[[Any], None]) -> tuple[int, int]:
    accepted = 0
    errors: list[str] = []
    for value in inputs:
        try:
            result = parse(value)
        except InvalidPayload as error:
            errors.append(error.message)
        else:
            check(result)
            accepted += 1
    assert all(errors)
    assert max(map(len, errors), default=0) < 500  # never echoes a huge hostile value
    return accepted, len(errors)


@pytest.mark.parametrize("seed", [1, 2])
def test_cm_parser_only_raises_invalid_payload(seed):
    fixtures = [fixture(f"mo_cm_{name}.json") for name in ("whatsapp", "sms", "messenger", "instagram")]
    fixtures.append([fixtures[0], fixtures[2]])

    def check(result: Any) -> None:
        assert isinstance(result, list)
        for message in result:
            check_message(message, "cm")
            json.dumps(to_cm_mo_json(message))

    accepted, rejected = run(lambda v: parse_cm_mo(v, received_at=NOW), hostile_inputs(seed, fixtures), check)
    # The mutations must exercise both outcomes, or the test proves little.
    assert accepted > 10
    assert rejected > 10


@pytest.mark.parametrize("seed", [3, 4])
def test_meta_parser_only_raises_invalid_payload(seed):
    names = ["whatsapp_text", "whatsapp_status", "messenger_text", "messenger_echo", "instagram_text"]
    fixtures = [fixture(f"meta_{name}.json") for name in names]

    def check(result: Any) -> None:
        assert isinstance(result, MetaBatch)
        for message in result.messages:
            check_message(message, "meta")
        for status in result.statuses:
            assert isinstance(status.provider_message_id, str)
            assert isinstance(status.status, str)
            assert isinstance(status.at, int)
            assert status.error_code is None or isinstance(status.error_code, int)
        assert result.ignored >= 0

    accepted, rejected = run(lambda v: parse_meta(v, received_at=NOW), hostile_inputs(seed, fixtures), check)
    assert accepted > 10
    assert rejected > 10


@pytest.mark.parametrize("seed", [5, 6])
def test_sns_parser_only_raises_invalid_payload(seed):
    inner = json.loads(fixture("sns_two_way_sms.json")["Records"][0]["Sns"]["Message"])
    hostile = generator(random.Random(seed))
    inputs: list[Any] = [json.dumps(value) for value in hostile_inputs(seed, [inner])]
    inputs += [hostile.string() for _ in range(50)] + [hostile.value() for _ in range(50)]

    def check(result: Any) -> None:
        check_message(result, "aws-sms")
        assert result.channel is Channel.SMS

    accepted, rejected = run(lambda v: parse_sns_sms(v, received_at=NOW), inputs, check)
    assert accepted > 10
    assert rejected > 10


def test_signature_and_handshake_never_raise():
    rng = random.Random(7)
    hostile = generator(rng)
    for _ in range(ROUNDS):
        header = hostile.value() if rng.random() < 0.3 else "sha256=" + hostile.string()
        body = hostile.string().encode("utf-8", "surrogatepass")
        assert verify_signature(body, header, "secret") is False
        params = {
            rng.choice(["hub.mode", "hub.verify_token", "hub.challenge", "x"]): hostile.string() for _ in range(3)
        }
        result = verify_subscription(params, "token")
        assert result is None or result == params.get("hub.challenge")


def _cm_with(**fields: Any) -> Any:
    body = fixture("mo_cm_whatsapp.json")
    body.update(fields)
    return body


def _whatsapp_with(text: str | None = None, message_id: str | None = None) -> Any:
    body = fixture("meta_whatsapp_text.json")
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message["text"]["body"] = text if text is not None else message["text"]["body"]
    message["id"] = message_id if message_id is not None else message["id"]
    return body


def _sms_with(**fields: str) -> str:
    inner = json.loads(fixture("sns_two_way_sms.json")["Records"][0]["Sns"]["Message"])
    inner.update(fields)
    return json.dumps(inner)


# Found by the fuzz suite (tests/fuzz): each of these answered 503 and failed again on every retry of the
# provider, because the store refused the string (a lone surrogate) or the key (an id past DynamoDB's key size).
UNSTORABLE: list[tuple[Callable[[Any], Any], Any]] = [
    (lambda v: parse_cm_mo(v, received_at=NOW), _cm_with(message={"text": "key \ud800"})),
    (lambda v: parse_cm_mo(v, received_at=NOW), _cm_with(reference="x" * 513)),
    (lambda v: parse_cm_mo(v, received_at=NOW), _cm_with(reference="é" * 257)),
    (lambda v: parse_meta(v, received_at=NOW), _whatsapp_with(text="\udc00 key")),
    (lambda v: parse_meta(v, received_at=NOW), _whatsapp_with(message_id="wamid." + "A" * 2100)),
    (lambda v: parse_sns_sms(v, received_at=NOW), _sms_with(messageBody="\ud83d")),
    (lambda v: parse_sns_sms(v, received_at=NOW), _sms_with(inboundMessageId="9" * 600)),
]


@pytest.mark.parametrize(
    ("parse", "payload"),
    UNSTORABLE,
    ids=["cm-text", "cm-reference-513", "cm-reference-514-bytes", "whatsapp-text", "whatsapp-id", "sms-body", "sms-id"],
)
def test_strings_the_store_cannot_take_are_invalid_payloads(parse, payload):
    with pytest.raises(InvalidPayload):
        parse(payload)


def test_an_id_of_512_bytes_is_still_an_id():
    [message] = parse_cm_mo(_cm_with(reference="x" * 512), received_at=NOW)
    assert message.provider_message_id == "x" * 512
