"""The trial's webhook events as the real handlers produce them on moto (issue 18): a message recorded for a trial
(CM's MO webhook, two-way SMS) is an `inbound` event; a send of a trial with a status URL makes `status` events when
delivery writes `sent` (the sandbox's `delivered` after it) and when a provider's report moves it; a trial without a
status URL makes none, and its send's AWS calls are those of before. Each event is read back with
`webhook_events.from_message`, as the webhook worker reads it."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from tests.integration.conftest import (
    EVENTS,
    FakeLambdaContext,
    invoke,
    load_handler,
    make_trial,
    sms_outcomes,
    sns_via_sqs,
)
from tests.integration.test_dead_letters_handler import dead_letter_event
from tests.integration.test_delivery_handler import PHONE, accepted_send, receive, record_of, run
from tests.integration.test_mo_webhook_handler import _fixture, cm_event
from tests.integration.test_status_reports import cm_report, cm_status_event
from trialgw import names
from trialgw.adapters import aws
from trialgw.adapters.dynamo_webhooks import DynamoWebhookConfigStore
from trialgw.keys import hash_key
from trialgw.models import Channel
from trialgw.webhook_events import WebhookEvent, WebhookKind, from_message

pytestmark = pytest.mark.usefixtures("aws_env", "clean_sandbox")
STATUS_URL = "https://hooks.example.com/status"


def webhook_events() -> list[WebhookEvent]:
    """Every event on the webhook queue, received (and so taken off it) once."""
    sqs, url = boto3.client("sqs"), os.environ[names.WEBHOOK_EVENTS.env_var]
    found: list[WebhookEvent] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages"):
        found += [from_message(m["Body"]) for m in batch]
    return sorted(found, key=lambda e: e.created_at_ms)


def _with_status_url(key: str) -> str:
    store = DynamoWebhookConfigStore(aws.dynamodb(), names.TRIALS.local_name)
    assert store.save_urls(hash_key(key), inbound_url=None, status_url=STATUS_URL) is not None
    return key


def _deliver() -> dict[str, Any]:
    (message,) = receive(1)
    assert run(load_handler("delivery"), message) == {"batchItemFailures": []}
    body: dict[str, Any] = json.loads(message["Body"])
    return body


def _msg(event: WebhookEvent) -> dict[str, Any]:
    msg: dict[str, Any] = json.loads(event.payload)["messages"]["msg"]
    return msg


def test_a_message_recorded_through_cms_webhook_is_an_inbound_event_of_its_trial() -> None:
    mo = load_handler("mo_webhook")
    key = make_trial((Channel.WHATSAPP, "+31687654321"))
    # Whitelisting by key: no event.
    invoke(mo, cm_event(_fixture("mo_cm_whatsapp.json", key)))
    assert webhook_events() == []
    body = json.loads(_fixture("mo_cm_whatsapp.json", key))
    body["message"]["text"] = "Hallo 👋, see you"
    body["reference"] = "mo-2"
    status, _, answer = invoke(mo, cm_event(json.dumps(body)))
    assert (status, answer) == (200, {"processed": 1, "outcomes": ["recorded"]})
    (event,) = webhook_events()
    assert (event.kind, event.key_hash, event.attempt, event.replay) == (WebhookKind.INBOUND, hash_key(key), 0, False)
    payload = json.loads(event.payload)
    assert payload["message"]["text"] == "Hallo 👋, see you"
    assert payload["from"]["number"] == "+31687654321"
    (record,) = [
        i
        for i in aws.dynamodb().scan(TableName=names.MESSAGES.local_name)["Items"]
        if i.get("text", {}).get("S") == "Hallo 👋, see you"
    ]
    assert payload == json.loads(record["payload"]["S"])
    assert event.ttl == int(record["ttl"]["N"])
    # The provider's retry of the same message: DUPLICATE, no second event.
    invoke(mo, cm_event(json.dumps(body)))
    assert webhook_events() == []


def test_a_two_way_sms_recorded_through_the_sms_queue_is_an_inbound_event() -> None:
    sms = load_handler("sms_inbound")
    key = make_trial((Channel.SMS, "+447700900123"))
    event = json.loads((EVENTS / "sns_two_way_sms.json").read_text())
    notification = json.loads(event["Records"][0]["Sns"]["Message"])
    notification["messageBody"] = "Running late"
    event["Records"][0]["Sns"]["Message"] = json.dumps(notification)
    result = sms_outcomes(sms.handler(sns_via_sqs(event), FakeLambdaContext()))
    assert result == {"processed": 1, "outcomes": ["recorded"], "failed": []}
    (event,) = webhook_events()
    assert (event.kind, event.key_hash) == (WebhookKind.INBOUND, hash_key(key))
    assert json.loads(event.payload)["message"]["text"] == "Running late"


def test_a_send_of_a_trial_with_a_status_url_makes_sent_then_delivered() -> None:
    key = _with_status_url(make_trial((Channel.WHATSAPP, PHONE)))
    accepted_send(key=key)
    body = _deliver()
    assert record_of(body["message_id"])["status"]["S"] == "delivered"
    # A standard queue keeps no order (and the events promise none): each once, told apart by their codes.
    sent, delivered = sorted(webhook_events(), key=lambda e: str(_msg(e)["status"]["code"]))
    assert {e.kind for e in (sent, delivered)} == {WebhookKind.STATUS}
    assert {e.key_hash for e in (sent, delivered)} == {hash_key(key)}
    assert [_msg(e)["status"]["code"] for e in (sent, delivered)] == ["0", "2"]
    assert _msg(sent)["to"] == PHONE
    assert _msg(sent)["reference"] == "ref-1"
    assert sent.ttl == int(record_of(body["message_id"])["ttl"]["N"])


def test_a_send_of_a_trial_without_a_status_url_makes_no_event() -> None:
    accepted_send()
    body = _deliver()
    record = record_of(body["message_id"])
    assert record["status"]["S"] == "delivered"
    assert "status_webhook" not in record
    assert "status_webhook_ttl" not in body
    assert webhook_events() == []


def test_a_providers_report_on_a_flagged_send_is_a_status_event(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sandbox leaves it `sent`, as a provider whose reports come later through its webhook does.
    monkeypatch.setenv("TRIALGW_SANDBOX_REPORTS", "false")
    key = _with_status_url(make_trial((Channel.WHATSAPP, PHONE)))
    accepted_send(key=key)
    body = _deliver()
    (sent,) = webhook_events()
    mo = load_handler("mo_webhook")
    status, _, answer = invoke(mo, cm_status_event(cm_report(body["message_id"], "3", fixture="cm_status_failed.json")))
    assert (status, answer) == (200, {"processed": 1, "updated": 1})
    (failed,) = webhook_events()
    assert failed.event_id != sent.event_id
    assert _msg(failed)["status"]["code"] == "3"
    assert _msg(failed)["status"]["errorDescription"]
    assert _msg(failed)["reference"] == "ref-1"
    # Repeated: it moves nothing, and makes no event.
    invoke(mo, cm_status_event(cm_report(body["message_id"], "3", fixture="cm_status_failed.json")))
    assert webhook_events() == []


def test_a_dead_lettered_send_of_a_trial_with_a_status_url_is_a_failed_event() -> None:
    key = _with_status_url(make_trial((Channel.WHATSAPP, PHONE)))
    accepted_send(key=key)
    (message,) = receive(1)
    body = json.loads(message["Body"])
    assert body["status_webhook_ttl"] == int(record_of(body["message_id"])["ttl"]["N"])
    event = dead_letter_event(json.dumps(body))
    assert load_handler("dead_letters").handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    (failed,) = webhook_events()
    assert (failed.kind, failed.key_hash) == (WebhookKind.STATUS, hash_key(key))
    assert _msg(failed)["status"]["code"] == "3"
    assert _msg(failed)["status"]["errorDescription"] == record_of(body["message_id"])["reason"]["S"]
