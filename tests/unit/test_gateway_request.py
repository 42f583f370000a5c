"""Parsing a send request as real clients send it: rows 1, 2, 5, 6, 7 of the table, the key, the channel.

The hostile part at the end uses a small seeded generator (no hypothesis): random JSON, and mutations of
real requests so the junk reaches every field (nulls, arrays where objects belong, huge strings, re-cased
keys, wrong types), plus broken JSON text. Every input gives a SendRequest or a row 1/2 refusal.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.hostile import HostileJson
from trialgw.gateway import answers
from trialgw.gateway.answers import Refusal
from trialgw.gateway.request import (
    MAX_BODY_BYTES,
    MAX_CONTENT_CHARS,
    MAX_RICH_CONTENT_DEPTH,
    BodyType,
    SendRequest,
    parse_send_request,
    recipient_address,
)
from trialgw.gateway.respond import refusal_for
from trialgw.logic.send import unsupported_feature
from trialgw.logic.send_outcomes import Refused
from trialgw.media_types import is_json_content_type
from trialgw.models import Channel
from trialgw.settings import SendSettings

KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"
OTHER_KEY = "11111111-2222-4333-8444-555555555555"
JSON = "application/json"
NOT_JSON = "Incoming request is not JSON. Check the content-type and content."
INVALID = "Invalid POST data. Please double check your JSON payload."


def message(**fields: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "from": "TrialTest",
        "to": [{"number": "0031612345678"}],
        "body": {"type": "auto", "content": "Hello from the trial"},
    }
    msg.update(fields)
    return msg


def request_body(*msgs: dict[str, Any], token: str | None = KEY) -> dict[str, Any]:
    messages: dict[str, Any] = {"msg": list(msgs) or [message()]}
    if token is not None:
        messages["authentication"] = {"producttoken": token}
    return {"messages": messages}


def parse(body: Any, content_type: str | None = JSON, header: str | None = None) -> SendRequest | Refusal:
    """The parser's request, or its refusal as the gateway answers it."""
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    return _answered(parse_send_request(text, content_type, header))


def _answered(result: SendRequest | Refused) -> SendRequest | Refusal:
    return refusal_for(result, SendSettings()) if isinstance(result, Refused) else result


def unsupported(request: SendRequest) -> Refusal | None:
    """What the send's check of unsupported features (fallback, bulk, several recipients) refuses, as answered."""
    objection = unsupported_feature(request, SendSettings())
    return None if objection is None else refusal_for(Refused(objection=objection), SendSettings())


def parsed(body: Any, content_type: str | None = JSON, header: str | None = None) -> SendRequest:
    result = parse(body, content_type, header)
    assert isinstance(result, SendRequest), result
    return result


def assert_row(result: SendRequest | Refused | Refusal, text: str, status: int = 400, code: int = 202) -> None:
    if isinstance(result, Refused):
        result = refusal_for(result, SendSettings())
    assert isinstance(result, Refusal), result
    assert (result.details, result.http_status, result.error_code) == (text, status, code)


# A plain request.


def test_plain_sms_request():
    request = parsed(request_body(message(reference="order42")))
    assert request.token == KEY
    assert request.channel is Channel.SMS
    assert request.channel_raw == "SMS"
    assert request.sender == "TrialTest"
    assert request.to_raw == "0031612345678"
    assert request.recipient == "+31612345678"
    assert request.content == "Hello from the trial"
    assert request.body_type is BodyType.AUTO
    assert request.reference == "order42"
    assert request.rich_content is None
    assert unsupported(request) is None


def test_token_never_appears_in_repr():
    assert KEY not in repr(parsed(request_body()))


def test_optional_fields_may_be_absent_or_null():
    msg = {"to": [{"number": "+31612345678"}], "body": {"content": "hi"}, "reference": None, "from": None}
    request = parsed({"messages": {"msg": [msg]}})
    assert request.token is None
    assert request.sender == ""
    assert request.reference is None
    assert request.body_type is BodyType.AUTO
    assert request.channel is Channel.SMS


def test_content_is_kept_verbatim():
    content = "  Ünïcödé 😀\nline two\t "
    assert parsed(request_body(message(body={"content": content}))).content == content


@pytest.mark.parametrize(("value", "expected"), [("auto", BodyType.AUTO), ("AUTO", BodyType.AUTO),
                                                 ("Auto", BodyType.AUTO), ("TEXT", BodyType.TEXT),
                                                 ("text", BodyType.TEXT), ("", BodyType.AUTO),
                                                 ("BINARY", BodyType.BINARY), ("binary", BodyType.BINARY)])  # fmt: skip
def test_body_type_any_case(value, expected):
    # BINARY is read, so the send use case can refuse it with its own text rather than as "Invalid POST data".
    assert parsed(request_body(message(body={"type": value, "content": "hi"}))).body_type is expected


def test_sms_options_are_read_as_given_and_absent_is_none():
    options = {"minimumNumberOfMessageParts": 1, "maximumNumberOfMessageParts": "8", "DCS": 8}
    request = parsed(request_body(message(**options)))
    assert (request.min_parts, request.max_parts, request.dcs) == (1, 8, 8)
    plain = parsed(request_body(message()))
    assert (plain.min_parts, plain.max_parts, plain.dcs) == (None, None, None)
    bounds = parsed(request_body(message(minimumNumberOfMessageParts=255, maximumNumberOfMessageParts=255, dcs=0)))
    assert (bounds.min_parts, bounds.max_parts, bounds.dcs) == (255, 255, 0)


def test_rich_content_is_passed_through():
    rich = {
        "conversation": [
            {"text": "Do you want a reminder?"},
            {"media": {"mediaName": "logo", "mediaUri": "https://example.com/logo.png", "mimeType": "image/png"}},
        ],
        "suggestions": [{"action": "reply", "label": "Yes", "postbackdata": "YES"}],
    }
    request = parsed(request_body(message(richContent=rich, allowedChannels=["WhatsApp"])))
    assert request.rich_content == rich
    assert request.channel is Channel.WHATSAPP


@pytest.mark.parametrize("body", [{"type": "AUTO", "content": ""}, {"type": "AUTO"}, {"content": " "}, {}])
def test_with_rich_content_the_text_may_be_empty_or_absent(body):
    # CM's Python SDK sends its WhatsApp templates and interactive messages with `"content": ""`.
    rich = {"conversation": [{"template": {"whatsapp": {"element_name": "hello", "language": {"code": "en"}}}}]}
    request = parsed(request_body(message(body=body, richContent=rich, allowedChannels=["Whatsapp"])))
    assert request.content == body.get("content", "")
    assert request.rich_content == rich


@pytest.mark.parametrize("rich", [None, "null"])
def test_without_rich_content_an_empty_text_is_still_row_2(rich):
    msg = message(body={"type": "AUTO", "content": ""})
    if rich is not None:
        msg["richContent"] = None
    assert_row(parse(request_body(msg)), INVALID)


def test_rich_content_does_not_excuse_a_text_of_the_wrong_type():
    assert_row(parse(request_body(message(body={"content": 12}, richContent={"conversation": []}))), INVALID)
    assert_row(parse(request_body(message(body=None, richContent={"conversation": []}))), INVALID)


def test_unknown_keys_are_ignored():
    msg = message(customGrouping3="text-sdk-python-2.0.4", validity="2h", minimumNumberOfMessageParts=1)
    msg["$type"] = "TextMessage"
    assert isinstance(parse(request_body(msg)), SendRequest)


# Row 1: not JSON.


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;Charset=UTF-8",
        'application/json ; charset="utf-8"',
        "text/json",
        "application/vnd.api+json",
    ],
)
def test_json_content_types_are_accepted(content_type):
    assert is_json_content_type(content_type)
    assert isinstance(parse(request_body(), content_type), SendRequest)


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/jsonp", "application/+json", "text/html", "json", "application/xml"],
)  # fmt: skip
def test_other_content_types_are_row_1(content_type):
    assert not is_json_content_type(content_type)
    assert_row(parse(request_body(), content_type), NOT_JSON)


@pytest.mark.parametrize(
    "body",
    [None, "", "   ", "{", "{'messages': {}}", "[1,]", "messages=1&msg=2", "NaN", '{"messages": Infinity}',
     '{"messages": {"msg": [-NaN]}}', "<xml/>", '{"a": 1} trailing'],
)  # fmt: skip
def test_bodies_that_do_not_parse_are_row_1(body):
    assert_row(parse(body), NOT_JSON)


def test_a_byte_order_mark_is_tolerated():
    assert isinstance(parse("\ufeff" + json.dumps(request_body())), SendRequest)


def test_lone_surrogate_in_the_text_is_row_1():
    assert_row(parse_send_request('{"messages": "\ud800"}', JSON, None), NOT_JSON)


# Row 2: JSON, but not a valid request.


def _with_msg(**fields: Any) -> dict[str, Any]:
    msg = message()
    for name, value in fields.items():
        if value is _DELETE:
            msg.pop(name, None)
        else:
            msg[name] = value
    return request_body(msg)


_DELETE = object()

INVALID_REQUESTS: list[Any] = [
    [],
    [request_body()],
    "messages",
    42,
    None,
    {},
    {"messages": None},
    {"messages": []},
    {"messages": [{"msg": [message()]}]},
    {"messages": "msg"},
    {"messages": {}},
    {"messages": {"msg": None}},
    {"messages": {"msg": []}},
    {"messages": {"msg": message()}},
    {"messages": {"msg": [None]}},
    {"messages": {"msg": ["text"]}},
    {"messages": {"msg": [[message()]]}},
    {"msg": [message()]},
    _with_msg(to=_DELETE),
    _with_msg(to=None),
    _with_msg(to=[]),
    _with_msg(to="0031612345678"),
    _with_msg(to={"number": "0031612345678"}),
    _with_msg(to=["0031612345678"]),
    _with_msg(to=[{"number": 31612345678}]),
    _with_msg(to=[{"number": None}]),
    _with_msg(to=[{"number": ""}]),
    _with_msg(to=[{"number": "   "}]),
    _with_msg(to=[{"phone": "0031612345678"}]),
    _with_msg(to=[{"number": "1" * 65}]),
    _with_msg(to=[{"number": ["0031612345678"]}]),
    _with_msg(body=_DELETE),
    _with_msg(body=None),
    _with_msg(body="Hello"),
    _with_msg(body=["Hello"]),
    _with_msg(body={}),
    _with_msg(body={"content": None}),
    _with_msg(body={"content": ""}),
    _with_msg(body={"content": " \n "}),
    _with_msg(body={"content": 12}),
    _with_msg(body={"content": {"text": "hi"}}),
    _with_msg(body={"content": "hi", "type": "binary data"}),
    _with_msg(body={"content": "hi", "type": "unicode"}),
    _with_msg(body={"content": "hi", "type": 0}),
    _with_msg(body={"content": "x" * (MAX_CONTENT_CHARS + 1)}),
    _with_msg(**{"from": 1234}),
    _with_msg(**{"from": ["Test"]}),
    _with_msg(reference=42),
    _with_msg(reference="r" * 65),
    _with_msg(reference={"id": "x"}),
    _with_msg(allowedChannels="WhatsApp"),
    _with_msg(allowedChannels={"0": "SMS"}),
    _with_msg(allowedChannels=[None]),
    _with_msg(allowedChannels=[""]),
    _with_msg(allowedChannels=[1]),
    _with_msg(allowedChannels=[["SMS"]]),
    _with_msg(allowedChannels=["x" * 65]),
    _with_msg(maximumNumberOfMessageParts=0),
    _with_msg(maximumNumberOfMessageParts=256),
    _with_msg(maximumNumberOfMessageParts=1.5),
    _with_msg(maximumNumberOfMessageParts=True),
    _with_msg(maximumNumberOfMessageParts="two"),
    _with_msg(maximumNumberOfMessageParts="-1"),
    _with_msg(minimumNumberOfMessageParts=0),
    _with_msg(minimumNumberOfMessageParts=[1]),
    _with_msg(dcs=-1),
    _with_msg(dcs=256),
    _with_msg(dcs="8bit"),
    _with_msg(dcs={"value": 8}),
    _with_msg(richContent="text"),
    _with_msg(richContent=[{"text": "hi"}]),
    _with_msg(body={"content": "\ud800"}),
    _with_msg(to=[{"number": "\udfff31612345678"}]),
    _with_msg(richContent={"conversation": [{"text": "\ud83d"}]}),
    {"messages": {"authentication": "token", "msg": [message()]}},
    {"messages": {"authentication": [{"producttoken": KEY}], "msg": [message()]}},
    # Row 2 comes before rows 5-7: a broken second message is row 2, not bulk.
    request_body(message(), message(body=None)),
    request_body(message(allowedChannels=["SMS", "WhatsApp"]), {"to": []}),
]


@pytest.mark.parametrize("body", INVALID_REQUESTS)
def test_invalid_requests_are_row_2(body):
    result = parse(json.dumps(body))
    assert_row(result, INVALID)
    assert isinstance(result, Refusal)
    assert result.hint


def test_row_2_hint_names_the_path_not_the_value():
    result = parse(_with_msg(to=[{"number": 31612345678}]))
    assert isinstance(result, Refusal)
    assert result.hint == "messages.msg[0].to[0].number must be a string"


def test_content_at_the_limit_is_accepted():
    assert isinstance(parse(_with_msg(body={"content": "x" * MAX_CONTENT_CHARS})), SendRequest)


def test_body_over_the_size_limit_is_row_2():
    filler = "y" * MAX_BODY_BYTES
    assert_row(parse(_with_msg(customGrouping=filler)), INVALID)
    # Bytes, not characters: 3-byte characters cross the limit sooner.
    assert_row(parse(_with_msg(customGrouping="€" * (MAX_BODY_BYTES // 3))), INVALID)


def test_a_megabyte_of_anything_is_row_2():
    assert_row(parse("{" * 1_000_000), INVALID)
    assert_row(parse(" " * 1_000_000), INVALID)


def test_nesting_past_the_parser_is_row_2():
    depth = 50_000
    assert_row(parse_send_request("[" * depth + "]" * depth, JSON, None, max_body_bytes=10**6), INVALID)
    assert_row(parse_send_request('{"a":' * depth + "1" + "}" * depth, JSON, None, max_body_bytes=10**6), INVALID)


def test_numbers_json_cannot_round_trip_are_row_2():
    assert_row(parse('{"messages": {"msg": [], "x": ' + "9" * 5000 + "}}"), INVALID)
    rich = '{"conversation": [{"location": {"latitude": 1e999}}]}'
    text = json.dumps(_with_msg(richContent={})).replace('"richContent": {}', '"richContent": ' + rich)
    assert_row(parse(text), INVALID)


def test_rich_content_depth_is_limited():
    def nested(levels: int) -> dict[str, Any]:
        node: dict[str, Any] = {"text": "deep"}
        for _ in range(levels - 1):
            node = {"x": node}
        return node

    assert isinstance(parse(_with_msg(richContent=nested(MAX_RICH_CONTENT_DEPTH))), SendRequest)
    assert_row(parse(_with_msg(richContent=nested(MAX_RICH_CONTENT_DEPTH + 1))), INVALID)


# JSON keys in any letter case, at every level.


def _recased(value: Any, recase: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {recase(key): _recased(item, recase) for key, item in value.items()}
    if isinstance(value, list):
        return [_recased(item, recase) for item in value]
    return value


@pytest.mark.parametrize(
    "recase",
    [str.upper, str.lower, str.capitalize, str.swapcase, lambda key: key[:1].upper() + key[1:]],
    ids=["upper", "lower", "capitalize", "swapcase", "pascal"],
)
def test_keys_match_in_any_case(recase):
    body = request_body(message(reference="r1", allowedChannels=["WhatsApp"], richContent={"conversation": []}))
    request = parsed(_recased(body, recase))
    assert (request.token, request.channel, request.reference) == (KEY, Channel.WHATSAPP, "r1")
    assert request.sender == "TrialTest"
    assert request.to_raw == "0031612345678"
    assert request.content == "Hello from the trial"
    assert request.rich_content is not None


def test_zapier_spelling():
    body = {
        "Messages": {
            "Authentication": {"ProductToken": KEY},
            "Msg": [{"From": "Zapier", "To": [{"Number": "+31612345678"}], "Body": {"Content": "hi", "Type": "AUTO"},
                     "AllowedChannels": ["sms"], "Reference": "z1"}],
        }
    }  # fmt: skip
    request = parsed(body)
    assert (request.token, request.channel, request.sender, request.reference) == (KEY, Channel.SMS, "Zapier", "z1")


@pytest.mark.parametrize("token_key", ["producttoken", "productToken", "ProductToken", "PRODUCTTOKEN"])
def test_body_token_in_any_sdk_spelling(token_key):
    body = {"messages": {"authentication": {token_key: KEY}, "msg": [message()]}}
    assert parsed(body).token == KEY


def test_exact_case_key_wins_over_a_recased_duplicate():
    body = {"messages": {"Msg": [], "msg": [message()]}}
    assert isinstance(parse(body), SendRequest)


# The key: header or body.


def test_header_token_alone():
    assert parsed(request_body(token=None), header=KEY).token == KEY


def test_token_is_normalized_to_lower_case():
    assert parsed(request_body(token=KEY.upper())).token == KEY
    assert parsed(request_body(token=None), header=f"  {KEY.upper()} ").token == KEY


def test_header_wins_over_body():
    assert parsed(request_body(token=OTHER_KEY), header=KEY).token == KEY


def test_malformed_header_falls_back_to_the_body():
    assert parsed(request_body(token=KEY), header="not-a-key").token == KEY


@pytest.mark.parametrize(
    "token",
    ["", "not-a-key", KEY.replace("-", ""), KEY + "0", "{" + KEY + "}", 12345, None, ["x"], {"k": KEY}, "k" * 10_000],
)
def test_malformed_body_token_is_missing_not_invalid(token):
    # Row 4, answered by the caller: a malformed key is the same as no key.
    body = {"messages": {"authentication": {"producttoken": token}, "msg": [message()]}}
    assert parsed(body).token is None


@pytest.mark.parametrize("header", ["", "   ", "bearer " + KEY, KEY * 2, "k" * 10_000])
def test_malformed_header_is_missing(header):
    assert parsed(request_body(token=None), header=header).token is None


def test_authentication_may_be_null_or_empty():
    assert parsed({"messages": {"authentication": None, "msg": [message()]}}).token is None
    assert parsed({"messages": {"authentication": {}, "msg": [message()]}}).token is None


# Channels.


@pytest.mark.parametrize(
    ("value", "channel"),
    [
        ("SMS", Channel.SMS),
        ("sms", Channel.SMS),
        ("WhatsApp", Channel.WHATSAPP),
        ("whatsapp", Channel.WHATSAPP),
        ("Whatsapp", Channel.WHATSAPP),
        ("WHATSAPP", Channel.WHATSAPP),
        ("Facebook Messenger", Channel.MESSENGER),
        ("FacebookMessenger", Channel.MESSENGER),
        ("facebook messenger", Channel.MESSENGER),
        ("Instagram", Channel.INSTAGRAM),
        ("instagram", Channel.INSTAGRAM),
        (" Instagram ", Channel.INSTAGRAM),
    ],
)
def test_channel_values_any_case(value, channel):
    request = parsed(request_body(message(allowedChannels=[value])))
    assert request.channel is channel
    assert unsupported(request) is None


@pytest.mark.parametrize("value", ["Viber", "RCS", "Telegram Messenger", "Apple Messages for Business", "Messenger"])
def test_unknown_channel_is_kept_raw_for_row_8(value):
    request = parsed(request_body(message(allowedChannels=[value])))
    assert request.channel is None
    assert request.channel_raw == value
    assert unsupported(request) is None
    assert request.recipient is None


@pytest.mark.parametrize("value", [_DELETE, None, []])
def test_no_allowed_channels_means_sms(value):
    request = parsed(_with_msg(allowedChannels=value))
    assert (request.channel, request.channel_raw) == (Channel.SMS, "SMS")


def test_the_same_channel_twice_is_one_channel():
    request = parsed(request_body(message(allowedChannels=["WhatsApp", "whatsapp", "Whatsapp"])))
    assert request.channel is Channel.WHATSAPP
    assert unsupported(request) is None


# Rows 5, 6 and 7, in the table's order (answered by the caller after the key check).


def test_row_5_multiple_channels():
    request = parsed(request_body(message(allowedChannels=["WhatsApp", "SMS"])))
    assert unsupported(request) == answers.multiple_channels()
    assert request.token == KEY


def test_row_5_with_an_unknown_second_channel():
    assert unsupported(parsed(request_body(message(allowedChannels=["SMS", "Viber"])))) == answers.multiple_channels()


def test_row_6_bulk():
    request = parsed(request_body(message(), message(to=[{"number": "0031687654321"}])))
    assert unsupported(request) == answers.bulk_messages()
    assert request.to_raw == "0031612345678"


def test_row_7_multiple_recipients():
    request = parsed(request_body(message(to=[{"number": "0031612345678"}, {"number": "0031687654321"}])))
    refusal = unsupported(request)
    assert refusal == answers.multiple_recipients()
    assert request.to_raw == "0031612345678"
    body = answers.envelope(refusal, to=request.to_raw, reference=request.reference)
    assert body["messages"][0]["to"] == "0031612345678"
    assert body["messages"][0]["messageDetails"] == body["details"]


def test_channels_and_recipients_is_row_5():
    msg = message(allowedChannels=["WhatsApp", "SMS"], to=[{"number": "0031612345678"}, {"number": "0031687654321"}])
    assert unsupported(parsed(request_body(msg))) == answers.multiple_channels()


def test_bulk_and_recipients_is_row_6():
    two = [{"number": "0031612345678"}, {"number": "0031687654321"}]
    assert unsupported(parsed(request_body(message(to=two), message(to=two)))) == answers.bulk_messages()


def test_fallback_in_a_later_message_is_still_row_5():
    later = message(allowedChannels=["WhatsApp", "SMS"])
    assert unsupported(parsed(request_body(message(), later))) == answers.multiple_channels()


def test_rows_5_to_7_do_not_hide_a_missing_key():
    request = parsed(request_body(message(allowedChannels=["WhatsApp", "SMS"]), token=None))
    # The send checks the key before it answers what the request asks that the trial does not support.
    assert request.token is None
    assert unsupported(request) is not None


# Recipients.


@pytest.mark.parametrize(
    ("channel", "raw", "expected"),
    [
        (Channel.SMS, "0031612345678", "+31612345678"),
        (Channel.SMS, "+31612345678", "+31612345678"),
        (Channel.SMS, "31612345678", "+31612345678"),
        (Channel.SMS, "+31 6 1234 5678", "+31612345678"),
        (Channel.WHATSAPP, "0044 7911 123456", "+447911123456"),
        (Channel.WHATSAPP, "447911123456", "+447911123456"),
        (Channel.SMS, "0612345678", None),
        (Channel.SMS, "not a number", None),
        (Channel.MESSENGER, "6789012345678901", "6789012345678901"),
        (Channel.INSTAGRAM, " 17841400000000000 ", "17841400000000000"),
        (Channel.MESSENGER, "+31612345678", None),
        (None, "0031612345678", None),
    ],
)
def test_recipient_address(channel, raw, expected):
    assert recipient_address(channel, raw) == expected


def test_recipient_follows_the_channel():
    request = parsed(request_body(message(allowedChannels=["Facebook Messenger"], to=[{"number": "6789012345"}])))
    assert request.recipient == "6789012345"
    assert parsed(request_body(message(to=[{"number": "00447911123456"}]))).recipient == "+447911123456"


# Hostile input: never anything but a SendRequest or a row 1/2 refusal.

ROUNDS = 500
STRINGS = [
    "", " ", "0", "null", "auto", "AUTO", "TEXT", "binary", "SMS", "sms", "WhatsApp", "whatsapp", "Viber",
    "FacebookMessenger", "Instagram", "0031612345678", "+31612345678", "6789012345", KEY, KEY.upper(),
    "\ud800", "\x00", "€", "😀", "<script>", "x" * 70, "9" * 40,
]  # fmt: skip
KEYS = [
    "messages", "Messages", "msg", "Msg", "authentication", "Authentication", "producttoken", "productToken",
    "to", "To", "number", "body", "content", "Content", "type", "from", "reference", "allowedChannels",
    "AllowedChannels", "richContent", "conversation", "text", "",
]  # fmt: skip


def break_text(rng: random.Random, text: str) -> str:
    cut = rng.randrange(len(text) + 1)
    return rng.choice([text[:cut], text[:cut] + rng.choice(["}", "]", ",", '"', "\\", "\ud800"]) + text[cut:]])


FIXTURES = [
    request_body(),
    request_body(message(reference="r1", allowedChannels=["WhatsApp"], richContent={"conversation": [{"text": "x"}]})),
    request_body(message(allowedChannels=["SMS", "WhatsApp"], to=[{"number": "1"}, {"number": "2"}]), message()),
    {"Messages": {"Authentication": {"ProductToken": KEY}, "Msg": [{"To": [{"Number": "6789"}],
                  "Body": {"Content": "hi"}, "AllowedChannels": ["Instagram"]}]}},
]  # fmt: skip


def hostile_texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    hostile = HostileJson(rng, STRINGS, KEYS, max_depth=5)
    texts = [json.dumps(hostile.value()) for _ in range(ROUNDS // 5)]
    texts += [json.dumps(hostile.mutate(rng.choice(FIXTURES))) for _ in range(ROUNDS)]
    texts += [break_text(rng, json.dumps(rng.choice(FIXTURES))) for _ in range(ROUNDS // 5)]
    return texts


def check_request(request: SendRequest) -> None:
    assert request.token is None or request.token == request.token.lower()
    assert request.channel is None or isinstance(request.channel, Channel)
    assert isinstance(request.channel_raw, str)
    assert request.channel_raw.strip()
    assert isinstance(request.content, str)
    # Blank only beside rich content, which the use case checks for its channel.
    assert request.content.strip() or request.rich_content is not None
    assert len(request.content) <= MAX_CONTENT_CHARS
    assert isinstance(request.to_raw, str)
    assert request.to_raw.strip()
    assert request.recipient is None or isinstance(request.recipient, str)
    assert isinstance(request.body_type, BodyType)
    assert unsupported(request) in (None, answers.multiple_channels(), answers.bulk_messages(),
                                   answers.multiple_recipients())  # fmt: skip
    # Everything kept goes to DynamoDB and SQS as UTF-8 JSON.
    fields = [request.channel_raw, request.sender, request.to_raw, request.content, request.reference,
              request.rich_content]  # fmt: skip
    json.dumps(fields, ensure_ascii=False, allow_nan=False).encode("utf-8")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hostile_input_gives_a_request_or_row_1_or_2(seed):
    rng = random.Random(seed)
    accepted = refused = 0
    for text in hostile_texts(seed):
        content_type = rng.choice([JSON, JSON, JSON, "text/json; charset=utf-8", "text/plain", None])
        result = _answered(parse_send_request(text, content_type, rng.choice([None, KEY, "junk", "\ud800"])))
        if isinstance(result, SendRequest):
            check_request(result)
            accepted += 1
        else:
            assert isinstance(result, Refusal)
            assert result.details in (NOT_JSON, INVALID)
            assert (result.http_status, result.error_code, result.per_recipient) == (400, 202, False)
            json.dumps(answers.envelope(result, to=None, reference=None), ensure_ascii=False).encode("utf-8")
            refused += 1
    # The generator reaches both outcomes, so the test exercises the parser rather than its first check.
    assert accepted > 20
    assert refused > 100
