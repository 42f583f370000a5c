"""AWS End User Messaging two-way SMS, delivered through SNS → InboundMessage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trialgw.addresses import find_key
from trialgw.errors import InvalidPayload
from trialgw.models import Channel, InboundMessage
from trialgw.providers.aws_sms.inbound import parse_sns_sms

EVENTS = Path(__file__).resolve().parent.parent / "events"
NOW = 1_772_443_200
KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"


def sns_event() -> Any:
    return json.loads((EVENTS / "sns_two_way_sms.json").read_text(encoding="utf-8"))


def inner() -> dict[str, Any]:
    message: dict[str, Any] = json.loads(sns_event()["Records"][0]["Sns"]["Message"])
    return message


def test_fixture_is_an_sns_lambda_event_with_a_json_string_message():
    record = sns_event()["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert isinstance(record["Sns"]["Message"], str)


def test_parse_the_fixture():
    message = parse_sns_sms(sns_event()["Records"][0]["Sns"]["Message"], received_at=NOW)
    assert message == InboundMessage(
        channel=Channel.SMS,
        sender="+447700900123",
        recipient="+447700900999",
        text="Joining with " + KEY,
        provider="aws-sms",
        provider_message_id="a81c3f2e-5d47-4e19-b6a0-9c2d7e8f1b34",
        received_at=NOW,
    )
    assert find_key(message.text) == KEY


def test_short_code_destination_and_empty_body():
    body = inner()
    body["destinationNumber"] = "12345"
    body["messageBody"] = ""
    message = parse_sns_sms(json.dumps(body), received_at=NOW)
    assert message.recipient == "12345"
    assert message.text is None


def test_optional_fields_may_be_missing():
    body = inner()
    for name in ("messageKeyword", "previousPublishedMessageId", "messageBody"):
        del body[name]
    assert parse_sns_sms(json.dumps(body), received_at=NOW).text is None


@pytest.mark.parametrize("name", ["originationNumber", "destinationNumber", "inboundMessageId"])
def test_required_fields(name):
    body = inner()
    del body[name]
    with pytest.raises(InvalidPayload, match=rf"Message\.{name} is required"):
        parse_sns_sms(json.dumps(body), received_at=NOW)


@pytest.mark.parametrize("origination", ["0612345678", "SENDERID", "+", "+999123456"])
def test_sender_must_be_an_international_number(origination):
    body = inner()
    body["originationNumber"] = origination
    with pytest.raises(InvalidPayload, match=r"originationNumber must be an international phone number"):
        parse_sns_sms(json.dumps(body), received_at=NOW)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("", "not JSON"),
        ("not json", "not JSON"),
        ("{", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON|must be an object"),
        ('{"a": ' + "1" * 5000 + "}", "not JSON"),  # over the int-conversion limit
        ("[]", r"Message must be an object"),
        ("null", r"Message must be an object"),
        ('"{}"', r"Message must be an object"),
        ('{"originationNumber": 31612345678}', r"originationNumber must be a string"),
    ],
)
def test_not_the_inbound_json(message, error):
    with pytest.raises(InvalidPayload, match=error):
        parse_sns_sms(message, received_at=NOW)


@pytest.mark.parametrize("message", [None, b"{}", 1, {"originationNumber": "+31612345678"}])
def test_not_a_string(message):
    with pytest.raises(InvalidPayload, match="must be a string"):
        parse_sns_sms(message, received_at=NOW)
