"""CM MO webhook JSON → InboundMessage, and back to the MO JSON a trial's webhook would receive."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from trialgw.addresses import find_key
from trialgw.errors import InvalidPayload, TrialGatewayError
from trialgw.mo_json import to_cm_mo_json
from trialgw.models import Channel, InboundMessage
from trialgw.providers.cm.inbound import parse_cm_mo

EVENTS = Path(__file__).resolve().parent.parent / "events"
NOW = 1_772_442_935
KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_whatsapp_fixture():
    [message] = parse_cm_mo(load("mo_cm_whatsapp.json"), received_at=NOW)
    assert message == InboundMessage(
        channel=Channel.WHATSAPP,
        sender="+31687654321",
        recipient="0031209876543",
        text="Hi! My trial key is 3F2B8C1D-7E4A-4B9C-A1D2-0E5F6A7B8C9D thanks",
        provider="cm",
        provider_message_id="7b1e4c52-9d3a-4f60-8a21-5c0d2e9f4a10",
        received_at=NOW,
        sender_name="Sanne Tester",
    )
    assert find_key(message.text) == KEY


def test_sms_fixture_with_capitalized_keys_and_lower_case_channel():
    [message] = parse_cm_mo(load("mo_cm_sms.json"), received_at=NOW)
    assert message.channel is Channel.SMS
    assert message.sender == "+14165550142"
    assert message.recipient == "3669"  # a short code stays as CM wrote it
    assert message.text == "stop"
    assert message.sender_name is None  # empty name means unknown
    assert message.provider_message_id == "c41d9e07-2b6f-4a88-9f13-6d7e8a9b0c21"


def test_messenger_fixture_in_the_dotnet_spelling():
    [message] = parse_cm_mo(load("mo_cm_messenger.json"), received_at=NOW)
    assert message.channel is Channel.MESSENGER
    assert message.sender == "7012345678901234"
    assert message.recipient == "104958372615243"
    assert find_key(message.text) == KEY


def test_instagram_media_fixture_has_no_text():
    [message] = parse_cm_mo(load("mo_cm_instagram.json"), received_at=NOW)
    assert message.channel is Channel.INSTAGRAM
    assert message.sender == "6677889900112233"
    assert message.text is None


@pytest.mark.parametrize(
    ("spelling", "channel"),
    [
        ("WhatsApp", Channel.WHATSAPP),
        ("whatsapp", Channel.WHATSAPP),
        ("Whatsapp", Channel.WHATSAPP),
        ("SMS", Channel.SMS),
        ("sms", Channel.SMS),
        ("Facebook Messenger", Channel.MESSENGER),
        ("facebook messenger", Channel.MESSENGER),
        ("FacebookMessenger", Channel.MESSENGER),
        ("INSTAGRAM", Channel.INSTAGRAM),
    ],
)
def test_channel_spellings(spelling, channel):
    body = load("mo_cm_messenger.json")
    body["channel"] = spelling
    body["from"]["number"] = "31687654321" if channel in {Channel.SMS, Channel.WHATSAPP} else "7012345678901234"
    [message] = parse_cm_mo(body, received_at=NOW)
    assert message.channel is channel


@pytest.mark.parametrize("channel", ["Viber", "RCS", "Apple Messages for Business", "Telegram Messenger", "Push", ""])
def test_unknown_channels_are_named(channel):
    body = load("mo_cm_whatsapp.json")
    body["channel"] = channel
    with pytest.raises(InvalidPayload) as raised:
        parse_cm_mo(body, received_at=NOW)
    assert repr(channel) in raised.value.message
    assert "WhatsApp" in raised.value.message
    assert isinstance(raised.value, TrialGatewayError)


def test_the_sender_is_normalized_per_channel():
    body = load("mo_cm_whatsapp.json")
    for spelling in ("+31687654321", "0031687654321", "31687654321", "+31 6 8765 4321"):
        body["from"]["number"] = spelling
        assert parse_cm_mo(body, received_at=NOW)[0].sender == "+31687654321"


@pytest.mark.parametrize(
    ("channel", "number"),
    [("WhatsApp", "0687654321"), ("SMS", "not a number"), ("Facebook Messenger", "+31687654321"), ("Instagram", "ig")],
)
def test_a_sender_that_is_no_address_on_its_channel_is_rejected(channel, number):
    body = load("mo_cm_whatsapp.json")
    body["channel"] = channel
    body["from"]["number"] = number
    with pytest.raises(InvalidPayload, match=r"from\.number"):
        parse_cm_mo(body, received_at=NOW)


def _without(path: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = load("mo_cm_whatsapp.json")
    node = body
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return body


@pytest.mark.parametrize(
    ("path", "error"),
    [
        (["reference"], r"body\.reference is required"),
        (["channel"], r"body\.channel is required"),
        (["from"], r"body\.from is required"),
        (["from", "number"], r"body\.from\.number is required"),
        (["to"], r"body\.to is required"),
        (["to", "number"], r"body\.to\.number is required"),
    ],
)
def test_required_fields(path, error):
    with pytest.raises(InvalidPayload, match=error):
        parse_cm_mo(_without(path), received_at=NOW)


def test_optional_fields_may_be_missing():
    body = _without(["message"])
    del body["from"]["name"], body["groupings"], body["timeUtc"], body["messageContext"]
    [message] = parse_cm_mo(body, received_at=NOW)
    assert message.text is None
    assert message.sender_name is None


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda b: b.update(reference=42), r"reference must be a string"),
        (lambda b: b.update(reference="  "), r"reference must not be empty"),
        (lambda b: b.update({"from": "+31687654321"}), r"body\.from must be an object"),
        (lambda b: b.update(to=["0031209876543"]), r"body\.to must be an object, not an array"),
        (lambda b: b.update(message="hi"), r"body\.message must be an object"),
        (lambda b: b["message"].update(text=["hi"]), r"body\.message\.text must be a string, not an array"),
        (lambda b: b["from"].update(name=7), r"body\.from\.name must be a string"),
        (lambda b: b.update(channel=None), r"body\.channel is required"),
        (lambda b: b.update(channel=1), r"body\.channel must be a string"),
    ],
)
def test_wrong_types(mutate, error):
    body = load("mo_cm_whatsapp.json")
    mutate(body)
    with pytest.raises(InvalidPayload, match=error):
        parse_cm_mo(body, received_at=NOW)


@pytest.mark.parametrize("body", [None, "text", 3, True, [1], ["x"], [None]])
def test_not_an_mo_object(body):
    with pytest.raises(InvalidPayload, match="must be an object"):
        parse_cm_mo(body, received_at=NOW)


def test_an_array_holds_several_messages_or_none():
    assert parse_cm_mo([], received_at=NOW) == []
    both = parse_cm_mo([load("mo_cm_whatsapp.json"), load("mo_cm_sms.json")], received_at=NOW)
    assert [m.channel for m in both] == [Channel.WHATSAPP, Channel.SMS]
    bad = [load("mo_cm_whatsapp.json"), {"channel": "SMS"}]
    with pytest.raises(InvalidPayload, match=r"body\[1\]\.reference"):
        parse_cm_mo(bad, received_at=NOW)


def test_an_exact_key_wins_over_a_case_variant():
    body = load("mo_cm_whatsapp.json")
    body["REFERENCE"] = "other"
    assert parse_cm_mo(body, received_at=NOW)[0].provider_message_id == "7b1e4c52-9d3a-4f60-8a21-5c0d2e9f4a10"


def test_hostile_text_is_kept_verbatim():
    body = load("mo_cm_whatsapp.json")
    text = "<script>alert(1)</script> \u202e " + KEY + " \x00"
    body["message"]["text"] = text
    assert parse_cm_mo(body, received_at=NOW)[0].text == text


def test_to_cm_mo_json_has_cm_shape():
    message = InboundMessage(
        channel=Channel.MESSENGER,
        sender="7012345678901234",
        recipient="104958372615243",
        text="hello",
        provider="meta",
        provider_message_id="m_abc",
        received_at=1_767_225_600,
    )
    assert to_cm_mo_json(message) == {
        "reference": "m_abc",
        "messageContext": "",
        "from": {"number": "7012345678901234", "name": ""},
        "to": {"number": "104958372615243"},
        "message": {"text": "hello", "media": {"mediaUri": "", "contentType": "", "title": ""}, "custom": {}},
        "groupings": ["", "", ""],
        "timeUtc": "2026-01-01T00:00:00",
        "channel": "Facebook Messenger",
    }
    json.dumps(to_cm_mo_json(message))  # serializable as is


@pytest.mark.parametrize(
    "name", ["mo_cm_whatsapp.json", "mo_cm_sms.json", "mo_cm_messenger.json", "mo_cm_instagram.json"]
)
def test_round_trip(name):
    [message] = parse_cm_mo(load(name), received_at=NOW)
    rebuilt = to_cm_mo_json(message)
    assert parse_cm_mo(copy.deepcopy(rebuilt), received_at=NOW) == [message]
    assert rebuilt["channel"] in {c.value for c in Channel}
