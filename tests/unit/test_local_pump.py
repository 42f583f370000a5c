"""The local SQS event source mapping (`infra.local.pump`) against moto's server, with a fake function.

Runs moto's server on 127.0.0.1 (the stack's own `MotoBackend`); the "function" is a plain callable that
records the events it gets and answers as a test tells it, so the pump is tested without any handler.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from infra.local.environment import REGION
from infra.local.mail import MailOutbox
from infra.local.moto_backend import MotoBackend
from infra.local.pump import (
    InvalidBatchResponse,
    QueuePump,
    failed_items,
    lambda_message_attributes,
    pumps_for,
    sqs_event,
)
from infra.local.resources import MAX_RECEIVE_COUNT, QueueResource, Resources, create_queues
from infra.topology import FUNCTIONS
from trialgw import names
from trialgw.settings import DeliverySettings

Answer = Callable[[dict[str, Any]], Any]


@dataclass
class FakeFunction:
    """Stands in for `FunctionHost.invoke`: records each event, answers with `answer(event)`."""

    answer: Answer = lambda _event: None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, name: str, event: dict[str, Any]) -> Any:
        # As FunctionHost does: the event crosses the wire as JSON.
        self.calls.append((name, json.loads(json.dumps(event))))
        return self.answer(event)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for _, event in self.calls for record in event["Records"]]


@dataclass
class Moto:
    backend: MotoBackend
    make_queue: Callable[..., QueueResource]


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(variable, value)
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    backend = MotoBackend(MailOutbox())
    endpoint = backend.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)

    def make_queue(max_receive_count: int = MAX_RECEIVE_COUNT) -> QueueResource:
        # A unique name per queue: moto's memory is per process, shared by every server in it (and an object's
        # id() is reused once it is collected, so it cannot tell two tests' queues apart).
        definition = names.QueueDef(logical="outbound", env_var="X", local_name=f"pump-{uuid.uuid4().hex[:12]}")
        [queue] = create_queues(boto3.client("sqs"), [definition], max_receive_count=max_receive_count)
        return queue

    try:
        yield Moto(backend, make_queue)
    finally:
        backend.stop()


def send(queue: QueueResource, *bodies: str, **extra: Any) -> list[str]:
    sqs = boto3.client("sqs")
    return [sqs.send_message(QueueUrl=queue.url, MessageBody=body, **extra)["MessageId"] for body in bodies]


def pump_for(queue: QueueResource, function: FakeFunction, **options: Any) -> QueuePump:
    """A pump without the batching window (unless asked): each round invokes with what one receive got."""
    options.setdefault("batching_window_seconds", 0)
    return QueuePump(function="delivery", queue=queue, invoke=function, log=lambda _line: None, **options)


def bodies(backend: MotoBackend, queue_name: str) -> list[str]:
    return [m.body for m in backend.peek(queue_name)]


def fail(*wanted: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function that reports the records whose body is in `wanted` as failed."""

    def answer(event: dict[str, Any]) -> dict[str, Any]:
        return {
            "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] in wanted]
        }

    return answer


# --- the event ----------------------------------------------------------------------------------------


def test_the_event_has_the_shape_lambda_gives_an_sqs_consumer(moto: Moto) -> None:
    queue = moto.make_queue()
    body = json.dumps({"to": "+31612345678", "text": "Hi"})
    before_ms = int(time.time() * 1000)
    [message_id] = send(
        queue,
        body,
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "send"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    function = FakeFunction()

    outcome = pump_for(queue, function).poll_once()

    assert outcome.received == outcome.deleted == 1
    [(name, event)] = function.calls
    assert name == "delivery"
    [record] = event["Records"]
    assert list(event) == ["Records"]
    arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue.url, AttributeNames=["QueueArn"])["Attributes"]
    assert record["messageId"] == message_id
    assert record["receiptHandle"]
    assert record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn["QueueArn"]
    assert record["awsRegion"] == REGION
    attributes = record["attributes"]
    assert set(attributes) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert attributes["ApproximateReceiveCount"] == "1"
    assert all(isinstance(value, str) for value in attributes.values())
    assert int(attributes["SentTimestamp"]) >= before_ms - 1000
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(attributes["SentTimestamp"])
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "send", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
    }
    assert record["md5OfMessageAttributes"]


def test_a_record_without_message_attributes_has_an_empty_object() -> None:
    message = {"MessageId": "m", "ReceiptHandle": "r", "Body": "b", "MD5OfBody": "x", "Attributes": {"SenderId": "S"}}
    [record] = sqs_event([message], queue_arn="arn:aws:sqs:eu-west-1:123456789012:q")["Records"]
    assert record["messageAttributes"] == {}
    assert "md5OfMessageAttributes" not in record
    assert record["attributes"] == {"SenderId": "S"}
    assert lambda_message_attributes({}) == {}


# --- settling the batch --------------------------------------------------------------------------------


def test_successes_are_deleted_and_reported_failures_stay(moto: Moto) -> None:
    queue = moto.make_queue()
    send(queue, "ok-1", "bad", "ok-2")

    outcome = pump_for(queue, FakeFunction(fail("bad"))).poll_once()

    assert (outcome.received, outcome.deleted, outcome.failed, outcome.batch_failed) == (3, 2, 1, False)
    [left] = moto.backend.peek(queue.name)
    assert left.body == "bad"
    # Not deleted, just received: back after its visibility timeout, counted towards the redrive policy.
    assert left.in_flight
    assert left.receive_count == 1


@pytest.mark.parametrize("result", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"x": 1}])
def test_a_normal_return_without_failures_deletes_the_whole_batch(moto: Moto, result: Any) -> None:
    queue = moto.make_queue()
    send(queue, "a", "b")

    outcome = pump_for(queue, FakeFunction(lambda _event: result)).poll_once()

    assert (outcome.received, outcome.deleted, outcome.failed) == (2, 2, 0)
    assert bodies(moto.backend, queue.name) == []


def test_an_invocation_that_raises_deletes_nothing(moto: Moto) -> None:
    queue = moto.make_queue()
    send(queue, "a", "b")
    lines: list[str] = []

    def boom(_event: dict[str, Any]) -> Any:
        raise RuntimeError("handler crashed")

    outcome = QueuePump(
        function="delivery", queue=queue, invoke=FakeFunction(boom), log=lines.append, batching_window_seconds=0
    ).poll_once()

    assert outcome.batch_failed
    assert outcome.deleted == 0
    assert sorted(bodies(moto.backend, queue.name)) == ["a", "b"]
    assert "handler crashed" in "\n".join(lines)


@pytest.mark.parametrize(
    "result",
    [
        {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "x"}]},
        {"batchItemFailures": "all"},
        "ok",
        [],
    ],
)
def test_a_response_lambda_rejects_fails_the_whole_batch(moto: Moto, result: Any) -> None:
    queue = moto.make_queue()
    send(queue, "a")

    outcome = pump_for(queue, FakeFunction(lambda _event: result)).poll_once()

    assert outcome.batch_failed
    assert bodies(moto.backend, queue.name) == ["a"]


def test_failed_items_rules() -> None:
    ids = ["m1", "m2"]
    assert failed_items(None, ids) == set()
    assert failed_items({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ids) == {"m2"}
    with pytest.raises(InvalidBatchResponse):
        failed_items({"batchItemFailures": [{"itemIdentifier": "m3"}]}, ids)


def test_at_most_ten_records_per_invocation(moto: Moto) -> None:
    queue = moto.make_queue()
    send(queue, *(f"m{n}" for n in range(13)))
    function = FakeFunction()
    pump = pump_for(queue, function)

    first = pump.poll_once()
    second = pump.poll_once()

    assert (first.received, second.received) == (10, 3)
    assert sorted(r["body"] for r in function.records) == sorted(f"m{n}" for n in range(13))
    assert pump.poll_once().received == 0


def test_a_partial_batch_waits_for_more_within_the_batching_window(moto: Moto) -> None:
    queue = moto.make_queue()
    send(queue, "first")
    later = threading.Timer(0.3, lambda: send(queue, "second"))
    later.start()
    function = FakeFunction()

    started = time.monotonic()
    outcome = pump_for(queue, function, batching_window_seconds=1.0, idle_seconds=0.05).poll_once()
    elapsed = time.monotonic() - started
    later.join()

    assert outcome.received == outcome.deleted == 2
    [(_, event)] = function.calls
    assert [r["body"] for r in event["Records"]] == ["first", "second"]
    assert 0.9 <= elapsed < 2.0


def test_a_full_batch_does_not_wait_for_the_window(moto: Moto) -> None:
    queue = moto.make_queue()
    send(queue, *(f"m{n}" for n in range(10)))

    started = time.monotonic()
    outcome = pump_for(queue, FakeFunction(), batching_window_seconds=5.0).poll_once()

    assert outcome.received == 10
    assert time.monotonic() - started < 2.0


# --- retries and the dead-letter queue -------------------------------------------------------------------


def test_a_message_failing_every_time_moves_to_the_dead_letter_queue_after_max_receive_count(moto: Moto) -> None:
    queue = moto.make_queue(max_receive_count=3)
    sqs = boto3.client("sqs")
    send(queue, "doomed", "fine")

    def back_off_and_fail(event: dict[str, Any]) -> dict[str, Any]:
        # As the delivery handler does on a transient failure: visible again at once (back-off base 0).
        for record in event["Records"]:
            if record["body"] == "doomed":
                sqs.change_message_visibility(
                    QueueUrl=queue.url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
        return fail("doomed")(event)

    function = FakeFunction(back_off_and_fail)
    pump = pump_for(queue, function)
    for _ in range(5):
        pump.poll_once()

    attempts = [int(r["attributes"]["ApproximateReceiveCount"]) for r in function.records if r["body"] == "doomed"]
    # Delivered exactly maxReceiveCount times, then moto's redrive moved it instead of returning it.
    assert attempts == [1, 2, 3]
    assert bodies(moto.backend, queue.name) == []
    assert bodies(moto.backend, queue.dead_letter_name) == ["doomed"]
    dlq = sqs.get_queue_attributes(QueueUrl=queue.dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert dlq["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert [r["body"] for r in function.records].count("fine") == 1


def test_the_queue_redrive_count_is_the_delivery_functions_attempts() -> None:
    assert DeliverySettings().delivery_max_attempts == MAX_RECEIVE_COUNT


def test_create_queues_takes_the_max_receive_count(moto: Moto) -> None:
    queue = moto.make_queue(max_receive_count=2)
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue.url, AttributeNames=["RedrivePolicy"])
    assert json.loads(attributes["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 2
    assert queue.max_receive_count == 2
    with pytest.raises(ValueError, match="at least 1"):
        create_queues(boto3.client("sqs"), [], max_receive_count=0)


# --- the thread ----------------------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_the_thread_drains_the_queue_survives_errors_and_stops(moto: Moto) -> None:
    queue = moto.make_queue()
    sqs = boto3.client("sqs")
    raised = threading.Event()

    def flaky(event: dict[str, Any]) -> Any:
        if not raised.is_set():
            raised.set()
            for record in event["Records"]:
                sqs.change_message_visibility(
                    QueueUrl=queue.url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                )
            raise RuntimeError("first invocation fails")
        return None

    function = FakeFunction(flaky)
    pump = pump_for(queue, function, idle_seconds=0.05)
    pump.start()
    try:
        assert pump.running
        send(queue, "one", "two")
        wait_for(lambda: len(function.calls) >= 2 and bodies(moto.backend, queue.name) == [])
        send(queue, "three")
        wait_for(lambda: "three" in [r["body"] for r in function.records])
        wait_for(lambda: bodies(moto.backend, queue.name) == [])
    finally:
        started = time.monotonic()
        pump.stop()
    assert time.monotonic() - started < 2
    assert not pump.running
    assert raised.is_set()


class _FlakySqs:
    """A client whose first receive fails (moto restarting, say); everything else goes to moto."""

    def __init__(self) -> None:
        self._real = boto3.client("sqs")
        self.failures = 0

    def receive_message(self, **kwargs: Any) -> Any:
        if self.failures == 0:
            self.failures += 1
            raise ConnectionError("moto went away")
        return self._real.receive_message(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_failing_receive_is_logged_and_the_pump_goes_on(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    import infra.local.pump as pump_module

    monkeypatch.setattr(pump_module, "ERROR_BACKOFF_SECONDS", 0.05)
    queue = moto.make_queue()
    lines: list[str] = []
    client = _FlakySqs()
    function = FakeFunction()
    pump = QueuePump(
        function="delivery",
        queue=queue,
        invoke=function,
        sqs=client,  # type: ignore[arg-type]
        log=lines.append,
        batching_window_seconds=0,
    )
    pump.start()
    try:
        send(queue, "after the error")
        wait_for(lambda: bodies(moto.backend, queue.name) == [])
    finally:
        pump.stop()
    assert client.failures == 1
    assert "moto went away" in "\n".join(lines)
    assert [r["body"] for r in function.records] == ["after the error"]


def unreachable_queues() -> Resources:
    """The stack's queues as resources at an address nothing listens on: enough to build pumps, not to run them."""
    queues = tuple(
        QueueResource(
            logical=queue.logical,
            name=queue.local_name,
            url=f"http://127.0.0.1:1/123456789012/{queue.local_name}",
            env_var=queue.env_var,
            dead_letter_name=f"{queue.local_name}-dlq",
            dead_letter_url=f"http://127.0.0.1:1/123456789012/{queue.local_name}-dlq",
        )
        for queue in names.QUEUES
    )
    return Resources(tables=(), senders=(), configuration_sets=(), queues=queues)


def test_one_pump_per_consumed_queue_or_dead_letter_queue_as_the_topology_says() -> None:
    resources = unreachable_queues()

    pumps = pumps_for(FUNCTIONS, resources, FakeFunction(), sqs=object())

    expected = [(f.name, q) for f in FUNCTIONS for q in f.consumes]
    assert ("delivery", names.OUTBOUND.logical) in expected
    assert ("dead_letters", names.OUTBOUND.dead_letters) in expected
    assert [(p.function, p.queue.logical) for p in pumps] == expected
    assert len(pumps) == len(expected)
    # The dead-letter consumer's pump reads the delivery queue's dead-letter queue.
    (dead,) = [p for p in pumps if p.function == "dead_letters"]
    assert (dead.queue.name, dead.queue.url) == ("trialgw-outbound-dlq", resources.queues[0].dead_letter_url)
