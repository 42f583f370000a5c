"""The delivery function's time budget through its real handler on moto: it starts a message only while the remaining
time covers one at its worst (`trialgw.budgets.DELIVERY`); the others go back onto the queue untried, as new messages
that carry the attempts made so far, so none is pushed towards the dead-letter queue by its slow neighbours."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest

from infra.local.pump import sqs_event
from tests.cm_requests import cm_send_body
from tests.integration.conftest import invoke, load_handler, make_trial, rest_event
from trialgw import budgets, names
from trialgw.adapters import aws
from trialgw.adapters.sqs_batches import ATTEMPTS_ATTRIBUTE
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import DELIVERIES

PHONE = "+31612345678"
# What one delivered message "takes" in these tests' clock: with 40 s left the first starts (34 s needed), the second
# would start with 30 s left, which the budget refuses.
ITEM_MS = 10_000
FIRST_REMAINING_MS = 40_000

pytestmark = pytest.mark.usefixtures("clean_sandbox")


class SpentContext:
    """A Lambda context whose remaining time drops by ITEM_MS for every message the sandbox delivered."""

    function_name = "trialgw-delivery"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:trialgw-delivery"
    memory_limit_in_mb = 256
    aws_request_id = "time-budget"
    log_group_name = "/aws/lambda/trialgw-delivery"
    log_stream_name = "time-budget"

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms
        self.delivered_before = len(DELIVERIES)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms - ITEM_MS * (len(DELIVERIES) - self.delivered_before)


def queue_url() -> str:
    return boto3.client("sqs").get_queue_url(QueueName=names.OUTBOUND.local_name)["QueueUrl"]


def receive(expected: int) -> list[dict[str, Any]]:
    sqs, url = boto3.client("sqs"), queue_url()
    messages: list[dict[str, Any]] = []
    while True:
        batch: list[Any] = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=300,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        messages += batch
    assert len(messages) == expected, messages
    return sorted(messages, key=lambda m: json.loads(m["Body"])["text"])


def run(handler: ModuleType, messages: list[dict[str, Any]], remaining_ms: int) -> dict[str, Any]:
    arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url(), AttributeNames=["QueueArn"])
    event = sqs_event(messages, queue_arn=arn["Attributes"]["QueueArn"])
    result: dict[str, Any] = handler.handler(event, SpentContext(remaining_ms))
    return result


def accepted_sends(count: int) -> None:
    key = make_trial((Channel.WHATSAPP, PHONE))
    for number in range(count):
        body = cm_send_body(
            key, channels=["WhatsApp"], to=(PHONE,), content=f"Message {number}", sender="TrialTest", reference=None
        )
        assert invoke(load_handler("send"), rest_event("apigw_rest_send.json", body=body))[0] == 200


def record_of(message_id: str) -> dict[str, Any]:
    items = aws.dynamodb().scan(TableName=names.MESSAGES.local_name, ConsistentRead=True)["Items"]
    (found,) = [i for i in items if i.get("message_id", {}).get("S") == message_id and "status" in i]
    return found


def attempts_attribute(message: dict[str, Any]) -> str | None:
    value = message.get("MessageAttributes", {}).get(ATTEMPTS_ATTRIBUTE, {}).get("StringValue")
    return str(value) if value is not None else None


@pytest.fixture
def configure(load_configured: Callable[..., ModuleType]) -> Callable[..., ModuleType]:
    """The delivery handler loaded afresh with extra `TRIALGW_*` settings."""
    return functools.partial(load_configured, "delivery")


def test_the_figures_of_these_tests_are_the_budgets() -> None:
    needed_ms = (budgets.DELIVERY.item_seconds + budgets.DELIVERY.reserve_seconds) * 1000
    assert FIRST_REMAINING_MS >= needed_ms > FIRST_REMAINING_MS - ITEM_MS


def test_with_too_little_time_left_the_rest_of_the_batch_goes_back_untried(configure):
    accepted_sends(3)
    first, second, third = receive(3)
    handler = configure()

    result = run(handler, [first, second, third], FIRST_REMAINING_MS)

    ids = [json.loads(m["Body"])["message_id"] for m in (first, second, third)]
    # One delivered; the two it had no time for are no failures (the event source mapping deletes them)...
    assert [entry.message_id for entry in DELIVERIES.entries()] == ids[:1]
    assert result["batchItemFailures"] == []
    # ...because they are back on the queue as new messages, never tried: no attempt counted, none spent.
    copies = receive(2)
    assert [json.loads(m["Body"]) for m in copies] == [json.loads(second["Body"]), json.loads(third["Body"])]
    assert [(m["Attributes"]["ApproximateReceiveCount"], attempts_attribute(m)) for m in copies] == [("1", "0")] * 2
    for message_id in ids[1:]:
        assert record_of(message_id)["status"]["S"] == "queued"
        assert "attempts" not in record_of(message_id)

    # The copies are delivered by the next invocation, on their first attempt.
    assert run(handler, copies, budgets.DELIVERY.timeout_seconds * 1000) == {"batchItemFailures": []}
    assert [entry.message_id for entry in DELIVERIES.entries()] == ids
    assert [(record_of(m)["status"]["S"], record_of(m)["attempts"]["N"]) for m in ids] == [("delivered", "1")] * 3


def _copy(message: dict[str, Any], attempts_before: int) -> dict[str, Any]:
    """`message` handed back after `attempts_before` attempts: a new message on the queue, received once."""
    boto3.client("sqs").delete_message(QueueUrl=queue_url(), ReceiptHandle=message["ReceiptHandle"])
    boto3.client("sqs").send_message(
        QueueUrl=queue_url(),
        MessageBody=message["Body"],
        MessageAttributes={ATTEMPTS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(attempts_before)}},
    )
    (copy,) = receive(1)
    return copy


def test_a_copy_goes_on_counting_where_its_predecessors_stopped(configure):
    accepted_sends(1)
    (message,) = receive(1)
    message_id = json.loads(message["Body"])["message_id"]
    handler = configure(sandbox_fault="transient", delivery_max_attempts="3", delivery_backoff_base_seconds="0")
    # Two attempts before it was handed back (the record counted them); its first receive is the third: the last.
    table = aws.dynamodb()
    ref = record_of(message_id)
    table.update_item(
        TableName=names.MESSAGES.local_name,
        Key={"pk": ref["pk"], "sk": ref["sk"]},
        UpdateExpression="SET attempts = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    copy = _copy(message, attempts_before=2)

    result = run(handler, [copy], budgets.DELIVERY.timeout_seconds * 1000)

    assert result["batchItemFailures"] == [{"itemIdentifier": copy["MessageId"]}]
    record = record_of(message_id)
    assert (record["status"]["S"], record["attempts"]["N"]) == ("failed", "3")
    assert record["reason"]["S"].startswith("gave up after 3 attempts: ")


def test_a_copy_received_past_its_last_attempt_is_only_returned_until_sqs_dead_letters_it(configure):
    accepted_sends(1)
    (message,) = receive(1)
    message_id = json.loads(message["Body"])["message_id"]
    handler = configure(delivery_max_attempts="3")
    copy = _copy(message, attempts_before=3)

    result = run(handler, [copy], budgets.DELIVERY.timeout_seconds * 1000)

    # Not delivered (its last attempt is past), failed again and visible again at once, its SQS count one higher:
    # SQS moves it to the dead-letter queue when that count reaches maxReceiveCount.
    assert result["batchItemFailures"] == [{"itemIdentifier": copy["MessageId"]}]
    assert DELIVERIES.entries() == []
    assert record_of(message_id)["status"]["S"] == "queued"
    (again,) = receive(1)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
