"""Status reports of messages we sent, through the inbound (MO) function's real handler on moto: CM's status
webhook, Meta's WhatsApp `statuses` and SMS delivery events through SNS move an accepted, delivered send's
record forward (and only forward); forged, unknown or malformed reports change nothing.
"""

from __future__ import annotations

import copy
import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.integration.conftest import (
    CM_SECRET,
    EVENTS,
    META_APP_SECRET,
    FakeLambdaContext,
    invoke,
    load_handler,
    rest_event,
    sms_outcomes,
    sns_via_sqs,
)
from tests.integration.test_delivery_handler import accepted_send, receive, record_of, run
from trialgw import names
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.models import Channel
from trialgw.ports import MessageRef, MessageStatus
from trialgw.providers.meta.inbound import sign

WAMID = "wamid.HBgLMzE2MTIzNDU2NzgVAgARGBI1QjRGRkM2QzI4RTc3QjVGMDkA"
FIXTURE_WAMID = "wamid.TRIALGW.FIXTURE.OUT.0201"
FIXTURE_CM_REFERENCE = "5f0c2a9e8b7d4c31a6e2f1d0c9b8a7e6"

pytestmark = pytest.mark.usefixtures("clean_sandbox", "sandbox_without_reports")


@pytest.fixture
def sandbox_without_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    # These reports start from `sent`, as a real provider's do: the sandbox's own `delivered` would come first.
    monkeypatch.setenv("TRIALGW_SANDBOX_REPORTS", "false")


@pytest.fixture
def mo(aws_env: None) -> ModuleType:
    return load_handler("mo_webhook")


@pytest.fixture
def sms(aws_env: None) -> ModuleType:
    return load_handler("sms_inbound")


# Sends and their records.


def delivered_send(channel: Channel = Channel.WHATSAPP) -> dict[str, Any]:
    """An accepted send delivered by the real delivery handler (sandbox): its queued body."""
    accepted_send(channel=channel)
    (message,) = receive(1)
    assert run(load_handler("delivery"), message) == {"batchItemFailures": []}
    body: dict[str, Any] = json.loads(message["Body"])
    assert record_of(body["message_id"])["status"]["S"] == "sent"
    return body


def queued_send_sent_by_meta(wamid: str = WAMID) -> dict[str, Any]:
    """An accepted send recorded as sent by Meta with `wamid` (through the adapter, as the Meta provider's delivery
    records it): its queued body."""
    accepted_send()
    (message,) = receive(1)
    body: dict[str, Any] = json.loads(message["Body"])
    ref = MessageRef(key_hash=body["key_hash"], at=body["at"], message_id=body["message_id"], at_ms=body.get("at_ms"))
    log = DynamoMessageLog(aws.dynamodb(), names.MESSAGES.local_name)
    assert log.set_status(ref, MessageStatus.SENT, at=body["at"] + 1, provider="meta", provider_message_id=wamid)
    assert log.locate(provider="meta", provider_message_id=wamid) == ref
    return body


def status_of(body: dict[str, Any]) -> str:
    return str(record_of(body["message_id"])["status"]["S"])


def table(name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = aws.dynamodb().scan(TableName=name, ConsistentRead=True)["Items"]
    return items


def everything() -> list[list[dict[str, Any]]]:
    return [sorted(table(t.local_name), key=json.dumps) for t in names.TABLES]


def queued_now() -> list[dict[str, Any]]:
    url = boto3.client("sqs").get_queue_url(QueueName=names.OUTBOUND.local_name)["QueueUrl"]
    answer = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


# CM.


def cm_report(reference: str, code: str, *, fixture: str = "cm_status_delivered.json", **fields: str) -> str:
    document = json.loads((EVENTS / fixture).read_text())
    msg = document["messages"]["msg"]
    msg["reference"] = reference
    msg["status"]["code"] = code
    msg.update(fields)
    return json.dumps(document)


def cm_status_event(body: str | None, secret: str = CM_SECRET) -> dict[str, Any]:
    event = rest_event("apigw_rest_signup.json", body=body)
    event.update(
        httpMethod="POST",
        resource="/webhooks/cm-status/{secret}",
        path=f"/webhooks/cm-status/{secret}",
        pathParameters={"secret": secret},
    )
    return event


def test_cm_delivered_report_moves_the_record_to_delivered_and_a_late_sent_report_does_not_undo_it(mo):
    body = delivered_send()
    status, _, answer = invoke(mo, cm_status_event(cm_report(body["message_id"], "2")))
    assert (status, answer) == (200, {"processed": 1, "updated": 1})
    record = record_of(body["message_id"])
    assert record["status"]["S"] == "delivered"
    # The report's own time (CM's `received`, UTC).
    assert record["status_at"]["N"] == "1772442965"
    # The provider fields of the delivery stay.
    assert (record["provider"]["S"], record["attempts"]["N"]) == ("sandbox", "1")

    # Reports arrive out of order: a "sent" (code 0) after "delivered" leaves it delivered.
    status, _, answer = invoke(mo, cm_status_event(cm_report(body["message_id"], "0")))
    assert (status, answer) == (200, {"processed": 1, "updated": 0})
    assert status_of(body) == "delivered"
    # "read" (WhatsApp through CM, upper-case keys and all) still moves it on.
    read = (EVENTS / "cm_status_read_whatsapp.json").read_text().replace(FIXTURE_CM_REFERENCE, body["message_id"])
    assert invoke(mo, cm_status_event(read))[:3:2] == (200, {"processed": 1, "updated": 1})
    assert status_of(body) == "read"
    # And then nothing goes back, not even to failed.
    failed = cm_report(body["message_id"], "3", fixture="cm_status_failed.json")
    assert invoke(mo, cm_status_event(failed))[2] == {"processed": 1, "updated": 0}
    assert status_of(body) == "read"


def test_cm_failed_report_records_the_reason(mo):
    body = delivered_send(Channel.SMS)
    failed = cm_report(body["message_id"], "3", fixture="cm_status_failed.json")
    status, _, answer = invoke(mo, cm_status_event(failed))
    assert (status, answer) == (200, {"processed": 1, "updated": 1})
    record = record_of(body["message_id"])
    assert record["status"]["S"] == "failed"
    assert record["reason"]["S"]
    assert "Unknown subscriber" in record["reason"]["S"]


def test_cm_batch_report_moves_only_our_message(mo):
    body = delivered_send()
    document = json.loads((EVENTS / "cm_status_batch.json").read_text())
    # The third report (code 2, delivered) had no reference: make it ours; the others are unknown to us.
    document["messages"]["msg"][2]["reference"] = body["message_id"]
    status, _, answer = invoke(mo, cm_status_event(json.dumps(document)))
    assert status == 200
    assert answer["updated"] == 1
    assert status_of(body) == "delivered"


def test_cm_report_for_an_unknown_reference_is_processed_but_updates_nothing(mo):
    body = delivered_send()
    before = everything()
    status, _, answer = invoke(mo, cm_status_event(cm_report("0123456789abcdef0123456789abcdef", "2")))
    assert (status, answer) == (200, {"processed": 1, "updated": 0})
    assert everything() == before
    assert status_of(body) == "sent"


def test_cm_report_for_a_send_never_delivered_updates_nothing(mo):
    """A queued send has no pointer yet: its reference finds nothing, so the report cannot skip `sent`."""
    accepted_send()
    (message,) = receive(1)
    body = json.loads(message["Body"])
    status, _, answer = invoke(mo, cm_status_event(cm_report(body["message_id"], "2")))
    assert (status, answer) == (200, {"processed": 1, "updated": 0})
    assert status_of(body) == "queued"


@pytest.mark.parametrize("secret", ["wrong-secret", CM_SECRET + "x", CM_SECRET[:-1], CM_SECRET.upper()])
def test_cm_report_with_a_wrong_secret_is_404_and_changes_nothing(mo, secret):
    body = delivered_send()
    before = everything()
    status, _, answer = invoke(mo, cm_status_event(cm_report(body["message_id"], "2"), secret=secret))
    assert status == 404
    assert answer["code"] == "not_found"
    assert everything() == before
    assert status_of(body) == "sent"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        '{"messages": {"msg": [}',
        "[]",
        json.dumps({}),
        json.dumps({"messages": {}}),
        json.dumps({"messages": {"msg": "delivered"}}),
        json.dumps({"messages": {"msg": [{"reference": "r", "status": {"code": "2"}}] * 5000}}),
        json.dumps({"x": "y" * 70_000}),
    ],
    ids=["none", "empty", "not-json", "broken", "array", "empty-object", "no-msg", "msg-string", "too-many", "huge"],
)
def test_malformed_cm_report_is_400_and_changes_nothing(mo, raw):
    body = delivered_send()
    before = everything()
    status, _, answer = invoke(mo, cm_status_event(raw))
    assert status == 400
    assert answer["message"]
    assert everything() == before
    assert status_of(body) == "sent"


# Meta.


def meta_event(raw: str, *, secret: str = META_APP_SECRET) -> dict[str, Any]:
    event = rest_event("apigw_rest_signup.json", body=raw, headers={"X-Hub-Signature-256": sign(raw.encode(), secret)})
    event.update(httpMethod="POST", resource="/webhooks/meta", path="/webhooks/meta")
    return event


def meta_statuses(wamid: str, *statuses: str) -> str:
    """A WhatsApp webhook with one status change per entry for `wamid`, from the sent-then-read fixture."""
    document = json.loads((EVENTS / "meta_whatsapp_status_sent_read.json").read_text())
    template = document["entry"][1]
    document["entry"] = []
    for index, value in enumerate(statuses):
        entry = copy.deepcopy(template)
        status = entry["changes"][0]["value"]["statuses"][0]
        status.update(id=wamid, status=value, timestamp=str(1772443215 + index))
        document["entry"].append(entry)
    return json.dumps(document)


def test_meta_read_status_moves_the_record_to_read(mo):
    body = queued_send_sent_by_meta()
    whitelist_before = table(names.WHITELIST.local_name)
    raw = (EVENTS / "meta_whatsapp_status_sent_read.json").read_text().replace(FIXTURE_WAMID, WAMID)
    status, _, answer = invoke(mo, meta_event(raw))
    # Statuses are not end users' messages.
    assert (status, answer) == (200, {"processed": 0, "outcomes": []})
    record = record_of(body["message_id"])
    assert record["status"]["S"] == "read"
    assert record["status_at"]["N"] == "1772443215"
    assert (record["provider"]["S"], record["provider_message_id"]["S"]) == ("meta", WAMID)
    assert queued_now() == []
    assert table(names.WHITELIST.local_name) == whitelist_before


def test_meta_statuses_only_move_forward(mo):
    body = queued_send_sent_by_meta()
    assert invoke(mo, meta_event(meta_statuses(WAMID, "delivered")))[0] == 200
    assert status_of(body) == "delivered"
    # A late "sent", then "read", then a late "delivered".
    assert invoke(mo, meta_event(meta_statuses(WAMID, "sent", "read", "delivered")))[0] == 200
    assert status_of(body) == "read"


def test_meta_failed_status_records_the_error(mo):
    body = queued_send_sent_by_meta()
    document = json.loads((EVENTS / "meta_whatsapp_status.json").read_text())
    statuses = document["entry"][0]["changes"][0]["value"]["statuses"]
    statuses[1]["id"] = WAMID  # the failed one (131047, the 24-hour window)
    status, _, _ = invoke(mo, meta_event(json.dumps(document)))
    assert status == 200
    record = record_of(body["message_id"])
    assert record["status"]["S"] == "failed"
    assert "131047" in record["reason"]["S"]
    assert "Re-engagement message" in record["reason"]["S"]


def test_meta_status_for_an_unknown_wamid_or_another_providers_id_changes_nothing(mo):
    body = delivered_send()
    before = everything()
    # The sandbox's id is the sandbox provider's, not Meta's.
    for wamid in ("wamid.UNKNOWN", f"sandbox-{body['message_id']}", body["message_id"]):
        assert invoke(mo, meta_event(meta_statuses(wamid, "read")))[0] == 200
    assert everything() == before


def test_unsigned_meta_status_is_401_and_changes_nothing(mo):
    body = queued_send_sent_by_meta()
    before = everything()
    event = meta_event(meta_statuses(WAMID, "read"), secret="not-the-app-secret")
    status, _, answer = invoke(mo, event)
    assert status == 401
    assert answer["code"] == "unauthorized"
    assert everything() == before
    assert status_of(body) == "sent"


# SMS delivery events through SNS and the SMS queue.


def sns_event(message: dict[str, Any] | str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "sns_two_way_sms.json").read_text())
    record = event["Records"][0]
    record["EventSubscriptionArn"] = "arn:aws:sns:eu-west-1:123456789012:trialgw-sms-events:fixture"
    record["Sns"]["TopicArn"] = "arn:aws:sns:eu-west-1:123456789012:trialgw-sms-events"
    record["Sns"]["Message"] = message if isinstance(message, str) else json.dumps(message)
    return event


def sms_event(message_id: str, fixture: str = "sms_delivery_event_delivered.json") -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((EVENTS / fixture).read_text())
    if "Message" in raw:  # an SNS envelope: the event is its Message
        raw = json.loads(raw["Message"])
    raw["context"]["message_id"] = message_id
    return raw


def test_sms_delivery_event_moves_the_record_to_delivered_and_is_no_end_users_text(sms):
    body = delivered_send(Channel.SMS)
    whitelist_before = table(names.WHITELIST.local_name)
    answer = sms_outcomes(sms.handler(sns_via_sqs(sns_event(sms_event(body["message_id"]))), FakeLambdaContext()))
    assert answer == {"processed": 1, "outcomes": ["status"], "failed": []}
    record = record_of(body["message_id"])
    assert record["status"]["S"] == "delivered"
    assert record["status_at"]["N"] == "1772443203"
    # Not handled as an inbound text: nothing whitelisted, recorded or replied.
    assert queued_now() == []
    assert table(names.WHITELIST.local_name) == whitelist_before
    inbound = [r for r in table(names.MESSAGES.local_name) if r.get("direction", {}).get("S") == "inbound"]
    assert inbound == []


def test_sms_failure_event_records_the_reason(sms):
    body = delivered_send(Channel.SMS)
    event = sms_event(body["message_id"], fixture="sms_delivery_event_failed_sns.json")
    answer = sms_outcomes(sms.handler(sns_via_sqs(sns_event(event)), FakeLambdaContext()))
    assert answer == {"processed": 1, "outcomes": ["status"], "failed": []}
    record = record_of(body["message_id"])
    assert record["status"]["S"] == "failed"
    assert "CARRIER_UNREACHABLE" in record["reason"]["S"]
    assert queued_now() == []


def test_sms_delivery_event_for_an_unknown_message_changes_nothing(sms):
    body = delivered_send(Channel.SMS)
    before = everything()
    event = sns_via_sqs(sns_event(sms_event("0123456789abcdef0123456789abcdef")))
    answer = sms_outcomes(sms.handler(event, FakeLambdaContext()))
    assert answer == {"processed": 1, "outcomes": ["status"], "failed": []}
    assert everything() == before
    assert status_of(body) == "sent"
    assert queued_now() == []


def test_two_way_sms_still_whitelists_beside_delivery_events(sms):
    """An end user's text in the same batch of the SMS queue as a delivery event is still handled as a text."""
    body = delivered_send(Channel.SMS)
    event = sns_event(sms_event(body["message_id"]))
    text = json.loads((EVENTS / "sns_two_way_sms.json").read_text())["Records"][0]
    event["Records"].append(text)
    answer = sms_outcomes(sms.handler(sns_via_sqs(event), FakeLambdaContext()))
    assert answer["processed"] == 2
    assert answer["outcomes"][0] == "status"
    assert status_of(body) == "delivered"
    # The fixture's text joins a trial key that does not exist here: handled (and answered) as an end user's text.
    assert answer["outcomes"][1] != "status"
