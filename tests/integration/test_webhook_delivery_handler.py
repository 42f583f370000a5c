"""The webhook worker's handler (functions/webhook_delivery, issue 18) under moto, with a receiver on 127.0.0.1: the
trial's webhooks read in one GetItem, the POST, the attempt in the log, a retry re-queued with its delay, and the
partial batch response."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from tests.integration.conftest import FakeLambdaContext, make_trial
from tests.integration.test_delivery_handler import sqs_record
from trialgw import names, webhook_signing
from trialgw.adapters import aws
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_webhook_log import DynamoWebhookLog
from trialgw.adapters.dynamo_webhooks import DynamoWebhookConfigStore
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.keys import hash_key
from trialgw.webhook_events import WebhookEvent, WebhookKind, from_message, new_event_id

SECRET = "whsec_" + "k" * 43
PAYLOAD = '{"messages":{"msg":{"reference":"r1","status":{"code":2}}}}'


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[int], list[tuple[bytes, dict[str, str]]]]]:
    """A receiver's URL, the statuses it answers (in turn; 200 once they run out) and what it received."""
    statuses: list[int] = []
    received: list[tuple[bytes, dict[str, str]]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # http.server's name
            pass

        def do_POST(self) -> None:
            received.append((self.rfile.read(int(self.headers["Content-Length"])), dict(self.headers.items())))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/status", statuses, received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def worker(load_configured: Callable[..., ModuleType]) -> ModuleType:
    # Retries after 1 s, 2 s, ...: the test receives the first one.
    return load_configured("webhook_delivery", webhook_allow_loopback="true", webhook_retry_base_seconds="1")


def queue_url() -> str:
    return str(boto3.client("sqs").get_queue_url(QueueName=names.WEBHOOK_EVENTS.local_name)["QueueUrl"])


def configured_trial(url: str) -> str:
    key = make_trial()
    store = DynamoWebhookConfigStore(aws.dynamodb(), names.TRIALS.local_name)
    assert store.save_urls(hash_key(key), inbound_url=None, status_url=url) is not None
    assert store.save_secret(hash_key(key), SECRET, now=int(time.time()))
    return key


def queued_event(key: str) -> dict[str, Any]:
    """A status event put on the webhook queue and received from it as the event source would: its SQS event."""
    now = time.time()
    event = WebhookEvent(new_event_id(), hash_key(key), WebhookKind.STATUS, PAYLOAD, int(now * 1000), int(now) + 9999)
    SqsWebhookEventQueue(boto3.client("sqs"), queue_url()).enqueue(event)
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue_url(), AttributeNames=["All"])["Messages"]
    return {"Records": [sqs_record(dict(message))]}


def test_targets_are_the_urls_the_secret_and_the_trials_liveness_in_one_read(aws_env: None) -> None:
    key = configured_trial("https://hooks.example.com/status")
    store = DynamoWebhookConfigStore(aws.dynamodb(), names.TRIALS.local_name)
    targets = store.targets(hash_key(key))
    assert targets is not None
    assert (targets.inbound_url, targets.status_url, targets.secret) == (
        None,
        "https://hooks.example.com/status",
        SECRET,
    )
    assert targets.is_live(time.time())
    assert not targets.is_live(targets.expires_at)
    assert SECRET not in repr(targets)
    assert store.targets("no-such-trial") is None
    assert DynamoTrialStore(aws.dynamodb(), names.TRIALS.local_name).revoke(hash_key(key))
    revoked = store.targets(hash_key(key))
    assert revoked is not None
    assert revoked.revoked
    assert not revoked.is_live(time.time())


def test_an_event_is_posted_signed_and_logged_and_the_record_acknowledged(
    worker: ModuleType, receiver: tuple[str, list[int], list[tuple[bytes, dict[str, str]]]]
) -> None:
    url, _, received = receiver
    key = configured_trial(url)
    event = queued_event(key)

    assert worker.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    [(body, headers)] = received
    assert body == PAYLOAD.encode()
    assert webhook_signing.verify(
        SECRET, body, headers["X-Trial-Timestamp"], headers["X-Trial-Signature"], now=time.time()
    )
    [attempt] = (
        DynamoWebhookLog(aws.dynamodb(), names.MESSAGES.local_name)
        .attempts(hash_key(key), limit=10, cursor=None)
        .attempts
    )
    assert (attempt.url, attempt.status, attempt.answer, attempt.will_retry) == (url, 200, "ok", False)


def test_a_5xx_is_logged_and_re_queued_with_its_delay(
    worker: ModuleType, receiver: tuple[str, list[int], list[tuple[bytes, dict[str, str]]]]
) -> None:
    url, statuses, received = receiver
    statuses.append(503)
    key = configured_trial(url)
    event = queued_event(key)

    assert worker.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert len(received) == 1
    [attempt] = (
        DynamoWebhookLog(aws.dynamodb(), names.MESSAGES.local_name)
        .attempts(hash_key(key), limit=10, cursor=None)
        .attempts
    )
    assert (attempt.status, attempt.will_retry) == (503, True)
    # Sent with its delay, read from moto's queue (the delay is 1 s: a count of delayed messages would depend on how
    # fast this machine reaches it).
    queue = sqs_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].queues[names.WEBHOOK_EVENTS.local_name]
    [queued] = [message for message in queue._messages if from_message(message.body).attempt == 1]
    assert round(((queued.delayed_until or 0) - (queued.sent_timestamp or 0)) / 1000) == 1
    # The retry is the same event, one attempt on, received once its 1 s has passed.
    deadline = time.monotonic() + 5
    messages: list[Any] = []
    while not messages and time.monotonic() < deadline:
        time.sleep(0.2)
        messages = boto3.client("sqs").receive_message(QueueUrl=queue_url()).get("Messages", [])
    [message] = messages
    original, retry = from_message(event["Records"][0]["body"]), from_message(message["Body"])
    assert (retry.event_id, retry.attempt, retry.payload) == (original.event_id, 1, PAYLOAD)


def test_an_unreadable_record_is_dropped_not_failed(worker: ModuleType) -> None:
    boto3.client("sqs").send_message(QueueUrl=queue_url(), MessageBody="not an event")
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue_url(), AttributeNames=["All"])["Messages"]
    assert worker.handler({"Records": [sqs_record(dict(message))]}, FakeLambdaContext()) == {"batchItemFailures": []}


def test_a_failed_log_write_is_a_batch_item_failure_back_after_the_retry_base(
    load_configured: Callable[..., ModuleType], receiver: tuple[str, list[int], list[tuple[bytes, dict[str, str]]]]
) -> None:
    # A messages table that does not exist: the attempt's log write fails (after the POST was made).
    worker = load_configured(
        "webhook_delivery", webhook_allow_loopback="true", webhook_retry_base_seconds="1", messages_table="missing"
    )
    url, _, received = receiver
    key = configured_trial(url)
    event = queued_event(key)
    [record] = event["Records"]

    assert worker.handler(event, FakeLambdaContext()) == {
        "batchItemFailures": [{"itemIdentifier": record["messageId"]}]
    }
    assert len(received) == 1
    # No retry was queued (the redelivery is the retry), and the record comes back after 1 s, not the queue's timeout.
    time.sleep(1.2)
    [again] = boto3.client("sqs").receive_message(QueueUrl=queue_url(), AttributeNames=["All"])["Messages"]
    assert again["MessageId"] == record["messageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
