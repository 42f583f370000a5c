"""Delivering one queued message: provider outcomes, the record's status, retries and the last attempt."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FakeClock, FakeMessageStatusStore, FakeProvider, FakeWebhookEventQueue
from trialgw.errors import StoreError
from trialgw.logic.delivery import (
    DeliveryDeps,
    DeliveryOutcome,
    GiveUp,
    InFlight,
    RetryLater,
    SentStatus,
    backoff_seconds,
    deliver,
    mark_dead_lettered,
    max_delivery_seconds,
    record_sent,
)
from trialgw.logic.status_reports import apply_report as apply_report_to
from trialgw.models import Channel
from trialgw.observability import metrics
from trialgw.ports import MessageRef, MessageStatus, OutboundMessage, StatusMove
from trialgw.providers.port import DeliveryFailed, ProviderName, SmsSenders
from trialgw.providers.registry import providers_for
from trialgw.providers.sandbox.delivery import SandboxLog, SandboxProvider
from trialgw.settings import DeliverySettings

AT = 1_800_000_000
SEND = OutboundMessage(
    channel=Channel.WHATSAPP,
    to="+31612345678",
    text="Hello",
    kind="send",
    message_id="m-1",
    key_hash="k" * 64,
    at=AT,
    sender="TrialTest",
)
REF = MessageRef(key_hash="k" * 64, at=AT, message_id="m-1")
# The invocation's deadline, epoch milliseconds: the lease each attempt takes on the record runs until then.
LEASE_END = (AT + 35) * 1000
REPLY = OutboundMessage(channel=Channel.SMS, to="+31612345678", text="Whitelisted", kind="reply", message_id="r")


def apply_report(statuses: FakeMessageStatusStore, status: MessageStatus, **where: Any) -> bool:
    """A status report applied, its events (none here: these records are not flagged) to a queue of their own."""
    return apply_report_to(statuses, status, events=FakeWebhookEventQueue(), **where)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def statuses() -> FakeMessageStatusStore:
    store = FakeMessageStatusStore()
    store.add(REF)
    return store


@pytest.fixture
def deps(provider: FakeProvider, statuses: FakeMessageStatusStore) -> DeliveryDeps:
    return DeliveryDeps(
        providers=lambda _channel: provider,
        statuses=statuses,
        clock=FakeClock(AT + 5),
        webhook_events=FakeWebhookEventQueue(),
    )


def test_a_send_is_delivered_and_marked_sent_with_the_provider_id(deps, provider, statuses):
    assert deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is DeliveryOutcome.SENT
    assert provider.delivered == [SEND]
    assert statuses.statuses[REF] is MessageStatus.SENT
    assert statuses.details[REF] == {"reason": None, "provider": "sandbox", "provider_message_id": "sandbox-1"}
    assert statuses.attempts[REF] == 1


def test_a_reply_has_no_record_and_is_delivered(deps, provider, statuses):
    assert (
        deliver(REPLY, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is DeliveryOutcome.SENT
    )
    assert provider.delivered == [REPLY]
    assert statuses.attempts == {}


def test_a_send_without_a_record_is_not_delivered(deps, provider, statuses):
    statuses.statuses.clear()
    assert (
        deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome
        is DeliveryOutcome.NOT_ACCEPTED
    )
    assert provider.delivered == []


def test_a_permanent_failure_fails_at_once_with_the_reason(deps, provider, statuses):
    provider.failures.append(DeliveryFailed("outside the 24-hour window", transient=False, code="131047"))
    assert (
        deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is DeliveryOutcome.FAILED
    )
    assert statuses.statuses[REF] is MessageStatus.FAILED
    assert statuses.details[REF]["reason"] == "outside the 24-hour window"


@pytest.fixture
def emitted():
    """The metrics the use case added (Powertools keeps them until they are flushed), by name."""
    metrics.clear_metrics()

    def count(name: str) -> int:
        return int(sum(metrics.metric_set.get(name, {}).get("Value", [])))

    yield count
    metrics.clear_metrics()


def test_a_channel_not_configured_fails_at_once_is_counted_for_its_alarm_and_not_retried(statuses, emitted) -> None:
    providers = providers_for(DeliverySettings(provider_whatsapp="cm"))
    deps = DeliveryDeps(
        providers=providers, statuses=statuses, clock=FakeClock(AT + 5), webhook_events=FakeWebhookEventQueue()
    )
    # On the first attempt of five: a permanent failure, consumed, never handed to the sandbox.
    assert (
        deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is DeliveryOutcome.FAILED
    )
    assert statuses.statuses[REF] is MessageStatus.FAILED
    assert str(statuses.details[REF]["reason"]).startswith("channel not configured: WhatsApp is set to the cm provider")
    assert (emitted("ChannelNotConfigured"), emitted("MessageFailed"), emitted("MessageSent")) == (1, 1, 0)
    # Replies to end users have no record, but are counted alike.
    whatsapp_reply = OutboundMessage(Channel.WHATSAPP, "+31612345678", "Whitelisted", "reply", "r2")
    assert (
        deliver(whatsapp_reply, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome
        is DeliveryOutcome.FAILED
    )
    assert emitted("ChannelNotConfigured") == 2


def test_other_permanent_failures_are_not_counted_as_not_configured(deps, provider, emitted):
    provider.failures.append(DeliveryFailed("outside the 24-hour window", transient=False, code="131047"))
    assert (
        deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is DeliveryOutcome.FAILED
    )
    assert (emitted("ChannelNotConfigured"), emitted("MessageFailed")) == (0, 1)


def test_a_transient_failure_is_retried_with_back_off_and_the_record_stays_queued(deps, provider, statuses):
    provider.failures.append(DeliveryFailed("HTTP 503", transient=True))
    with pytest.raises(RetryLater) as retry:
        deliver(SEND, attempt=2, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert retry.value.backoff_seconds == backoff_seconds(2) == 20
    assert statuses.statuses[REF] is MessageStatus.QUEUED
    assert deliver(SEND, attempt=3, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is DeliveryOutcome.SENT


def test_the_last_attempt_marks_a_transient_failure_failed_and_gives_up(deps, provider, statuses):
    provider.failures.append(DeliveryFailed("timeout", transient=True))
    with pytest.raises(GiveUp) as gave_up:
        deliver(SEND, attempt=5, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert gave_up.value.backoff_seconds == 0
    assert statuses.statuses[REF] is MessageStatus.FAILED
    assert statuses.details[REF]["reason"] == "gave up after 5 attempts: timeout"


def test_a_record_that_cannot_be_read_is_retried_without_delivering(deps, provider, statuses):
    statuses.fail_attempt = True
    with pytest.raises(StoreError):
        deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert provider.delivered == []


def test_a_sent_status_that_cannot_be_written_is_handed_back_to_write_later(deps, provider, statuses):
    statuses.fail_status = True
    result = deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert result.outcome is DeliveryOutcome.SENT
    assert result.unrecorded is not None
    assert len(provider.delivered) == 1
    assert statuses.statuses[REF] is MessageStatus.QUEUED
    # The lease stays until its end: no other receive sends the message meanwhile.
    assert REF in statuses.leases
    assert statuses.released == []

    # What the message's copy carries is enough to write it on a later receive, without the provider.
    again = SentStatus.from_json(result.unrecorded.to_json())
    assert again == result.unrecorded
    statuses.fail_status = False
    record_sent(SEND, again, statuses=statuses, events=FakeWebhookEventQueue())
    assert statuses.statuses[REF] is MessageStatus.SENT
    assert statuses.details[REF]["provider_message_id"] == result.unrecorded.provider_message_id
    assert len(provider.delivered) == 1
    assert REF not in statuses.leases


def test_a_written_sent_status_leaves_nothing_to_write_later(deps, statuses):
    result = deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert (result.outcome, result.unrecorded) == (DeliveryOutcome.SENT, None)
    # Delivery is over: the lease ended with the `sent` write.
    assert statuses.leases == {}


def test_a_message_another_invocation_holds_is_retried_when_its_lease_ends(deps, provider, statuses):
    # SQS handed the message out again while the first invocation still delivers it (until 3.5 s from now).
    now_ms = (AT + 5) * 1000
    statuses.leases[REF] = ("theirs", now_ms + 3500)
    with pytest.raises(InFlight) as in_flight:
        deliver(SEND, attempt=2, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert in_flight.value.backoff_seconds == 4
    assert provider.delivered == []
    assert statuses.attempts.get(REF, 0) == 0
    # A lease ending now is retried a second later, never at once.
    statuses.leases[REF] = ("theirs", now_ms)
    with pytest.raises(InFlight) as in_flight:
        deliver(SEND, attempt=2, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert in_flight.value.backoff_seconds == 1


def test_a_lease_that_ran_out_is_taken_over_and_its_holder_cannot_write_sent(deps, provider, statuses):
    # The first holder crashed or timed out: its lease ended before now.
    statuses.leases[REF] = ("crashed", (AT + 4) * 1000)
    assert deliver(SEND, attempt=2, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is (
        DeliveryOutcome.SENT
    )
    assert statuses.statuses[REF] is MessageStatus.SENT
    # A holder whose lease was taken over writes nothing: the record is the later holder's.
    statuses.add(REF)
    statuses.leases[REF] = ("later", LEASE_END)
    sent = SentStatus("sandbox", "sandbox-9", AT + 6)
    record_sent(SEND, sent, statuses=statuses, events=FakeWebhookEventQueue(), lease_token="crashed")
    assert statuses.statuses[REF] is MessageStatus.QUEUED


def test_a_transient_failure_ends_the_lease_so_its_retry_is_not_refused(deps, provider, statuses):
    provider.failures.append(DeliveryFailed("HTTP 503", transient=True))
    with pytest.raises(RetryLater):
        deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert (statuses.released, statuses.leases) == ([REF], {})
    # The retry after a back-off shorter than the invocation's deadline.
    assert deliver(SEND, attempt=2, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is (
        DeliveryOutcome.SENT
    )
    assert statuses.attempts[REF] == 2


def test_an_unexpected_error_ends_the_lease_and_a_release_that_fails_is_only_logged(deps, statuses):
    def broken(_channel: Channel) -> FakeProvider:
        raise RuntimeError("a bug")

    broken_deps = DeliveryDeps(
        providers=broken, statuses=statuses, clock=deps.clock, webhook_events=FakeWebhookEventQueue()
    )
    with pytest.raises(RuntimeError):
        deliver(SEND, attempt=1, max_attempts=5, deps=broken_deps, lease_until_ms=LEASE_END)
    assert (statuses.released, statuses.leases) == ([REF], {})
    statuses.fail_release = True
    with pytest.raises(RuntimeError):
        deliver(SEND, attempt=2, max_attempts=5, deps=broken_deps, lease_until_ms=LEASE_END)
    # The lease left behind only makes the retry wait until it ends.
    assert REF in statuses.leases


def test_statuses_only_move_forward(deps, statuses):
    assert statuses.set_status(REF, MessageStatus.DELIVERED, at=AT)
    assert not statuses.set_status(REF, MessageStatus.SENT, at=AT)
    assert not statuses.set_status(REF, MessageStatus.FAILED, at=AT)
    assert statuses.set_status(REF, MessageStatus.READ, at=AT)


def test_a_dead_lettered_send_is_marked_failed_only_from_queued(statuses):
    assert mark_dead_lettered(
        SEND, "moved to the dead-letter queue", statuses=statuses, now=AT + 9, events=FakeWebhookEventQueue()
    )
    assert statuses.statuses[REF] is MessageStatus.FAILED
    assert statuses.details[REF]["reason"] == "moved to the dead-letter queue"
    assert not mark_dead_lettered(
        REPLY, "moved to the dead-letter queue", statuses=statuses, now=AT + 9, events=FakeWebhookEventQueue()
    )
    # A record the provider has (sent), or whose last attempt said why it failed, keeps its status and reason.
    statuses.statuses[REF] = MessageStatus.SENT
    assert not mark_dead_lettered(
        SEND, "moved to the dead-letter queue", statuses=statuses, now=AT + 9, events=FakeWebhookEventQueue()
    )
    assert statuses.statuses[REF] is MessageStatus.SENT


@pytest.mark.parametrize(
    ("attempts", "base", "visibility", "seconds"),
    [
        # 4 retries: 4 x 60 s hidden plus back-offs 10+20+40+80, then 2 x 60 s to and through the dead letters, 300 s.
        (5, 10.0, 60, 240 + 150 + 120 + 300),
        (1, 10.0, 60, 120 + 300),
        (3, 0.0, 2, 4 + 4 + 300),
        # Back-offs are capped at 15 minutes each.
        (12, 10.0, 60, 11 * 60 + (10 + 20 + 40 + 80 + 160 + 320 + 640) + 4 * 900 + 120 + 300),
    ],
)
def test_the_longest_a_delivery_can_take_follows_the_queue_settings(attempts, base, visibility, seconds):
    assert (
        max_delivery_seconds(max_attempts=attempts, backoff_base_seconds=base, visibility_timeout_seconds=visibility)
        == seconds
    )


@pytest.mark.parametrize(("attempt", "seconds"), [(1, 10), (2, 20), (3, 40), (7, 640), (8, 900), (30, 900)])
def test_back_off_doubles_up_to_fifteen_minutes(attempt, seconds):
    assert backoff_seconds(attempt) == seconds


def test_the_provider_is_chosen_per_channel(statuses):
    by_channel = {channel: FakeProvider(name=ProviderName.SANDBOX) for channel in Channel}
    deps = DeliveryDeps(
        providers=by_channel.__getitem__, statuses=statuses, clock=FakeClock(AT), webhook_events=FakeWebhookEventQueue()
    )
    deliver(REPLY, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert by_channel[Channel.SMS].delivered == [REPLY]
    assert by_channel[Channel.WHATSAPP].delivered == []


def test_status_reports_find_a_sent_message_by_either_id_and_move_it_forward(deps, statuses):
    deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert apply_report(
        statuses, MessageStatus.DELIVERED, at=AT + 9, provider="sandbox", provider_message_id="sandbox-1"
    )
    assert apply_report(statuses, MessageStatus.READ, at=AT + 20, message_id="m-1")
    assert not apply_report(statuses, MessageStatus.DELIVERED, at=AT + 30, message_id="m-1")
    assert statuses.statuses[REF] is MessageStatus.READ
    assert not apply_report(statuses, MessageStatus.FAILED, at=AT, message_id="not-ours")


def test_a_send_already_sent_or_failed_is_never_delivered_again(deps, provider, statuses):
    assert deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome is DeliveryOutcome.SENT
    # E.g. SQS handed it out again after it was sent: the record says it went out already.
    assert (
        deliver(SEND, attempt=2, max_attempts=5, deps=deps, lease_until_ms=LEASE_END).outcome
        is DeliveryOutcome.NOT_ACCEPTED
    )
    assert len(provider.delivered) == 1


def test_two_copies_of_a_message_share_its_attempts_so_the_last_is_the_last_for_both(deps, provider, statuses):
    # A send SQS stored twice (its answer lost): each copy is on its own first receives.
    provider.failures.extend([DeliveryFailed("timeout", transient=True)] * 4)
    for _ in range(2):
        with pytest.raises(RetryLater):
            deliver(SEND, attempt=1, max_attempts=3, deps=deps, lease_until_ms=LEASE_END)
    # The third attempt at the message, though the first copy's SQS count says 2: the last one, so it gives up.
    with pytest.raises(GiveUp):
        deliver(SEND, attempt=2, max_attempts=3, deps=deps, lease_until_ms=LEASE_END)
    assert statuses.statuses[REF] is MessageStatus.FAILED
    assert statuses.details[REF]["reason"] == "gave up after 3 attempts: timeout"
    # The other copy finds it failed and sends nothing.
    assert (
        deliver(SEND, attempt=2, max_attempts=3, deps=deps, lease_until_ms=LEASE_END).outcome
        is DeliveryOutcome.NOT_ACCEPTED
    )
    assert len(provider.failures) == 1


def _sandbox_deps(statuses: FakeMessageStatusStore) -> DeliveryDeps:
    sandbox = SandboxProvider(SandboxLog().append, sms_senders=SmsSenders("CMTrial"), clock=FakeClock(AT + 5))
    return DeliveryDeps(
        providers=lambda _channel: sandbox,
        statuses=statuses,
        clock=FakeClock(AT + 5),
        webhook_events=FakeWebhookEventQueue(),
    )


def test_the_sandbox_reports_a_send_delivered_through_the_status_path_once_it_is_sent(statuses):
    outcome = deliver(SEND, attempt=1, max_attempts=5, deps=_sandbox_deps(statuses), lease_until_ms=LEASE_END)
    assert outcome.outcome is DeliveryOutcome.SENT
    assert statuses.statuses[REF] is MessageStatus.DELIVERED
    # Found by the provider and its id, as a real provider's report is.
    assert statuses.locate(provider="sandbox", provider_message_id="sandbox-m-1") == REF


def test_a_report_that_came_first_is_not_moved_back_by_the_sandboxs(statuses):
    deps = _sandbox_deps(statuses)
    deliver(SEND, attempt=1, max_attempts=5, deps=deps, lease_until_ms=LEASE_END)
    assert apply_report(statuses, MessageStatus.READ, at=AT + 6, provider="sandbox", provider_message_id="sandbox-m-1")
    assert not apply_report(
        statuses, MessageStatus.DELIVERED, at=AT + 7, provider="sandbox", provider_message_id="sandbox-m-1"
    )
    assert statuses.statuses[REF] is MessageStatus.READ


class _ReportsFail(FakeMessageStatusStore):
    """Records `sent`, then fails every later status write (the report's)."""

    def set_status(self, ref: MessageRef, status: MessageStatus, **kwargs: object) -> StatusMove | None:
        if status is not MessageStatus.SENT:
            raise StoreError("report failed")
        return super().set_status(ref, status, **kwargs)  # type: ignore[arg-type]


def test_a_report_that_cannot_be_recorded_leaves_the_send_sent_and_is_not_retried():
    statuses = _ReportsFail()
    statuses.add(REF)
    outcome = deliver(SEND, attempt=1, max_attempts=5, deps=_sandbox_deps(statuses), lease_until_ms=LEASE_END)
    # Sent and consumed: a lost report must never send the message again.
    assert outcome.outcome is DeliveryOutcome.SENT
    assert outcome.unrecorded is None
    assert statuses.statuses[REF] is MessageStatus.SENT


def test_a_sandbox_reply_looks_nothing_up(statuses):
    deliver(REPLY, attempt=1, max_attempts=5, deps=_sandbox_deps(statuses), lease_until_ms=LEASE_END)
    assert statuses.statuses == {REF: MessageStatus.QUEUED}
