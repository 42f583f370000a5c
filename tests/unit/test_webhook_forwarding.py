"""The producers' use case (issue 18, `trialgw.logic.webhook_forwarding`): events with derived ids, the records'
expiry and compact JSON payloads, put on the queue best effort."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fakes import FakeWebhookEventQueue
from trialgw.logic.webhook_forwarding import (
    NOT_QUEUED_METRIC,
    StatusChange,
    event_id,
    forward,
    inbound_event,
    status_event,
)
from trialgw.observability import metrics
from trialgw.ports import MessageStatus
from trialgw.webhook_events import WebhookKind, from_message, is_event_id, to_message

KEY_HASH = "a" * 64
MO_PAYLOAD = json.dumps({"reference": "r-1", "message": {"text": "Grüße 👋"}, "channel": "WhatsApp"}, indent=2)
CHANGE = StatusChange(
    key_hash=KEY_HASH,
    message_id="m-1",
    to="+31612345678",
    reference="order42",
    status=MessageStatus.DELIVERED,
    at=1_800_000_000,
    reason=None,
    ttl=1_800_500_000,
)


@pytest.fixture
def not_queued() -> Iterator[None]:
    """Powertools keeps metrics until they are flushed: each test counts its own."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def _not_queued_count() -> int:
    return int(sum(metrics.metric_set.get(NOT_QUEUED_METRIC, {}).get("Value", [])))


def test_ids_are_derived_from_what_happened_and_are_event_ids() -> None:
    first = event_id(KEY_HASH, "cm:r-1")
    assert first == event_id(KEY_HASH, "cm:r-1")
    assert is_event_id(first)
    others = {event_id("b" * 64, "cm:r-1"), event_id(KEY_HASH, "cm:r-2"), event_id(KEY_HASH, "cm:r-1", "sent")}
    assert first not in others
    assert len(others) == 3


def test_an_inbound_event_carries_the_records_payload_compact_and_unescaped() -> None:
    event = inbound_event(key_hash=KEY_HASH, message_id="cm:r-1", payload=MO_PAYLOAD, at_ms=1_800_000_000_123, ttl=9)
    assert event.kind is WebhookKind.INBOUND
    assert event.event_id == event_id(KEY_HASH, "cm:r-1")
    assert (event.key_hash, event.created_at_ms, event.ttl, event.attempt, event.replay) == (
        KEY_HASH,
        1_800_000_000_123,
        9,
        0,
        False,
    )
    assert json.loads(event.payload) == json.loads(MO_PAYLOAD)
    assert "Grüße 👋" in event.payload
    assert ": " not in event.payload
    assert ", " not in event.payload
    assert from_message(to_message(event)) == event


def test_a_status_events_payload_is_cms_status_report_and_its_id_names_the_status() -> None:
    event = status_event(CHANGE)
    assert event.kind is WebhookKind.STATUS
    assert event.event_id == event_id(KEY_HASH, "m-1", "delivered")
    assert (event.created_at_ms, event.ttl) == (1_800_000_000_000, 1_800_500_000)
    msg = json.loads(event.payload)["messages"]["msg"]
    assert msg["to"] == "+31612345678"
    assert msg["reference"] == "order42"
    assert msg["status"] == {"code": "2", "errorCode": "", "errorDescription": ""}
    assert status_event(CHANGE) == event


def test_forward_puts_the_event_on_the_queue(not_queued: None) -> None:
    queue = FakeWebhookEventQueue()
    event = status_event(CHANGE)
    assert forward(queue, event)
    assert queue.queued == [(event, 0)]
    assert _not_queued_count() == 0


def test_a_queue_that_fails_is_logged_without_the_payload_and_counted(
    not_queued: None, caplog: pytest.LogCaptureFixture
) -> None:
    queue = FakeWebhookEventQueue(fail=True)
    event = inbound_event(key_hash=KEY_HASH, message_id="cm:r-1", payload=MO_PAYLOAD, at_ms=1, ttl=9)
    assert not forward(queue, event)
    assert queue.queued == []
    assert _not_queued_count() == 1
    (record,) = [r for r in caplog.records if r.getMessage() == "webhook event not queued"]
    assert (record.levelname, record.event_id, record.kind) == ("ERROR", event.event_id, "inbound")  # type: ignore[attr-defined]
    logged = str(vars(record))
    assert "Grüße" not in logged
    assert KEY_HASH not in logged


def test_an_unexpected_failure_of_the_queue_never_reaches_the_caller(not_queued: None) -> None:
    class Broken:
        def enqueue(self, event: object, *, delay_seconds: int = 0) -> None:
            raise RuntimeError(f"boom {event}")

    assert not forward(Broken(), status_event(CHANGE))
    assert _not_queued_count() == 1
