"""The dead-letter consumer and the stale-message sweeper: real handlers, real records, moto.

Dead letters are handed to `functions/dead_letters` as Lambda's SQS event source on the delivery queue's dead-letter
queue would hand them; the sweeper is invoked as its EventBridge schedule would invoke it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pytest

from infra.local.schedule import scheduled_event
from tests.integration.conftest import FakeLambdaContext, load_handler
from tests.integration.test_delivery_handler import (
    accepted_send,
    items,
    orphan_send_body,
    receive,
    record_of,
    records,
    reply_body,
    sqs_record,
)
from trialgw import names
from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.errors import StoreError
from trialgw.keys import hash_key, new_key
from trialgw.logic.dead_letters import dead_letter_reason, stale_reason
from trialgw.logic.delivery import max_delivery_seconds
from trialgw.models import Channel
from trialgw.ports import LoggedMessage, MessageRef, MessageStatus

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def dead_letters() -> ModuleType:
    return load_handler("dead_letters")


@pytest.fixture
def sweeper() -> ModuleType:
    return load_handler("sweeper")


def dead_letter_event(*bodies: str) -> dict[str, Any]:
    """Messages as the dead-letter queue's event source hands them (the bodies the delivery queue held)."""
    for body in bodies:
        boto3.client("sqs").send_message(
            QueueUrl=boto3.client("sqs").get_queue_url(QueueName=names.OUTBOUND.local_name)["QueueUrl"],
            MessageBody=body,
        )
    return {"Records": [sqs_record(message) for message in receive(len(bodies))]}


def queued_send() -> dict[str, Any]:
    """An accepted send's queued body (its record `queued`), taken off the delivery queue."""
    accepted_send()
    (message,) = receive(1)
    body: dict[str, Any] = json.loads(message["Body"])
    return body


def test_a_dead_lettered_send_is_marked_failed_with_the_reason_once(dead_letters: ModuleType) -> None:
    body = queued_send()
    event = dead_letter_event(json.dumps(body))

    assert dead_letters.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}

    first = record_of(body["message_id"])
    assert first["status"]["S"] == "failed"
    assert (
        first["reason"]["S"]
        == dead_letter_reason(5)
        == ("not delivered: gave up after 5 attempts (the delivery never completed: a timeout or an internal error)")
    )
    # Handed out again (a lost delete, a redrive): consumed, and the record is exactly as the first time said.
    time.sleep(1.1)
    assert dead_letters.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert record_of(body["message_id"]) == first


def test_a_send_already_sent_or_failed_keeps_its_status_and_reason(dead_letters: ModuleType) -> None:
    body = queued_send()
    log = DynamoMessageLog(aws.dynamodb(), names.MESSAGES.local_name)
    where = MessageRef(key_hash=body["key_hash"], at=body["at"], message_id=body["message_id"], at_ms=body.get("at_ms"))
    assert log.set_status(where, MessageStatus.SENT, at=body["at"] + 1, provider="meta", provider_message_id="wamid.1")
    before = record_of(body["message_id"])

    assert dead_letters.handler(dead_letter_event(json.dumps(body)), FakeLambdaContext()) == {"batchItemFailures": []}

    assert record_of(body["message_id"]) == before


def test_replies_orphans_and_unreadable_dead_letters_are_consumed(dead_letters: ModuleType) -> None:
    event = dead_letter_event(json.dumps(reply_body()), json.dumps(orphan_send_body()), "not json", "[1]")
    assert dead_letters.handler(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert records() == []


def test_a_record_that_cannot_be_written_is_retried_the_others_are_consumed(
    dead_letters: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = queued_send()
    event = dead_letter_event(json.dumps(body), json.dumps(reply_body()))

    def failing(*_args: Any, **_kwargs: Any) -> bool:
        raise StoreError("could not update the message status: ProvisionedThroughputExceededException")

    monkeypatch.setattr(DynamoMessageLog, "set_status", failing)
    failed_id = event["Records"][0]["messageId"]
    assert dead_letters.handler(event, FakeLambdaContext()) == {"batchItemFailures": [{"itemIdentifier": failed_id}]}
    assert record_of(body["message_id"])["status"]["S"] == "queued"


# The sweeper.


def _record(at: int, status: str | None, direction: str = "outbound") -> LoggedMessage:
    message = LoggedMessage(
        key_hash=hash_key(new_key()),
        direction=direction,
        channel=Channel.WHATSAPP,
        counterpart="+31612345678",
        text="Hi",
        at=at,
        message_id=f"m-{at}-{status}-{direction}",
        payload="{}",
        ttl=at + 48 * 3600,
        status=status,
    )
    DynamoMessageLog(aws.dynamodb(), names.MESSAGES.local_name).record(message)
    return message


def test_the_sweeper_fails_the_sends_queued_past_the_longest_delivery_and_only_those(sweeper: ModuleType) -> None:
    deadline = max_delivery_seconds(
        max_attempts=5, backoff_base_seconds=10, visibility_timeout_seconds=names.OUTBOUND.visibility_timeout_seconds
    )
    now = int(time.time())
    stale = _record(now - deadline - 60, "queued")
    fresh = _record(now - deadline + 60, "queued")
    old_sent = _record(now - deadline - 120, "sent")
    inbound = _record(now - deadline - 180, None, direction="inbound")

    answer = sweeper.handler(scheduled_event("trialgw-sweeper", now=_utc(now)), FakeLambdaContext())

    assert answer == {"stale": 1, "failed": 1, "staleAfterSeconds": deadline}
    by_id = {r["message_id"]["S"]: r for r in records()}
    assert by_id[stale.message_id]["status"]["S"] == "failed"
    assert by_id[stale.message_id]["reason"]["S"] == stale_reason(deadline)
    assert by_id[fresh.message_id]["status"]["S"] == "queued"
    assert by_id[old_sent.message_id]["status"]["S"] == "sent"
    assert "status" not in by_id[inbound.message_id]
    # The next run finds nothing: the invariant holds again.
    answer = sweeper.handler(scheduled_event("trialgw-sweeper", now=_utc(now)), FakeLambdaContext())
    assert (answer["stale"], answer["failed"]) == (0, 0)


def test_the_sweeper_reads_the_status_index_not_the_table(sweeper: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    _record(int(time.time()) - 100_000, "queued")
    calls: list[tuple[str, dict[str, Any]]] = []
    client = aws.dynamodb()
    for operation in ("scan", "query"):
        real = getattr(client, operation)

        def spy(*args: Any, _real: Any = real, _operation: str = operation, **kwargs: Any) -> Any:
            calls.append((_operation, kwargs))
            return _real(*args, **kwargs)

        monkeypatch.setattr(client, operation, spy)

    assert (
        sweeper.handler(scheduled_event("trialgw-sweeper", now=_utc(int(time.time()))), FakeLambdaContext())["failed"]
        == 1
    )
    assert [(operation, kwargs.get("IndexName")) for operation, kwargs in calls] == [("query", names.STATUS_INDEX.name)]
    assert len(items(names.MESSAGES.local_name)) == 1


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
