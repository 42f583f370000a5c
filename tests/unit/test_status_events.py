"""A send's status events (issue 18): only sends flagged at acceptance (their trial had a status URL) make them, when
their record moves (delivery's `sent` or final `failed`, a provider's report, the sandbox's `delivered`); best
effort."""

from __future__ import annotations

import json

import pytest

from tests.fakes import FakeClock, FakeMessageStatusStore, FakeProvider, FakeWebhookEventQueue
from trialgw.logic.delivery import DeliveryDeps, DeliveryOutcome, GiveUp, SentStatus, deliver, record_sent
from trialgw.logic.status_reports import apply_report, apply_reports
from trialgw.logic.webhook_forwarding import event_id
from trialgw.models import Channel
from trialgw.observability import metrics
from trialgw.ports import MessageRef, MessageStatus, OutboundMessage, StatusHook
from trialgw.providers.port import DeliveryFailed, SmsSenders
from trialgw.providers.sandbox.delivery import SandboxLog, SandboxProvider
from trialgw.providers.status import StatusReport
from trialgw.webhook_events import WebhookEvent, WebhookKind

AT = 1_800_000_000
TTL = AT + 10 * 24 * 3600
KEY_HASH = "k" * 64
PLAIN = OutboundMessage(
    channel=Channel.WHATSAPP,
    to="+31612345678",
    text="Hello",
    kind="send",
    message_id="m-1",
    key_hash=KEY_HASH,
    at=AT,
    reference="order42",
)
FLAGGED = PLAIN._replace(status_webhook_ttl=TTL)
REF = MessageRef(key_hash=KEY_HASH, at=AT, message_id="m-1")
HOOK = StatusHook(to="+31612345678", reference="order42", ttl=TTL)
LEASE_END = (AT + 35) * 1000


@pytest.fixture
def statuses() -> FakeMessageStatusStore:
    store = FakeMessageStatusStore()
    store.add(REF)
    return store


@pytest.fixture
def queue() -> FakeWebhookEventQueue:
    return FakeWebhookEventQueue()


def _deps(statuses: FakeMessageStatusStore, queue: FakeWebhookEventQueue, provider: object = None) -> DeliveryDeps:
    chosen = provider or FakeProvider()
    return DeliveryDeps(
        providers=lambda _channel: chosen,  # type: ignore[return-value,arg-type]
        statuses=statuses,
        clock=FakeClock(AT + 5),
        webhook_events=queue,
    )


def _msg(event: WebhookEvent) -> dict[str, object]:
    msg: dict[str, object] = json.loads(event.payload)["messages"]["msg"]
    return msg


def test_a_flagged_send_that_is_sent_makes_its_sent_event(statuses, queue):
    result = deliver(FLAGGED, attempt=1, max_attempts=5, deps=_deps(statuses, queue), lease_until_ms=LEASE_END)
    assert result.outcome is DeliveryOutcome.SENT
    (event,) = queue.events
    assert (event.kind, event.key_hash, event.ttl) == (WebhookKind.STATUS, KEY_HASH, TTL)
    assert event.event_id == event_id(KEY_HASH, "m-1", "sent")
    assert _msg(event) == {
        "received": "2027-01-15T08:00:05",
        "to": "+31612345678",
        "reference": "order42",
        "status": {"code": "0", "errorCode": "", "errorDescription": ""},
        "operator": "",
    }


def test_an_unflagged_send_makes_no_event_and_no_call(statuses, queue):
    deliver(PLAIN, attempt=1, max_attempts=5, deps=_deps(statuses, queue), lease_until_ms=LEASE_END)
    assert statuses.statuses[REF] is MessageStatus.SENT
    assert queue.queued == []


def test_a_sent_write_that_moves_nothing_makes_no_event(statuses, queue):
    # A report came first (the record is delivered): the late `sent` moves nothing, and says nothing.
    statuses.statuses[REF] = MessageStatus.DELIVERED
    record_sent(FLAGGED, SentStatus("cm", "cm-1", AT + 6), statuses=statuses, events=queue)
    assert queue.queued == []
    # The `sent` handed back to a later receive writes its event then, with the same id as any earlier try.
    statuses.statuses[REF] = MessageStatus.QUEUED
    record_sent(FLAGGED, SentStatus("cm", "cm-1", AT + 6), statuses=statuses, events=queue)
    assert [e.event_id for e in queue.events] == [event_id(KEY_HASH, "m-1", "sent")]


def test_a_final_failure_makes_a_failed_event_with_its_reason(statuses, queue):
    provider = FakeProvider()
    provider.failures.append(DeliveryFailed("recipient unknown", transient=False))
    deps = _deps(statuses, queue, provider)
    assert deliver(FLAGGED, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is (
        DeliveryOutcome.FAILED
    )
    (event,) = queue.events
    assert _msg(event)["status"] == {
        "code": "3",
        "errorCode": "recipient unknown",
        "errorDescription": "recipient unknown",
    }


def test_a_transient_failure_makes_no_event_until_the_last_attempt(statuses, queue):
    provider = FakeProvider()
    provider.failures.extend([DeliveryFailed("HTTP 503", transient=True)] * 2)
    deps = _deps(statuses, queue, provider)
    with pytest.raises(Exception, match="HTTP 503"):
        deliver(FLAGGED, attempt=1, max_attempts=2, deps=deps, lease_until_ms=LEASE_END)
    assert queue.queued == []
    with pytest.raises(GiveUp):
        deliver(FLAGGED, attempt=2, max_attempts=2, deps=deps, lease_until_ms=LEASE_END)
    (event,) = queue.events
    assert _msg(event)["status"]["code"] == "3"  # type: ignore[index]


def test_a_failing_webhook_queue_never_fails_or_repeats_the_delivery(statuses, queue):
    queue.fail = True
    metrics.clear_metrics()
    provider = FakeProvider()
    deps = _deps(statuses, queue, provider)
    result = deliver(FLAGGED, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert (result.outcome, result.unrecorded) == (DeliveryOutcome.SENT, None)
    assert statuses.statuses[REF] is MessageStatus.SENT
    assert len(provider.delivered) == 1
    assert sum(metrics.metric_set.get("WebhookEventsNotQueued", {}).get("Value", [])) == 1
    metrics.clear_metrics()


def test_the_sandbox_makes_sent_then_delivered(statuses, queue):
    sandbox = SandboxProvider(SandboxLog().append, sms_senders=SmsSenders("CMTrial"), clock=FakeClock(AT + 5))
    statuses.hooks[REF] = HOOK
    deliver(FLAGGED, attempt=1, max_attempts=5, deps=_deps(statuses, queue, sandbox), lease_until_ms=LEASE_END)
    assert [_msg(e)["status"]["code"] for e in queue.events] == ["0", "2"]  # type: ignore[index]
    assert len({e.event_id for e in queue.events}) == 2


def test_a_report_moving_a_flagged_record_makes_its_event_from_the_record(statuses, queue):
    statuses.statuses[REF] = MessageStatus.SENT
    statuses.pointers[("cm", "cm-1")] = REF
    statuses.hooks[REF] = HOOK
    assert apply_report(
        statuses,
        MessageStatus.FAILED,
        at=AT + 60,
        reason="Not delivered",
        provider="cm",
        provider_message_id="cm-1",
        events=queue,
    )
    (event,) = queue.events
    assert event.event_id == event_id(KEY_HASH, "m-1", "failed")
    assert event.ttl == TTL
    assert _msg(event)["reference"] == "order42"
    assert _msg(event)["received"] == "2027-01-15T08:01:00"
    # A repeated or late report moves nothing and makes no event.
    assert not apply_report(
        statuses, MessageStatus.DELIVERED, at=AT + 61, provider="cm", provider_message_id="cm-1", events=queue
    )
    assert len(queue.queued) == 1


def test_a_report_moving_an_unflagged_record_makes_no_event(statuses, queue):
    statuses.statuses[REF] = MessageStatus.SENT
    statuses.pointers[("id", "m-1")] = REF
    reports = [StatusReport(message_id="m-1", status="delivered", reason=None, at=AT + 9)]
    assert apply_reports(statuses, reports, now=AT + 10, provider="cm", events=queue) == 1
    assert statuses.statuses[REF] is MessageStatus.DELIVERED
    assert queue.queued == []
