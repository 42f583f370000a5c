"""The webhook log and the webhook queue on moto (issue 18): attempts newest first with a cursor, the event kept for a
replay, nothing in the status index, the queue's body read back."""

from __future__ import annotations

import os

import boto3
import pytest

from trialgw import names
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_webhook_log import DynamoWebhookLog
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.errors import QueueError, StoreError
from trialgw.ports import InvalidCursor, WebhookAttempt
from trialgw.webhook_events import WebhookEvent, WebhookKind, from_message, new_event_id

KEY_HASH = "a" * 64
OTHER = "b" * 64
TTL = 2_000_000_000


def _event(key_hash: str = KEY_HASH, kind: WebhookKind = WebhookKind.INBOUND) -> WebhookEvent:
    return WebhookEvent(
        event_id=new_event_id(),
        key_hash=key_hash,
        kind=kind,
        payload='{"message":{"text":"hé"}}',
        created_at_ms=1_700_000_000_000,
        ttl=TTL,
    )


def _attempt(event: WebhookEvent, at_ms: int, n: int, status: int | None = 500) -> WebhookAttempt:
    return WebhookAttempt(
        attempt_id=f"att{n}",
        event_id=event.event_id,
        kind=event.kind,
        url="http://127.0.0.1:9999/hook",
        at_ms=at_ms,
        status=status,
        latency_ms=12,
        error=None if status else "timed out after 5 s",
        answer="oops" if status else "",
        payload=event.payload,
        will_retry=status != 200,
    )


@pytest.fixture
def log(aws_env) -> DynamoWebhookLog:
    return DynamoWebhookLog(boto3.client("dynamodb"), names.MESSAGES.local_name)


def test_attempts_come_newest_first_in_pages_and_stay_under_their_trial(log: DynamoWebhookLog) -> None:
    event = _event()
    for n, (at, status) in enumerate([(1_700_000_001_000, 500), (1_700_000_003_000, 200), (1_700_000_002_000, None)]):
        log.record_attempt(_attempt(event, at, n, status), event)
    log.record_attempt(_attempt(_event(OTHER), 1_700_000_009_000, 9), _event(OTHER))

    first = log.attempts(KEY_HASH, limit=2, cursor=None)
    assert [a.at_ms for a in first.attempts] == [1_700_000_003_000, 1_700_000_002_000]
    assert first.attempts[0] == _attempt(event, 1_700_000_003_000, 1, 200)
    assert first.attempts[1].status is None
    assert first.attempts[1].error == "timed out after 5 s"
    assert first.cursor is not None
    rest = log.attempts(KEY_HASH, limit=2, cursor=first.cursor)
    assert [a.attempt_id for a in rest.attempts] == ["att0"]
    assert rest.cursor is None or log.attempts(KEY_HASH, limit=2, cursor=rest.cursor).attempts == []


def test_the_event_is_kept_for_a_replay_and_a_missing_one_is_none(log: DynamoWebhookLog) -> None:
    event = _event(kind=WebhookKind.STATUS)
    log.record_attempt(_attempt(event, 1_700_000_001_000, 1), event)
    assert log.event(KEY_HASH, event.event_id) == event
    assert log.event(OTHER, event.event_id) is None
    assert log.event(KEY_HASH, new_event_id()) is None


def test_log_items_are_neither_messages_nor_in_the_status_index(log: DynamoWebhookLog) -> None:
    event = _event()
    log.record_attempt(_attempt(event, 1_700_000_001_000, 1, 200), event)
    messages = DynamoMessageLog(boto3.client("dynamodb"), names.MESSAGES.local_name)
    assert messages.page(KEY_HASH, limit=10, cursor=None).messages == []
    indexed = boto3.client("dynamodb").scan(TableName=names.MESSAGES.local_name, IndexName=names.STATUS_INDEX.name)
    assert indexed["Items"] == []


@pytest.mark.parametrize("cursor", ["", "!!", "TVNHIzE", "x" * 300])
def test_a_cursor_it_did_not_give_out_is_refused(log: DynamoWebhookLog, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        log.attempts(KEY_HASH, limit=5, cursor=cursor)


def test_a_failing_table_is_a_store_error(aws_env) -> None:
    log = DynamoWebhookLog(boto3.client("dynamodb"), "no-such-table")
    with pytest.raises(StoreError):
        log.attempts(KEY_HASH, limit=5, cursor=None)


def test_the_queue_carries_the_event_whole_with_its_delay(aws_env) -> None:
    sqs = boto3.client("sqs")
    url = os.environ[names.WEBHOOK_EVENTS.env_var]
    event = _event()
    SqsWebhookEventQueue(sqs, url).enqueue(event, delay_seconds=0)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert from_message(received[0]["Body"]) == event
    with pytest.raises(QueueError):
        SqsWebhookEventQueue(sqs, url + "-missing").enqueue(event)
