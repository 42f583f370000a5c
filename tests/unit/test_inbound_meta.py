"""Meta webhooks: signature, verify handshake, and the WhatsApp / Messenger / Instagram envelopes."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from trialgw.addresses import find_key
from trialgw.errors import InvalidPayload
from trialgw.models import Channel, InboundMessage
from trialgw.providers.meta.inbound import (
    MetaBatch,
    MetaStatus,
    parse_meta,
    sign,
    verify_signature,
    verify_subscription,
)

EVENTS = Path(__file__).resolve().parent.parent / "events"
NOW = 1_772_442_935
KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"
SECRET = "app-secret-for-tests"


def raw(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(raw(name))


# --- signature ---------------------------------------------------------------------------------


def test_sign_is_hmac_sha256_hex_of_the_raw_bytes():
    body = raw("meta_whatsapp_text.json")
    assert sign(body, SECRET) == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_good_signature():
    body = raw("meta_whatsapp_text.json")
    assert verify_signature(body, sign(body, SECRET), SECRET)
    assert verify_signature(body, sign(body, SECRET).upper().replace("SHA256=", "sha256="), SECRET)
    assert verify_signature(body, " " + sign(body, SECRET) + " ", SECRET)


def test_wrong_secret():
    body = raw("meta_whatsapp_text.json")
    assert not verify_signature(body, sign(body, "another-secret"), SECRET)


def test_tampered_body():
    body = raw("meta_whatsapp_text.json")
    header = sign(body, SECRET)
    assert not verify_signature(body.replace(b"3f2b8c1d", b"3f2b8c1e"), header, SECRET)
    # Same JSON, different bytes: Meta signs bytes, not the parsed value.
    reserialized = json.dumps(json.loads(body)).encode()
    assert not verify_signature(reserialized, header, SECRET)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=abc",
        "sha256=" + "g" * 64,
        "sha256=" + "a" * 63,
        "sha256=" + "a" * 65,
        "a" * 64,  # no prefix
        "sha512=" + "a" * 64,
        "sha256:" + "a" * 64,
        "sha256=" + "é" * 64,
        "sha256=" + "\ud800" * 64,
    ],
)
def test_missing_or_malformed_header(header):
    assert not verify_signature(b"{}", header, SECRET)


def test_legacy_sha1_header_is_not_accepted():
    body = raw("meta_whatsapp_text.json")
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert not verify_signature(body, sha1, SECRET)


def test_empty_secret_accepts_nothing():
    body = b"{}"
    assert not verify_signature(body, sign(body, ""), "")


# --- verify handshake ----------------------------------------------------------------------------


def test_handshake_echoes_the_challenge():
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert verify_subscription(params, "tok") == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "TOK", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1"},
        {"hub.verify_token": "tok", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "tok"},
        {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": ""},
        {"hub.mode": "subscribe", "hub.verify_token": "tok\ud800", "hub.challenge": "1"},
        {"hub_mode": "subscribe", "hub_verify_token": "tok", "hub_challenge": "1"},
        {},
    ],
)
def test_handshake_refused(params):
    assert verify_subscription(params, "tok") is None


def test_handshake_with_no_configured_token_is_refused():
    assert verify_subscription({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, "") is None


# --- WhatsApp -----------------------------------------------------------------------------------------


def test_whatsapp_text():
    batch = parse_meta(load("meta_whatsapp_text.json"), received_at=NOW)
    assert batch == MetaBatch(
        messages=[
            InboundMessage(
                channel=Channel.WHATSAPP,
                sender="+31687654321",
                recipient="+31209876543",
                text="key: " + KEY,
                provider="meta",
                provider_message_id="wamid.TRIALGW.FIXTURE.TEXT.0001",
                received_at=NOW,
                sender_name="Sanne Tester",
            )
        ],
        statuses=[],
        ignored=0,
    )
    assert find_key(batch.messages[0].text) == KEY


def test_whatsapp_statuses():
    batch = parse_meta(load("meta_whatsapp_status.json"), received_at=NOW)
    assert batch.messages == []
    assert batch.statuses == [
        MetaStatus(
            Channel.WHATSAPP, "wamid.TRIALGW.FIXTURE.OUT.0001", "delivered", "+31687654321", None, None, 1772443000
        ),
        MetaStatus(
            Channel.WHATSAPP,
            "wamid.TRIALGW.FIXTURE.OUT.0002",
            "failed",
            "+31687654321",
            131047,
            "Re-engagement message",
            1772443060,
        ),
    ]


def _whatsapp_value(body: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = body["entry"][0]["changes"][0]["value"]
    return value


def test_whatsapp_other_types_have_no_text_and_reactions_are_ignored():
    body = load("meta_whatsapp_text.json")
    value = _whatsapp_value(body)
    base = value["messages"][0]
    value["messages"] = [
        {**base, "id": "wamid.img", "type": "image", "image": {"id": "1", "mime_type": "image/jpeg"}},
        {**base, "id": "wamid.reaction", "type": "reaction", "reaction": {"message_id": "wamid.x", "emoji": "👍"}},
        {**base, "id": "wamid.unsupported", "type": "unsupported"},
        {**base, "id": "wamid.text", "type": "text", "text": {"body": "STOP"}},
    ]
    batch = parse_meta(body, received_at=NOW)
    assert [(m.provider_message_id, m.text) for m in batch.messages] == [
        ("wamid.img", None),
        ("wamid.unsupported", None),
        ("wamid.text", "STOP"),
    ]
    assert batch.ignored == 1


def test_whatsapp_mexican_id_and_name_by_sole_contact():
    body = load("meta_whatsapp_text.json")
    value = _whatsapp_value(body)
    value["messages"][0]["from"] = "5215512345678"
    value["contacts"] = [{"profile": {"name": "Lupita"}, "wa_id": "525512345678"}]
    [message] = parse_meta(body, received_at=NOW).messages
    assert message.sender == "+525512345678"
    assert message.sender_name == "Lupita"


def test_whatsapp_several_entries_changes_and_other_fields():
    text = load("meta_whatsapp_text.json")
    status = load("meta_whatsapp_status.json")
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            text["entry"][0],
            {
                "id": "204000000000077",
                "changes": [
                    {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                    status["entry"][0]["changes"][0],
                ],
            },
        ],
    }
    batch = parse_meta(body, received_at=NOW)
    assert len(batch.messages) == 1
    assert len(batch.statuses) == 2
    assert batch.ignored == 1


def test_whatsapp_recipient_falls_back_to_the_phone_number_id():
    body = load("meta_whatsapp_text.json")
    del _whatsapp_value(body)["metadata"]["display_phone_number"]
    assert parse_meta(body, received_at=NOW).messages[0].recipient == "118000000000055"
    del _whatsapp_value(body)["metadata"]
    with pytest.raises(InvalidPayload, match=r"value\.metadata is required"):
        parse_meta(body, received_at=NOW)


def test_whatsapp_sender_that_is_not_a_number():
    body = load("meta_whatsapp_text.json")
    _whatsapp_value(body)["messages"][0]["from"] = "bsuid.AbCdEf"
    with pytest.raises(InvalidPayload, match=r"messages\[0\]\.from must be an international phone number"):
        parse_meta(body, received_at=NOW)


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda v: v["messages"][0].pop("id"), r"messages\[0\]\.id is required"),
        (lambda v: v["messages"][0].pop("from"), r"messages\[0\]\.from is required"),
        (lambda v: v["messages"][0].update(text="hi"), r"messages\[0\]\.text must be an object"),
        (lambda v: v.update(messages={"from": "x"}), r"value\.messages must be an array"),
        (lambda v: v.update(contacts=[None]), r"contacts\[0\] must be an object"),
        (
            lambda v: v.update(
                statuses=[{"id": "w", "status": "read", "recipient_id": "31687654321", "timestamp": "x"}]
            ),
            r"statuses\[0\]\.timestamp must be a Unix time",
        ),
        (
            lambda v: v.update(statuses=[{"id": "w", "recipient_id": "31687654321"}]),
            r"statuses\[0\]\.status is required",
        ),
        (
            lambda v: v.update(
                statuses=[{"id": "w", "status": "failed", "recipient_id": "1", "errors": [{"code": "x"}]}]
            ),
            r"errors\[0\]\.code must be an integer",
        ),
    ],
)
def test_whatsapp_malformed(mutate, error):
    body = load("meta_whatsapp_text.json")
    mutate(_whatsapp_value(body))
    with pytest.raises(InvalidPayload, match=error):
        parse_meta(body, received_at=NOW)


def test_whatsapp_status_without_timestamp_uses_received_at():
    body = load("meta_whatsapp_status.json")
    del _whatsapp_value(body)["statuses"][0]["timestamp"]
    assert parse_meta(body, received_at=NOW).statuses[0].at == NOW


# --- Messenger and Instagram ------------------------------------------------------------------------------


def test_messenger_text():
    batch = parse_meta(load("meta_messenger_text.json"), received_at=NOW)
    assert batch.messages == [
        InboundMessage(
            channel=Channel.MESSENGER,
            sender="7012345678901234",
            recipient="104958372615243",
            text="Here it is: 3F2B8C1D-7E4A-4B9C-A1D2-0E5F6A7B8C9D",
            provider="meta",
            provider_message_id="m_TrialgwFixtureMessenger0001",
            received_at=NOW,
        )
    ]
    assert batch.statuses == []
    assert batch.ignored == 0


def test_messenger_echo_is_ignored():
    batch = parse_meta(load("meta_messenger_echo.json"), received_at=NOW)
    assert batch == MetaBatch(messages=[], statuses=[], ignored=1)


def test_instagram_text():
    [message] = parse_meta(load("meta_instagram_text.json"), received_at=NOW).messages
    assert message.channel is Channel.INSTAGRAM
    assert message.sender == "6677889900112233"
    assert message.recipient == "17841400000000042"
    assert find_key(message.text) == KEY


def test_instagram_echo_is_ignored():
    body = load("meta_instagram_text.json")
    body["entry"][0]["messaging"][0]["message"]["is_echo"] = True
    assert parse_meta(body, received_at=NOW) == MetaBatch(ignored=1)


def test_messenger_other_events_are_counted_not_raised():
    body = load("meta_messenger_text.json")
    events = body["entry"][0]["messaging"]
    base = {"sender": {"id": "7012345678901234"}, "recipient": {"id": "104958372615243"}, "timestamp": 1}
    events += [
        {**base, "read": {"watermark": 1}},
        {**base, "delivery": {"mids": ["m_1"], "watermark": 1}},
        {**base, "reaction": {"mid": "m_1", "action": "react", "emoji": "❤"}},
        {**base, "postback": {"title": "Start", "payload": "GET_STARTED"}},
        {**base, "message": {"mid": "m_deleted", "is_deleted": True}},
        {**base, "message": {"mid": "m_attachment", "attachments": [{"type": "image"}]}},
    ]
    body["entry"][0]["standby"] = [{**base, "message": {"mid": "m_standby", "text": "hi"}}]
    batch = parse_meta(body, received_at=NOW)
    assert [(m.provider_message_id, m.text) for m in batch.messages] == [
        ("m_TrialgwFixtureMessenger0001", "Here it is: 3F2B8C1D-7E4A-4B9C-A1D2-0E5F6A7B8C9D"),
        ("m_attachment", None),
    ]
    assert batch.ignored == 6


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda e: e.pop("sender"), r"messaging\[0\]\.sender is required"),
        (lambda e: e.update(sender={"id": 7012345678901234}), r"sender\.id must be a string"),
        (lambda e: e.update(sender={"id": "abc"}), r"sender\.id must be a numeric id for channel Facebook Messenger"),
        (lambda e: e.pop("recipient"), r"messaging\[0\]\.recipient is required"),
        (lambda e: e["message"].pop("mid"), r"message\.mid is required"),
        (lambda e: e["message"].update(text=1), r"message\.text must be a string"),
    ],
)
def test_messenger_malformed(mutate, error):
    body = load("meta_messenger_text.json")
    mutate(body["entry"][0]["messaging"][0])
    with pytest.raises(InvalidPayload, match=error):
        parse_meta(body, received_at=NOW)


# --- envelope ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["user", "permissions", "WHATSAPP_BUSINESS_ACCOUNT", "", None, 1])
def test_unknown_object(kind):
    body = load("meta_messenger_text.json")
    body["object"] = kind
    with pytest.raises(InvalidPayload, match=r"body\.object .* is not supported; expected one of"):
        parse_meta(body, received_at=NOW)


def test_missing_or_wrong_entry():
    with pytest.raises(InvalidPayload, match=r"body\.entry is required"):
        parse_meta({"object": "page"}, received_at=NOW)
    with pytest.raises(InvalidPayload, match=r"body\.entry must be an array"):
        parse_meta({"object": "page", "entry": {}}, received_at=NOW)
    with pytest.raises(InvalidPayload, match=r"body\.entry\[0\] must be an object"):
        parse_meta({"object": "instagram", "entry": ["x"]}, received_at=NOW)
    assert parse_meta({"object": "page", "entry": []}, received_at=NOW) == MetaBatch()


@pytest.mark.parametrize("body", [None, [], "page", 1])
def test_not_an_object(body):
    with pytest.raises(InvalidPayload, match=r"body must be an object"):
        parse_meta(body, received_at=NOW)
