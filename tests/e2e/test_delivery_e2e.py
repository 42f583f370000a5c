"""Delivery, end to end over HTTP: what the gateway accepts reaches the end user, or fails visibly.

The local stack's pump feeds the outbound queue to the real delivery function, as Lambda's event source
mapping does; the sandbox provider records what it delivered (`/_local/deliveries`). With the sandbox made
to fail, a send is retried up to `TRIALGW_DELIVERY_MAX_ATTEMPTS` receives, its record ends `failed`, and
SQS (moto) moves it to the dead-letter queue, whose consumer takes it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from tests.conftest import LocalStack, random_phone, start_local_stack

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.e2e

GATEWAY = "/messaging/messagingtrial/gw/"
WAIT_SECONDS = 20
DLQ_NAME = "trialgw-outbound-dlq"


def eventually[T](probe: Callable[[], T | None], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Polls `probe` until it returns something other than None (or a falsy value), for at most `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def whitelist(stack: LocalStack, channel: str, sender: str, key: str) -> None:
    response = stack.post_json("/_local/mo", {"channel": channel, "from": sender, "text": key})
    assert response.status == 200, response.text
    assert response.json()["answer"]["outcomes"] == ["whitelisted"], response.text


def send(stack: LocalStack, key: str, to: str, text: str) -> dict[str, Any]:
    payload = {
        "messages": {
            "authentication": {"producttoken": key},
            "msg": [
                {
                    "allowedChannels": ["WhatsApp"],
                    "from": "TrialGW",
                    "to": [{"number": to}],
                    "body": {"type": "auto", "content": text},
                    "reference": "e2e-delivery",
                }
            ],
        }
    }
    response = stack.post_json(GATEWAY, payload)
    assert response.status == 200, response.text
    [message] = response.json()["messages"]
    assert message["status"] == "Accepted", message
    result: dict[str, Any] = message
    return result


def deliveries(stack: LocalStack, to: str) -> list[dict[str, Any]]:
    response = stack.get("/_local/deliveries?to=" + quote(to, safe=""))
    assert response.status == 200, response.text
    found: list[dict[str, Any]] = response.json()
    assert all(entry["to"] == to for entry in found)
    return found


def queued(stack: LocalStack, to: str) -> list[dict[str, Any]]:
    response = stack.get("/_local/outbound?to=" + quote(to, safe=""))
    assert response.status == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


# --- moto, as `trialgw-admin --local` reaches it ---------------------------------------------------------


def _moto(stack: LocalStack) -> dict[str, Any]:
    where: dict[str, Any] = stack.get("/_local/aws").json()
    return {
        "endpoint_url": where["endpoint"],
        "region_name": where["region"],
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def dynamodb(stack: LocalStack) -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb", **_moto(stack))


def sqs(stack: LocalStack) -> SQSClient:
    import boto3

    return boto3.client("sqs", **_moto(stack))


def outbound_records(stack: LocalStack, key: str, to: str) -> list[dict[str, Any]]:
    """The trial's message records addressed to `to` (DynamoDB JSON), read from the messages table."""
    table = stack.get("/_local/aws").json()["tables"]["messages"]
    key_hash = hashlib.sha256(key.strip().lower().encode()).hexdigest()
    items: list[dict[str, Any]] = dynamodb(stack).query(
        TableName=table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
        ExpressionAttributeValues={":pk": {"S": f"TRIAL#{key_hash}"}, ":msg": {"S": "MSG#"}},
        ConsistentRead=True,
    )["Items"]
    return [
        item
        for item in items
        if item.get("direction", {}).get("S") == "outbound" and item.get("counterpart", {}).get("S") == to
    ]


def dead_letters(stack: LocalStack) -> int:
    client = sqs(stack)
    url = client.get_queue_url(QueueName=DLQ_NAME)["QueueUrl"]
    attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


# --- the happy path, on the session's stack ---------------------------------------------------------------


def test_an_accepted_send_and_the_whitelist_reply_are_delivered_and_leave_the_queue(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    recipient = random_phone()
    whitelist(local_stack, "WhatsApp", recipient, key)
    text = f"Hello from the trial {time.time_ns()}"

    send(local_stack, key, recipient, text)

    delivered = eventually(
        lambda: [d for d in deliveries(local_stack, recipient) if d["kind"] == "send"] or None,
        "the send in /_local/deliveries",
    )
    [sent] = delivered
    assert sent["text"] == text
    assert sent["channel"] == "WhatsApp"
    assert sent["to"] == recipient
    assert key not in str(sent)

    entries = deliveries(local_stack, recipient)
    replies = [d for d in entries if d["kind"] == "reply"]
    assert len(replies) == 1, entries
    assert "whitelisted" in replies[0]["text"].lower()
    # Newest last: the reply to the key came before the send.
    assert [d["kind"] for d in entries] == ["reply", "send"]

    assert eventually(lambda: queued(local_stack, recipient) == [], "the queue drained for the recipient")
    # The sandbox reported it delivered through the status path providers' reports take: sent, then delivered.
    [record] = eventually(
        lambda: [r for r in outbound_records(local_stack, key, recipient) if r["status"]["S"] == "delivered"] or None,
        "the message record marked delivered",
    )
    assert record["text"]["S"] == text
    assert (record["provider"]["S"], record["provider_message_id"]["S"]) == ("sandbox", "sandbox-" + sent["message_id"])
    assert deliveries(local_stack, recipient)[-1]["status"] == "delivered"


def test_the_phone_reports_a_sandbox_send_read_and_nothing_else(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    recipient = random_phone()
    whitelist(local_stack, "WhatsApp", recipient, key)
    send(local_stack, key, recipient, "Read me")
    [sent] = eventually(
        lambda: [d for d in deliveries(local_stack, recipient) if d.get("status") == "delivered"] or None,
        "the send delivered",
    )
    [reply] = [d for d in deliveries(local_stack, recipient) if d["kind"] == "reply"]
    assert "status" not in reply

    # A reply has no record, an id the sandbox never delivered reaches nothing: neither moves anything.
    nothing = local_stack.post_json("/_local/read", {"message_ids": [reply["message_id"], "not-a-delivery"]})
    assert (nothing.status, nothing.json()) == (200, {"updated": 0})
    assert local_stack.post_json("/_local/read", {"message_ids": "x"}).status == 400

    read = local_stack.post_json("/_local/read", {"message_ids": [sent["message_id"]]})
    assert (read.status, read.json()) == (200, {"updated": 1})
    [record] = outbound_records(local_stack, key, recipient)
    assert record["status"]["S"] == "read"
    assert deliveries(local_stack, recipient)[-1]["status"] == "read"
    # Statuses only move forward: reading it again changes nothing.
    assert local_stack.post_json("/_local/read", {"message_ids": [sent["message_id"]]}).json() == {"updated": 0}


def test_an_sms_from_mybank_arrives_from_the_trial_sender(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    recipient = random_phone()
    whitelist(local_stack, "SMS", recipient, key)
    payload = {
        "messages": {
            "authentication": {"producttoken": key},
            "msg": [{"from": "MyBank", "to": [{"number": recipient}], "body": {"content": "Your account is fine"}}],
        }
    }
    response = local_stack.post_json(GATEWAY, payload)
    assert response.status == 200, response.text

    [sent] = eventually(
        lambda: [d for d in deliveries(local_stack, recipient) if d["kind"] == "send"] or None,
        "the SMS in /_local/deliveries",
    )
    # The seed: the sender of outbound messages is always the trial account (the brand's letters, "CM.COM").
    assert (sent["channel"], sent["from"], sent["text"]) == ("SMS", "CMCOM", "Your account is fine")


# --- failure: retried, then failed and dead-lettered, on a stack of its own -------------------------------


@pytest.fixture(scope="module")
def failing_stack() -> Iterator[LocalStack]:
    env = {
        "TRIALGW_SANDBOX_FAULT": "transient",
        "TRIALGW_DELIVERY_MAX_ATTEMPTS": "2",
        "TRIALGW_DELIVERY_BACKOFF_BASE_SECONDS": "0",
    }
    with start_local_stack(env) as stack:
        yield stack


def test_a_send_that_never_gets_through_ends_failed_and_in_the_dead_letter_queue(failing_stack: LocalStack) -> None:
    stack = failing_stack
    key = stack.sign_up()
    recipient = random_phone()
    whitelist(stack, "WhatsApp", recipient, key)

    send(stack, key, recipient, "This will not arrive")

    [record] = eventually(
        lambda: (
            [r for r in outbound_records(stack, key, recipient) if r.get("status", {}).get("S") == "failed"] or None
        ),
        "the message record marked failed",
    )
    assert record["reason"]["S"], record
    assert "2 attempts" in record["reason"]["S"], record
    assert int(record["attempts"]["N"]) == 2, record
    # The reply to the key and the send both failed every attempt: both dead-lettered, and consumed there by the
    # dead-letter consumer (the send's record already said why; the reply is logged and counted). None delivered.
    assert eventually(
        lambda: "dead-lettered send already final" in stack.output() or None, "the send's dead letter consumed"
    )
    assert "dead-lettered reply: not delivered to the end user" in stack.output()
    assert eventually(lambda: dead_letters(stack) == 0 or None, "the dead-letter queue emptied by its consumer")
    assert eventually(lambda: queued(stack, recipient) == [], "nothing left on the outbound queue")
    assert deliveries(stack, recipient) == []
    (after,) = outbound_records(stack, key, recipient)
    assert after == record
    # The banner names the dead-letter queue with the receive count the environment set.
    assert f"{DLQ_NAME}   (after 2 receives" in stack.output()
