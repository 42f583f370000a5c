"""The send gateway's logic: DESIGN.md's table "Send: order of checks and answers", row by row, in its order.

Requests go through `parse_send_request` as the handler does, and outcomes become answers as the handler makes them
(tests.send_answers); the stores, queue and capacity breaker are the fakes, so each test also checks what was (not)
taken, recorded, queued and counted.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tests.cm_requests import WHATSAPP_TEMPLATE, cm_send_body
from tests.fakes import (
    FakeCapacityStore,
    FakeClock,
    FakeMessageLog,
    FakeOutboundQueue,
    FakeSendKeys,
    FakeTrialStore,
)
from tests.send_answers import send, trial_status
from trialgw.country_rules import replaced_notice, replacement_text, warning_text
from trialgw.errors import DependencyUnavailable
from trialgw.gateway import answers
from trialgw.gateway.request import parse_send_request
from trialgw.gateway.respond import GatewayAnswer, refusal_for
from trialgw.keys import hash_key, new_key
from trialgw.logic import send as use_case
from trialgw.logic.capacity import CapacityBreaker, window_start
from trialgw.logic.send import SendDeps
from trialgw.logic.send_outcomes import Accepted, Objection, Reason, Refused
from trialgw.models import Channel, Trial, TrialStatus
from trialgw.ports import BreakerState
from trialgw.rich_content import Problem, RichProblem
from trialgw.settings import SendSettings
from trialgw.sms import count_parts

NOW = 1_800_000_000
EXPIRES = NOW + 3600
EXPIRES_ISO = "2027-01-15T09:00:00Z"
SETTINGS = SendSettings()

PHONE = "+31612345678"  # the Netherlands: no SMS country rule
OTHER_PHONE = "+31687654321"
PSID = "1234567890"
IGSID = "9876543210"
US_PHONE = "+12125550123"
GERMAN_PHONE = "+4915123456789"  # in the seed's content-filter list
KAZAKH_PHONE = "+77012345678"
RUSSIAN_PHONE = "+79123456789"

# The seed's tail of every "not supported in the trial" sentence.
ONBOARD = "Please onboard to our platform to get the full functionality."
SMS_LIMIT = (
    "SMS messages in the trial are limited to 2 parts: 288 GSM-7 characters or 126 Unicode characters "
    "(one part holds 144 GSM-7 or 63 Unicode characters; GSM-7 extension characters such as € count double, "
    "and so do emoji in Unicode)."
)


@dataclass
class World:
    trials: FakeTrialStore
    messages: FakeMessageLog
    outbound: FakeOutboundQueue
    capacity: FakeCapacityStore
    clock: FakeClock
    deps: SendDeps
    send_keys: FakeSendKeys


def _world(settings: SendSettings = SETTINGS) -> World:
    trials, messages, outbound = FakeTrialStore(), FakeMessageLog(), FakeOutboundQueue()
    capacity, clock, send_keys = FakeCapacityStore(), FakeClock(NOW), FakeSendKeys()
    breaker = CapacityBreaker(
        capacity,
        clock,
        limit=settings.capacity_limit,
        window_seconds=settings.capacity_window_seconds,
        cache_seconds=settings.capacity_cache_seconds,
        flush_seconds=0,
    )
    ids = itertools.count(1)
    deps = SendDeps(
        trials,
        messages,
        outbound,
        breaker,
        clock,
        new_message_id=lambda: f"msg-{next(ids)}",
        send_keys=send_keys,
        # As the send function wires it: a refusal's record keeps the answer's text and errorCode.
        describe_refusal=lambda refused: _note(refused, settings),
    )
    return World(trials, messages, outbound, capacity, clock, deps, send_keys)


def _note(refused: Refused, settings: SendSettings) -> use_case.RefusalNote:
    refusal = refusal_for(refused, settings)
    return use_case.RefusalNote(refusal.details, refusal.error_code)


@pytest.fixture
def world() -> World:
    return _world()


def _trial(
    world: World,
    *whitelisted: tuple[Channel, str],
    expires_at: int = EXPIRES,
    status: TrialStatus = TrialStatus.ACTIVE,
) -> str:
    """A trial (default: active, an hour left) with `whitelisted` recipients; returns its key."""
    key = new_key()
    key_hash = hash_key(key)
    world.trials.create(Trial(key_hash, "Jane", "jane@example.com", None, NOW - 60, expires_at, status), ttl=expires_at)
    for channel, address in whitelisted:
        world.trials.whitelist(key_hash, channel, address)
    return key


def _body(
    *,
    channels: Sequence[str] | None = ("WhatsApp",),
    to: Sequence[str] = (PHONE,),
    content: str = "Hello from the trial",
    sender: str | None = "Test",
    reference: str | None = "ref-1",
    items: int = 1,
    rich_content: dict[str, Any] | None = None,
    body_key: str | None = None,
) -> str:
    return cm_send_body(
        body_key,
        channels=channels,
        to=to,
        content=content,
        sender=sender,
        reference=reference,
        items=items,
        rich_content=rich_content,
    )


def _send(world: World, key: str | None, *, settings: SendSettings = SETTINGS, **fields: Any) -> GatewayAnswer:
    parsed = parse_send_request(_body(**fields), "application/json", key)
    return send(parsed, settings, world.deps)


def _assert_refused(
    answer: GatewayAnswer, status: int, code: int, details: str, *, rejected_to: str | None = None
) -> None:
    """The status and CM's envelope; `rejected_to` for a per-recipient row, whose entry repeats the text."""
    assert answer.status == status
    messages = []
    if rejected_to is not None:
        messages.append(
            {
                "to": rejected_to,
                "status": "Rejected",
                "reference": "ref-1",
                "parts": 0,
                "messageDetails": details,
                "messageErrorCode": code,
            }
        )
    assert answer.body == {"details": details, "errorCode": code, "messages": messages}


def _assert_nothing_taken(world: World) -> None:
    assert all(count == 0 for counts in world.trials.sent.values() for count in counts.values())
    # A refusal of a known trial is recorded as such (its own write), never as a message to deliver.
    assert all(message.status == "refused" for message in world.messages.recorded)
    assert world.outbound.queued == []
    assert world.capacity.adds == []


def _trial_headers(remaining: dict[str, int] | None = None) -> dict[str, str]:
    left = {"SMS": 10, "WhatsApp": 10, "Messenger": 30, "Instagram": 30, **(remaining or {})}
    return {"X-Trial-Expires-At": EXPIRES_ISO, **{f"X-Trial-Remaining-{name}": str(n) for name, n in left.items()}}


def _sent(world: World, key: str) -> dict[Channel, int]:
    return dict(world.trials.sent.get(hash_key(key), {}))


# Rows 1 and 2: the parser's refusals.


def test_row_01_body_that_is_not_json(world):
    _trial(world, (Channel.WHATSAPP, PHONE))
    answer = send(parse_send_request("messages=hello", "application/x-www-form-urlencoded", None), SETTINGS, world.deps)
    _assert_refused(answer, 400, 202, "Incoming request is not JSON. Check the content-type and content.")
    assert answer.headers == {}
    _assert_nothing_taken(world)


def test_row_01_json_content_type_but_no_json(world):
    answer = send(parse_send_request("{not json", "application/json", None), SETTINGS, world.deps)
    _assert_refused(answer, 400, 202, answers.NOT_JSON)


def test_row_02_json_but_not_a_send_request(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = send(parse_send_request('{"messages": {"msg": []}}', "application/json", key), SETTINGS, world.deps)
    _assert_refused(answer, 400, 202, "Invalid POST data. Please double check your JSON payload.")
    assert answer.headers == {}
    assert world.trials.state_reads == []
    _assert_nothing_taken(world)


def test_rows_1_and_2_come_before_the_breaker(world):
    world.capacity.state = BreakerState(tripped=True)
    answer = send(parse_send_request("hello", "text/plain", None), SETTINGS, world.deps)
    _assert_refused(answer, 400, 202, answers.NOT_JSON)
    assert world.capacity.breaker_reads == 0


# Row 3: the capacity breaker.


@pytest.mark.parametrize("has_key", [True, False], ids=["good-key", "no-key"])
def test_row_03_tripped_breaker_refuses_before_the_key_is_checked(world, has_key):
    key = _trial(world, (Channel.WHATSAPP, PHONE)) if has_key else None
    world.capacity.state = BreakerState(tripped=True, tripped_at=NOW - 10, tripped_count=1001)
    answer = _send(world, key)
    _assert_refused(answer, 503, 999, "The trial functionality is at capacity right now, please try again later.")
    assert answer.headers == {"Retry-After": "900"}
    assert world.trials.state_reads == []
    assert world.trials.takes == []
    _assert_nothing_taken(world)


def test_row_03_retry_after_is_a_setting(world):
    world.capacity.state = BreakerState(tripped=True)
    answer = _send(world, None, settings=SETTINGS.model_copy(update={"capacity_retry_after_seconds": 60}))
    assert answer.status == 503
    assert answer.headers == {"Retry-After": "60"}


# Row 4: the key.


@pytest.mark.parametrize("case", ["missing", "not-a-guid", "unknown", "revoked", "expired", "expires-now"])
def test_row_04_key_missing_unknown_revoked_or_expired(world, case):
    _trial(world, (Channel.WHATSAPP, PHONE))  # a good trial next to it changes nothing
    key: str | None = {
        "missing": None,
        "not-a-guid": "my-key",
        "unknown": new_key(),
        "revoked": _trial(world, (Channel.WHATSAPP, PHONE), status=TrialStatus.REVOKED),
        "expired": _trial(world, (Channel.WHATSAPP, PHONE), expires_at=NOW - 1),
        "expires-now": _trial(world, (Channel.WHATSAPP, PHONE), expires_at=NOW),
    }[case]
    answer = _send(world, key)
    _assert_refused(answer, 401, 101, "Invalid or expired trial token")
    assert answer.headers == {}
    _assert_nothing_taken(world)


def test_row_04_key_in_the_body_is_read_too(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    assert _send(world, None, body_key=key).status == 200
    assert _send(world, None, body_key=new_key()).status == 401


# Rows 5-7: what the trial does not support (found by the parser, answered once the key is good).


def test_row_05_channel_fallback(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = _send(world, key, channels=["WhatsApp", "SMS"])
    _assert_refused(
        answer,
        400,
        203,
        "Using multiple channels in allowedChannels (channel fallback) is not supported in the trial. " + ONBOARD,
    )
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


def test_row_06_bulk_messages(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = _send(world, key, items=2)
    _assert_refused(
        answer, 400, 203, "Sending bulk messages in a single call is not supported in the trial. " + ONBOARD
    )
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


def test_row_07_several_recipients(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE), (Channel.WHATSAPP, OTHER_PHONE))
    answer = _send(world, key, to=[PHONE, OTHER_PHONE])
    _assert_refused(
        answer,
        400,
        302,
        "Sending to multiple recipients in a single call is not supported in the trial. " + ONBOARD,
        rejected_to=PHONE,
    )
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


# Row 8: a channel the trial does not offer.


def test_row_08_unknown_channel(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = _send(world, key, channels=["Viber"])
    details = (
        'The channel "Viber" is not available in the trial. '
        "Use one of these in allowedChannels: SMS, WhatsApp, Facebook Messenger, Instagram. " + ONBOARD
    )
    _assert_refused(answer, 400, 305, details, rejected_to=PHONE)
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


def test_row_08_trial_channel_switched_off_by_settings():
    settings = SETTINGS.model_copy(update={"offered_channels": [Channel.SMS, Channel.WHATSAPP]})
    world = _world(settings)
    key = _trial(world, (Channel.INSTAGRAM, IGSID))
    answer = _send(world, key, settings=settings, channels=["Instagram"], to=[IGSID])
    details = (
        'The channel "Instagram" is not available in the trial. Use one of these in allowedChannels: SMS, WhatsApp.'
    )
    _assert_refused(answer, 400, 305, f"{details} {ONBOARD}", rejected_to=IGSID)
    # Only the offered channels have a remaining-quota header.
    assert answer.headers == {
        "X-Trial-Expires-At": EXPIRES_ISO,
        "X-Trial-Remaining-SMS": "10",
        "X-Trial-Remaining-WhatsApp": "10",
    }
    _assert_nothing_taken(world)


# Rows 9-11: SMS.


@pytest.mark.parametrize("sender", ["abc", "ABCDEFGHIJKL", "Te st", "Tést", "", None], ids=repr)
def test_row_09_sms_sender_not_4_to_11_alphanumerics(world, sender):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send(world, key, channels=None, sender=sender)
    details = "The from: field for SMS is limited to 4-11 alphanumeric characters in the trial. " + ONBOARD
    _assert_refused(answer, 400, 301, details, rejected_to=PHONE)
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


@pytest.mark.parametrize("sender", ["Test", "ABCDEFGHIJK", "Trial2024"])
def test_row_09_sms_sender_of_4_to_11_alphanumerics_is_accepted(world, sender):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send(world, key, channels=["SMS"], sender=sender)
    assert answer.status == 200
    (queued,) = world.outbound.queued
    assert queued.sender == sender


def test_row_10_blocked_destination_kazakhstan(world):
    key = _trial(world, (Channel.SMS, KAZAKH_PHONE))
    answer = _send(world, key, channels=["SMS"], to=[KAZAKH_PHONE])
    details = (
        "Because of rules and regulations, the destination for this message is not allowed in the trial. " + ONBOARD
    )
    _assert_refused(answer, 403, 403, details, rejected_to=KAZAKH_PHONE)
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


@pytest.mark.parametrize("number", ["+255712345678", "+8613912345678", "+6591234567", "+966501234567", "+971501234567"])
def test_row_10_other_blocked_destinations(world, number):
    key = _trial(world, (Channel.SMS, number))
    answer = _send(world, key, channels=["SMS"], to=[number])
    assert answer.status == 403
    assert answer.body["details"] == answers.COUNTRY_BLOCKED
    _assert_nothing_taken(world)


def test_row_10_russia_shares_plus_7_but_is_allowed_with_a_warning(world):
    key = _trial(world, (Channel.SMS, RUSSIAN_PHONE))
    answer = _send(world, key, channels=["SMS"], to=[RUSSIAN_PHONE])
    assert answer.status == 200
    assert answer.body["messages"][0]["messageDetails"] == warning_text("Russia")
    assert world.outbound.queued[0].to == RUSSIAN_PHONE


@pytest.mark.parametrize(
    ("content", "needs"),
    [
        ("a" * 289, "This message needs 3 parts (289 GSM-7 characters)."),
        ("a" * 287 + "€", "This message needs 3 parts (289 GSM-7 characters)."),
        (
            "ж" * 127,
            "This message needs 3 parts (127 Unicode characters). "
            "It is sent as Unicode because 'ж' (U+0436) is not a GSM-7 character.",
        ),
    ],
    ids=["289-gsm7", "287-gsm7-and-euro", "127-unicode"],
)
def test_row_11_sms_longer_than_two_parts(world, content, needs):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send(world, key, channels=["SMS"], content=content)
    _assert_refused(answer, 400, 304, f"{SMS_LIMIT} {needs} {ONBOARD}", rejected_to=PHONE)
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


@pytest.mark.parametrize(
    "content", ["a" * 288, "ж" * 126, "a" * 286 + "€"], ids=["288-gsm7", "126-unicode", "286-gsm7-and-euro"]
)
def test_row_11_two_full_parts_are_accepted(world, content):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send(world, key, channels=["SMS"], content=content)
    assert answer.status == 200
    assert answer.body["messages"][0]["parts"] == 2
    assert world.outbound.queued[0].text == content


def _send_options(world: World, key: str, options: dict[str, Any], **fields: Any) -> GatewayAnswer:
    """A send whose `msg` also carries `options` (CM's SMS options; `body` entries go into `body`)."""
    document = json.loads(_body(**fields))
    msg = document["messages"]["msg"][0]
    msg["body"].update(options.pop("body", {}))
    msg.update(options)
    return send(parse_send_request(json.dumps(document), "application/json", key), SETTINGS, world.deps)


# Row 11's body checks: BINARY, `dcs`, then the trial's 2-part limit, then the request's own maximum within it.


@pytest.mark.parametrize("channel", ["SMS", "WhatsApp"])
def test_row_11_binary_is_not_in_the_trial_on_any_channel(world, channel):
    key = _trial(world, (Channel.SMS, PHONE), (Channel.WHATSAPP, PHONE))
    answer = _send_options(world, key, {"body": {"type": "BINARY"}}, channels=[channel], content="0A0B0C")
    text = (
        "Binary messages (body.type BINARY) are not supported in the trial: send text, with body.type AUTO or "
        f"TEXT. {ONBOARD}"
    )
    _assert_refused(answer, 400, 304, text, rejected_to=PHONE)
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


@pytest.mark.parametrize(
    ("content", "maximum", "needed"),
    [("a" * 200, 1, 2), ("ж" * 64, 1, 2), ("a" * 145, 1, 2)],
    ids=["200-gsm7-max-1", "64-unicode-max-1", "145-gsm7-max-1"],
)
def test_row_11_more_parts_than_maximum_number_of_message_parts_is_productions_304(world, content, maximum, needed):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send_options(world, key, {"maximumNumberOfMessageParts": maximum}, channels=["SMS"], content=content)
    text = f"Maximum number of parts exceeded. (need at least {needed}, max is {maximum})"
    _assert_refused(answer, 400, 304, text, rejected_to=PHONE)
    _assert_nothing_taken(world)


def test_row_11_the_trials_limit_comes_before_the_requests_maximum(world):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send_options(world, key, {"maximumNumberOfMessageParts": 1}, channels=["SMS"], content="a" * 289)
    assert answer.body["details"].startswith(SMS_LIMIT)


@pytest.mark.parametrize(
    ("options", "content", "parts"),
    [
        ({"minimumNumberOfMessageParts": 1, "maximumNumberOfMessageParts": 8}, "a" * 200, 2),  # the SDKs' defaults
        ({"maximumNumberOfMessageParts": 1}, "a" * 144, 1),
        ({"maximumNumberOfMessageParts": 2}, "a" * 288, 2),
        # A minimum refuses nothing: the text goes in the parts it needs.
        ({"minimumNumberOfMessageParts": 2, "maximumNumberOfMessageParts": 2}, "Hi", 1),
    ],
    ids=["sdk-defaults", "one-part-max-1", "two-parts-max-2", "minimum-above-need"],
)
def test_row_11_within_the_requests_bounds_is_accepted(world, options, content, parts):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send_options(world, key, options, channels=["SMS"], content=content)
    assert answer.status == 200, answer.body
    assert answer.body["messages"][0]["parts"] == parts


def test_part_bounds_are_sms_options_other_channels_do_not_count_parts(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = _send_options(world, key, {"maximumNumberOfMessageParts": 1}, content="a" * 400)
    assert answer.status == 200, answer.body


@pytest.mark.parametrize(
    ("content", "dcs"),
    [("Hello", 0), ("Привет", 8), ("Hello", None)],
    ids=["gsm7-dcs-0", "unicode-dcs-8", "no-dcs"],
)
def test_row_11_text_with_the_dcs_its_text_is_sent_in_is_honoured(world, content, dcs):
    key = _trial(world, (Channel.SMS, PHONE))
    options = {"body": {"type": "TEXT"}} | ({} if dcs is None else {"dcs": dcs})
    answer = _send_options(world, key, options, channels=["SMS"], content=content)
    assert answer.status == 200, answer.body
    assert world.outbound.queued[0].text == content


@pytest.mark.parametrize(
    ("content", "dcs", "text"),
    [
        (
            "Hello",
            8,
            "dcs 8 (Unicode) cannot be honoured: every character of this text is GSM-7, so the trial sends it as "
            "GSM-7 (dcs 0). Use dcs 0, leave dcs out, or use body.type AUTO.",
        ),
        (
            "Привет",
            0,
            "dcs 0 (GSM-7) cannot be honoured: 'П' (U+041F) is not a GSM-7 character, so this text is sent as "
            "Unicode (dcs 8). Use dcs 8, leave dcs out, or use body.type AUTO.",
        ),
        (
            "Hello",
            4,
            "dcs 4 is not supported in the trial: SMS texts are sent as GSM-7 (dcs 0) or Unicode (dcs 8). Leave dcs "
            f"out or use body.type AUTO, which chooses for you. {ONBOARD}",
        ),
    ],
    ids=["gsm7-dcs-8", "unicode-dcs-0", "dcs-4"],
)
def test_row_11_text_with_a_dcs_the_trial_cannot_honour_is_refused(world, content, dcs, text):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send_options(world, key, {"body": {"type": "text"}, "dcs": dcs}, channels=["SMS"], content=content)
    _assert_refused(answer, 400, 305, text, rejected_to=PHONE)
    _assert_nothing_taken(world)


def test_row_11_order_sender_then_binary_then_length_then_maximum_then_whitelist(world):
    key = _trial(world, (Channel.SMS, PHONE))
    binary = {"body": {"type": "binary"}, "maximumNumberOfMessageParts": 1}
    bad_sender = _send_options(world, key, dict(binary), channels=["SMS"], sender="ab", content="a" * 289)
    assert bad_sender.body["details"] == answers.SMS_SENDER
    too_long = _send_options(world, key, dict(binary), channels=["SMS"], content="a" * 289)
    assert too_long.body["details"] == answers.BINARY_NOT_SUPPORTED
    unlisted = _send_options(world, key, {"maximumNumberOfMessageParts": 1}, channels=["SMS"], to=[OTHER_PHONE],
                             content="a" * 200)  # fmt: skip
    assert unlisted.body["details"] == "Maximum number of parts exceeded. (need at least 2, max is 1)"
    _assert_nothing_taken(world)


def test_with_auto_dcs_is_ignored_as_production_documents(world):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send_options(world, key, {"body": {"type": "auto"}, "dcs": 8}, channels=["SMS"], content="Hello")
    assert answer.status == 200, answer.body


def test_sms_part_sizes_are_settings(world):
    settings = SETTINGS.model_copy(update={"sms_gsm7_part_chars": 10, "sms_max_parts": 1})
    key = _trial(world, (Channel.SMS, PHONE))
    assert _send(world, key, settings=settings, channels=["SMS"], content="a" * 10).status == 200
    answer = _send(world, key, settings=settings, channels=["SMS"], content="a" * 11)
    assert answer.status == 400
    assert answer.body["details"].startswith("SMS messages in the trial are limited to 1 part: 10 GSM-7 characters")


# Rich content (after the body's kind, before SMS length): what the channel carries, its size, https media.


def test_a_whatsapp_template_without_text_is_sent_and_reads_as_its_name(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = _send(world, key, channels=["Whatsapp"], content="", rich_content=WHATSAPP_TEMPLATE)
    assert answer.status == 200, answer.body
    assert answer.body["messages"][0]["parts"] == 1
    # Counted as any WhatsApp message.
    assert _sent(world, key) == {Channel.WHATSAPP: 1}
    (record,) = world.messages.recorded
    assert record.text == "WhatsApp template order_update: 42"
    payload = json.loads(record.payload)
    assert payload["request"]["messages"]["msg"][0]["body"]["content"] == ""
    assert payload["request"]["messages"]["msg"][0]["richContent"] == WHATSAPP_TEMPLATE
    assert payload["delivered"] == {"text": "WhatsApp template order_update: 42"}
    (queued,) = world.outbound.queued
    assert (queued.text, queued.rich_content) == ("WhatsApp template order_update: 42", WHATSAPP_TEMPLATE)


def test_a_template_on_another_channel_is_refused_naming_where_it_goes(world):
    key = _trial(world, (Channel.MESSENGER, PSID))
    answer = _send(world, key, channels=["Facebook Messenger"], to=[PSID], content="", rich_content=WHATSAPP_TEMPLATE)
    details = (
        'richContent.conversation[0]: "WhatsApp template" cannot be sent on Facebook Messenger; the trial carries it '
        "on WhatsApp only. On Facebook Messenger the trial carries: text, media, rich card, suggestions."
    )
    _assert_refused(answer, 400, 305, details, rejected_to=PSID)
    _assert_nothing_taken(world)


def test_media_must_be_https(world):
    key = _trial(world, (Channel.INSTAGRAM, IGSID))
    rich = {"conversation": [{"media": {"mediaName": "a", "mediaUri": "http://example.com/a.png"}}]}
    answer = _send(world, key, channels=["Instagram"], to=[IGSID], content="", rich_content=rich)
    details = (
        "richContent.conversation[0].media.mediaUri must be an https URL (https://…): the trial sends media and "
        "links from https addresses only."
    )
    _assert_refused(answer, 400, 305, details, rejected_to=IGSID)
    _assert_nothing_taken(world)


def test_rich_content_too_large_is_refused(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    rich = {"conversation": [{"text": "a" * 4000}] * 5}
    answer = _send(world, key, content="", rich_content=rich)
    details = "richContent is larger than the trial's limit of 16384 bytes (as compact JSON)."
    _assert_refused(answer, 400, 305, details, rejected_to=PHONE)


def test_nothing_to_send_is_productions_304(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = _send(world, key, content="", rich_content={"conversation": []})
    details = (
        "A body without content was found. body.content is empty and richContent.conversation has no items: send a "
        "text in body.content, or at least one richContent.conversation item."
    )
    _assert_refused(answer, 400, 304, details, rejected_to=PHONE)


def test_sms_carries_the_text_only(world):
    key = _trial(world, (Channel.SMS, PHONE))
    rich = {"conversation": [{"text": "Rich"}]}
    refused = _send(world, key, channels=["SMS"], content="", rich_content=rich)
    details = (
        "A body without content was found. An SMS carries body.content only: richContent cannot replace it on SMS. "
        "Put the text in body.content, or send the richContent on a channel that carries it (WhatsApp, Facebook "
        "Messenger or Instagram)."
    )
    _assert_refused(refused, 400, 304, details, rejected_to=PHONE)
    _assert_nothing_taken(world)
    # With a text, as CM's SMS fallback: the text is sent, the rich content stays with the rich channels.
    accepted = _send(world, key, channels=["SMS"], content="Plain", rich_content=rich)
    assert accepted.status == 200, accepted.body
    (queued,) = world.outbound.queued
    assert (queued.text, queued.rich_content) == ("Plain", None)


def test_rich_content_order_after_channel_and_before_whitelist(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    offered = _send(world, key, channels=["Viber"], content="", rich_content=WHATSAPP_TEMPLATE)
    assert offered.body["errorCode"] == 305
    assert offered.body["details"].startswith('The channel "Viber" is not available in the trial.')
    unlisted = _send(world, key, channels=["Instagram"], to=[IGSID], content="", rich_content=WHATSAPP_TEMPLATE)
    assert unlisted.body["details"].startswith('richContent.conversation[0]: "WhatsApp template" cannot be sent')
    bad_key = _send(world, new_key(), channels=["Instagram"], to=[IGSID], content="", rich_content=WHATSAPP_TEMPLATE)
    _assert_refused(bad_key, 401, 101, answers.INVALID_TOKEN)
    _assert_nothing_taken(world)


# Row 12: the recipient is not whitelisted on the channel; and a `to` that is no address at all.


@pytest.mark.parametrize(
    ("channel", "to", "where"),
    [
        (
            Channel.WHATSAPP,
            PHONE,
            f"on WhatsApp from {PHONE} to +31850876714 (https://wa.me/31850876714)",
        ),
        (
            Channel.SMS,
            PHONE,
            f"by SMS from {PHONE} to +447860054666 (from the UK), +14232515465 (from the US) "
            "or +3197005159375 (from the Netherlands)",
        ),
        (Channel.MESSENGER, PSID, "on Messenger from that account to https://m.me/cmdotcom"),
        (Channel.INSTAGRAM, IGSID, "as an Instagram direct message from that account to https://ig.me/m/cmdotcom"),
    ],
    ids=lambda value: value.value if isinstance(value, Channel) else None,
)
def test_row_12_not_whitelisted_says_how_to_whitelist(world, channel, to, where):
    # Whitelisted elsewhere, not on this channel.
    others = [(other, PHONE if other in (Channel.SMS, Channel.WHATSAPP) else PSID) for other in Channel]
    key = _trial(world, *[(other, address) for other, address in others if other is not channel])
    answer = _send(world, key, channels=[channel.value], to=[to])
    details = (
        f"The recipient {to} is not whitelisted for {channel.value} in this trial. To whitelist it, send this "
        f"trial's key {where}, then send this message again. A trial can whitelist up to 10 recipients."
    )
    _assert_refused(answer, 403, 302, details, rejected_to=to)
    assert answer.headers == _trial_headers()
    _assert_nothing_taken(world)


def test_row_12_echoes_the_to_as_sent_but_names_the_normalized_number(world):
    key = _trial(world)
    answer = _send(world, key, to=["0031 6 1234 5678"])
    assert answer.status == 403
    assert answer.body["messages"][0]["to"] == "0031 6 1234 5678"
    assert answer.body["details"].startswith(f"The recipient {PHONE} is not whitelisted for WhatsApp")


@pytest.mark.parametrize(
    ("channel", "to", "what"),
    [
        ("WhatsApp", "0612345678", "a phone number in international format, such as +31612345678 or 0031612345678"),
        ("SMS", "hello", "a phone number in international format, such as +31612345678 or 0031612345678"),
        (
            "Facebook Messenger",
            "jane.doe",
            "a Messenger id: the numeric id of the account, as the trial dashboard shows it",
        ),
        ("Instagram", "@jane", "a Instagram id: the numeric id of the account, as the trial dashboard shows it"),
    ],
)
def test_recipient_that_is_no_address_on_the_channel(world, channel, to, what):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = _send(world, key, channels=[channel], to=[to])
    _assert_refused(answer, 400, 302, f'The recipient "{to}" is not {what}. {ONBOARD}', rejected_to=to)
    assert answer.headers == _trial_headers()
    assert world.trials.takes == []
    _assert_nothing_taken(world)


# Row 13: quotas.


def test_row_13_eleventh_whatsapp_message_is_refused(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    for sent in range(1, 11):
        answer = _send(world, key)
        assert answer.status == 200
        assert answer.headers["X-Trial-Remaining-WhatsApp"] == str(10 - sent)
    answer = _send(world, key)
    _assert_refused(
        answer, 429, 102, "You have reached the maximum amount of messages that can be sent via WhatsApp in this trial"
    )
    assert answer.headers == _trial_headers({"WhatsApp": 0})
    assert _sent(world, key)[Channel.WHATSAPP] == 10
    assert [m.status for m in world.messages.recorded] == ["queued"] * 10 + ["refused"]
    assert len(world.outbound.queued) == 10


def test_row_13_sms_quota_is_10(world):
    key = _trial(world, (Channel.SMS, PHONE))
    assert all(_send(world, key, channels=["SMS"]).status == 200 for _ in range(10))
    answer = _send(world, key, channels=["SMS"])
    _assert_refused(answer, 429, 102, answers.QUOTA_USED_UP.replace("[channel]", "SMS"))


def test_row_13_messenger_allows_30_and_instagram_has_its_own_30(world):
    key = _trial(world, (Channel.MESSENGER, PSID), (Channel.INSTAGRAM, IGSID))
    messenger: dict[str, Any] = {"channels": ["Facebook Messenger"], "to": [PSID]}
    assert all(_send(world, key, **messenger).status == 200 for _ in range(30))
    answer = _send(world, key, **messenger)
    _assert_refused(
        answer,
        429,
        102,
        "You have reached the maximum amount of messages that can be sent via Facebook Messenger in this trial",
    )
    assert answer.headers["X-Trial-Remaining-Messenger"] == "0"
    instagram = _send(world, key, channels=["Instagram"], to=[IGSID])
    assert instagram.status == 200
    assert instagram.headers["X-Trial-Remaining-Instagram"] == "29"
    assert _sent(world, key) == {Channel.MESSENGER: 30, Channel.INSTAGRAM: 1}


def test_row_13_quotas_are_settings(world):
    settings = SETTINGS.model_copy(update={"quota_whatsapp": 1})
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    assert _send(world, key, settings=settings).status == 200
    assert _send(world, key, settings=settings).status == 429


# The order of the checks.


@pytest.mark.parametrize(
    "fields",
    [
        {"channels": ["Viber"]},
        {"channels": ["WhatsApp", "SMS"]},
        {"items": 2},
        {"to": [PHONE, OTHER_PHONE]},
        {"channels": ["SMS"], "sender": "ab"},
        {"channels": ["SMS"], "to": [KAZAKH_PHONE]},
        {"channels": ["SMS"], "content": "a" * 289},
        {"to": ["not a number"]},
        {"to": [OTHER_PHONE]},
    ],
    ids=["row8", "row5", "row6", "row7", "row9", "row10", "row11", "no-address", "row12"],
)
@pytest.mark.parametrize("key_case", ["missing", "unknown", "expired", "revoked"])
def test_a_bad_key_comes_before_every_later_row(world, fields, key_case):
    key = {
        "missing": None,
        "unknown": new_key(),
        "expired": _trial(world, (Channel.WHATSAPP, PHONE), (Channel.SMS, PHONE), expires_at=NOW - 1),
        "revoked": _trial(world, (Channel.WHATSAPP, PHONE), (Channel.SMS, PHONE), status=TrialStatus.REVOKED),
    }[key_case]
    answer = _send(world, key, **fields)
    _assert_refused(answer, 401, 101, answers.INVALID_TOKEN)
    assert answer.headers == {}
    _assert_nothing_taken(world)


def test_a_bad_key_comes_before_a_used_up_quota(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE), expires_at=NOW - 1)
    world.trials.sent[hash_key(key)] = {Channel.WHATSAPP: 10}
    _assert_refused(_send(world, key), 401, 101, answers.INVALID_TOKEN)


@pytest.mark.parametrize(
    ("fields", "row_text"),
    [
        ({"channels": ["WhatsApp", "Viber"], "items": 2}, answers.MULTIPLE_CHANNELS),
        ({"items": 2, "to": [PHONE, OTHER_PHONE]}, answers.BULK_MESSAGES),
        ({"channels": ["Viber"], "to": [PHONE, OTHER_PHONE]}, answers.MULTIPLE_RECIPIENTS),
        ({"channels": ["SMS"], "to": [PHONE, KAZAKH_PHONE], "sender": "ab"}, answers.MULTIPLE_RECIPIENTS),
        ({"channels": ["Viber"], "to": ["not a number"]}, 'The channel "Viber" is not available'),
        ({"channels": ["SMS"], "to": [KAZAKH_PHONE], "sender": "ab"}, answers.SMS_SENDER),
        ({"channels": ["SMS"], "to": [KAZAKH_PHONE], "content": "a" * 289}, answers.COUNTRY_BLOCKED),
        ({"channels": ["SMS"], "to": [OTHER_PHONE], "content": "a" * 289}, SMS_LIMIT),
        ({"channels": ["SMS"], "to": ["hello"], "content": "a" * 289}, SMS_LIMIT),
    ],
    ids=[
        "5-before-6",
        "6-before-7",
        "7-before-8",
        "7-before-9",
        "8-before-address",
        "9-before-10",
        "10-before-11",
        "11-before-12",
        "11-before-address",
    ],
)
def test_a_good_key_with_two_problems_gets_the_lower_row(world, fields, row_text):
    key = _trial(world, (Channel.WHATSAPP, PHONE), (Channel.SMS, PHONE))
    answer = _send(world, key, **fields)
    assert answer.body["details"].startswith(row_text)
    assert world.trials.takes == []
    _assert_nothing_taken(world)


def test_not_whitelisted_comes_before_a_used_up_quota(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.trials.sent[hash_key(key)] = {Channel.WHATSAPP: 10}
    answer = _send(world, key, to=[OTHER_PHONE])
    assert answer.status == 403
    assert answer.body["details"].startswith(f"The recipient {OTHER_PHONE} is not whitelisted for WhatsApp")
    assert _sent(world, key)[Channel.WHATSAPP] == 10


def test_a_refusal_costs_at_most_one_store_call(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    _send(world, key, channels=["Viber"])
    assert (len(world.trials.state_reads), len(world.trials.takes)) == (1, 0)
    _send(world, key, to=[OTHER_PHONE])
    assert (len(world.trials.state_reads), len(world.trials.takes)) == (1, 1)


# Accepted.


def test_accepted_whatsapp_message(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    rich = {"conversation": [{"text": "Hello"}, {"media": {"mediaName": "logo", "mediaUri": "https://x.test/a.png"}}]}
    answer = _send(world, key, to=["0031612345678"], reference="order-42", rich_content=rich)
    assert answer.status == 200
    assert answer.body == {
        "details": "Created 1 message(s)",
        "errorCode": 0,
        "messages": [
            {
                "to": "0031612345678",
                "status": "Accepted",
                "reference": "order-42",
                "parts": 1,
                "messageDetails": None,
                "messageErrorCode": 0,
            }
        ],
    }
    assert answer.headers == _trial_headers({"WhatsApp": 9})
    assert world.trials.takes == [(hash_key(key), Channel.WHATSAPP, PHONE, NOW, 10)]
    assert _sent(world, key) == {Channel.WHATSAPP: 1}

    (record,) = world.messages.recorded
    assert record.key_hash == hash_key(key)
    assert record.direction == "outbound"
    assert record.channel is Channel.WHATSAPP
    assert record.counterpart == PHONE
    assert record.text == "Hello from the trial"
    assert record.at == NOW
    assert record.message_id == "msg-1"
    assert record.status == "queued"
    assert record.ttl == EXPIRES + SETTINGS.expired_retention_seconds
    payload = json.loads(record.payload)
    assert payload["request"] == {
        "messages": {
            "msg": [
                {
                    "allowedChannels": ["WhatsApp"],
                    "from": "Test",
                    "to": [{"number": "0031612345678"}],
                    "body": {"type": "auto", "content": "Hello from the trial"},
                    "reference": "order-42",
                    "richContent": rich,
                }
            ]
        }
    }
    assert payload["delivered"] == {"text": "Hello from the trial"}

    (queued,) = world.outbound.queued
    assert queued.kind == "send"
    assert queued.channel is Channel.WHATSAPP
    assert queued.to == PHONE
    assert queued.text == "Hello from the trial"
    assert queued.message_id == record.message_id
    assert queued.key_hash == hash_key(key)
    assert queued.at == NOW
    assert queued.sender == "Test"
    assert queued.reference == "order-42"
    assert queued.rich_content == rich


def test_a_send_of_a_trial_with_a_status_url_is_flagged_for_its_status_events(world):
    # Issue 18: the quota's write says whether the trial has a status webhook URL; only then do the record and the
    # queued message carry what the status events need (the reference, the expiry).
    plain, hooked = _trial(world, (Channel.WHATSAPP, PHONE)), _trial(world, (Channel.WHATSAPP, PHONE))
    world.trials.status_webhooks.add(hash_key(hooked))
    assert _send(world, plain, reference="order-1").status == 200
    assert _send(world, hooked, reference="order-2").status == 200
    unflagged, flagged = world.messages.recorded
    assert (unflagged.status_webhook, unflagged.reference) == (False, None)
    assert (flagged.status_webhook, flagged.reference) == (True, "order-2")
    first, second = world.outbound.queued
    assert first.status_webhook_ttl is None
    assert second.status_webhook_ttl == flagged.ttl == EXPIRES + SETTINGS.expired_retention_seconds


def test_accepted_record_never_holds_the_key(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    assert _send(world, None, body_key=key.upper()).status == 200
    (record,) = world.messages.recorded
    assert key not in record.payload.lower()
    assert "authentication" not in record.payload.lower()
    assert key not in repr(world.outbound.queued).lower()


def test_accepted_without_from_or_reference(world):
    key = _trial(world, (Channel.MESSENGER, PSID))
    answer = _send(world, key, channels=["Facebook Messenger"], to=[PSID], sender=None, reference=None)
    assert answer.status == 200
    assert answer.body["messages"][0]["reference"] is None
    (queued,) = world.outbound.queued
    assert (queued.channel, queued.to, queued.sender, queued.reference, queued.rich_content) == (
        Channel.MESSENGER,
        PSID,
        None,
        None,
        None,
    )
    assert "reference" not in json.loads(world.messages.recorded[0].payload)["request"]["messages"]["msg"][0]


def test_remaining_headers_count_down_per_channel(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE), (Channel.INSTAGRAM, IGSID))
    assert _send(world, key).headers == _trial_headers({"WhatsApp": 9})
    assert _send(world, key).headers == _trial_headers({"WhatsApp": 8})
    assert _send(world, key, channels=["Instagram"], to=[IGSID]).headers == _trial_headers(
        {"WhatsApp": 8, "Instagram": 29}
    )
    # A refusal after the key check shows them too, unchanged.
    assert _send(world, key, channels=["Viber"]).headers == _trial_headers({"WhatsApp": 8, "Instagram": 29})


def test_accepted_sms_without_a_country_rule(world):
    key = _trial(world, (Channel.SMS, PHONE))
    answer = _send(world, key, channels=None, sender="Trial", content="Hi")
    assert answer.status == 200
    (message,) = answer.body["messages"]
    assert (message["status"], message["parts"], message["messageDetails"]) == ("Accepted", 1, None)
    (queued,) = world.outbound.queued
    assert (queued.channel, queued.to, queued.text, queued.sender) == (Channel.SMS, PHONE, "Hi", "Trial")
    payload = json.loads(world.messages.recorded[0].payload)
    assert payload["request"]["messages"]["msg"][0]["allowedChannels"] == ["SMS"]
    assert payload["sms"] == {
        "encoding": "GSM-7",
        "characters": 2,
        "parts": 1,
        "partSize": 144,
        "deliveredParts": 1,
    }
    assert payload["countryRule"] == {"region": "NL", "country": None, "action": "allow"}


@pytest.mark.parametrize(
    ("number", "region", "country"),
    [
        (US_PHONE, "US", "United States"),
        ("+61412345678", "AU", "Australia"),
        # The seed's replacement is by prefix: territories under +1 and +61 are replaced too, named as themselves.
        ("+17872345678", "PR", "Puerto Rico"),
        ("+16713001234", "GU", "Guam"),
        ("+18762101234", "JM", "Jamaica"),
        ("+61891641234", "CX", "Christmas Island"),
    ],
)
def test_accepted_sms_to_a_restricted_country_is_replaced_with_the_generic_text(number, region, country):
    settings = SETTINGS.model_copy(update={"brand": "ACME"})
    world = _world(settings)
    key = _trial(world, (Channel.SMS, number))
    answer = _send(world, key, settings=settings, channels=["SMS"], to=[number], content="My own text")
    assert answer.status == 200
    (message,) = answer.body["messages"]
    assert message["messageDetails"] == replaced_notice(country)
    assert "replaced" in message["messageDetails"]
    generic = replacement_text("ACME")
    assert generic == (
        "Because of regulations in this destination, your message from the ACME trial gateway has been replaced. "
        "Onboard to our platform for full functionality."
    )
    assert message["parts"] == count_parts(generic, gsm7_part_chars=144, unicode_part_chars=63).parts
    (queued,) = world.outbound.queued
    assert queued.text == generic
    (record,) = world.messages.recorded
    assert record.text == "My own text"
    payload = json.loads(record.payload)
    assert payload["delivered"]["text"] == generic
    assert payload["request"]["messages"]["msg"][0]["body"]["content"] == "My own text"
    assert payload["countryRule"] == {"region": region, "country": country, "action": "replace"}


def test_accepted_sms_to_a_content_filtered_country_gets_the_warning(world):
    key = _trial(world, (Channel.SMS, GERMAN_PHONE))
    answer = _send(world, key, channels=["SMS"], to=[GERMAN_PHONE], content="Hallo")
    assert answer.status == 200
    details = answer.body["messages"][0]["messageDetails"]
    assert details == warning_text("Germany")
    assert "Germany" in details
    assert world.outbound.queued[0].text == "Hallo"


# A store or the queue failing: 503, and nothing taken is kept.


def test_quota_take_failing_answers_503(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.trials.fail_take = True
    answer = _send(world, key)
    _assert_refused(answer, 503, 999, answers.UNAVAILABLE)
    assert answer.headers == {"Retry-After": "5"}
    _assert_nothing_taken(world)


def test_state_read_failing_answers_503(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.trials.fail_state = True
    answer = _send(world, key, channels=["Viber"])
    _assert_refused(answer, 503, 999, answers.UNAVAILABLE)
    _assert_nothing_taken(world)


def test_record_failing_gives_the_quota_back_and_queues_nothing(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.messages.fail_record = True
    answer = _send(world, key)
    _assert_refused(answer, 503, 999, answers.UNAVAILABLE)
    assert answer.headers == {"Retry-After": "5"}
    assert world.trials.given_back == [(hash_key(key), Channel.WHATSAPP)]
    # Uncounted from the very capacity window it was counted in (who sent most is ranked by these counts).
    assert world.trials.windows_given_back == world.trials.windows
    assert _sent(world, key) == {Channel.WHATSAPP: 0}
    assert world.outbound.queued == []
    # The write may have happened although its answer was lost: the record is removed all the same.
    assert [message.message_id for message in world.messages.forgotten] == ["msg-1"]
    assert world.capacity.adds == []


def test_enqueue_failing_forgets_the_record_and_gives_the_quota_back(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.outbound.fail = True
    answer = _send(world, key)
    _assert_refused(answer, 503, 999, answers.UNAVAILABLE)
    (forgotten,) = world.messages.forgotten
    assert forgotten.message_id == "msg-1"
    assert world.messages.recorded == []
    assert world.trials.given_back == [(hash_key(key), Channel.WHATSAPP)]
    _assert_nothing_taken(world)
    # The client's retry then goes through as the first message.
    world.outbound.fail = False
    assert _send(world, key).headers["X-Trial-Remaining-WhatsApp"] == "9"


def test_enqueue_and_forget_failing_still_give_the_quota_back(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.outbound.fail = True
    world.messages.fail_forget = True
    answer = _send(world, key)
    assert answer.status == 503
    assert world.trials.given_back == [(hash_key(key), Channel.WHATSAPP)]
    assert _sent(world, key) == {Channel.WHATSAPP: 0}


@pytest.mark.parametrize("failing", ["record", "enqueue"])
def test_give_back_failing_still_answers_503(world, failing):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.trials.fail_give_back = True
    if failing == "record":
        world.messages.fail_record = True
    else:
        world.outbound.fail = True
    answer = _send(world, key)
    _assert_refused(answer, 503, 999, answers.UNAVAILABLE)
    assert answer.headers == {"Retry-After": "5"}
    assert world.trials.given_back == [(hash_key(key), Channel.WHATSAPP)]
    assert world.outbound.queued == []


# The capacity breaker on the send path.


def test_accepted_send_counts_toward_capacity_and_a_refused_one_does_not(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    _send(world, key, to=[OTHER_PHONE])
    assert world.capacity.adds == []
    _send(world, key)
    assert world.capacity.adds == [(1, window_start(NOW, SETTINGS.capacity_window_seconds))]
    # The trial counts the send in the same window, so an operator can rank trials by it when the breaker trips.
    assert world.trials.windows[-1] == window_start(NOW, SETTINGS.capacity_window_seconds)


def test_sends_over_the_capacity_limit_trip_the_breaker():
    settings = SETTINGS.model_copy(update={"capacity_limit": 2})
    world = _world(settings)
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    assert [_send(world, key, settings=settings).status for _ in range(3)] == [200, 200, 200]
    assert world.capacity.trips == [(NOW, 3)]
    answer = _send(world, key, settings=settings)
    _assert_refused(answer, 503, 999, answers.AT_CAPACITY)
    assert answer.headers == {"Retry-After": "900"}
    assert _sent(world, key) == {Channel.WHATSAPP: 3}


# GET status.


@pytest.mark.parametrize("case", ["none", "unknown", "expired", "revoked"])
def test_status_of_a_bad_key_is_401(world, case):
    key = {
        "none": None,
        "unknown": new_key(),
        "expired": _trial(world, expires_at=NOW),
        "revoked": _trial(world, status=TrialStatus.REVOKED),
    }[case]
    answer = trial_status(key, SETTINGS, world.trials, world.clock)
    assert answer.status == 401
    assert answer.body == {"details": "Invalid or expired trial token", "errorCode": 101, "messages": []}
    assert answer.headers == {}


def test_status_of_a_good_key(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE), (Channel.SMS, PHONE), (Channel.MESSENGER, PSID))
    _send(world, key)
    world.clock.now = NOW + 600
    answer = trial_status(key, SETTINGS, world.trials, world.clock)
    assert answer.status == 200
    assert answer.body == {
        "status": "active",
        "expiresAt": EXPIRES_ISO,
        "secondsLeft": 3000,
        "channels": [
            {"channel": "SMS", "quota": 10, "sent": 0, "remaining": 10},
            {"channel": "WhatsApp", "quota": 10, "sent": 1, "remaining": 9},
            {"channel": "Facebook Messenger", "quota": 30, "sent": 0, "remaining": 30},
            {"channel": "Instagram", "quota": 30, "sent": 0, "remaining": 30},
        ],
        "whitelist": {
            "max": 10,
            "recipients": [
                {"channel": "Facebook Messenger", "recipient": PSID},
                {"channel": "SMS", "recipient": PHONE},
                {"channel": "WhatsApp", "recipient": PHONE},
            ],
        },
    }
    assert answer.headers == _trial_headers({"WhatsApp": 9})


def test_status_when_the_store_fails_is_503(world):
    key = _trial(world)
    world.trials.fail_state = True
    answer = trial_status(key, SETTINGS, world.trials, world.clock)
    assert answer.status == 503
    assert answer.headers == {"Retry-After": "5"}
    assert answer.body["details"] == answers.UNAVAILABLE


def test_recipient_that_is_no_address_is_echoed_without_line_breaks_or_invisible_characters(world):
    """The `to` in row 12's text is a client's value in our text: like row 8's channel, only a short, clean prefix,
    so the answer's text cannot carry a forged line into a client's log. `messages[0].to` still echoes it as sent."""
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    to = "x\r\nX-Injected: 1\u2028\u0085\u202e" + "y" * 45
    answer = _send(world, key, channels=["WhatsApp"], to=[to])
    assert (answer.status, answer.body["errorCode"]) == (400, 302)
    details = answer.body["details"]
    for character in ("\r", "\n", "\u2028", "\u0085", "\u202e"):
        assert character not in details
    assert details.startswith('The recipient "xX-Injected: 1')
    assert "y" * 41 not in details
    assert answer.body["messages"][0]["messageDetails"] == details
    assert answer.body["messages"][0]["to"] == to


# The Idempotency-Key header (beyond CM's API): one key is one message.


def _send_with_key(world: World, key: str, idempotency_key: str, **fields: Any) -> GatewayAnswer:
    parsed = parse_send_request(_body(**fields), "application/json", key)
    return send(parsed, SETTINGS, world.deps, idempotency_key=idempotency_key)


def test_a_retry_with_the_same_key_and_body_gets_the_first_answer_and_sends_nothing_more(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    first = _send_with_key(world, key, "order-1")
    assert first.status == 200
    world.clock.now += 5
    again = _send_with_key(world, key, "order-1")
    assert (again.status, again.body) == (first.status, first.body)
    assert again.headers == {**first.headers, "Idempotent-Replayed": "true"}
    assert _sent(world, key) == {Channel.WHATSAPP: 1}
    assert len(world.outbound.queued) == 1
    assert len(world.messages.recorded) == 1
    # Another key is another message.
    assert _send_with_key(world, key, "order-2").headers["X-Trial-Remaining-WhatsApp"] == "8"


def test_an_answer_kept_before_outcomes_is_given_again_the_same(world):
    # Keys claimed before sends returned outcomes kept their whole HTTP answer; a retry after the deploy replays it.
    key = _trial(world, (Channel.SMS, US_PHONE))
    first = _send_with_key(world, key, "order-1", channels=["SMS"], to=[US_PHONE])
    assert first.status == 200
    (item,) = world.send_keys.items.values()
    item["answer"] = json.dumps({"status": first.status, "body": first.body, "headers": first.headers})
    again = _send_with_key(world, key, "order-1", channels=["SMS"], to=[US_PHONE])
    assert (again.status, again.body) == (first.status, first.body)
    assert again.headers == {**first.headers, "Idempotent-Replayed": "true"}
    assert len(world.outbound.queued) == 1


def test_the_same_key_with_another_body_is_refused_and_sends_nothing(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    assert _send_with_key(world, key, "order-1").status == 200
    answer = _send_with_key(world, key, "order-1", content="Something else")
    _assert_refused(answer, 409, 202, answers.IDEMPOTENCY_KEY_REUSED)
    assert _sent(world, key) == {Channel.WHATSAPP: 1}


def test_a_key_is_the_trials_own(world):
    # The same Idempotency-Key in two trials is two messages: keys are scoped by the trial key.
    first, second = _trial(world, (Channel.WHATSAPP, PHONE)), _trial(world, (Channel.WHATSAPP, PHONE))
    assert _send_with_key(world, first, "order-1").status == 200
    answer = _send_with_key(world, second, "order-1")
    assert answer.status == 200
    assert "Idempotent-Replayed" not in answer.headers


def test_a_refused_send_leaves_the_key_free_for_the_retry(world):
    key = _trial(world)
    answer = _send_with_key(world, key, "order-1")
    _assert_refused(answer, 403, 302, answer.body["details"], rejected_to=PHONE)
    assert world.send_keys.items == {}
    world.trials.whitelist(hash_key(key), Channel.WHATSAPP, PHONE)
    assert _send_with_key(world, key, "order-1").status == 200


def test_a_failed_dependency_leaves_the_key_free_and_the_retry_sends_once(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.outbound.fail = True
    _assert_refused(_send_with_key(world, key, "order-1"), 503, 999, answers.UNAVAILABLE)
    world.outbound.fail = False
    assert _send_with_key(world, key, "order-1").status == 200
    assert _sent(world, key) == {Channel.WHATSAPP: 1}
    assert len(world.outbound.queued) == 1


def test_a_request_still_running_holds_its_key_until_its_lease_ends(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    parsed = parse_send_request(_body(), "application/json", key)
    assert not isinstance(parsed, Refused)
    # Another request with this key and body claimed it a moment ago and has not answered yet.
    world.send_keys.claim(
        hash_key(key), "order-1", fingerprint=parsed.fingerprint, message_id="m-other", now=NOW, lease_seconds=30
    )
    world.clock.now = NOW + 10
    answer = _send_with_key(world, key, "order-1")
    _assert_refused(answer, 409, 202, answers.IDEMPOTENCY_KEY_BUSY)
    assert answer.headers == {"Retry-After": "20"}
    assert world.outbound.queued == []


def test_after_a_holder_died_the_retry_sends_that_same_message_once(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    # The first request counted, recorded and queued its message, then its function died before answering.
    world.send_keys.fail_settle = True
    _send_with_key(world, key, "order-1")
    world.send_keys.fail_settle = False
    [first] = world.outbound.queued
    world.clock.now += SETTINGS.idempotency_lease_seconds
    retry = _send_with_key(world, key, "order-1")
    assert retry.status == 200
    # The same message: counted once, recorded once; queued again under the same id, which delivery sends once.
    assert _sent(world, key) == {Channel.WHATSAPP: 1}
    assert len(world.messages.recorded) == 1
    assert {m.message_id for m in world.outbound.queued} == {first.message_id}
    assert {m.at for m in world.outbound.queued} == {first.at}


def test_a_claim_that_cannot_be_made_is_unavailable_and_sends_nothing(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.send_keys.fail_claim = True
    _assert_refused(_send_with_key(world, key, "order-1"), 503, 999, answers.UNAVAILABLE)
    assert world.outbound.queued == []


@pytest.mark.parametrize("idempotency_key", ["", "x" * 256, "ünïcode", "tab\there"])
def test_a_malformed_idempotency_key_is_a_bad_request(world, idempotency_key):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    _assert_refused(_send_with_key(world, key, idempotency_key), 400, 202, answers.IDEMPOTENCY_KEY_INVALID)
    assert world.outbound.queued == []


def test_without_a_trial_key_the_idempotency_key_changes_nothing(world):
    answer = _send_with_key(world, None, "order-1")  # type: ignore[arg-type]
    _assert_refused(answer, 401, 101, answers.INVALID_TOKEN)
    assert world.send_keys.items == {}


# The use case's outcomes themselves: domain facts and one reason, never an HTTP answer.


def test_the_use_case_returns_outcomes_and_raises_one_domain_error_for_a_failed_dependency(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    refused = use_case.send(parse_send_request(_body(to=[OTHER_PHONE]), "application/json", key), SETTINGS, world.deps)
    assert isinstance(refused, Refused)
    assert refused.reason is Reason.NOT_WHITELISTED
    assert (refused.objection.channel, refused.objection.recipient) == (Channel.WHATSAPP, OTHER_PHONE)
    accepted = use_case.send(parse_send_request(_body(), "application/json", key), SETTINGS, world.deps)
    assert isinstance(accepted, Accepted)
    assert (accepted.to, accepted.reference, accepted.parts, accepted.allowance.expires_at) == (
        PHONE,
        "ref-1",
        1,
        EXPIRES,
    )
    world.outbound.fail = True
    with pytest.raises(DependencyUnavailable) as failed:
        use_case.send(parse_send_request(_body(), "application/json", key), SETTINGS, world.deps)
    assert failed.value.retry_after_seconds == 5


def test_every_reason_has_its_answer_named_after_it():
    too_long = count_parts("a" * 300, gsm7_part_chars=144, unicode_part_chars=63)
    for reason in Reason:
        objection = Objection(
            reason=reason,
            channel=Channel.SMS,
            channel_raw="Viber",
            recipient=PHONE,
            sms=too_long,
            retry_after_seconds=5,
            max_parts=1,
            dcs=8,
            rich=RichProblem(Problem.TOO_LARGE, path="richContent"),
        )
        assert refusal_for(Refused(objection=objection), SETTINGS).reason == reason.value


# Refused attempts on the trial's list, and the list's order.


def _refusals(world: World) -> list[Any]:
    return [m for m in world.messages.recorded if m.status == "refused"]


def test_a_refusal_of_a_known_trial_is_recorded_with_its_answer_and_costs_one_write(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    answer = _send(world, key, to=["+31699999999"], content="Hello " * 100)
    assert answer.status == 403
    (record,) = world.messages.recorded
    assert record.status == "refused"
    assert record.key_hash == hash_key(key)
    assert record.reason == answer.body["details"]
    assert record.error_code == answer.body["errorCode"] == 302
    assert record.channel == Channel.WHATSAPP
    assert record.counterpart == "+31699999999"
    # Small whatever the request: the text is cut, and the key is nowhere in the record.
    assert record.text is not None
    assert len(record.text) == use_case.REFUSED_TEXT_CHARS
    assert record.text.endswith("…")
    assert key not in record.payload
    request = json.loads(record.payload)["request"]["messages"]["msg"][0]
    assert request["allowedChannels"] == ["WhatsApp"]
    assert request["to"] == [{"number": "+31699999999"}]
    assert "authentication" not in json.loads(record.payload)["request"]["messages"]
    # The record lives as long as the trial's messages do; nothing else was written or queued.
    assert record.ttl == EXPIRES + SETTINGS.expired_retention_seconds
    assert world.outbound.queued == []
    assert all(count == 0 for counts in world.trials.sent.values() for count in counts.values())


def test_a_refusal_for_a_channel_not_offered_keeps_the_channel_as_named(world):
    key = _trial(world)
    answer = _send(world, key, channels=["Viber"])
    assert answer.status == 400
    (record,) = _refusals(world)
    assert record.channel == "Viber"
    assert record.error_code == 305
    assert record.reason == answer.body["details"]


@pytest.mark.parametrize(
    "key",
    [None, "not-a-key", new_key()],
    ids=["no key", "malformed key", "unknown key"],
)
def test_refusals_before_the_key_is_known_are_not_recorded(world, key):
    answer = _send(world, key, channels=["Viber"])
    assert answer.status == 401
    assert world.messages.recorded == []


def test_an_expired_trials_refusal_is_not_recorded(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE), expires_at=NOW - 1)
    assert _send(world, key).status == 401
    assert world.messages.recorded == []


def test_a_refusal_at_capacity_is_not_recorded(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    world.capacity.state = BreakerState(tripped=True, tripped_at=NOW - 10, tripped_count=1001)
    assert _send(world, key).status == 503
    assert world.messages.recorded == []


def test_a_failed_refusal_record_never_changes_the_answer(world, caplog):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    expected = _send(world, key, to=["+31699999999"])
    world.messages.fail_record = True
    answer = _send(world, key, to=["+31699999999"])
    assert (answer.status, answer.body) == (expected.status, expected.body)
    assert "could not record a refused send" in caplog.text
    assert key not in caplog.text


def test_a_quota_refusal_is_recorded_and_counted_apart_from_the_quota(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    for _ in range(10):
        assert _send(world, key).status == 200
    assert _send(world, key).status == 429
    (record,) = _refusals(world)
    assert (record.error_code, record.reason) == (102, answers.QUOTA_USED_UP.replace("[channel]", "WhatsApp"))
    assert _sent(world, key)[Channel.WHATSAPP] == 10


def test_a_burst_in_one_clock_second_gets_strictly_increasing_milliseconds(world):
    key = _trial(world, (Channel.WHATSAPP, PHONE))
    for n in range(10):
        assert _send(world, key, content=f"burst {n}").status == 200
    stamps = [m.at_ms for m in world.messages.recorded]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 10
    assert all(m.at == NOW and m.at_ms is not None and m.at_ms // 1000 == m.at for m in world.messages.recorded)
    # The delivery queue carries the same time, so delivery finds the record by its key.
    assert [q.at_ms for q in world.outbound.queued] == stamps
    page = world.messages.page(hash_key(key), limit=20, cursor=None)
    assert [m.text for m in reversed(page.messages)] == [f"burst {n}" for n in range(10)]


def test_millis_stamps_increase_and_follow_a_clock_that_moves_on():
    stamps, clock = use_case.MillisStamps(), FakeClock(1000.0)
    assert [stamps.next(clock) for _ in range(3)] == [1_000_000, 1_000_001, 1_000_002]
    clock.now = 1000.5
    assert stamps.next(clock) == 1_000_500
    # A clock far behind (another test's, another instance's) is taken as it is.
    clock.now = 10.0
    assert stamps.next(clock) == 10_000
