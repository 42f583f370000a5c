"""SQS batches within a time budget: a worker starts a record only while its remaining time covers that record at its
worst (`FunctionBudget.admits`), so the function's timeout never cuts one off; the records it did not start go back
onto their queue untried.

Back as new messages rather than as batch item failures: SQS counts every receive towards the queue's
maxReceiveCount, so a record reported failed without being tried would move towards the dead-letter queue because
its neighbours were slow. A new message starts at receive count 0, and the attempts the message had before travel with
it in the message attribute `trialgw-attempts` (`attempts_before`), so a worker that counts attempts (delivery) goes
on where the last copy stopped. The event source mapping deletes the originals (they are not reported failed).

A record that cannot be put back (the send fails, or the worker has no queue URL) is reported failed instead and made
visible again at once: retried soon, at the cost of one receive. Should an original outlive its copy (the mapping
fails to delete it), both are processed, and the worker's own claim (delivery: the message's record) keeps the second
from doing anything twice. A worker can also hand back a record it did try, with attributes that say what is left to
do (`hand_back_with`: delivery's unrecorded `sent`).

The batch is walked here rather than by Powertools' batch utility: the partial batch response is only the failed
records' ids, and the utility's import (asyncio for its async processor, and Powertools' `data_classes` package for
its record class, which imports every event class Powertools has) was about a fifth of `import boto3`, paid by every
SQS function's first batch (`make bench`'s cold start measures it).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw.budgets import FunctionBudget
from trialgw.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs import SQSClient

# Attempts made on the message before this copy of it (a Number attribute; absent: none).
ATTEMPTS_ATTRIBUTE = "trialgw-attempts"
HANDED_BACK_METRIC = "RecordsHandedBack"


class NotStarted(Exception):
    """A record the worker had no time to start: it goes back to the queue untried."""


class QueueRecord:
    """One record of an SQS event as Lambda's event source mapping passes it, read where a worker needs a field."""

    __slots__ = ("raw_event",)

    def __init__(self, raw_event: dict[str, Any]) -> None:
        self.raw_event = raw_event

    @property
    def message_id(self) -> str:
        return str(self.raw_event["messageId"])

    @property
    def body(self) -> str:
        return str(self.raw_event.get("body") or "")

    @property
    def receipt_handle(self) -> str:
        return str(self.raw_event["receiptHandle"])

    @property
    def receive_count(self) -> int:
        """SQS's ApproximateReceiveCount: 1 on the first receive of this copy of the message."""
        return int((self.raw_event.get("attributes") or {}).get("ApproximateReceiveCount") or 1)

    def string_attribute(self, name: str) -> str | None:
        """The message attribute `name`'s string value (String and Number attributes), if it has one."""
        attribute = (self.raw_event.get("messageAttributes") or {}).get(name) or {}
        value = attribute.get("stringValue") if isinstance(attribute, dict) else None
        return str(value) if value is not None else None


def attempts_before(record: QueueRecord) -> int:
    """Attempts made on the message before this copy of it: 0 for a message that was never handed back."""
    value = record.string_attribute(ATTEMPTS_ATTRIBUTE)
    try:
        return max(0, int(value)) if value is not None else 0
    except ValueError:
        return 0


def attempt_number(record: QueueRecord) -> int:
    """Which attempt at the message this receive is (1-based), counting its earlier copies' attempts."""
    return attempts_before(record) + record.receive_count


def process_within_budget(
    event: dict[str, Any],
    context: LambdaContext,
    record_handler: Callable[[QueueRecord], Any],
    *,
    budget: FunctionBudget,
    sqs: SQSClient | None,
    queue_url: str | None,
) -> dict[str, Any]:
    """The partial batch response (`batchItemFailures`) of `event`'s records, handled one at a time while `budget`
    admits one more. A record whose handler raises is reported failed (SQS retries it), never raised for the whole
    batch; records not started are handed back to `queue_url` (see the module docstring)."""
    raw_records = event.get("Records")
    if not isinstance(raw_records, list) or not raw_records:
        # Not an SQS batch: the event source mapping never sends one without records.
        raise ValueError("the event holds no SQS records")
    failed: list[QueueRecord] = []
    untried: list[QueueRecord] = []
    for record in map(QueueRecord, raw_records):
        # Once one record waits, every later one does: the remaining time only shrinks.
        if untried or not budget.admits(context.get_remaining_time_in_millis()):
            untried.append(record)
            continue
        try:
            record_handler(record)
        except Exception as error:
            # Its type only: a message (a provider's answer, a store's) may quote what the record carried.
            logger.warning(
                "record failed; SQS retries it",
                extra={"error": type(error).__name__, "sqs_message_id": record.message_id},
            )
            failed.append(record)
    handed_back: set[str] = set()
    if untried:
        handed_back = hand_back(untried, sqs=sqs, queue_url=queue_url)
        logger.warning(
            "no time left for every record: the rest go back to the queue untried",
            extra={"untried": len(untried), "handed_back": len(handed_back), "batch": len(raw_records)},
        )
        metrics.add_metric(name=HANDED_BACK_METRIC, unit="Count", value=len(untried))
    # Tried records come before untried ones: the failures are listed in the batch's order.
    lost = [record for record in failed + untried if record.message_id not in handed_back]
    return {"batchItemFailures": [{"itemIdentifier": record.message_id} for record in lost]}


def hand_back(records: list[QueueRecord], *, sqs: SQSClient | None, queue_url: str | None) -> set[str]:
    """Puts `records` back onto `queue_url` as new messages (one SendMessageBatch, at most 10); the SQS message ids of
    those put back. The others are made visible again at once (one ChangeMessageVisibilityBatch), best effort."""
    if not records or sqs is None or not queue_url:
        return set()
    entries: list[Any] = [{"Id": str(index), **_copy(record, {})} for index, record in enumerate(records)]
    sent: set[int] = set()
    try:
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        sent = {int(entry["Id"]) for entry in answer.get("Successful", [])}
    except (ClientError, BotoCoreError) as error:
        logger.warning("could not hand untried records back to the queue", extra={"error": type(error).__name__})
    rest = [record for index, record in enumerate(records) if index not in sent]
    if rest:
        try:
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record.receipt_handle, "VisibilityTimeout": 0}
                    for index, record in enumerate(rest)
                ],
            )
        except (ClientError, BotoCoreError) as error:
            # They come back after the queue's visibility timeout instead.
            logger.warning("could not make untried records visible again", extra={"error": type(error).__name__})
    return {records[index].message_id for index in sent}


def hand_back_with(record: QueueRecord, attributes: dict[str, str], *, sqs: SQSClient, queue_url: str) -> bool:
    """Puts `record` back onto `queue_url` as a new message carrying `attributes` (String attributes, replacing any
    of those names) besides its own and its attempts so far (this receive not counted, as for an untried record);
    whether it went. The original is left as it is: its worker acknowledges it."""
    try:
        sqs.send_message(QueueUrl=queue_url, **_copy(record, attributes))
    except (ClientError, BotoCoreError) as error:
        logger.warning("could not hand a record back to the queue", extra={"error": type(error).__name__})
        return False
    return True


def _copy(record: QueueRecord, attributes: dict[str, str]) -> dict[str, Any]:
    """A new message of `record`: its body, its attributes with `attributes`, and its attempts so far."""
    return {
        "MessageBody": record.body,
        "MessageAttributes": {
            **_attributes(record),
            **{name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()},
            ATTEMPTS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(attempt_number(record) - 1)},
        },
    }


def _attributes(record: QueueRecord) -> dict[str, Any]:
    """The record's message attributes, as SendMessage takes them (the attempts attribute is set anew)."""
    copied: dict[str, Any] = {}
    for name, value in (record.raw_event.get("messageAttributes") or {}).items():
        if name == ATTEMPTS_ATTRIBUTE or not isinstance(value, dict):
            continue
        data_type = str(value.get("dataType") or "String")
        if value.get("stringValue") is not None:
            copied[name] = {"DataType": data_type, "StringValue": str(value["stringValue"])}
        elif value.get("binaryValue") is not None:
            copied[name] = {"DataType": data_type, "BinaryValue": base64.b64decode(value["binaryValue"])}
    return copied


__all__ = [
    "ATTEMPTS_ATTRIBUTE",
    "NotStarted",
    "QueueRecord",
    "attempt_number",
    "attempts_before",
    "hand_back",
    "hand_back_with",
    "process_within_budget",
]
