"""The delivery function through its real handler on moto: SQS batches built from messages really received from
the delivery queue (as Lambda's event source mapping builds them), the sandbox provider, the messages table's
records (each send's claim) and pointers, Powertools idempotency (replies') on its own table, partial batch responses
and the retry back-off.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.cm_requests import cm_send_body
from tests.integration.conftest import (
    FakeLambdaContext,
    invoke,
    load_handler,
    make_trial,
    rest_event,
)
from trialgw import names
from trialgw.adapters import aws
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import DELIVERIES

PHONE = "+31612345678"
TEXT = "Hello from the trial"
SANDBOX_FAILED = {
    "transient": "Sandbox configured to fail (transient).",
    "permanent": "Sandbox configured to fail (permanent).",
}

pytestmark = pytest.mark.usefixtures("clean_sandbox")


# The queue, as Lambda's event source mapping sees it.


def queue_url() -> str:
    return boto3.client("sqs").get_queue_url(QueueName=names.OUTBOUND.local_name)["QueueUrl"]


def queue_arn() -> str:
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url(), AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def enqueue(body: dict[str, Any] | str) -> None:
    """Puts a message on the delivery queue directly (as the gateway's or the inbound function's adapter would)."""
    raw = body if isinstance(body, str) else json.dumps(body)
    boto3.client("sqs").send_message(QueueUrl=queue_url(), MessageBody=raw)


def receive(expected: int | None = None, *, visibility: int = 300) -> list[dict[str, Any]]:
    """Every visible message on the delivery queue, received once with all its attributes (oldest first); with
    `visibility` 0 they stay visible, so a single receive."""
    sqs, url = boto3.client("sqs"), queue_url()
    messages: list[dict[str, Any]] = []
    while not messages or visibility:
        batch: list[Any] = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        messages += batch
    messages.sort(key=lambda m: int(m["Attributes"]["SentTimestamp"]))
    if expected is not None:
        assert len(messages) == expected, messages
    return messages


def sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    """The Lambda SQS event record of a received message."""
    attributes = message["Attributes"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": str(attributes["ApproximateReceiveCount"]),
            "SentTimestamp": str(attributes["SentTimestamp"]),
            "SenderId": str(attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO")),
            "ApproximateFirstReceiveTimestamp": str(attributes.get("ApproximateFirstReceiveTimestamp", "0")),
        },
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(),
        "awsRegion": "eu-west-1",
    }


def sqs_event(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [sqs_record(message) for message in messages]}


def run(handler: ModuleType, *messages: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = handler.handler(sqs_event(*messages), FakeLambdaContext())
    return result


def failures(result: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in result["batchItemFailures"]]


# Trials, sends and records.


def _ddb() -> Any:
    return aws.dynamodb()


def accepted_send(
    *, channel: Channel = Channel.WHATSAPP, to: str = PHONE, text: str = TEXT, key: str | None = None
) -> str:
    """Makes an accepted send through the real send handler (whitelisting `to` first); the trial's key."""
    key = key or make_trial((channel, to))
    body = cm_send_body(key, channels=[channel.value], to=(to,), content=text, sender="TrialTest", reference="ref-1")
    status, _, answer = invoke(load_handler("send"), rest_event("apigw_rest_send.json", body=body))
    assert status == 200, answer
    assert answer["messages"][0]["status"] == "Accepted"
    return key


def reply_body(to: str = "+31687654321", text: str = "You are whitelisted.") -> dict[str, Any]:
    """A reply to an end user, as the inbound function queues it: no trial, no record."""
    return {"channel": "WhatsApp", "to": to, "text": text, "kind": "reply", "message_id": uuid.uuid4().hex}


def orphan_send_body() -> dict[str, Any]:
    """A queued send whose record does not exist (answered 503 after SQS stored it anyway)."""
    return {
        "channel": "WhatsApp",
        "to": PHONE,
        "text": TEXT,
        "kind": "send",
        "message_id": uuid.uuid4().hex,
        "key_hash": hash_key(new_key()),
        "at": int(time.time()),
        "sender": "TrialTest",
        "reference": "ref-1",
    }


def items(table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _ddb().scan(TableName=table, ConsistentRead=True)["Items"]
    return found


def records() -> list[dict[str, Any]]:
    return [i for i in items(names.MESSAGES.local_name) if i["sk"]["S"].startswith(names.MESSAGE_SK_PREFIX)]


def record_of(message_id: str) -> dict[str, Any]:
    (record,) = [r for r in records() if r["message_id"]["S"] == message_id]
    return record


def pointers() -> dict[str, dict[str, Any]]:
    return {i["pk"]["S"]: i for i in items(names.MESSAGES.local_name) if i["sk"]["S"] == names.POINTER_SK}


def delivered_ids() -> list[str]:
    return [entry.message_id for entry in DELIVERIES.entries()]


def visible_count() -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url(), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


# Fixtures.


@pytest.fixture
def configure(load_configured: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
    """The delivery handler loaded afresh with extra `TRIALGW_*` settings."""
    return functools.partial(load_configured, "delivery")


@pytest.fixture
def delivery(configure: Callable[..., ModuleType]) -> ModuleType:
    return configure()


# Delivered.


def test_accepted_send_is_delivered_once_and_recorded_sent_with_pointers(delivery):
    key = accepted_send()
    (message,) = receive(1)
    body = json.loads(message["Body"])
    before = int(time.time())

    assert run(delivery, message) == {"batchItemFailures": []}

    (entry,) = DELIVERIES.entries()
    assert (entry.channel, entry.to, entry.text, entry.kind) == (Channel.WHATSAPP, PHONE, TEXT, "send")
    assert entry.message_id == body["message_id"]
    record = record_of(body["message_id"])
    assert record["pk"]["S"] == f"{names.TRIAL_PK_PREFIX}{hash_key(key)}"
    assert record["sk"]["S"] == names.message_sort_key(body["at"], body["message_id"], at_ms=body["at_ms"])
    assert record["status"]["S"] == "delivered"  # sent, then the sandbox's own `delivered` report
    assert record["attempts"]["N"] == "1"
    assert record["provider"]["S"] == "sandbox"
    assert record["provider_message_id"]["S"] == f"sandbox-{body['message_id']}"
    assert int(record["status_at"]["N"]) >= before
    assert "reason" not in record

    found = pointers()
    target = {
        "key_hash": hash_key(key),
        "at": str(body["at"]),
        "message_id": body["message_id"],
        "at_ms": str(body["at_ms"]),
    }
    assert set(found) == {
        f"{names.MESSAGE_ID_PK_PREFIX}{body['message_id']}",
        f"{names.PROVIDER_ID_PK_PREFIX}sandbox#sandbox-{body['message_id']}",
    }
    for pointer in found.values():
        assert {name: next(iter(value.values())) for name, value in pointer.items() if name in target} == target
        assert int(pointer[names.TTL_ATTRIBUTE]["N"]) > before

    # Nothing stays on the queue to retry: the event source mapping deletes the successful record.
    assert visible_count() == 0


def test_reply_is_delivered_without_a_record(delivery):
    reply = reply_body()
    enqueue(reply)
    (message,) = receive(1)
    assert run(delivery, message) == {"batchItemFailures": []}
    (entry,) = DELIVERIES.entries()
    assert (entry.kind, entry.to, entry.text, entry.message_id) == (
        "reply",
        reply["to"],
        reply["text"],
        reply["message_id"],
    )
    assert items(names.MESSAGES.local_name) == []
    # A reply has no record: Powertools idempotency on its message id is its claim.
    (idempotency,) = items(names.IDEMPOTENCY.local_name)
    assert idempotency["status"]["S"] == "COMPLETED"


def test_sms_send_is_delivered_from_the_trial_companys_sender(delivery):
    # The developer's `from` ("TrialTest") passed row 9 but is nobody's sender: the seed's sender is the trial's.
    accepted_send(channel=Channel.SMS)
    (message,) = receive(1)
    assert run(delivery, message) == {"batchItemFailures": []}
    (entry,) = DELIVERIES.entries()
    assert (entry.channel, entry.sender) == (Channel.SMS, "CMCOM")
    assert record_of(entry.message_id)["status"]["S"] == "delivered"


def test_sms_send_is_delivered_from_the_developers_sender_only_when_the_operator_allows_it(configure):
    delivery = configure(sms_allow_developer_sender="true", sms_sender="TrialCo")
    accepted_send(channel=Channel.SMS)
    (message,) = receive(1)
    assert run(delivery, message) == {"batchItemFailures": []}
    (entry,) = DELIVERIES.entries()
    assert (entry.channel, entry.sender) == (Channel.SMS, "TrialTest")


def test_redelivered_sqs_message_reaches_the_provider_once(delivery):
    accepted_send()
    (first,) = receive(1, visibility=0)
    assert run(delivery, first) == {"batchItemFailures": []}
    # SQS delivers at least once: the same message comes back (a new receive, a higher receive count).
    (again,) = receive(1)
    assert again["MessageId"] == first["MessageId"]
    assert int(again["Attributes"]["ApproximateReceiveCount"]) == 2
    assert run(delivery, again) == {"batchItemFailures": []}
    # The very same record twice (the event source mapping retrying an invocation), in a fresh process too.
    assert run(load_handler("delivery"), first) == {"batchItemFailures": []}

    (entry,) = DELIVERIES.entries()
    record = record_of(entry.message_id)
    assert record["status"]["S"] == "delivered"
    # The duplicates found the record sent and never reached the provider: one attempt counted. The record is the
    # claim: no lease left on it, and no idempotency record of its own.
    assert record["attempts"]["N"] == "1"
    assert "lease_token" not in record
    assert items(names.IDEMPOTENCY.local_name) == []


def test_the_same_message_id_in_two_sqs_messages_is_delivered_once(delivery):
    reply = reply_body()
    enqueue(reply)
    enqueue(reply)
    first, second = receive(2)
    assert run(delivery, first, second) == {"batchItemFailures": []}
    assert delivered_ids() == [reply["message_id"]]


# Batches with failures.


def test_batch_reports_exactly_the_failed_items(configure):
    accepted_send()
    enqueue("this is not json")
    enqueue(orphan_send_body())
    send, unreadable, orphan = receive(3)
    assert json.loads(send["Body"])["kind"] == "send"
    assert unreadable["Body"] == "this is not json"

    result = run(configure(sandbox_fault="transient", delivery_backoff_base_seconds="0"), send, unreadable, orphan)

    # The unreadable body is dropped, the send without a record is not delivered (both acknowledged); only the send
    # the provider failed is retried.
    assert failures(result) == [send["MessageId"]]
    assert DELIVERIES.entries() == []
    (record,) = records()
    assert record["status"]["S"] == "queued"
    assert record["attempts"]["N"] == "1"
    # The orphan got no record by being tried.
    assert len(records()) == 1


def test_mixed_batch_delivers_the_good_and_fails_none(delivery):
    accepted_send()
    reply = reply_body()
    enqueue(reply)
    enqueue({"channel": "Viber", "to": PHONE, "text": TEXT, "kind": "reply", "message_id": "x"})
    orphan = orphan_send_body()
    enqueue(orphan)
    messages = receive(4)
    assert run(delivery, *messages) == {"batchItemFailures": []}
    (send_id,) = [
        body["message_id"] for body in map(json.loads, (m["Body"] for m in messages)) if "at" in body and body != orphan
    ]
    assert sorted(delivered_ids()) == sorted([send_id, reply["message_id"]])
    assert orphan["message_id"] not in delivered_ids()
    assert record_of(send_id)["status"]["S"] == "delivered"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2, 3]",
        "null",
        json.dumps({"channel": "WhatsApp", "to": PHONE, "text": TEXT, "kind": "reply"}),
        json.dumps({"channel": "Telegram", "to": PHONE, "text": TEXT, "kind": "reply", "message_id": "m"}),
        json.dumps({"channel": "SMS", "to": PHONE, "text": TEXT, "kind": "send", "message_id": "m", "at": "soon"}),
    ],
    ids=["not-json", "array", "null", "no-message-id", "unknown-channel", "bad-at"],
)
def test_unreadable_bodies_are_dropped_not_retried(delivery, body):
    enqueue(body)
    enqueue(reply_body())
    bad, good = receive(2)
    assert run(delivery, bad, good) == {"batchItemFailures": []}
    assert len(DELIVERIES) == 1


def test_transient_failure_before_the_last_attempt_is_retried_after_a_back_off(configure):
    accepted_send()
    enqueue("not json")  # a record that succeeds, so the batch is a partial failure
    send, unreadable = receive(2)
    message_id = json.loads(send["Body"])["message_id"]
    handler = configure(sandbox_fault="transient", delivery_max_attempts="3", delivery_backoff_base_seconds="0")

    assert failures(run(handler, send, unreadable)) == [send["MessageId"]]

    record = record_of(message_id)
    assert record["status"]["S"] == "queued"
    assert record["attempts"]["N"] == "1"
    assert "reason" not in record
    assert pointers() == {}
    assert DELIVERIES.entries() == []
    # The back-off (0 s here) made it visible again at once, received a second time; the failed attempt ended its
    # lease on the record, which would otherwise refuse the retry as in flight until the invocation's deadline.
    assert "lease_token" not in record
    (retry,) = receive(1)
    assert retry["MessageId"] == send["MessageId"]
    assert retry["Attributes"]["ApproximateReceiveCount"] == "2"

    # Once the provider recovers, the retry delivers it.
    assert run(configure(sandbox_fault="none"), retry) == {"batchItemFailures": []}
    assert delivered_ids() == [message_id]
    record = record_of(message_id)
    assert (record["status"]["S"], record["attempts"]["N"]) == ("delivered", "2")


def test_transient_back_off_keeps_the_message_invisible(configure):
    accepted_send()
    enqueue("not json")
    send, unreadable = receive(2, visibility=0)
    handler = configure(sandbox_fault="transient", delivery_backoff_base_seconds="10")
    assert failures(run(handler, send, unreadable)) == [send["MessageId"]]
    # The first retry waits 10 s (the base); the unreadable body, not yet deleted by anyone here, is visible.
    (visible,) = receive()
    assert visible["MessageId"] == unreadable["MessageId"]


def test_transient_failure_of_a_batch_of_one_is_reported_as_an_item_failure(configure):
    """A lone message (the usual batch at trial traffic) that fails transiently is a batch item failure too, as the
    handler's docstring says, not a failed invocation."""
    accepted_send()
    (send,) = receive(1)
    handler = configure(sandbox_fault="transient", delivery_backoff_base_seconds="0")
    assert run(handler, send) == {"batchItemFailures": [{"itemIdentifier": send["MessageId"]}]}
    assert record_of(json.loads(send["Body"])["message_id"])["status"]["S"] == "queued"


def test_last_attempt_marks_the_record_failed_and_fails_the_item(configure):
    accepted_send()
    handler = configure(sandbox_fault="transient", delivery_max_attempts="2", delivery_backoff_base_seconds="0")
    message_id = ""
    for attempt in (1, 2):
        enqueue("not json")
        send, unreadable = receive(2)
        assert send["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        message_id = json.loads(send["Body"])["message_id"]
        assert failures(run(handler, send, unreadable)) == [send["MessageId"]]
        boto3.client("sqs").delete_message(QueueUrl=queue_url(), ReceiptHandle=unreadable["ReceiptHandle"])

    record = record_of(message_id)
    assert record["status"]["S"] == "failed"
    assert record["attempts"]["N"] == "2"
    assert record["reason"]["S"] == f"gave up after 2 attempts: {SANDBOX_FAILED['transient']}"
    assert DELIVERIES.entries() == []
    # Visible again at once (visibility 0): its next receive moves it to the dead-letter queue.
    (last,) = receive(1)
    assert last["Attributes"]["ApproximateReceiveCount"] == "3"


def test_last_attempt_of_a_reply_fails_the_item_without_a_record(configure):
    enqueue(reply_body())
    enqueue("not json")
    reply, unreadable = receive(2)
    handler = configure(sandbox_fault="transient", delivery_max_attempts="1")
    assert failures(run(handler, reply, unreadable)) == [reply["MessageId"]]
    assert items(names.MESSAGES.local_name) == []


def test_an_unexpected_error_is_retried_on_the_back_off_and_leaves_the_record_queued(configure):
    """A crash (TRIALGW_SANDBOX_FAULT=crash: an error no provider answered with) before the last attempt: the item
    fails, the back-off hides it as for a transient failure, and nothing says `failed` yet."""
    accepted_send()
    (send,) = receive(1, visibility=0)
    message_id = json.loads(send["Body"])["message_id"]
    handler = configure(sandbox_fault="crash", delivery_max_attempts="3", delivery_backoff_base_seconds="10")

    assert failures(run(handler, send)) == [send["MessageId"]]

    record = record_of(message_id)
    assert (record["status"]["S"], record["attempts"]["N"]) == ("queued", "1")
    assert "reason" not in record
    # Hidden for the first back-off (10 s), not visible at once.
    assert receive() == []
    assert items(names.IDEMPOTENCY.local_name) == []


def test_an_unexpected_error_on_the_last_attempt_sends_the_message_to_the_dead_letters_at_once(configure):
    accepted_send()
    handler = configure(sandbox_fault="crash", delivery_max_attempts="1", delivery_backoff_base_seconds="10")
    (send,) = receive(1)

    assert failures(run(handler, send)) == [send["MessageId"]]

    # Still `queued`: the dead-letter consumer (functions/dead_letters) marks it; visible again at once, so the next
    # receive moves it to the dead-letter queue.
    assert record_of(json.loads(send["Body"])["message_id"])["status"]["S"] == "queued"
    (again,) = receive(1)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_permanent_failure_is_recorded_failed_and_consumed(configure):
    accepted_send()
    (send,) = receive(1)
    message_id = json.loads(send["Body"])["message_id"]
    handler = configure(sandbox_fault="permanent")

    assert run(handler, send) == {"batchItemFailures": []}

    record = record_of(message_id)
    assert record["status"]["S"] == "failed"
    assert record["reason"]["S"] == SANDBOX_FAILED["permanent"]
    assert record["attempts"]["N"] == "1"
    assert pointers() == {}
    assert DELIVERIES.entries() == []
    # Consumed: a redelivery (the mapping retrying) does not try the provider again.
    assert run(handler, send) == {"batchItemFailures": []}
    assert record_of(message_id)["attempts"]["N"] == "1"
