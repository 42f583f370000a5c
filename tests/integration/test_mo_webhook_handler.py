"""The inbound (MO) function through its real handler on moto: each entry point, forgeries, bad input."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.integration.conftest import (
    CM_SECRET,
    EVENTS,
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    FakeLambdaContext,
    invoke,
    load_handler,
    rest_event,
    sms_outcomes,
    sns_via_sqs,
)
from trialgw import names
from trialgw.adapters import aws
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.errors import DependencyUnavailable
from trialgw.keys import hash_key, new_key
from trialgw.models import Trial
from trialgw.providers.meta.inbound import sign

FIXTURE_KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"


@pytest.fixture
def mo(aws_env):
    return load_handler("mo_webhook")


@pytest.fixture
def sms(aws_env: None) -> ModuleType:
    return load_handler("sms_inbound")


@pytest.fixture
def key(aws_env) -> str:
    key = new_key()
    DynamoTrialStore(aws.dynamodb(), names.TRIALS.local_name).create(
        Trial(hash_key(key), "Jane", "jane@example.com", None, 1_700_000_000, 4_000_000_000), ttl=4_000_000_000
    )
    return key


def _fixture(name: str, key: str) -> str:
    return (EVENTS / name).read_text().replace(FIXTURE_KEY.upper(), key).replace(FIXTURE_KEY, key)


def _event(method: str, resource: str, path: str, body: str | None, **extra: Any) -> dict[str, Any]:
    event = rest_event("apigw_rest_signup.json", body=body, headers=extra.pop("headers", None))
    event.update(httpMethod=method, resource=resource, path=path, **extra)
    return event


def cm_event(body: str | None, secret: str = CM_SECRET) -> dict[str, Any]:
    return _event("POST", "/webhooks/cm/{secret}", f"/webhooks/cm/{secret}", body, pathParameters={"secret": secret})


def meta_event(body: str, signature: str | None) -> dict[str, Any]:
    headers = {"X-Hub-Signature-256": signature} if signature else {}
    return _event("POST", "/webhooks/meta", "/webhooks/meta", body, headers=headers)


def _items(table: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


def _queued() -> list[dict[str, Any]]:
    url = boto3.client("sqs").get_queue_url(QueueName=names.OUTBOUND.local_name)["QueueUrl"]
    answer = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_cm_webhook_whitelists_records_and_queues_a_reply(mo, key):
    status, _, body = invoke(mo, cm_event(_fixture("mo_cm_whatsapp.json", key)))
    assert (status, body) == (200, {"processed": 1, "outcomes": ["whitelisted"]})
    entries = [i for i in _items(names.WHITELIST.local_name) if i["sk"]["S"].startswith(names.RECIPIENT_SK_PREFIX)]
    assert [(e["channel"]["S"], e["address"]["S"]) for e in entries] == [("WhatsApp", "+31687654321")]
    (message,) = [i for i in _items(names.MESSAGES.local_name) if i["sk"]["S"].startswith(names.MESSAGE_SK_PREFIX)]
    payload = json.loads(message["payload"]["S"])
    assert payload["from"]["number"] == "+31687654321"
    assert payload["channel"] == "WhatsApp"
    (reply,) = _queued()
    assert reply["kind"] == "reply"
    assert reply["to"] == "+31687654321"
    assert "whitelisted" in reply["text"]


def test_redelivery_of_the_same_cm_message_is_recorded_once(mo, key):
    body = _fixture("mo_cm_whatsapp.json", key)
    invoke(mo, cm_event(body))
    status, _, answer = invoke(mo, cm_event(body))
    assert (status, answer["outcomes"]) == (200, ["duplicate"])
    assert len(_queued()) == 1


@pytest.mark.parametrize("secret", ["wrong-secret", "", CM_SECRET + "x", CM_SECRET[:-1]])
def test_forged_cm_webhook_is_404_and_changes_nothing(mo, key, secret):
    status, _, body = invoke(mo, cm_event(_fixture("mo_cm_whatsapp.json", key), secret=secret))
    assert status == 404
    assert body["code"] == "not_found"
    assert _items(names.WHITELIST.local_name) == []
    assert _items(names.MESSAGES.local_name) == []
    assert _queued() == []


def test_meta_webhook_needs_a_valid_signature(mo, key):
    raw = _fixture("meta_whatsapp_text.json", key)
    for signature in (None, "sha256=" + "0" * 64, sign(raw.encode() + b" ", META_APP_SECRET), sign(raw.encode(), "x")):
        status, _, body = invoke(mo, meta_event(raw, signature))
        assert status == 401
        assert body["code"] == "unauthorized"
    assert _items(names.WHITELIST.local_name) == []
    status, _, body = invoke(mo, meta_event(raw, sign(raw.encode(), META_APP_SECRET)))
    assert (status, body["outcomes"]) == (200, ["whitelisted"])


@pytest.mark.parametrize("fixture", ["meta_messenger_text.json", "meta_instagram_text.json"])
def test_messenger_and_instagram_whitelist_their_page_scoped_ids(mo, key, fixture):
    raw = _fixture(fixture, key)
    status, _, body = invoke(mo, meta_event(raw, sign(raw.encode(), META_APP_SECRET)))
    assert (status, body["outcomes"]) == (200, ["whitelisted"])


def test_meta_status_and_echo_events_are_acknowledged_and_ignored(mo, key):
    for fixture in ("meta_whatsapp_status.json", "meta_messenger_echo.json"):
        raw = _fixture(fixture, key)
        status, _, body = invoke(mo, meta_event(raw, sign(raw.encode(), META_APP_SECRET)))
        assert (status, body["processed"]) == (200, 0)
    assert _items(names.WHITELIST.local_name) == []


def test_meta_verify_handshake(mo):
    params = {"hub.mode": "subscribe", "hub.verify_token": META_VERIFY_TOKEN, "hub.challenge": "1158201444"}
    answer = mo.handler(
        _event("GET", "/webhooks/meta", "/webhooks/meta", None, queryStringParameters=params), FakeLambdaContext()
    )
    assert answer["statusCode"] == 200
    assert answer["body"] == "1158201444"
    assert "text/plain" in json.dumps(answer.get("headers") or answer.get("multiValueHeaders"))
    wrong = {**params, "hub.verify_token": "guess"}
    status, _, _ = invoke(mo, _event("GET", "/webhooks/meta", "/webhooks/meta", None, queryStringParameters=wrong))
    assert status == 403


def test_two_way_sms_through_the_sms_queue(sms, key):
    event = sns_via_sqs(json.loads(_fixture("sns_two_way_sms.json", key)))
    result = sms.handler(event, FakeLambdaContext())
    assert result == {"batchItemFailures": [], "outcomes": {"sqs-0": "whitelisted"}}
    entries = [i for i in _items(names.WHITELIST.local_name) if i["sk"]["S"].startswith(names.RECIPIENT_SK_PREFIX)]
    assert [e["channel"]["S"] for e in entries] == ["SMS"]


def test_unusable_sns_notification_is_consumed_not_retried(sms):
    event = json.loads((EVENTS / "sns_two_way_sms.json").read_text())
    event["Records"][0]["Sns"]["Message"] = "not json"
    queued = sns_via_sqs(event)
    # And a queue message that is no SNS notification at all.
    queued["Records"].append({**queued["Records"][0], "messageId": "sqs-1", "body": "[]"})
    assert sms_outcomes(sms.handler(queued, FakeLambdaContext())) == {
        "processed": 2,
        "outcomes": ["unusable", "unusable"],
        "failed": [],
    }


def test_a_two_way_sms_whose_processing_fails_is_a_batch_item_failure_the_others_go_on(sms, key, monkeypatch):
    """The store fails for one text: SQS retries that one (and keeps it in the dead-letter queue in the end); the
    other text of the batch is whitelisted."""
    event = json.loads(_fixture("sns_two_way_sms.json", key))
    second = json.loads(json.dumps(event["Records"][0]))
    message = json.loads(second["Sns"]["Message"])
    message.update(originationNumber="+447700900456", inboundMessageId="second-text")
    second["Sns"]["Message"] = json.dumps(message)
    event["Records"].append(second)
    real = sms.handle_inbound

    def failing_first(inbound, settings, deps):
        if inbound.sender != "+447700900456":
            raise DependencyUnavailable("The trial store is unavailable.")
        return real(inbound, settings, deps)

    monkeypatch.setattr(sms, "handle_inbound", failing_first)
    result = sms.handler(sns_via_sqs(event), FakeLambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "sqs-0"}], "outcomes": {"sqs-1": "whitelisted"}}


@pytest.mark.parametrize(
    "body",
    [
        None,
        "not json",
        "[1, 2",
        json.dumps({"reference": "r", "channel": "Viber", "from": {"number": "+31612345678"}, "to": {"number": "1"}}),
        json.dumps({"reference": "r", "channel": "SMS", "from": {"number": "0612345678"}, "to": {"number": "1"}}),
        json.dumps({"reference": 1, "channel": ["SMS"], "from": None, "to": "x"}),
        json.dumps({"x": "y" * 70_000}),
    ],
)
def test_malformed_authenticated_cm_payloads_are_400(mo, body):
    status, _, answer = invoke(mo, cm_event(body))
    assert status == 400
    assert answer["message"]
    assert _items(names.WHITELIST.local_name) == []


def test_dynamodb_failure_is_503_so_the_provider_retries(mo, key):
    boto3.client("dynamodb").delete_table(TableName=names.MESSAGES.local_name)
    status, headers, body = invoke(mo, cm_event(_fixture("mo_cm_whatsapp.json", key)))
    assert status == 503
    assert body["code"] == "unavailable"
    assert "Retry-After" in headers


def test_queue_failure_releases_the_claim_so_a_retry_succeeds(mo, key):
    body = _fixture("mo_cm_whatsapp.json", key)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=names.OUTBOUND.local_name)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    assert invoke(mo, cm_event(body))[0] == 503
    sqs.create_queue(QueueName=names.OUTBOUND.local_name)
    status, _, answer = invoke(mo, cm_event(body))
    # The whitelisting of the first attempt stood; the retry is processed, not dropped as a duplicate.
    assert (status, answer["outcomes"]) == (200, ["already_whitelisted"])
    assert len(_queued()) == 1
