"""The send gateway through its real handler on moto: DESIGN.md's table "Send: order of checks and answers"
row by row, parsing as real clients send, the accepted message's record and queue body, the status and
OpenAPI routes, failures of the queue and the tables, the capacity breaker, and hostile bodies.

Every refusal is also checked to leave the trial's sent counters, the messages table and the queue as
they were.
"""

from __future__ import annotations

import functools
import json
import random
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.cm_requests import WHATSAPP_TEMPLATE, cm_send_body
from tests.hostile import HostileJson
from tests.integration.conftest import (
    CM_SECRET,
    EVENTS,
    invoke,
    load_handler,
    make_trial,
    rest_event,
)
from trialgw import names
from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
from trialgw.country_rules import replaced_notice, replacement_text
from trialgw.gateway import answers
from trialgw.keys import KEY_PATTERN, hash_key, new_key
from trialgw.logic import capacity
from trialgw.models import Channel
from trialgw.urls import GATEWAY_PATH, GATEWAY_SDK_PATH, STATUS_PATH

TEMPLATE = "apigw_rest_send.json"
GW = GATEWAY_PATH.rstrip("/")

PHONE = "+31612345678"  # the Netherlands: no SMS country rule
OTHER_PHONE = "+31687654321"
US_PHONE = "+12125550123"
TANZANIA_PHONE = "+255712345678"  # blocked for SMS by the seed
PSID = "1234567890"
IGSID = "9876543210"
TEXT = "Hello from the trial"
ONBOARD = "Please onboard to our platform to get the full functionality."
ALL_CHANNELS = "SMS, WhatsApp, Facebook Messenger, Instagram"
SMS_LIMIT = (
    "SMS messages in the trial are limited to 2 parts: 288 GSM-7 characters or 126 Unicode characters "
    "(one part holds 144 GSM-7 or 63 Unicode characters; GSM-7 extension characters such as € count double, "
    "and so do emoji in Unicode)."
)
DOCUMENTED_400_TEXTS = {answers.NOT_JSON, answers.INVALID_POST_DATA}


# Events and bodies.


def _set_header(event: dict[str, Any], name: str, value: str | None) -> None:
    """Sets (or, with None, removes) a header, replacing any spelling of it that differs only in case."""
    for section in ("headers", "multiValueHeaders"):
        for existing in [h for h in event[section] if h.lower() == name.lower()]:
            del event[section][existing]
    if value is not None:
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]


def gw_event(
    body: str | bytes | None,
    *,
    headers: Mapping[str, str | None] | None = None,
    path: str = GATEWAY_PATH,
) -> dict[str, Any]:
    event = rest_event(TEMPLATE, body=body)
    for name, value in (headers or {}).items():
        _set_header(event, name, value)
    event["path"] = path
    event["requestContext"]["path"] = f"/prod{path}"
    return event


def get_event(path: str, token: str | None = None) -> dict[str, Any]:
    event = gw_event(None, headers={"Content-Type": None, "X-CM-PRODUCTTOKEN": token}, path=path)
    event.update(httpMethod="GET", resource=path)
    event["requestContext"].update(httpMethod="GET", resourcePath=path)
    return event


def send_body(
    key: str | None = None,
    *,
    channels: list[str] | None = None,
    to: tuple[str, ...] = (PHONE,),
    content: str = TEXT,
    sender: str | None = "TrialTest",
    reference: str | None = "ref-1",
    items: int = 1,
    rich_content: dict[str, Any] | None = None,
    token_field: str = "producttoken",
) -> str:
    return cm_send_body(
        key,
        channels=["WhatsApp"] if channels is None else channels,
        to=to,
        content=content,
        sender=sender,
        reference=reference,
        items=items,
        rich_content=rich_content,
        token_field=token_field,
    )


# Trials and what the tables and the queue hold.


def _ddb():
    return boto3.client("dynamodb")


def _trial_key(key: str) -> dict[str, Any]:
    return {"pk": {"S": f"{names.TRIAL_PK_PREFIX}{hash_key(key)}"}, "sk": {"S": names.TRIAL_SK}}


def trial_item(key: str) -> dict[str, Any]:
    item: dict[str, Any] = _ddb().get_item(TableName=names.TRIALS.local_name, Key=_trial_key(key), ConsistentRead=True)[
        "Item"
    ]
    return item


def set_trial(key: str, attribute: str, value: dict[str, Any]) -> None:
    _ddb().update_item(
        TableName=names.TRIALS.local_name,
        Key=_trial_key(key),
        UpdateExpression="SET #a = :v",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": value},
    )


def sent(key: str) -> dict[str, int]:
    return {name: int(value["N"]) for name, value in trial_item(key).items() if name.startswith("sent_")}


def table_items(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _ddb().scan(TableName=table, ConsistentRead=True)["Items"]
    return items


def message_items() -> list[dict[str, Any]]:
    return [i for i in table_items(names.MESSAGES.local_name) if i["sk"]["S"].startswith(names.MESSAGE_SK_PREFIX)]


def _queue_url() -> str:
    return boto3.client("sqs").get_queue_url(QueueName=names.OUTBOUND.local_name)["QueueUrl"]


def queue_depth() -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=_queue_url(),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def queued() -> list[dict[str, Any]]:
    """Every message on the delivery queue (received once, so each is seen once)."""
    sqs, url = boto3.client("sqs"), _queue_url()
    bodies: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not batch:
            return bodies
        bodies += [json.loads(message["Body"]) for message in batch]


def snapshot(key: str) -> tuple[dict[str, int], list[dict[str, Any]], int]:
    """The trial's counters, the messages table and the queue's depth: what a refusal must leave alone."""
    return sent(key), table_items(names.MESSAGES.local_name), queue_depth()


def untouched(key: str) -> None:
    """Nothing counted, queued or recorded to deliver: at most the refusal's own record (status `refused`)."""
    counters, items, depth = snapshot(key)
    assert (counters, depth) == ({}, 0)
    assert all(item.get("outcome", {}).get("S") == "refused" and "status" not in item for item in items)


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def refusal(status: int, error_code: int, details: str) -> tuple[int, dict[str, Any]]:
    return status, {"details": details, "errorCode": error_code, "messages": []}


def rejected(
    status: int, error_code: int, details: str, to: str = PHONE, reference: str | None = "ref-1"
) -> tuple[int, dict[str, Any]]:
    entry = {
        "to": to,
        "status": "Rejected",
        "reference": reference,
        "parts": 0,
        "messageDetails": details,
        "messageErrorCode": error_code,
    }
    return status, {"details": details, "errorCode": error_code, "messages": [entry]}


def accepted(to: str = PHONE, parts: int = 1, details: str | None = None, reference: str | None = "ref-1"):
    entry = {
        "to": to,
        "status": "Accepted",
        "reference": reference,
        "parts": parts,
        "messageDetails": details,
        "messageErrorCode": 0,
    }
    return 200, {"details": "Created 1 message(s)", "errorCode": 0, "messages": [entry]}


@pytest.fixture
def gw(aws_env):
    return load_handler("send")


@pytest.fixture
def configure(load_configured):
    """The send handler loaded afresh with extra `TRIALGW_*` settings."""
    return functools.partial(load_configured, "send")


def call(gw, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, _, body = invoke(gw, event)
    return status, body


# Rows 1-13, in the table's order.


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", None),
        ("application/x-www-form-urlencoded", None),
        (None, None),
        ("application/json", "this is not json"),
        ("application/json", '{"messages": {"msg": [}'),
        ("application/json", ""),
    ],
    ids=["text-plain", "form", "no-content-type", "not-json", "broken-json", "empty"],
)
def test_row_1_not_json(gw, content_type, body):
    key = make_trial((Channel.WHATSAPP, PHONE))
    raw = send_body(key) if body is None else body
    event = gw_event(raw, headers={"Content-Type": content_type})
    assert call(gw, event) == refusal(400, 202, answers.NOT_JSON)
    untouched(key)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"messages": {}},
        {"messages": {"msg": []}},
        {"messages": {"msg": [{"to": [{"number": PHONE}], "body": {"content": ""}}]}},
        {"messages": {"msg": [{"to": [], "body": {"content": TEXT}}]}},
        {"messages": {"msg": [{"to": [{"number": 31612345678}], "body": {"content": TEXT}}]}},
    ],
    ids=["empty-object", "no-msg", "empty-msg", "blank-content", "no-recipient", "number-not-string"],
)
def test_row_2_invalid_post_data(gw, document):
    key = make_trial((Channel.WHATSAPP, PHONE))
    document = {**document, "messages": {**document.get("messages", {}), "authentication": {"producttoken": key}}}
    assert call(gw, gw_event(json.dumps(document))) == refusal(400, 202, answers.INVALID_POST_DATA)
    untouched(key)


def test_row_3_tripped_breaker_refuses_every_send_with_retry_after(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    DynamoCapacityStore(_ddb(), names.TRIALS.local_name).trip(now=int(time.time()), count=1001)
    for body in (send_body(key), send_body(new_key()), send_body(None)):
        status, headers, answer = invoke(gw, gw_event(body))
        assert (status, answer) == refusal(503, 999, answers.AT_CAPACITY)
        assert headers["Retry-After"] == "900"
    # Rows 1 and 2 come before it.
    assert call(gw, gw_event(send_body(key), headers={"Content-Type": "text/plain"})) == refusal(
        400, 202, answers.NOT_JSON
    )
    assert call(gw, gw_event("{}")) == refusal(400, 202, answers.INVALID_POST_DATA)
    untouched(key)


def test_row_4_missing_unknown_or_malformed_key(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    for body, headers in [
        (send_body(None), {}),
        (send_body(new_key()), {}),
        (send_body(None), {"X-CM-PRODUCTTOKEN": new_key()}),
        (send_body("not-a-key"), {}),
        (send_body(key[:-1]), {}),
        (send_body(None).replace('"messages": {', '"messages": {"authentication": {"producttoken": 42}, '), {}),
    ]:
        assert call(gw, gw_event(body, headers=headers)) == refusal(401, 101, answers.INVALID_TOKEN)
    untouched(key)


def test_row_4_revoked_trial(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    set_trial(key, "status", {"S": "revoked"})
    assert call(gw, gw_event(send_body(key))) == refusal(401, 101, answers.INVALID_TOKEN)
    # A refusal of a later row is still row 4 for a revoked key.
    assert call(gw, gw_event(send_body(key, channels=["SMS", "WhatsApp"]))) == refusal(401, 101, answers.INVALID_TOKEN)
    untouched(key)


def test_row_4_expired_trial(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    set_trial(key, "expires_at", {"N": str(int(time.time()) - 1)})
    assert call(gw, gw_event(send_body(key))) == refusal(401, 101, answers.INVALID_TOKEN)
    assert call(gw, gw_event(send_body(key, to=(PHONE, OTHER_PHONE)))) == refusal(401, 101, answers.INVALID_TOKEN)
    untouched(key)


def test_row_4_comes_before_rows_5_to_13(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    for body in (
        send_body(new_key(), channels=["SMS", "WhatsApp"]),
        send_body(new_key(), items=2),
        send_body(new_key(), to=(PHONE, OTHER_PHONE)),
        send_body(new_key(), channels=["Viber"]),
        send_body(new_key(), channels=["SMS"], sender="AB"),
        send_body(new_key(), channels=["SMS"], to=(TANZANIA_PHONE,)),
        send_body(new_key(), channels=["SMS"], content="a" * 289),
        send_body(new_key(), to=(OTHER_PHONE,)),
    ):
        assert call(gw, gw_event(body)) == refusal(401, 101, answers.INVALID_TOKEN)
    untouched(key)


def test_row_5_channel_fallback(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    status, headers, body = invoke(gw, gw_event(send_body(key, channels=["WhatsApp", "SMS"], items=2)))
    assert (status, body) == refusal(400, 203, answers.MULTIPLE_CHANNELS)
    assert answers.MULTIPLE_CHANNELS.endswith(ONBOARD)
    # Once the key is known good, the answer carries the trial's headers.
    assert headers["X-Trial-Remaining-WhatsApp"] == "10"
    untouched(key)


def test_row_6_bulk(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key, items=2, to=(PHONE, OTHER_PHONE)))) == refusal(
        400, 203, answers.BULK_MESSAGES
    )
    untouched(key)


def test_row_7_several_recipients(gw):
    key = make_trial((Channel.WHATSAPP, PHONE), (Channel.WHATSAPP, OTHER_PHONE))
    assert call(gw, gw_event(send_body(key, to=(PHONE, OTHER_PHONE)))) == rejected(
        400, 302, answers.MULTIPLE_RECIPIENTS
    )
    untouched(key)


def test_row_8_channel_not_offered(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    text = (
        f'The channel "Viber" is not available in the trial. Use one of these in allowedChannels: {ALL_CHANNELS}. '
        f"{ONBOARD}"
    )
    assert call(gw, gw_event(send_body(key, channels=["Viber"]))) == rejected(400, 305, text)
    untouched(key)


def test_row_8_channel_the_operator_does_not_offer(configure):
    gw = configure(offered_channels='["SMS", "WhatsApp"]')
    key = make_trial((Channel.INSTAGRAM, PSID))
    status, headers, body = invoke(gw, gw_event(send_body(key, channels=["Instagram"], to=(PSID,))))
    text = (
        'The channel "Instagram" is not available in the trial. Use one of these in allowedChannels: SMS, WhatsApp. '
        f"{ONBOARD}"
    )
    assert (status, body) == rejected(400, 305, text, to=PSID)
    assert {h for h in headers if h.startswith("X-Trial-Remaining-")} == {
        "X-Trial-Remaining-SMS",
        "X-Trial-Remaining-WhatsApp",
    }
    untouched(key)


@pytest.mark.parametrize("sender", ["AB", "ABC", "TwelveChars1", "Trial Test", "Trial-Test", ""])
def test_row_9_sms_sender(gw, sender):
    key = make_trial((Channel.SMS, PHONE))
    assert call(gw, gw_event(send_body(key, channels=["SMS"], sender=sender))) == rejected(400, 301, answers.SMS_SENDER)
    untouched(key)


def test_row_10_blocked_country(gw):
    key = make_trial((Channel.SMS, TANZANIA_PHONE))
    body = send_body(key, channels=["SMS"], to=(TANZANIA_PHONE,))
    assert call(gw, gw_event(body)) == rejected(403, 403, answers.COUNTRY_BLOCKED, to=TANZANIA_PHONE)
    # Without allowedChannels a message is an SMS.
    bare = json.loads(body)
    del bare["messages"]["msg"][0]["allowedChannels"]
    assert call(gw, gw_event(json.dumps(bare))) == rejected(403, 403, answers.COUNTRY_BLOCKED, to=TANZANIA_PHONE)
    untouched(key)


def test_row_11_sms_of_three_parts(gw):
    key = make_trial((Channel.SMS, PHONE))
    gsm7 = f"{SMS_LIMIT} This message needs 3 parts (289 GSM-7 characters). {ONBOARD}"
    assert call(gw, gw_event(send_body(key, channels=["SMS"], content="a" * 289))) == rejected(400, 304, gsm7)
    unicode = (
        f"{SMS_LIMIT} This message needs 3 parts (127 Unicode characters). "
        f"It is sent as Unicode because 'ж' (U+0436) is not a GSM-7 character. {ONBOARD}"
    )
    assert call(gw, gw_event(send_body(key, channels=["SMS"], content="ж" * 127))) == rejected(400, 304, unicode)
    untouched(key)
    # The longest SMS the trial takes is two parts.
    assert call(gw, gw_event(send_body(key, channels=["SMS"], content="a" * 288))) == accepted(parts=2)


def test_row_12_recipient_not_whitelisted(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    text = (
        f"The recipient {OTHER_PHONE} is not whitelisted for WhatsApp in this trial. To whitelist it, send this "
        f"trial's key on WhatsApp from {OTHER_PHONE} to +31850876714 (https://wa.me/31850876714), then send this "
        "message again. A trial can whitelist up to 10 recipients."
    )
    status, headers, body = invoke(gw, gw_event(send_body(key, to=(OTHER_PHONE,))))
    assert (status, body) == rejected(403, 302, text, to=OTHER_PHONE)
    assert headers["X-Trial-Remaining-WhatsApp"] == "10"
    untouched(key)


def test_row_12_whitelisted_on_another_channel_only(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    text = (
        f"The recipient {PHONE} is not whitelisted for SMS in this trial. To whitelist it, send this trial's key by "
        f"SMS from {PHONE} to +447860054666 (from the UK), +14232515465 (from the US) or +3197005159375 (from the "
        "Netherlands), then send this message again. A trial can whitelist up to 10 recipients."
    )
    assert call(gw, gw_event(send_body(key, channels=["SMS"]))) == rejected(403, 302, text)
    untouched(key)


def test_row_12_trial_that_whitelisted_nobody_yet(gw):
    key = make_trial()
    status, body = call(gw, gw_event(send_body(key)))
    assert (status, body["errorCode"], body["messages"][0]["status"]) == (403, 302, "Rejected")
    assert body["details"].startswith(f"The recipient {PHONE} is not whitelisted for WhatsApp in this trial.")
    untouched(key)


def test_row_12_recipient_that_is_no_number(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    text = (
        'The recipient "0612345678" is not a phone number in international format, such as +31612345678 or '
        f"0031612345678. {ONBOARD}"
    )
    assert call(gw, gw_event(send_body(key, to=("0612345678",)))) == rejected(400, 302, text, to="0612345678")
    untouched(key)


def test_row_13_quota_used_up(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    for n in range(10):
        status, headers, body = invoke(gw, gw_event(send_body(key, reference=f"r{n}")))
        assert (status, body) == accepted(reference=f"r{n}")
        assert headers["X-Trial-Remaining-WhatsApp"] == str(9 - n)
    before = snapshot(key)
    assert before[0] == {"sent_whatsapp": 10}
    status, headers, body = invoke(gw, gw_event(send_body(key)))
    text = "You have reached the maximum amount of messages that can be sent via WhatsApp in this trial"
    assert (status, body) == refusal(429, 102, text)
    assert headers["X-Trial-Remaining-WhatsApp"] == "0"
    counters, items, depth = snapshot(key)
    assert (counters, depth) == (before[0], before[2])
    # The refusal is recorded (its own item, status `refused`), apart from the ten it counted and queued.
    (refused,) = [item for item in items if item not in before[1]]
    assert (refused["outcome"]["S"], refused["error_code"]["N"], refused["reason"]["S"]) == ("refused", "102", text)
    assert len(message_items()) == 11
    assert len(queued()) == 10
    # Other channels have their own quota.
    set_trial(key, "members", {"SS": [f"WhatsApp#{PHONE}", f"SMS#{PHONE}"]})
    assert call(gw, gw_event(send_body(key, channels=["SMS"])))[0] == 200


def test_row_12_comes_before_row_13(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    set_trial(key, "sent_whatsapp", {"N": "10"})
    assert call(gw, gw_event(send_body(key, to=(OTHER_PHONE,))))[1]["errorCode"] == 302


# Parsing as real clients send.


@pytest.mark.parametrize("field", ["producttoken", "productToken", "ProductToken", "PRODUCTTOKEN"])
def test_key_in_the_body_in_any_letter_case(gw, field):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key, token_field=field))) == accepted()
    assert sent(key) == {"sent_whatsapp": 1}


@pytest.mark.parametrize("header", ["X-CM-PRODUCTTOKEN", "x-cm-producttoken", "X-Cm-Producttoken"])
def test_key_in_the_header(gw, header):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(None), headers={header: key})) == accepted()
    assert sent(key) == {"sent_whatsapp": 1}


def test_upper_case_key_and_zapier_style_keys(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    document = {
        "Messages": {
            "Authentication": {"ProductToken": key.upper()},
            "Msg": [{"AllowedChannels": ["whatsapp"], "To": [{"Number": PHONE}], "Body": {"Content": TEXT}}],
        }
    }
    assert call(gw, gw_event(json.dumps(document))) == accepted(reference=None)


def test_a_malformed_header_key_does_not_hide_a_good_body_key(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key), headers={"X-CM-PRODUCTTOKEN": "paste-your-key-here"})) == accepted()


def test_00_plus_and_bare_international_numbers_reach_one_whitelisted_recipient(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    for number in (PHONE, "0031612345678", "31612345678", "+31 6 12345678"):
        assert call(gw, gw_event(send_body(key, to=(number,)))) == accepted(to=number)
    assert sent(key) == {"sent_whatsapp": 4}
    assert {message["to"] for message in queued()} == {PHONE}


@pytest.mark.parametrize(
    ("channels", "channel", "to"),
    [
        (["whatsapp"], Channel.WHATSAPP, PHONE),
        (["WhatsApp", "whatsapp"], Channel.WHATSAPP, PHONE),
        ([" Whatsapp "], Channel.WHATSAPP, PHONE),
        (["FacebookMessenger"], Channel.MESSENGER, PSID),
        (["instagram"], Channel.INSTAGRAM, PSID),
        (["sms"], Channel.SMS, PHONE),
    ],
)
def test_allowed_channels_in_any_spelling(gw, channels, channel, to):
    key = make_trial((channel, to))
    assert call(gw, gw_event(send_body(key, channels=channels, to=(to,)))) == accepted(to=to)
    (message,) = queued()
    assert (message["channel"], message["to"]) == (channel.value, to)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "text/json", "application/vnd.cm+json"]
)
def test_json_content_types(gw, content_type):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key), headers={"Content-Type": content_type})) == accepted()


def test_lower_case_header_names_as_http2_clients_send_them(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    headers = {"content-type": "application/json; charset=utf-8", "x-cm-producttoken": key}
    assert call(gw, gw_event(send_body(None), headers=headers)) == accepted()


# And under production's path, which CM's SDKs append to the base URL they are given.
@pytest.mark.parametrize("path", [GATEWAY_PATH, GW, GATEWAY_SDK_PATH])
def test_with_and_without_trailing_slash_and_under_the_sdk_path(gw, path):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key), path=path)) == accepted()


def test_base64_encoded_body_and_byte_order_mark(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key).encode())) == accepted()
    assert call(gw, gw_event("\ufeff" + send_body(key))) == accepted()
    assert sent(key) == {"sent_whatsapp": 2}


def test_no_allowed_channels_means_sms(gw):
    key = make_trial((Channel.SMS, PHONE))
    document = json.loads(send_body(key))
    del document["messages"]["msg"][0]["allowedChannels"]
    assert call(gw, gw_event(json.dumps(document))) == accepted()
    assert sent(key) == {"sent_sms": 1}


# Accepted.


def test_accepted_send_answers_records_and_queues(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    expires_at = int(trial_item(key)["expires_at"]["N"])
    rich = {
        "conversation": [
            {"text": "Pick one"},
            {"media": {"mediaName": "cat", "mediaUri": "https://example.com/cat.jpg", "mimeType": "image/jpeg"}},
        ],
        "suggestions": [{"action": "Reply", "label": "Yes", "postbackdata": "yes"}],
    }
    before = int(time.time())
    status, headers, body = invoke(gw, gw_event(send_body(key, rich_content=rich)))
    after = int(time.time())
    assert (status, body) == accepted()
    assert headers["X-Trial-Expires-At"] == iso(expires_at)
    assert headers["X-Trial-Remaining-WhatsApp"] == "9"
    assert headers["X-Trial-Remaining-SMS"] == "10"
    assert headers["X-Trial-Remaining-Messenger"] == "30"
    assert headers["X-Trial-Remaining-Instagram"] == "30"
    assert headers["Content-Type"].startswith("application/json")
    assert sent(key) == {"sent_whatsapp": 1}

    (item,) = message_items()
    assert item["pk"]["S"] == f"{names.TRIAL_PK_PREFIX}{hash_key(key)}"
    assert item["status"]["S"] == "queued"
    assert item["direction"]["S"] == "outbound"
    assert item["channel"]["S"] == "WhatsApp"
    assert item["counterpart"]["S"] == PHONE
    assert item["text"]["S"] == TEXT
    assert before <= int(item["at"]["N"]) <= after
    assert int(item[names.TTL_ATTRIBUTE]["N"]) >= expires_at
    payload = json.loads(item["payload"]["S"])
    (msg,) = payload["request"]["messages"]["msg"]
    assert "authentication" not in json.dumps(payload).lower()
    assert msg["to"] == [{"number": PHONE}]
    assert msg["body"]["content"] == TEXT
    assert msg["richContent"] == rich

    (message,) = queued()
    assert message == {
        "channel": "WhatsApp",
        "to": PHONE,
        "text": TEXT,
        "kind": "send",
        "message_id": item["message_id"]["S"],
        "key_hash": hash_key(key),
        "at": int(item["at"]["N"]),
        "sender": "TrialTest",
        "reference": "ref-1",
        "rich_content": rich,
        "at_ms": int(item["at_ms"]["N"]),
    }
    assert message["at_ms"] // 1000 == message["at"]
    assert item["sk"]["S"] == names.message_sort_key(message["at"], message["message_id"], at_ms=message["at_ms"])

    # The key itself is stored nowhere and queued nowhere.
    everything = json.dumps([table_items(table.local_name) for table in names.TABLES]) + json.dumps(message)
    assert key not in everything
    assert key.upper() not in everything
    assert key.replace("-", "") not in everything


# Rich content with an empty text, as CM's Python SDK sends a WhatsApp template.


def test_a_whatsapp_template_with_an_empty_text_is_accepted_recorded_and_queued(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    status, headers, body = invoke(
        gw, gw_event(send_body(key, channels=["Whatsapp"], content="", rich_content=WHATSAPP_TEMPLATE))
    )
    assert (status, body) == accepted()
    assert headers["X-Trial-Remaining-WhatsApp"] == "9"
    assert sent(key) == {"sent_whatsapp": 1}
    (item,) = message_items()
    assert item["text"]["S"] == "WhatsApp template order_update: 42"
    (message,) = queued()
    assert (message["text"], message["rich_content"]) == ("WhatsApp template order_update: 42", WHATSAPP_TEMPLATE)


@pytest.mark.parametrize(
    ("send", "code", "starts"),
    [
        (("Instagram", IGSID, WHATSAPP_TEMPLATE), 305, 'richContent.conversation[0]: "WhatsApp template" cannot'),
        (("WhatsApp", PHONE, {"conversation": [{"media": {"mediaUri": "http://x.test/a.png"}}]}), 305,
         "richContent.conversation[0].media.mediaUri must be an https URL"),
        (("SMS", PHONE, {"conversation": [{"text": "hi"}]}), 304, "A body without content was found. An SMS"),
    ],
)  # fmt: skip
def test_rich_content_the_channel_cannot_carry_is_refused_and_nothing_taken(gw, send, code, starts):
    key = make_trial((Channel.WHATSAPP, PHONE), (Channel.SMS, PHONE), (Channel.INSTAGRAM, IGSID))
    channel, to, rich = send
    status, _, body = invoke(gw, gw_event(send_body(key, channels=[channel], to=(to,), content="", rich_content=rich)))
    assert (status, body["errorCode"], body["messages"][0]["status"]) == (400, code, "Rejected")
    assert body["details"].startswith(starts), body
    untouched(key)


def test_key_from_the_header_is_not_stored_either(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(None), headers={"X-CM-PRODUCTTOKEN": key}))[0] == 200
    everything = json.dumps([table_items(table.local_name) for table in names.TABLES]) + json.dumps(queued())
    assert key not in everything


# Replacement follows the seed's prefix +1: a US territory is replaced like the US, and named as itself.
@pytest.mark.parametrize(("phone", "country"), [(US_PHONE, "United States"), ("+17872345678", "Puerto Rico")])
def test_us_sms_is_accepted_with_the_replacement_text(gw, phone, country):
    key = make_trial((Channel.SMS, phone))
    status, _, body = invoke(gw, gw_event(send_body(key, channels=["SMS"], to=(phone,))))
    # `parts` counts what is sent: the 153-character replacement text takes two 144-character parts.
    assert (status, body) == accepted(to=phone, parts=2, details=replaced_notice(country))
    (message,) = queued()
    assert message["text"] == replacement_text("CM.COM")
    assert TEXT not in message["text"]
    assert message["sender"] == "TrialTest"
    (item,) = message_items()
    payload = json.loads(item["payload"]["S"])
    assert payload["delivered"]["text"] == replacement_text("CM.COM")
    assert payload["countryRule"]["action"] == "replace"


def test_a_developer_signs_up_whitelists_by_whatsapp_and_sends(aws_env):
    signup, mo, gw = load_handler("signup"), load_handler("mo_webhook"), load_handler("send")
    assert invoke(signup, rest_event("apigw_rest_signup.json"))[0] == 202
    (mail,) = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    found = KEY_PATTERN.search(mail.body)
    assert found is not None
    key = found.group(0)
    fixture_key = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"
    mo_body = (EVENTS / "mo_cm_whatsapp.json").read_text().replace(fixture_key.upper(), key).replace(fixture_key, key)
    event = rest_event("apigw_rest_signup.json", body=mo_body)
    event.update(
        resource="/webhooks/cm/{secret}", path=f"/webhooks/cm/{CM_SECRET}", pathParameters={"secret": CM_SECRET}
    )
    assert invoke(mo, event)[2]["outcomes"] == ["whitelisted"]
    queued()  # the whitelisting's reply
    assert call(gw, gw_event(send_body(key, to=("0031687654321",)))) == accepted(to="0031687654321")
    (message,) = queued()
    assert (message["kind"], message["to"]) == ("send", OTHER_PHONE)


# The status and OpenAPI routes.


def test_status_shows_expiry_quotas_and_whitelist(gw):
    key = make_trial((Channel.WHATSAPP, PHONE), (Channel.SMS, OTHER_PHONE))
    expires_at = int(trial_item(key)["expires_at"]["N"])
    assert call(gw, gw_event(send_body(key)))[0] == 200
    status, headers, body = invoke(gw, get_event(STATUS_PATH, key.upper()))
    assert status == 200
    assert body["status"] == "active"
    assert body["expiresAt"] == iso(expires_at)
    assert 0 < body["secondsLeft"] <= 3600
    assert body["channels"] == [
        {"channel": "SMS", "quota": 10, "sent": 0, "remaining": 10},
        {"channel": "WhatsApp", "quota": 10, "sent": 1, "remaining": 9},
        {"channel": "Facebook Messenger", "quota": 30, "sent": 0, "remaining": 30},
        {"channel": "Instagram", "quota": 30, "sent": 0, "remaining": 30},
    ]
    assert body["whitelist"] == {
        "max": 10,
        "recipients": [
            {"channel": "SMS", "recipient": OTHER_PHONE},
            {"channel": "WhatsApp", "recipient": PHONE},
        ],
    }
    assert headers["X-Trial-Remaining-WhatsApp"] == "9"
    assert key not in json.dumps(body)


def test_status_refuses_unknown_missing_expired_and_revoked_keys(gw):
    expired, revoked = make_trial(), make_trial()
    set_trial(expired, "expires_at", {"N": str(int(time.time()) - 1)})
    set_trial(revoked, "status", {"S": "revoked"})
    for token in (new_key(), None, "", "not-a-key", "x" * 100, expired, revoked):
        assert call(gw, get_event(STATUS_PATH, token)) == refusal(401, 101, answers.INVALID_TOKEN)


def test_openapi_document_has_the_send_paths(gw):
    status, _, document = invoke(gw, get_event("/openapi.json"))
    assert status == 200
    assert document["openapi"].startswith("3.")
    paths = set(document["paths"])
    assert {GW, STATUS_PATH} <= {path.rstrip("/") for path in paths}
    (gateway,) = [path for path in paths if path.rstrip("/") == GW]
    assert "post" in document["paths"][gateway]
    assert "get" in document["paths"][STATUS_PATH]
    sdk = document["paths"][GATEWAY_SDK_PATH]["post"]
    assert sdk["operationId"] == "sendV1Message"
    assert sdk["requestBody"] == document["paths"][gateway]["post"]["requestBody"]


# Failures of a dependency: 503, nothing taken, nothing left behind.


def test_queue_failure_is_503_and_gives_the_quota_back(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    assert call(gw, gw_event(send_body(key)))[0] == 200
    queued()
    boto3.client("sqs").delete_queue(QueueUrl=_queue_url())
    status, headers, body = invoke(gw, gw_event(send_body(key)))
    assert (status, body) == refusal(503, 999, answers.UNAVAILABLE)
    assert int(headers["Retry-After"]) > 0
    assert sent(key) == {"sent_whatsapp": 1}
    assert len(message_items()) == 1


def test_queue_url_that_does_not_exist(configure):
    gw = configure(outbound_queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/no-such-queue")
    key = make_trial((Channel.WHATSAPP, PHONE))
    status, headers, body = invoke(gw, gw_event(send_body(key)))
    assert (status, body) == refusal(503, 999, answers.UNAVAILABLE)
    assert "Retry-After" in headers
    assert sent(key) == {"sent_whatsapp": 0}
    assert message_items() == []


def test_messages_table_failure_is_503_and_gives_the_quota_back(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    _ddb().delete_table(TableName=names.MESSAGES.local_name)
    status, headers, body = invoke(gw, gw_event(send_body(key)))
    assert (status, body) == refusal(503, 999, answers.UNAVAILABLE)
    assert "Retry-After" in headers
    assert sent(key) == {"sent_whatsapp": 0}
    assert queue_depth() == 0


def test_trials_table_failure_is_503_not_500(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    _ddb().delete_table(TableName=names.TRIALS.local_name)
    for event in (gw_event(send_body(key)), gw_event(send_body(key, items=2))):
        status, headers, body = invoke(gw, event)
        assert (status, body) == refusal(503, 999, answers.UNAVAILABLE)
        assert "Retry-After" in headers
    status, headers, _ = invoke(gw, get_event(STATUS_PATH, key))
    assert status == 503
    assert "Retry-After" in headers
    assert queue_depth() == 0


# The capacity breaker.


def test_breaker_trips_past_the_limit_and_an_operator_resets_it(configure):
    gw = configure(capacity_limit="2", capacity_flush_seconds="0", capacity_cache_seconds="0")
    key = make_trial((Channel.WHATSAPP, PHONE))
    store = DynamoCapacityStore(_ddb(), names.TRIALS.local_name)
    assert store.breaker().tripped is False
    for _ in range(3):
        # The third is still accepted: it is the one that takes the count past the limit.
        assert call(gw, gw_event(send_body(key))) == accepted()
    state = store.breaker()
    assert (state.tripped, state.tripped_count) == (True, 3)
    for body in (send_body(key), send_body(new_key()), send_body("not-a-key")):
        status, headers, answer = invoke(gw, gw_event(body))
        assert (status, answer) == refusal(503, 999, answers.AT_CAPACITY)
        assert headers["Retry-After"] == "900"
    assert sent(key) == {"sent_whatsapp": 3}
    assert len(message_items()) == 3

    capacity.reset(store, time.time())
    assert store.breaker().tripped is False
    assert call(gw, gw_event(send_body(key))) == accepted()
    assert sent(key) == {"sent_whatsapp": 4}
    assert [window.accepted for window in store.windows()] == [1]


def test_refusals_do_not_count_toward_capacity(configure):
    gw = configure(capacity_limit="1", capacity_flush_seconds="0", capacity_cache_seconds="0")
    key = make_trial((Channel.WHATSAPP, PHONE))
    for body in (send_body(new_key()), send_body(key, to=(OTHER_PHONE,)), send_body(key, items=2), "{}"):
        assert call(gw, gw_event(body))[0] in {400, 401, 403}
    store = DynamoCapacityStore(_ddb(), names.TRIALS.local_name)
    assert store.windows() == []
    assert call(gw, gw_event(send_body(key)))[0] == 200
    assert store.breaker().tripped is False


# Hostile bodies: always a documented 4xx, never a 500, nothing taken.


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


HOSTILE_BODIES: dict[str, str | bytes] = {
    "deep-array": "[" * 10_000 + "]" * 10_000,
    "deep-object": _nested(10_000),
    "deep-rich-content": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}, '
    f'"richContent": {_nested(10_000)}}}]}}}}',
    "rich-content-20-levels": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}, '
    f'"richContent": {_nested(20)}}}]}}}}',
    "megabyte-string": json.dumps(
        {"messages": {"msg": [{"to": [{"number": PHONE}], "body": {"content": "x" * 2**20}}]}}
    ),
    "megabyte-of-junk": "x" * 2**20,
    "null": "null",
    "messages-null": '{"messages": null}',
    "msg-null": '{"messages": {"msg": null}}',
    "msg-item-null": '{"messages": {"msg": [null]}}',
    "to-null": '{"messages": {"msg": [{"to": null, "body": {"content": "x"}}]}}',
    "to-item-null": '{"messages": {"msg": [{"to": [null], "body": {"content": "x"}}]}}',
    "number-null": '{"messages": {"msg": [{"to": [{"number": null}], "body": {"content": "x"}}]}}',
    "body-null": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": null}]}}',
    "top-level-array": "[]",
    "messages-array": '{"messages": []}',
    "msg-object": '{"messages": {"msg": {"to": [{"number": "+31612345678"}], "body": {"content": "x"}}}}',
    "to-object": '{"messages": {"msg": [{"to": {"number": "+31612345678"}, "body": {"content": "x"}}]}}',
    "body-array": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": ["x"]}]}}',
    "channels-object": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}, '
    '"allowedChannels": {"0": "WhatsApp"}}]}}',
    "rich-content-array": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}, '
    '"richContent": []}]}}',
    "invalid-utf8": b'\xff\xfe{"messages": {"msg": [{"to": [{"number": "+31612345678"}], '
    b'"body": {"content": "\xc3\x28"}}]}}',
    "utf16": '{"messages": {"msg": []}}'.encode("utf-16"),
    "nan": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}, "reference": NaN}]}}',
    "infinity": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}}], '
    '"x": -Infinity}}',
    "huge-float": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}}], "x": 1e999}}',
    "huge-int": '{"messages": {"x": ' + "9" * 5000 + "}}",
    "lone-surrogate": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "\\ud800"}}]}}',
    "surrogate-in-rich-key": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}, '
    '"richContent": {"\\udfff": 1}}]}}',
    "nul-bytes": "\x00" * 100,
    "channel-number": '{"messages": {"msg": [{"to": [{"number": "+31612345678"}], "body": {"content": "x"}, '
    '"allowedChannels": [1]}]}}',
}


@pytest.fixture
def hostile_key(gw) -> Iterator[str]:
    key = make_trial((Channel.WHATSAPP, PHONE), (Channel.SMS, PHONE))
    yield key
    untouched(key)


@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_body_is_a_documented_400(gw, hostile_key, name):
    for headers in ({"X-CM-PRODUCTTOKEN": hostile_key}, {}):
        status, answer = call(gw, gw_event(HOSTILE_BODIES[name], headers=headers))
        assert status == 400, answer
        assert answer["errorCode"] == 202
        assert answer["details"] in DOCUMENTED_400_TEXTS
        assert answer["messages"] == []


def test_mutated_requests_never_500_and_only_acceptance_takes_quota(gw):
    key = make_trial((Channel.WHATSAPP, PHONE), (Channel.SMS, PHONE))
    seed_request = json.loads(send_body(key, rich_content={"conversation": [{"text": "hi"}]}))
    strings = [key, key.upper(), PHONE, "0031612345678", "WhatsApp", "whatsapp", "SMS", "Viber", "TrialTest", "AB", ""]
    keys = ["messages", "msg", "authentication", "producttoken", "to", "number", "body", "content", "type", "from"]
    keys += ["reference", "allowedChannels", "richContent", "MESSAGES", "Msg", "ProductToken"]
    hostile = HostileJson(random.Random(20270115), strings, keys)
    documented = {200, 400, 401, 403, 429}
    statuses: list[int] = []
    for _ in range(150):
        status, answer = call(gw, gw_event(json.dumps(hostile.mutate(seed_request))))
        assert status in documented, answer
        assert set(answer) == {"details", "errorCode", "messages"}
        assert isinstance(answer["details"], str)
        assert len(answer["details"]) < 600  # never echoes a huge hostile value
        statuses.append(status)
    accepted_count = statuses.count(200)
    assert sum(sent(key).values()) == accepted_count
    assert len([item for item in message_items() if "status" in item]) == accepted_count
    assert len(queued()) == accepted_count
    assert set(statuses) - {200}  # the seed produced refusals too


def test_no_500_for_wrong_method_or_unknown_path(gw):
    event = gw_event(send_body(new_key()), path="/messaging/messagingtrial/nope")
    assert invoke(gw, event)[0] == 404
    assert re.fullmatch(r"4\d\d", str(invoke(gw, {**gw_event(send_body(new_key())), "httpMethod": "PUT"})[0]))
