"""Dead letters end `failed` once, and the sweeper fails what is still `queued` past the longest a delivery takes."""

from __future__ import annotations

import json

import pytest

from tests.fakes import FakeClock, FakeMessageStatusStore, FakeWebhookEventQueue
from trialgw.errors import StoreError
from trialgw.logic.dead_letters import (
    DeadLetterDeps,
    DeadLetterOutcome,
    SweepDeps,
    dead_letter_reason,
    settle_dead_letter,
    stale_reason,
    sweep_stale_queued,
)
from trialgw.models import Channel
from trialgw.observability import metrics
from trialgw.ports import MessageRef, MessageStatus, OutboundMessage, StatusHook
from trialgw.webhook_events import WebhookKind

AT = 1_800_000_000
REF = MessageRef(key_hash="k" * 64, at=AT, message_id="m-1")
SEND = OutboundMessage(
    channel=Channel.WHATSAPP, to="+31612345678", text="Hi", kind="send", message_id="m-1", key_hash="k" * 64, at=AT
)
REPLY = OutboundMessage(channel=Channel.SMS, to="+31612345678", text="Whitelisted", kind="reply", message_id="r-1")


@pytest.fixture
def statuses() -> FakeMessageStatusStore:
    store = FakeMessageStatusStore()
    store.add(REF)
    return store


@pytest.fixture
def emitted():
    metrics.clear_metrics()

    def count(name: str) -> int:
        return int(sum(metrics.metric_set.get(name, {}).get("Value", [])))

    yield count
    metrics.clear_metrics()


def test_the_reasons_say_what_happened_in_words_a_developer_reads() -> None:
    assert dead_letter_reason(5) == (
        "not delivered: gave up after 5 attempts (the delivery never completed: a timeout or an internal error)"
    )
    assert stale_reason(810) == (
        "not confirmed: no delivery outcome was recorded within 14 minutes "
        "(the delivery was interrupted and will not be retried)"
    )


def test_a_dead_lettered_send_is_marked_failed_once_with_the_reason(statuses, emitted) -> None:
    deps = DeadLetterDeps(statuses=statuses, clock=FakeClock(AT + 600), webhook_events=FakeWebhookEventQueue())
    assert settle_dead_letter(SEND, max_attempts=5, deps=deps) is DeadLetterOutcome.FAILED
    assert statuses.statuses[REF] is MessageStatus.FAILED
    assert statuses.details[REF]["reason"] == dead_letter_reason(5)
    # The dead-letter queue hands it out again: nothing changes, and the send is counted failed once.
    statuses.details[REF]["reason"] = "as first recorded"
    assert settle_dead_letter(SEND, max_attempts=5, deps=deps) is DeadLetterOutcome.ALREADY_FINAL
    assert statuses.details[REF]["reason"] == "as first recorded"
    assert (emitted("DeadLettered"), emitted("MessageFailed")) == (2, 1)


@pytest.mark.parametrize("status", [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED])
def test_a_record_that_moved_on_keeps_its_status(statuses, status) -> None:
    statuses.statuses[REF] = status
    deps = DeadLetterDeps(statuses=statuses, clock=FakeClock(AT + 600), webhook_events=FakeWebhookEventQueue())
    assert settle_dead_letter(SEND, max_attempts=5, deps=deps) is DeadLetterOutcome.ALREADY_FINAL
    assert statuses.statuses[REF] is status


def test_a_dead_lettered_reply_has_no_record_and_is_counted(statuses, emitted) -> None:
    deps = DeadLetterDeps(statuses=statuses, clock=FakeClock(AT + 600), webhook_events=FakeWebhookEventQueue())
    assert settle_dead_letter(REPLY, max_attempts=5, deps=deps) is DeadLetterOutcome.REPLY
    assert statuses.statuses[REF] is MessageStatus.QUEUED
    assert (emitted("DeadLettered"), emitted("MessageFailed")) == (1, 0)


def test_a_record_that_cannot_be_written_raises_so_the_dead_letter_is_retried(statuses) -> None:
    statuses.fail_status = True
    with pytest.raises(StoreError):
        settle_dead_letter(
            SEND,
            max_attempts=5,
            deps=DeadLetterDeps(statuses=statuses, clock=FakeClock(AT), webhook_events=FakeWebhookEventQueue()),
        )


def _sweep(statuses: FakeMessageStatusStore, now: int) -> SweepDeps:
    return SweepDeps(queued=statuses, statuses=statuses, clock=FakeClock(now), webhook_events=FakeWebhookEventQueue())


def test_the_sweeper_fails_only_what_is_queued_past_the_deadline(emitted) -> None:
    statuses = FakeMessageStatusStore()
    old, recent, sent = (MessageRef("k" * 64, AT + offset, f"m-{offset}") for offset in (0, 500, 1))
    for ref in (old, recent, sent):
        statuses.add(ref)
    statuses.statuses[sent] = MessageStatus.SENT

    result = sweep_stale_queued(stale_after_seconds=810, limit=100, deps=_sweep(statuses, AT + 1000))

    assert (result.stale, result.failed) == (1, 1)
    assert statuses.statuses == {old: MessageStatus.FAILED, recent: MessageStatus.QUEUED, sent: MessageStatus.SENT}
    assert statuses.details[old]["reason"] == stale_reason(810)
    assert (emitted("StaleQueued"), emitted("MessageFailed")) == (1, 1)


def test_a_clean_sweep_reports_zero_so_the_alarm_has_data(statuses, emitted) -> None:
    result = sweep_stale_queued(stale_after_seconds=810, limit=100, deps=_sweep(statuses, AT + 10))
    assert (result.stale, result.failed) == (0, 0)
    assert "StaleQueued" in metrics.metric_set
    assert emitted("StaleQueued") == 0


def test_a_record_that_cannot_be_marked_is_still_counted_stale(statuses, emitted) -> None:
    statuses.fail_status = True
    result = sweep_stale_queued(stale_after_seconds=810, limit=100, deps=_sweep(statuses, AT + 1000))
    assert (result.stale, result.failed) == (1, 0)
    assert statuses.statuses[REF] is MessageStatus.QUEUED
    assert emitted("StaleQueued") == 1


def test_the_sweeper_takes_at_most_its_limit_oldest_first() -> None:
    statuses = FakeMessageStatusStore()
    refs = [MessageRef("k" * 64, AT + n, f"m-{n}") for n in range(5)]
    for ref in reversed(refs):
        statuses.add(ref)
    result = sweep_stale_queued(stale_after_seconds=10, limit=2, deps=_sweep(statuses, AT + 100))
    assert result.failed == 2
    assert [statuses.statuses[ref] for ref in refs] == [MessageStatus.FAILED] * 2 + [MessageStatus.QUEUED] * 3


def test_the_sweeper_stops_marking_when_its_time_budget_admits_no_more() -> None:
    statuses = FakeMessageStatusStore()
    refs = [MessageRef("k" * 64, AT + n, f"m-{n}") for n in range(5)]
    for ref in refs:
        statuses.add(ref)
    admitted = iter([True, True, False, True])
    result = sweep_stale_queued(
        stale_after_seconds=10, limit=5, deps=_sweep(statuses, AT + 100), keep_going=lambda: next(admitted)
    )
    # Two marked; the rest wait for the next run (still stale, not counted by this one).
    assert (result.stale, result.failed) == (2, 2)
    assert [statuses.statuses[ref] for ref in refs] == [MessageStatus.FAILED] * 2 + [MessageStatus.QUEUED] * 3


def test_a_store_that_cannot_be_read_fails_the_run(statuses) -> None:
    statuses.fail_query = True
    with pytest.raises(StoreError):
        sweep_stale_queued(stale_after_seconds=810, limit=100, deps=_sweep(statuses, AT + 1000))


# Issue 18: a `failed` written here is a flagged send's status event too, as delivery's own.


def test_a_dead_lettered_flagged_send_makes_its_failed_event_once(statuses) -> None:
    queue = FakeWebhookEventQueue()
    deps = DeadLetterDeps(statuses=statuses, clock=FakeClock(AT + 600), webhook_events=queue)
    flagged = SEND._replace(reference="order42", status_webhook_ttl=AT + 9999)
    assert settle_dead_letter(flagged, max_attempts=5, deps=deps) is DeadLetterOutcome.FAILED
    (event,) = queue.events
    assert (event.kind, event.key_hash, event.ttl) == (WebhookKind.STATUS, "k" * 64, AT + 9999)
    msg = json.loads(event.payload)["messages"]["msg"]
    assert (msg["reference"], msg["status"]["code"], msg["status"]["errorDescription"]) == (
        "order42",
        "3",
        dead_letter_reason(5),
    )
    # Handed out again: nothing moves, no second event.
    assert settle_dead_letter(flagged, max_attempts=5, deps=deps) is DeadLetterOutcome.ALREADY_FINAL
    assert len(queue.queued) == 1


def test_a_dead_lettered_unflagged_send_makes_no_event(statuses) -> None:
    queue = FakeWebhookEventQueue()
    deps = DeadLetterDeps(statuses=statuses, clock=FakeClock(AT + 600), webhook_events=queue)
    assert settle_dead_letter(SEND, max_attempts=5, deps=deps) is DeadLetterOutcome.FAILED
    assert queue.queued == []


def test_the_sweepers_failed_is_a_flagged_sends_event_from_its_record() -> None:
    statuses, queue = FakeMessageStatusStore(), FakeWebhookEventQueue()
    flagged, plain = MessageRef("k" * 64, AT, "m-flagged"), MessageRef("k" * 64, AT + 1, "m-plain")
    for ref in (flagged, plain):
        statuses.add(ref)
    statuses.hooks[flagged] = StatusHook(to="+31612345678", reference=None, ttl=AT + 9999)
    deps = SweepDeps(queued=statuses, statuses=statuses, clock=FakeClock(AT + 1000), webhook_events=queue)
    assert sweep_stale_queued(stale_after_seconds=810, limit=100, deps=deps).failed == 2
    (event,) = queue.events
    msg = json.loads(event.payload)["messages"]["msg"]
    assert (msg["to"], msg["reference"], msg["status"]["errorCode"]) == ("+31612345678", "", stale_reason(810))


def test_a_failing_webhook_queue_never_stops_the_dead_letters_or_the_sweep(statuses) -> None:
    queue = FakeWebhookEventQueue(fail=True)
    deps = DeadLetterDeps(statuses=statuses, clock=FakeClock(AT + 600), webhook_events=queue)
    flagged = SEND._replace(status_webhook_ttl=AT + 9999)
    assert settle_dead_letter(flagged, max_attempts=5, deps=deps) is DeadLetterOutcome.FAILED
    assert statuses.statuses[REF] is MessageStatus.FAILED
