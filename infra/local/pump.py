"""Lambda's SQS event source mapping, locally: a thread per consumed queue feeds batches to its function.

For each queue a function `consumes` (see `infra.topology`), a pump receives up to its batch size with every
attribute (a partial batch waits up to the 1 s batching window for more, as the deployed mapping does), builds
the event Lambda builds (`Records` with `messageId`, `receiptHandle`, `body`, `attributes`, `messageAttributes`,
`md5OfBody`, `eventSource`, `eventSourceARN`, `awsRegion`), invokes the function through the `FunctionHost` (one
call at a time, like the HTTP path) and settles the batch as a mapping with `ReportBatchItemFailures` does:

- the function returns normally: every record not named in `batchItemFailures` is deleted; no list, an empty one
  or no result at all means the whole batch succeeded;
- the function raises, or answers something Lambda would not accept (not an object, an `itemIdentifier` that is
  empty or not in the batch): nothing is deleted, the whole batch is retried.

Records left on the queue come back after their visibility timeout (the queue's, or what the function set with
`ChangeMessageVisibility`), with `ApproximateReceiveCount` one higher. Redrive to the dead-letter queue is moto's:
moto 5.2.5 honours the queue's `RedrivePolicy` in `ReceiveMessage` exactly as SQS does (a message already received
`maxReceiveCount` times moves to the dead-letter queue at the next receive instead of being returned), so the
pump never moves a message itself.

Polling: the stack's moto serves one request at a time (see `infra.local.moto_backend`), and moto waits out a
`ReceiveMessage` long poll inside that request: a one-second long poll would hold every other AWS call (the
gateway's DynamoDB writes, the function's own calls) for up to a second. The pump therefore receives with
`WaitTimeSeconds=0` and, when the queue is empty, waits `idle_seconds` outside moto before the next receive: the
same bounded wait for messages, without the stall. A full batch is followed by the next receive at once.

A pump never dies of an error: a failed receive, invocation or delete is logged and the loop goes on.
"""

from __future__ import annotations

import base64
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infra.local.environment import REGION
from infra.local.resources import DeadLetterResource, QueueResource, Resources
from infra.topology import FunctionDef

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

Invoke = Callable[[str, dict[str, Any]], Any]
Log = Callable[[str], None]

# As the CDK stack configures the event source: the consuming function's batch size (`FunctionDef.batch_size`, from
# its time budget; `pumps_for` passes it, this is the default of a pump built by hand) and the batching window
# (`infra/stack.py` CONSUMER_BATCHING_WINDOW; not imported: that module needs the CDK).
BATCH_SIZE = 10
BATCHING_WINDOW_SECONDS = 1.0
# How long an idle pump waits between two receives of an empty queue.
IDLE_SECONDS = 0.2
# After a failed receive (moto stopping, a bug): wait this long before the next one, so the log is not flooded.
ERROR_BACKOFF_SECONDS = 1.0
# The system attributes Lambda passes in each record's `attributes`, when SQS returned them.
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _binary(value: Any) -> str:
    """A binary attribute value as Lambda's JSON carries it: base64 text."""
    raw = value if isinstance(value, bytes | bytearray) else str(value).encode()
    return base64.b64encode(raw).decode("ascii")


def lambda_message_attributes(attributes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """SQS message attributes as `ReceiveMessage` returns them → the camelCase shape of a Lambda SQS record."""
    converted: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = _binary(value["BinaryValue"])
        entry["stringListValues"] = list(value.get("StringListValues", []))
        entry["binaryListValues"] = [_binary(v) for v in value.get("BinaryListValues", [])]
        entry["dataType"] = value.get("DataType", "String")
        converted[name] = entry
    return converted


def sqs_event(messages: Iterable[Mapping[str, Any]], *, queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping passes for these received messages."""
    records = []
    for message in messages:
        system = message.get("Attributes", {})
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": {name: str(system[name]) for name in RECORD_ATTRIBUTES if name in system},
            "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": message.get("MD5OfBody", ""),
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
        records.append(record)
    return {"Records": records}


class InvalidBatchResponse(ValueError):
    """A result Lambda would not accept as a partial batch response: the whole batch counts as failed."""


def failed_items(result: Any, message_ids: Sequence[str]) -> set[str]:
    """The message ids a function's result reports as failed (`ReportBatchItemFailures` rules).

    No result, an object without `batchItemFailures`, or a null or empty list: none failed. Raises
    InvalidBatchResponse for anything else Lambda rejects (then the whole batch is retried).
    """
    if result is None:
        return set()
    if not isinstance(result, dict):
        raise InvalidBatchResponse(f"the result is a {type(result).__name__}, not an object")
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    known = set(message_ids)
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            raise InvalidBatchResponse(f"batch item failure without an itemIdentifier: {failure!r}")
        if identifier not in known:
            raise InvalidBatchResponse(f"itemIdentifier {identifier!r} is not a message of the batch")
        failed.add(identifier)
    return failed


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one receive-invoke-settle round did (for tests and the log)."""

    received: int
    deleted: int
    failed: int
    # The invocation raised or answered something Lambda rejects: nothing was deleted.
    batch_failed: bool = False


class QueuePump:
    """Feeds one queue to one function, like an SQS event source mapping (see the module docstring)."""

    def __init__(
        self,
        *,
        function: str,
        # A queue, or a queue's dead-letter queue (a function consuming `QueueDef.dead_letters`).
        queue: QueueResource | DeadLetterResource,
        invoke: Invoke,
        sqs: SQSClient | None = None,
        region: str = REGION,
        batch_size: int = BATCH_SIZE,
        batching_window_seconds: float = BATCHING_WINDOW_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        log: Log = _stderr,
    ) -> None:
        if not 1 <= batch_size <= 10:
            raise ValueError("batch_size must be 1-10, as ReceiveMessage allows")
        if sqs is None:
            import boto3

            sqs = boto3.client("sqs", region_name=region)
        self.function = function
        self.queue = queue
        self._invoke = invoke
        self._sqs = sqs
        self._region = region
        self._batch_size = batch_size
        self._window = batching_window_seconds
        self._idle = idle_seconds
        self._log = log
        self._queue_arn: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return f"pump:{self.queue.name}->{self.function}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops after the round under way (an invocation is never cut short); waits up to `timeout`."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=timeout)
            if thread.is_alive():
                self._log(f"[local] {self.name} did not stop within {timeout:.0f} s; left to end with the process")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                outcome = self.poll_once()
            except Exception:
                self._log(f"[local] {self.name}: receive failed, retrying:\n{traceback.format_exc()}")
                self._stop.wait(ERROR_BACKOFF_SECONDS)
                continue
            if outcome.received < self._batch_size:
                # Empty or a partial batch: the queue is (nearly) drained, wait outside moto's lock.
                self._stop.wait(self._idle)

    def _arn(self) -> str:
        if self._queue_arn is None:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue.url, AttributeNames=["QueueArn"])
            self._queue_arn = attributes["Attributes"]["QueueArn"]
        return self._queue_arn

    def poll_once(self) -> BatchOutcome:
        """One round: receive a batch, invoke the function with it, delete what succeeded.

        Raises only when the receive itself fails; a failed invocation or delete is logged.
        """
        queue_arn = self._arn()
        messages = self._receive(self._batch_size)
        if not messages:
            return BatchOutcome(received=0, deleted=0, failed=0)
        # The batching window: a partial batch waits for more, until it is full or the window has passed.
        deadline = time.monotonic() + self._window
        while len(messages) < self._batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._stop.wait(min(self._idle, remaining))
            messages += self._receive(self._batch_size - len(messages))
        event = sqs_event(messages, queue_arn=queue_arn, region=self._region)
        ids = [m["MessageId"] for m in messages]
        try:
            result = self._invoke(self.function, event)
            failed = failed_items(result, ids)
        except InvalidBatchResponse as error:
            self._log(f"[local] {self.name}: invalid partial batch response ({error}); the whole batch is retried")
            return BatchOutcome(received=len(messages), deleted=0, failed=len(messages), batch_failed=True)
        except Exception:
            self._log(
                f"[local] {self.name}: the function raised; the batch of {len(messages)} is retried after its "
                f"visibility timeout:\n{traceback.format_exc()}"
            )
            return BatchOutcome(received=len(messages), deleted=0, failed=len(messages), batch_failed=True)
        done = [m for m in messages if m["MessageId"] not in failed]
        deleted = self._delete(done)
        return BatchOutcome(received=len(messages), deleted=deleted, failed=len(failed))

    def _receive(self, count: int) -> list[Any]:
        return list(
            self._sqs.receive_message(
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        )

    def _delete(self, messages: Sequence[Mapping[str, Any]]) -> int:
        if not messages:
            return 0
        try:
            answer = self._sqs.delete_message_batch(
                QueueUrl=self.queue.url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
            )
        except Exception:
            trace = traceback.format_exc()
            self._log(f"[local] {self.name}: deleting {len(messages)} processed messages failed:\n{trace}")
            return 0
        for failure in answer.get("Failed", []):
            self._log(f"[local] {self.name}: could not delete a processed message: {failure.get('Message')}")
        return len(answer.get("Successful", []))


class Pumps:
    """Every pump of the stack, started and stopped together."""

    def __init__(self, pumps: Iterable[QueuePump]) -> None:
        self.pumps = tuple(pumps)

    def start(self) -> None:
        for pump in self.pumps:
            pump.start()

    def stop(self, timeout: float = 10.0) -> None:
        for pump in self.pumps:
            pump.stop(timeout)

    def __iter__(self) -> Iterator[QueuePump]:
        return iter(self.pumps)

    def __len__(self) -> int:
        return len(self.pumps)


def pumps_for(functions: Iterable[FunctionDef], resources: Resources, invoke: Invoke, **options: Any) -> Pumps:
    """One pump per (function, queue or dead-letter queue it consumes), as the CDK stack creates one event source
    per pair."""
    return Pumps(
        QueuePump(
            function=function.name,
            queue=resources.source(logical),
            invoke=invoke,
            **{"batch_size": function.batch_size, **options},
        )
        for function in functions
        for logical in function.consumes
    )
