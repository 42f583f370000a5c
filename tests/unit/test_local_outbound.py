"""The local queues: created with a dead-letter queue as in AWS, and peeked without being received.

Runs moto's server on 127.0.0.1 (the stack's own `MotoBackend`), since peeking reads moto's memory.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest

from infra.local.environment import REGION
from infra.local.mail import MailOutbox
from infra.local.moto_backend import MotoBackend
from infra.local.resources import MAX_RECEIVE_COUNT, QueueResource, create_queues, create_topics
from trialgw import names


@pytest.fixture
def moto_sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[MotoBackend, QueueResource]]:
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(variable, value)
    backend = MotoBackend(MailOutbox())
    endpoint = backend.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    # A unique name per test: moto's memory is per process, shared by every server in it (an id() is reused).
    definition = names.QueueDef(logical="outbound", env_var="X", local_name=f"test-{uuid.uuid4().hex[:12]}")
    try:
        [queue] = create_queues(boto3.client("sqs"), [definition])
        yield backend, queue
    finally:
        backend.stop()


def test_each_queue_has_a_dead_letter_queue_and_a_redrive_policy(
    moto_sqs: tuple[MotoBackend, QueueResource],
) -> None:
    _, queue = moto_sqs
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=queue.dead_letter_url, AttributeNames=["QueueArn"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == MAX_RECEIVE_COUNT
    assert queue.dead_letter_name == f"{queue.name}-dlq"


def test_peek_shows_every_message_without_receiving_it(moto_sqs: tuple[MotoBackend, QueueResource]) -> None:
    backend, queue = moto_sqs
    sqs = boto3.client("sqs")
    for n in range(12):
        sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps({"to": f"+3161234567{n % 10}", "n": n}))

    for _ in range(MAX_RECEIVE_COUNT + 1):
        peeked = backend.peek(queue.name)
    # More than one receive (10) could return, in order, and peeking never counts as a receive.
    assert [m.message()["n"] for m in peeked] == list(range(12))
    assert {m.receive_count for m in peeked} == {0}
    assert not any(m.in_flight for m in peeked)

    received = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=1, VisibilityTimeout=30)["Messages"][0]
    after = {m.sqs_message_id: m for m in backend.peek(queue.name)}
    assert after[received["MessageId"]].in_flight
    assert after[received["MessageId"]].receive_count == 1

    sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=received["ReceiptHandle"])
    assert received["MessageId"] not in {m.sqs_message_id for m in backend.peek(queue.name)}
    assert backend.peek("no-such-queue") == []


def test_topics_are_created_by_name(moto_sqs: tuple[MotoBackend, QueueResource]) -> None:
    [topic] = create_topics(
        boto3.client("sns"),
        [names.TopicDef(logical="t", local_name="test-topic", purpose="a test", carries="test messages")],
    )
    assert topic.arn.endswith(":test-topic")
    assert topic.name == "test-topic"
