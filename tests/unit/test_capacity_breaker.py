"""The capacity breaker: a cached tripped flag, a batched count of accepted messages, and the trip.

Time moves with FakeClock; the FakeCapacityStore counts every call, so "read once", "added once with the
batched count" and "tripped without a read" are checked on the calls themselves.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes import FakeCapacityStore, FakeClock
from trialgw.errors import StoreError
from trialgw.logic.capacity import CapacityBreaker, report, reset, window_start
from trialgw.observability import logger
from trialgw.ports import BreakerState, CapacityWindow, TopSender

WINDOW = 3600
# The start of an hour window (1_800_000_000 = 500_000 h).
START = 1_800_000_000


def _breaker(
    store: FakeCapacityStore,
    clock: FakeClock,
    *,
    limit: int = 1000,
    cache_seconds: float = 5.0,
    flush_seconds: float = 0.0,
) -> CapacityBreaker:
    return CapacityBreaker(
        store, clock, limit=limit, window_seconds=WINDOW, cache_seconds=cache_seconds, flush_seconds=flush_seconds
    )


@pytest.fixture
def store() -> FakeCapacityStore:
    return FakeCapacityStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START + 100)


@pytest.fixture
def logged(monkeypatch) -> list[tuple[str, str]]:
    """What the breaker logged at warning and error level, as (level, message)."""
    lines: list[tuple[str, str]] = []

    def recorder(level: str) -> Any:
        def record(message: str, *args: object, **kwargs: object) -> None:
            lines.append((level, message))

        return record

    monkeypatch.setattr(logger, "warning", recorder("warning"))
    monkeypatch.setattr(logger, "error", recorder("error"))
    return lines


def test_window_start_is_the_fixed_window_the_time_falls_in():
    assert window_start(START, WINDOW) == START
    assert window_start(START + 3599.9, WINDOW) == START
    assert window_start(START + 3600, WINDOW) == START + 3600
    assert window_start(START - 1, WINDOW) == START - 3600


# The tripped flag.


def test_flag_is_read_once_within_cache_seconds_and_again_after(store, clock):
    breaker = _breaker(store, clock, cache_seconds=5)
    assert breaker.is_tripped() is False
    store.state = BreakerState(tripped=True, tripped_at=START, tripped_count=1001)
    clock.now += 4.9
    assert breaker.is_tripped() is False  # the cached flag: the trip is not seen yet
    assert store.breaker_reads == 1
    clock.now += 0.1
    assert breaker.is_tripped() is True
    assert store.breaker_reads == 2
    clock.now += 1
    assert breaker.is_tripped() is True
    assert store.breaker_reads == 2


def test_a_reset_reaches_the_instance_after_cache_seconds(store, clock):
    store.state = BreakerState(tripped=True)
    breaker = _breaker(store, clock, cache_seconds=5)
    assert breaker.is_tripped() is True
    store.state = BreakerState(tripped=False)
    clock.now += 1
    assert breaker.is_tripped() is True
    clock.now += 4
    assert breaker.is_tripped() is False


def test_cache_seconds_zero_reads_every_time(store, clock):
    breaker = _breaker(store, clock, cache_seconds=0)
    for _ in range(3):
        breaker.is_tripped()
    assert store.breaker_reads == 3


def test_an_unreadable_flag_that_was_never_read_counts_as_closed(store, clock, logged):
    store.state = BreakerState(tripped=True)
    store.fail_breaker = True
    breaker = _breaker(store, clock)
    assert breaker.is_tripped() is False
    assert logged == [("warning", "could not read the capacity breaker; keeping the last value read")]
    # While the store is down it is asked once per cache period, not at every send.
    assert breaker.is_tripped() is False
    assert store.breaker_reads == 1
    store.fail_breaker = False
    clock.now += 5.0
    assert breaker.is_tripped() is True
    assert store.breaker_reads == 2


def test_an_unreadable_flag_keeps_a_trip_already_seen(store, clock, logged):
    store.state = BreakerState(tripped=True)
    breaker = _breaker(store, clock)
    assert breaker.is_tripped() is True
    store.fail_breaker = True
    clock.now += 5.0
    assert breaker.is_tripped() is True
    assert logged == [("warning", "could not read the capacity breaker; keeping the last value read")]


# Counting accepted messages.


def test_flush_seconds_zero_counts_every_send(store, clock):
    breaker = _breaker(store, clock, flush_seconds=0)
    for _ in range(3):
        breaker.count_accepted()
    assert store.adds == [(1, START), (1, START), (1, START)]
    assert store.windows() == [CapacityWindow(start=START, accepted=3, limit=1000, window_seconds=WINDOW)]


def test_flush_seconds_batches_the_count(store, clock):
    breaker = _breaker(store, clock, flush_seconds=10)
    breaker.count_accepted()  # the instance's first message is counted at once
    assert store.adds == [(1, START)]
    for _ in range(4):
        clock.now += 2
        breaker.count_accepted()
    assert store.adds == [(1, START)]  # 8 s after the flush: kept pending
    clock.now += 2
    breaker.count_accepted()  # 10 s after the flush: the five pending messages in one write
    assert store.adds == [(1, START), (5, START)]
    assert store.windows()[0].accepted == 6


def test_trips_above_the_limit_not_at_it(store, clock, logged):
    breaker = _breaker(store, clock, limit=3)
    for _ in range(3):
        breaker.count_accepted()
    assert store.trips == []
    assert breaker.is_tripped() is False
    reads = store.breaker_reads
    breaker.count_accepted()
    assert store.trips == [(START + 100, 4)]
    assert store.state == BreakerState(tripped=True, tripped_at=START + 100, tripped_count=4)
    assert breaker.is_tripped() is True
    assert store.breaker_reads == reads  # the instance that tripped it knows without a read
    assert ("error", "capacity breaker tripped") in logged


def test_other_instances_counts_are_in_the_window_total(store, clock):
    store.counters[START] = CapacityWindow(start=START, accepted=1000, limit=1000, window_seconds=WINDOW)
    breaker = _breaker(store, clock, limit=1000)
    breaker.count_accepted()
    assert store.trips == [(START + 100, 1001)]


def test_trip_by_another_instance_is_seen_after_cache_seconds(store, clock):
    breaker = _breaker(store, clock, cache_seconds=5)
    assert breaker.is_tripped() is False
    store.trip(now=START + 101, count=1001)
    clock.now += 5
    assert breaker.is_tripped() is True


def test_pending_messages_of_an_ended_window_are_counted_in_that_window(store, clock):
    clock.now = START + WINDOW - 10
    breaker = _breaker(store, clock, flush_seconds=60)
    breaker.count_accepted()  # counted at once
    clock.now += 5
    breaker.count_accepted()  # pending in the first window
    clock.now += 6  # the next window has begun
    breaker.count_accepted()
    assert store.adds == [(1, START), (1, START)]
    clock.now += 60
    breaker.count_accepted()
    assert store.adds == [(1, START), (1, START), (2, START + WINDOW)]
    assert [(window.start, window.accepted) for window in store.windows()] == [(START + WINDOW, 2), (START, 2)]


def test_a_failed_add_keeps_the_pending_count_for_the_next_flush(store, clock, logged):
    breaker = _breaker(store, clock, flush_seconds=0)
    store.fail_add = True
    breaker.count_accepted()
    breaker.count_accepted()
    assert store.windows() == []
    assert logged == [("warning", "could not count accepted messages toward capacity")] * 2
    store.fail_add = False
    breaker.count_accepted()
    assert store.adds == [(1, START), (2, START), (3, START)]
    assert store.windows()[0].accepted == 3


def test_a_failed_add_with_batching_is_retried_at_the_next_send(store, clock):
    breaker = _breaker(store, clock, flush_seconds=10)
    breaker.count_accepted()
    clock.now += 10
    store.fail_add = True
    breaker.count_accepted()  # due, but the add fails: the message stays pending
    store.fail_add = False
    clock.now += 1
    breaker.count_accepted()  # still due: the last successful flush is 11 s ago
    assert store.adds == [(1, START), (1, START), (2, START)]
    assert store.windows()[0].accepted == 3


def test_a_failed_trip_is_logged_not_raised_and_retried(store, clock, logged):
    breaker = _breaker(store, clock, limit=1)
    breaker.count_accepted()
    store.fail_trip = True
    breaker.count_accepted()  # does not raise
    assert store.trips == [(START + 100, 2)]
    assert ("error", "capacity exceeded but the breaker could not be tripped") in logged
    assert store.state.tripped is False
    store.fail_trip = False
    clock.now += 1
    breaker.count_accepted()
    assert store.trips == [(START + 100, 2), (START + 101, 3)]
    assert store.state == BreakerState(tripped=True, tripped_at=START + 101, tripped_count=3)
    assert breaker.is_tripped() is True


def test_store_failures_never_escape(store, clock):
    store.fail_breaker = store.fail_add = store.fail_trip = True
    breaker = _breaker(store, clock, limit=0)
    assert breaker.is_tripped() is False
    breaker.count_accepted()


# Operators: report and reset.


def test_report_shows_the_breaker_and_the_current_window(store):
    store.counters[START] = CapacityWindow(start=START, accepted=12, limit=1000, window_seconds=WINDOW)
    store.counters[START - WINDOW] = CapacityWindow(
        start=START - WINDOW, accepted=900, limit=1000, window_seconds=WINDOW
    )
    store.state = BreakerState(tripped=True, tripped_at=START - 5, tripped_count=1001)
    shown = report(store, START + WINDOW - 1)
    assert shown.breaker == store.state
    assert shown.current == CapacityWindow(start=START, accepted=12, limit=1000, window_seconds=WINDOW)


def test_report_ranks_the_senders_of_the_window_the_breaker_tripped_in(store):
    earlier, current = START - WINDOW, START
    store.counters[current] = CapacityWindow(start=current, accepted=12, limit=1000, window_seconds=WINDOW)
    store.counters[earlier] = CapacityWindow(start=earlier, accepted=1001, limit=1000, window_seconds=WINDOW)
    store.state = BreakerState(tripped=True, tripped_at=earlier + 100, tripped_count=1001)
    culprit = TopSender("a" * 64, "mallory@example.com", "203.0.113.0/24", earlier - 10, 80)
    bystander = TopSender("b" * 64, "jane@example.com", None, earlier - 20, 3)
    store.senders = {earlier: [bystander, culprit], current: [bystander]}
    shown = report(store, current + 10)
    assert shown.ranked_window == store.counters[earlier]
    assert shown.top_senders == (culprit, bystander)


def test_report_ranks_the_current_window_while_the_breaker_is_closed(store):
    store.counters[START] = CapacityWindow(start=START, accepted=12, limit=1000, window_seconds=WINDOW)
    sender = TopSender("a" * 64, "jane@example.com", None, START - 10, 12)
    store.senders = {START: [sender]}
    shown = report(store, START + 10)
    assert (shown.ranked_window, shown.top_senders) == (shown.current, (sender,))
    assert report(store, START + WINDOW).top_senders == ()


def test_report_hides_a_window_that_has_ended(store):
    store.counters[START] = CapacityWindow(start=START, accepted=12, limit=1000, window_seconds=WINDOW)
    shown = report(store, START + WINDOW)
    assert shown.current is None
    assert shown.breaker == BreakerState(tripped=False)


def test_report_without_windows(store):
    assert report(store, START).current is None


def test_report_raises_when_the_store_fails(store):
    store.fail_windows = True
    with pytest.raises(StoreError):
        report(store, START)


def test_reset_delegates_to_the_store(store, clock):
    store.state = BreakerState(tripped=True, tripped_at=START, tripped_count=1001)
    store.counters[START] = CapacityWindow(start=START, accepted=1001, limit=1000, window_seconds=WINDOW)
    reset(store, START + 12.7)
    assert store.resets == [START + 12]
    assert store.state == BreakerState(tripped=False)
    assert store.windows() == []
    # Instances see it once their cached flag is older than cache_seconds.
    assert _breaker(store, clock).is_tripped() is False


def test_reset_raises_when_the_store_fails(store):
    store.fail_reset = True
    with pytest.raises(StoreError):
        reset(store, START)
