"""A worker's batch within its time budget (`trialgw.adapters.sqs_batches`): records start only while the remaining
time covers one at its worst; the others go back onto the queue untried, keeping their attempt count."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from trialgw.adapters.sqs_batches import ATTEMPTS_ATTRIBUTE, QueueRecord, attempt_number, process_within_budget
from trialgw.budgets import CallLimits, FunctionBudget

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/trialgw-outbound"
# Calls of 2 × 0.25 s: 1 s per item (two calls), 1 s of reserve (the hand-back's two): an item starts with 2 s left.
BUDGET = FunctionBudget(
    "worker",
    item_calls=("a call", "another call"),
    batch_size=10,
    sure_items=2,
    aws=CallLimits(connect_seconds=0.1, read_seconds=0.15, attempts=2, backoff_base_seconds=0),
    margin_seconds=0.0,
    hand_back_calls=("back", "visible"),
)


class Clock:
    """A Lambda context whose remaining time each processed record uses up (`spend_ms` per record)."""

    def __init__(self, remaining_ms: int, spend_ms: int) -> None:
        self.remaining_ms = remaining_ms
        self.spend_ms = spend_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class FakeSqs:
    def __init__(self, *, send_fails: bool = False, failed_ids: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.send_fails = send_fails
        self.failed_ids = failed_ids

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("send_message_batch", kwargs))
        if self.send_fails:
            raise EndpointConnectionError(endpoint_url=QUEUE_URL)
        entries = kwargs["Entries"]
        return {
            "Successful": [{"Id": e["Id"]} for e in entries if e["Id"] not in self.failed_ids],
            "Failed": [
                {"Id": e["Id"], "Code": "X", "SenderFault": False} for e in entries if e["Id"] in self.failed_ids
            ],
        }

    def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("change_message_visibility_batch", kwargs))
        return {"Successful": [{"Id": e["Id"]} for e in kwargs["Entries"]], "Failed": []}


def record(
    number: int, *, receives: int = 1, before: int | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    attributes: dict[str, Any] = dict(extra or {})
    if before is not None:
        attributes[ATTEMPTS_ATTRIBUTE] = {"stringValue": str(before), "dataType": "Number"}
    return {
        "messageId": f"m{number}",
        "receiptHandle": f"rh{number}",
        "body": f'{{"n": {number}}}',
        "attributes": {"ApproximateReceiveCount": str(receives)},
        "messageAttributes": attributes,
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:trialgw-outbound",
        "awsRegion": "eu-west-1",
    }


def run(
    records: list[dict[str, Any]], clock: Clock, sqs: FakeSqs | None, *, fail: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], list[str]]:
    handled: list[str] = []

    def handler(item: QueueRecord) -> str:
        handled.append(item.message_id)
        clock.remaining_ms -= clock.spend_ms
        if item.message_id in fail:
            raise RuntimeError("transient")
        return "ok"

    context: Any = clock
    client: Any = sqs
    response = process_within_budget(
        {"Records": records}, context, handler, budget=BUDGET, sqs=client, queue_url=QUEUE_URL if sqs else None
    )
    return response, handled


def failures(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_with_time_for_all_every_record_is_processed_and_nothing_is_handed_back() -> None:
    sqs = FakeSqs()
    response, handled = run([record(n) for n in range(10)], Clock(20_000, 100), sqs, fail=frozenset({"m3"}))
    assert handled == [f"m{n}" for n in range(10)]
    assert failures(response) == ["m3"]
    assert sqs.calls == []


def test_records_start_while_the_remaining_time_covers_one_at_its_worst_and_the_rest_go_back_untried() -> None:
    # 2.9 s left, 0.5 s per record: starts at 2.9, 2.4 (≥ 2 s), not at 1.9.
    sqs = FakeSqs()
    records = [record(0), record(1, receives=2), record(2, receives=3), record(3, receives=1, before=2)]
    response, handled = run(records, Clock(2_900, 500), sqs, fail=frozenset({"m1"}))

    assert handled == ["m0", "m1"]
    # The tried one that failed is reported; those handed back are not (the event source mapping deletes them).
    assert failures(response) == ["m1"]
    ((operation, call),) = sqs.calls
    assert operation == "send_message_batch"
    assert call["QueueUrl"] == QUEUE_URL
    assert [e["MessageBody"] for e in call["Entries"]] == ['{"n": 2}', '{"n": 3}']
    # Each copy carries the attempts made before it: its receives but this one, plus its own predecessors' attempts.
    attempts = [e["MessageAttributes"][ATTEMPTS_ATTRIBUTE] for e in call["Entries"]]
    assert attempts == [{"DataType": "Number", "StringValue": "2"}, {"DataType": "Number", "StringValue": "2"}]


def test_once_one_record_waits_every_later_one_does() -> None:
    clock = Clock(1_000, 0)
    sqs = FakeSqs()
    response, handled = run([record(n) for n in range(3)], clock, sqs)
    assert handled == []
    assert failures(response) == []
    ((_, call),) = sqs.calls
    assert len(call["Entries"]) == 3


def test_the_other_message_attributes_travel_with_the_copy() -> None:
    binary = base64.b64encode(b"\x00\x01").decode()
    extra = {
        "kind": {"stringValue": "reply", "dataType": "String"},
        "blob": {"binaryValue": binary, "dataType": "Binary"},
    }
    sqs = FakeSqs()
    run([record(0, extra=extra)], Clock(0, 0), sqs)
    ((_, call),) = sqs.calls
    assert call["Entries"][0]["MessageAttributes"] == {
        "kind": {"DataType": "String", "StringValue": "reply"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        ATTEMPTS_ATTRIBUTE: {"DataType": "Number", "StringValue": "0"},
    }


@pytest.mark.parametrize("send_fails", [True, False])
def test_a_record_that_cannot_go_back_is_reported_failed_and_made_visible_at_once(send_fails: bool) -> None:
    # The whole send fails, or SQS refuses one entry of it.
    sqs = FakeSqs(send_fails=send_fails, failed_ids=frozenset({"1"}))
    response, handled = run([record(0), record(1), record(2)], Clock(0, 0), sqs)
    assert handled == []
    lost = ["m0", "m1", "m2"] if send_fails else ["m1"]
    assert failures(response) == lost
    operation, call = sqs.calls[-1]
    assert operation == "change_message_visibility_batch"
    assert [(e["ReceiptHandle"], e["VisibilityTimeout"]) for e in call["Entries"]] == [(f"rh{m[1:]}", 0) for m in lost]


def test_without_a_queue_to_go_back_to_the_records_not_started_are_failures() -> None:
    response, handled = run([record(0), record(1)], Clock(0, 0), None)
    assert handled == []
    assert failures(response) == ["m0", "m1"]


def test_a_failed_visibility_change_is_only_logged() -> None:
    class Broken(FakeSqs):
        def change_message_visibility_batch(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "ChangeMessageVisibilityBatch")

    response, _ = run([record(0)], Clock(0, 0), Broken(send_fails=True))
    assert failures(response) == ["m0"]


@pytest.mark.parametrize(
    ("receives", "before", "attempt"), [(1, None, 1), (3, None, 3), (1, 2, 3), (2, 4, 6), (1, "x", 1)]
)
def test_the_attempt_number_counts_the_earlier_copies(receives: int, before: Any, attempt: int) -> None:
    raw = record(0, receives=receives)
    if before is not None:
        raw["messageAttributes"][ATTEMPTS_ATTRIBUTE] = {"stringValue": str(before), "dataType": "Number"}
    assert attempt_number(QueueRecord(raw)) == attempt
