"""The send gateway's answers: the seed's exact texts, the table's statuses and codes, CM's envelope."""

from __future__ import annotations

import json

import pytest

from trialgw.country_rules import replaced_notice
from trialgw.gateway import answers
from trialgw.gateway.answers import Refusal
from trialgw.models import Channel

ONBOARD = "Please onboard to our platform to get the full functionality."

# The seed's texts, typed here from "Troubleshooting › Sending Messages" so a change to a constant shows up.
SEED_TEXTS = {
    "NOT_JSON": "Incoming request is not JSON. Check the content-type and content.",
    "INVALID_POST_DATA": "Invalid POST data. Please double check your JSON payload.",
    "AT_CAPACITY": "The trial functionality is at capacity right now, please try again later.",
    "INVALID_TOKEN": "Invalid or expired trial token",
    "MULTIPLE_CHANNELS": "Using multiple channels in allowedChannels (channel fallback) is not supported in the trial. "
    + ONBOARD,
    "BULK_MESSAGES": "Sending bulk messages in a single call is not supported in the trial. " + ONBOARD,
    "MULTIPLE_RECIPIENTS": "Sending to multiple recipients in a single call is not supported in the trial. " + ONBOARD,
    "SMS_SENDER": "The from: field for SMS is limited to 4-11 alphanumeric characters in the trial. " + ONBOARD,
    "COUNTRY_BLOCKED": "Because of rules and regulations, the destination for this message is not allowed in the "
    "trial. " + ONBOARD,
    "QUOTA_USED_UP": "You have reached the maximum amount of messages that can be sent via [channel] in this trial",
}


@pytest.mark.parametrize(("name", "text"), SEED_TEXTS.items())
def test_texts_are_the_seeds(name, text):
    assert getattr(answers, name) == text


@pytest.mark.parametrize(
    ("refusal", "status", "code", "text", "per_recipient"),
    [
        (answers.not_json(), 400, 202, SEED_TEXTS["NOT_JSON"], False),
        (answers.invalid_post_data(), 400, 202, SEED_TEXTS["INVALID_POST_DATA"], False),
        (answers.at_capacity(60), 503, 999, SEED_TEXTS["AT_CAPACITY"], False),
        (answers.invalid_token(), 401, 101, SEED_TEXTS["INVALID_TOKEN"], False),
        (answers.multiple_channels(), 400, 203, SEED_TEXTS["MULTIPLE_CHANNELS"], False),
        (answers.bulk_messages(), 400, 203, SEED_TEXTS["BULK_MESSAGES"], False),
        (answers.multiple_recipients(), 400, 302, SEED_TEXTS["MULTIPLE_RECIPIENTS"], True),
        (answers.sms_sender_invalid(), 400, 301, SEED_TEXTS["SMS_SENDER"], True),
        (answers.country_blocked(), 403, 403, SEED_TEXTS["COUNTRY_BLOCKED"], True),
        (answers.too_many_parts("At most 2 parts."), 400, 304, "At most 2 parts.", True),
        (answers.not_whitelisted("Send your key first."), 403, 302, "Send your key first.", True),
    ],
)
def test_each_row_has_the_tables_status_and_code(refusal, status, code, text, per_recipient):
    assert (refusal.http_status, refusal.error_code, refusal.details) == (status, code, text)
    assert refusal.per_recipient is per_recipient
    assert refusal.reason


def test_capacity_answer_says_when_to_retry():
    assert answers.at_capacity(120).headers == {"Retry-After": "120"}
    assert answers.at_capacity(0).headers == {"Retry-After": "1"}
    assert answers.invalid_token().headers == {}


@pytest.mark.parametrize(
    ("channel", "name"),
    [
        (Channel.SMS, "SMS"),
        (Channel.WHATSAPP, "WhatsApp"),
        (Channel.MESSENGER, "Facebook Messenger"),
        (Channel.INSTAGRAM, "Instagram"),
    ],
)
def test_quota_text_names_the_channel_as_cm_spells_it(channel, name):
    refusal = answers.quota_used_up(channel)
    expected = f"You have reached the maximum amount of messages that can be sent via {name} in this trial"
    assert refusal.details == expected
    assert (refusal.http_status, refusal.error_code, refusal.per_recipient) == (429, 102, False)


def test_channel_not_offered_names_the_channel_and_the_offered_ones():
    refusal = answers.channel_not_offered("Viber", list(Channel))
    assert (refusal.http_status, refusal.error_code, refusal.per_recipient) == (400, 305, True)
    assert '"Viber"' in refusal.details
    assert "SMS, WhatsApp, Facebook Messenger, Instagram" in refusal.details


def test_channel_not_offered_echoes_only_a_clean_prefix():
    refusal = answers.channel_not_offered("Vi\nber\u202e" + "x" * 500, [Channel.SMS])
    assert "\n" not in refusal.details
    assert "\u202e" not in refusal.details
    assert "x" * 41 not in refusal.details
    assert "Use one of these in allowedChannels: SMS." in refusal.details


def test_request_level_refusal_has_no_messages():
    body = answers.envelope(answers.invalid_token(), to="+31612345678", reference="r1")
    assert body == {"details": "Invalid or expired trial token", "errorCode": 101, "messages": []}


def test_per_recipient_refusal_repeats_the_text_in_a_rejected_message():
    body = answers.envelope(answers.country_blocked(), to="0086123456789", reference="ref42")
    assert body == {
        "details": SEED_TEXTS["COUNTRY_BLOCKED"],
        "errorCode": 403,
        "messages": [
            {
                "to": "0086123456789",
                "status": "Rejected",
                "reference": "ref42",
                "parts": 0,
                "messageDetails": SEED_TEXTS["COUNTRY_BLOCKED"],
                "messageErrorCode": 403,
            }
        ],
    }


def test_per_recipient_refusal_without_a_reference_sends_null():
    body = answers.envelope(answers.sms_sender_invalid(), to="+31612345678", reference=None)
    assert json.loads(json.dumps(body))["messages"][0]["reference"] is None


def test_accepted_envelope_is_cms_shape():
    body = answers.accepted_envelope("0031612345678", "order42", 2, None)
    assert body == {
        "details": "Created 1 message(s)",
        "errorCode": 0,
        "messages": [
            {
                "to": "0031612345678",
                "status": "Accepted",
                "reference": "order42",
                "parts": 2,
                "messageDetails": None,
                "messageErrorCode": 0,
            }
        ],
    }
    assert answers.HTTP_OK == 200


def test_accepted_envelope_carries_a_warning():
    body = answers.accepted_envelope("+14155550100", None, 1, replaced_notice("the United States"))
    assert body["messages"][0]["messageDetails"] == replaced_notice("the United States")


def test_refusal_is_immutable():
    refusal = answers.invalid_token()
    with pytest.raises(AttributeError):
        refusal.http_status = 200  # type: ignore[misc]
    assert isinstance(refusal, Refusal)
