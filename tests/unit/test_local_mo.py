"""`/_local/mo`: the payloads it builds are what the real parsers accept, and it calls the right entry point.

No sockets, no moto: the entry points are fakes that record what they were given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.local.environment import WEBHOOK_SECRET_VARS, EnvironmentConflict, webhook_secret_defaults
from infra.local.events import HttpRequest, HttpResponse, json_response
from infra.local.invoke import FunctionHost, Listener
from infra.local.mail import MailOutbox
from infra.local.mo import (
    CompanyAddresses,
    MoInputError,
    MoSimulator,
    cm_request,
    company_addresses,
    meta_request,
    parse_mo_request,
    two_way_sms_notification,
)
from infra.local.outbound import QueuedMessage
from infra.local.server import LocalGateway
from infra.local.static import StaticSite
from trialgw.models import Channel
from trialgw.providers.aws_sms.inbound import parse_sns_sms
from trialgw.providers.cm.inbound import parse_cm_mo
from trialgw.providers.meta.inbound import parse_meta, verify_signature

COMPANY = CompanyAddresses(whatsapp_number="+31850876714", sms_number="+447860054666")
KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"
NOW = 1_772_442_930.5


def request(body: object) -> HttpRequest:
    return HttpRequest("POST", "/_local/mo", body=json.dumps(body).encode())


def mo_json(channel: str, sender: str, text: str = KEY, via: str | None = None) -> bytes:
    return json.dumps({"channel": channel, "from": sender, "text": text} | ({"via": via} if via else {})).encode()


# --- the request -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "sender", "canonical", "via"),
    [
        ("WhatsApp", "0031 6 1234 5678", "+31612345678", "meta"),
        ("whatsapp", "+31612345678", "+31612345678", "meta"),
        ("SMS", "+1 (416) 555-0142", "+14165550142", "sns"),
        ("Facebook Messenger", " 7012345678901234 ", "7012345678901234", "meta"),
        ("FacebookMessenger", "7012345678901234", "7012345678901234", "meta"),
        ("Instagram", "6677889900112233", "6677889900112233", "meta"),
    ],
)
def test_the_request_names_a_channel_a_sender_and_the_default_route(
    channel: str, sender: str, canonical: str, via: str
) -> None:
    mo = parse_mo_request(mo_json(channel, sender))
    assert mo.sender == canonical
    assert mo.via == via
    assert mo.text == KEY


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "JSON"),
        (b"[]", "JSON object"),
        (mo_json("Viber", "+31612345678"), "channel"),
        (b'{"from": "+31612345678", "text": "x"}', "channel"),
        (b'{"channel": "SMS", "text": "x"}', "from"),
        (b'{"channel": "SMS", "from": "  ", "text": "x"}', "from"),
        (mo_json("SMS", "0612345678"), "international"),
        (mo_json("Instagram", "ig.tester"), "numeric id"),
        (b'{"channel": "SMS", "from": "+31612345678"}', "text"),
        (b'{"channel": "SMS", "from": "+31612345678", "text": 5}', "text"),
        (mo_json("SMS", "+31612345678", via="meta"), "via"),
        (mo_json("WhatsApp", "+31612345678", via="sns"), "via"),
        (mo_json("WhatsApp", "+31612345678", via="carrier-pigeon"), "via"),
        (b'{"channel": "SMS", "from": "+31612345678", "text": "x", "to": "+1"}', "Unknown field"),
        (b'{"channel": "WhatsApp", "from": "+31612345678", "text": "key \\ud800", "via": "cm"}', "lone surrogate"),
    ],
)
def test_bad_requests_are_refused_with_what_is_wrong(body: bytes, named: str) -> None:
    with pytest.raises(MoInputError, match=named):
        parse_mo_request(body)


# --- the payloads, read back by the real parsers ---------------------------------------------------


@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.SMS, Channel.MESSENGER, Channel.INSTAGRAM])
def test_cm_mo_json_is_what_the_cm_parser_reads(channel: Channel) -> None:
    sender = "+31612345678" if channel in (Channel.WHATSAPP, Channel.SMS) else "7012345678901234"
    mo = parse_mo_request(mo_json(channel.value, sender, text=f"key: {KEY} ✓", via="cm"))
    http = cm_request(mo, COMPANY, secret="s/ecret?", reference="ref-1", now=NOW)
    assert http.path == "/webhooks/cm/s%2Fecret%3F"
    [message] = parse_cm_mo(json.loads(http.body), received_at=1)
    assert (message.channel, message.sender, message.text) == (channel, mo.sender, f"key: {KEY} ✓")
    assert message.provider_message_id == "ref-1"
    assert message.recipient == COMPANY.address(channel)


@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM])
def test_meta_webhooks_are_signed_over_the_exact_bytes_and_parse(channel: Channel) -> None:
    sender = "+5491123456789" if channel is Channel.WHATSAPP else "6677889900112233"
    mo = parse_mo_request(mo_json(channel.value, sender, text=f"Olá {KEY} 👋"))
    http = meta_request(mo, COMPANY, app_secret="app-secret", message_id="mid-1", now=NOW)
    assert http.target == "/webhooks/meta"
    # Non-ASCII escaped, as Meta sends it; the signature covers these bytes.
    assert http.body.isascii()
    assert verify_signature(http.body, http.header("X-Hub-Signature-256"), "app-secret")
    assert not verify_signature(http.body, http.header("X-Hub-Signature-256"), "other-secret")
    batch = parse_meta(json.loads(http.body), received_at=1)
    [message] = batch.messages
    assert (message.channel, message.text, message.provider_message_id) == (channel, f"Olá {KEY} 👋", "mid-1")
    assert message.sender == mo.sender


def test_whatsapp_ids_are_bare_international_digits() -> None:
    mo = parse_mo_request(mo_json("WhatsApp", "+31 6 12345678"))
    body = json.loads(meta_request(mo, COMPANY, app_secret="s", message_id="wamid.X", now=NOW).body)
    value = body["entry"][0]["changes"][0]["value"]
    assert value["messages"][0]["from"] == "31612345678"
    assert value["messages"][0]["timestamp"] == str(int(NOW))
    assert value["metadata"]["display_phone_number"] == "31850876714"


def test_two_way_sms_is_published_as_end_user_messagings_json() -> None:
    mo = parse_mo_request(mo_json("SMS", "+447700900123", text=f"Joining with {KEY}"))
    message = parse_sns_sms(two_way_sms_notification(mo, COMPANY, inbound_id="in-1"), received_at=1)
    assert (message.channel, message.sender, message.text) == (Channel.SMS, "+447700900123", f"Joining with {KEY}")
    assert message.provider_message_id == "in-1"
    assert message.recipient == "+447860054666"


def test_company_addresses_come_from_the_settings() -> None:
    company = company_addresses("+31 85 087 6714", {"the UK": "+44 7860 054666", "the US": "+14232515465"})
    assert company.address(Channel.WHATSAPP) == "+31850876714"
    assert company.address(Channel.SMS) == "+447860054666"


# --- the simulator -------------------------------------------------------------------------------


class FakeEntryPoints:
    """The gateway, the two-way SMS topic and the function host, recording what they were sent; each call queues one
    reply. A published SMS is taken by the SMS queue's consumer at once (`consume`: how that invocation ends)."""

    def __init__(self, consume: str = "ok") -> None:
        self.requests: list[HttpRequest] = []
        self.published: list[str] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.queue: list[QueuedMessage] = []
        self.consume = consume
        self.listeners: list[Listener] = []

    def _reply_to(self, to: str) -> None:
        body = json.dumps({"channel": "SMS", "to": to, "text": "hello", "kind": "reply", "message_id": "m"})
        self.queue.append(QueuedMessage("q", f"sqs-{len(self.queue)}", body, 0, 0, in_flight=False))

    def send(self, http: HttpRequest) -> HttpResponse:
        self.requests.append(http)
        self._reply_to("+31612345678")
        return json_response(200, {"processed": 1, "outcomes": ["whitelisted"]})

    def listen(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, message: str) -> None:
        """SNS → the SMS queue → its pump → the MO function, as one batch of one record (with another one's)."""
        self.published.append(message)
        if self.consume == "never":
            return
        envelope = {"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:topic", "Message": message}
        other = {"Type": "Notification", "MessageId": "sns-0", "Message": '{"inboundMessageId": "other"}'}
        records = [
            {"messageId": "sqs-other", "body": json.dumps(other), "eventSource": "aws:sqs"},
            {"messageId": "sqs-1", "body": json.dumps(envelope), "eventSource": "aws:sqs"},
        ]
        event = {"Records": records}
        self.events.append(("mo_webhook", event))
        result: Any = None
        error: BaseException | None = None
        if self.consume == "raise":
            error = RuntimeError("table unavailable")
        elif self.consume == "item-failure":
            result = {"batchItemFailures": [{"itemIdentifier": "sqs-1"}], "outcomes": {"sqs-other": "recorded"}}
        else:
            self._reply_to("+31612345678")
            result = {"batchItemFailures": [], "outcomes": {"sqs-other": "recorded", "sqs-1": "whitelisted"}}
        for listener in list(self.listeners):
            # Another function's invocation first: not the one waited for.
            listener("delivery", event, None, None)
            listener("mo_webhook", event, result, error)

    def peek(self) -> list[QueuedMessage]:
        return list(self.queue)


def simulator(fake: FakeEntryPoints, settle_seconds: float = 5.0) -> MoSimulator:
    return MoSimulator(
        company=COMPANY,
        cm_webhook_secret="cm-secret",
        meta_app_secret="app-secret",
        publish=fake.publish,
        listen=fake.listen,
        sms_consumer="mo_webhook",
        peek=fake.peek,
        clock=lambda: NOW,
        settle_seconds=settle_seconds,
    )


def test_whatsapp_goes_to_the_signed_meta_webhook_with_fresh_ids() -> None:
    fake = FakeEntryPoints()
    sim = simulator(fake)
    answers = [
        json.loads(sim.handle(request({"channel": "WhatsApp", "from": "+31612345678", "text": KEY}), fake.send).body)
        for _ in range(2)
    ]
    assert [r.target for r in fake.requests] == ["/webhooks/meta", "/webhooks/meta"]
    assert verify_signature(fake.requests[0].body, fake.requests[0].header("X-Hub-Signature-256"), "app-secret")
    assert answers[0]["via"] == "meta"
    assert answers[0]["status"] == 200
    assert answers[0]["answer"] == {"processed": 1, "outcomes": ["whitelisted"]}
    assert answers[0]["providerMessageId"] != answers[1]["providerMessageId"]
    # Only what this call queued, not what was there before.
    assert len(answers[1]["replies"]) == 1
    assert not fake.events


def test_cm_goes_to_the_secret_path() -> None:
    fake = FakeEntryPoints()
    answer = json.loads(
        simulator(fake)
        .handle(request({"channel": "SMS", "from": "+31612345678", "text": KEY, "via": "cm"}), fake.send)
        .body
    )
    assert fake.requests[0].path == "/webhooks/cm/cm-secret"
    assert answer["via"] == "cm"


def test_sms_is_published_to_its_topic_and_answered_by_the_invocation_that_took_it() -> None:
    fake = FakeEntryPoints()
    answer = json.loads(
        simulator(fake).handle(request({"channel": "SMS", "from": "+31612345678", "text": KEY}), fake.send).body
    )
    assert not fake.requests
    [published] = fake.published
    assert answer | {"replies": None} == {
        "via": "sns",
        "channel": "SMS",
        "from": "+31612345678",
        "providerMessageId": json.loads(published)["inboundMessageId"],
        "status": 200,
        "function": "mo_webhook",
        # The record that carries this SMS, not the other one of the batch.
        "answer": {"processed": 1, "outcomes": ["whitelisted"]},
        "replies": None,
    }
    assert [r["to"] for r in answer["replies"]] == ["+31612345678"]
    # Waiting is over: the listener is gone.
    assert fake.listeners == []


@pytest.mark.parametrize(
    ("consume", "status", "expected"),
    [
        ("raise", 500, {"error": "RuntimeError", "message": "table unavailable"}),
        ("item-failure", 500, {"error": "batch item failure", "retried": "by the SMS queue"}),
    ],
)
def test_a_failing_consumer_is_reported_not_raised(consume: str, status: int, expected: Any) -> None:
    fake = FakeEntryPoints(consume=consume)
    response = simulator(fake).handle(request({"channel": "SMS", "from": "+31612345678", "text": KEY}), fake.send)
    assert response.status == 200
    answer = json.loads(response.body)
    assert (answer["status"], answer["answer"]) == (status, expected)


def test_an_sms_no_invocation_takes_in_time_is_a_504_and_stays_queued() -> None:
    fake = FakeEntryPoints(consume="never")
    answer = json.loads(
        simulator(fake, settle_seconds=0.05)
        .handle(request({"channel": "SMS", "from": "+31612345678", "text": KEY}), fake.send)
        .body
    )
    assert answer["status"] == 504
    assert "not taken from the SMS queue" in answer["answer"]
    assert fake.listeners == []


def test_bad_input_is_a_400_and_calls_nothing() -> None:
    fake = FakeEntryPoints()
    response = simulator(fake).handle(HttpRequest("POST", "/_local/mo", body=b"{"), fake.send)
    assert response.status == 400
    assert json.loads(response.body)["example"]["channel"] == "WhatsApp"
    assert not fake.requests
    assert not fake.events


# --- the gateway's local helpers -------------------------------------------------------------------


def gateway(tmp_path: Path, fake: FakeEntryPoints | None) -> LocalGateway:
    return LocalGateway(
        routes=[],
        functions=FunctionHost([]),
        site=StaticSite(tmp_path),
        outbox=MailOutbox(),
        base_url="http://127.0.0.1:8080",
        mo=None if fake is None else simulator(fake),
        outbound=None if fake is None else fake.peek,
    )


def test_outbound_lists_the_queue_and_filters_by_recipient(tmp_path: Path) -> None:
    fake = FakeEntryPoints()
    fake._reply_to("+31612345678")
    fake._reply_to("7012345678901234")
    local = gateway(tmp_path, fake)
    everything = json.loads(local.handle(HttpRequest("GET", "/_local/outbound")).body)
    assert [e["message"]["to"] for e in everything] == ["+31612345678", "7012345678901234"]
    assert everything[0]["sqsMessageId"] == "sqs-0"
    only = json.loads(local.handle(HttpRequest("GET", "/_local/outbound?to=%2B31612345678")).body)
    assert [e["message"]["to"] for e in only] == ["+31612345678"]


def test_local_helpers_answer_only_their_methods(tmp_path: Path) -> None:
    local = gateway(tmp_path, FakeEntryPoints())
    wrong = local.handle(HttpRequest("GET", "/_local/mo"))
    assert wrong.status == 405
    assert wrong.header("Allow") == "POST"
    assert local.handle(HttpRequest("POST", "/_local/outbound")).status == 405
    ok = local.handle(request({"channel": "Instagram", "from": "6677889900112233", "text": "hi"}))
    assert ok.status == 200


def test_without_a_queue_or_simulator_the_helpers_say_so(tmp_path: Path) -> None:
    local = gateway(tmp_path, None)
    assert local.handle(HttpRequest("GET", "/_local/outbound")).status == 503
    assert local.handle(request({})).status == 503


def test_a_queued_body_that_is_not_json_is_shown_raw() -> None:
    raw = QueuedMessage("q", "id", "plain text", 1_000, 2, in_flight=True)
    assert raw.to_json() == {
        "queue": "q",
        "sqsMessageId": "id",
        "sentAt": "1970-01-01T00:00:01.000+00:00",
        "receiveCount": 2,
        "inFlight": True,
        "message": "plain text",
    }
    assert not raw.addressed_to("plain text")


# --- webhook secrets ---------------------------------------------------------------------------------


def test_unset_webhook_secrets_are_made_up_and_set_ones_kept() -> None:
    made = webhook_secret_defaults({"TRIALGW_META_VERIFY_TOKEN": "mine", "TRIALGW_CM_WEBHOOK_SECRET": ""})
    assert set(made) == {"TRIALGW_META_APP_SECRET"}
    assert len(made["TRIALGW_META_APP_SECRET"]) >= 32
    first, second = webhook_secret_defaults({}), webhook_secret_defaults({})
    assert set(first) == set(WEBHOOK_SECRET_VARS)
    assert not set(first.values()) & set(second.values())


def test_a_secrets_manager_name_is_refused_locally() -> None:
    with pytest.raises(EnvironmentConflict, match="TRIALGW_WEBHOOK_SECRETS_NAME"):
        webhook_secret_defaults({"TRIALGW_WEBHOOK_SECRETS_NAME": "trialgw/webhooks"})
