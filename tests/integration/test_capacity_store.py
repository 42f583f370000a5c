"""The capacity breaker's store on moto: running totals per window, newest window first, the first trip kept,
and a reset that closes the breaker and clears the counts."""

from __future__ import annotations

import boto3
import pytest

from trialgw import names
from trialgw.adapters.dynamo_capacity import WINDOW_RETENTION_SECONDS, DynamoCapacityStore
from trialgw.errors import StoreError
from trialgw.logic.capacity import CapacityBreaker, report, reset, window_start
from trialgw.ports import BreakerState, CapacityWindow

HOUR = 3600
# Window starts with different numbers of digits: the stored order must still be by time.
EARLY, LATER = 2 * HOUR, 5 * HOUR  # 7200 and 18000


@pytest.fixture
def client(aws_env):
    return boto3.client("dynamodb")


@pytest.fixture
def store(client) -> DynamoCapacityStore:
    return DynamoCapacityStore(client, names.TRIALS.local_name)


def _add(store: DynamoCapacityStore, count: int, start: int, limit: int = 100) -> int:
    return store.add(count, window_start=start, window_seconds=HOUR, limit=limit)


def test_the_breaker_is_closed_until_tripped(store):
    assert store.breaker() == BreakerState(tripped=False)
    assert store.windows() == []


def test_add_returns_the_running_total_of_its_window(store):
    assert _add(store, 1, EARLY) == 1
    assert _add(store, 2, EARLY) == 3
    assert _add(store, 5, LATER) == 5
    assert _add(store, 1, EARLY) == 4


def test_windows_newest_first(store):
    _add(store, 4, EARLY)
    _add(store, 5, LATER)
    _add(store, 2, 100_000_000_000 - HOUR)  # 11 digits
    assert [window.start for window in store.windows()] == [100_000_000_000 - HOUR, LATER, EARLY]
    assert store.windows()[1:] == [
        CapacityWindow(start=LATER, accepted=5, limit=100, window_seconds=HOUR),
        CapacityWindow(start=EARLY, accepted=4, limit=100, window_seconds=HOUR),
    ]


def test_a_window_keeps_the_latest_limit_and_expires_after_retention(store, client):
    _add(store, 1, EARLY, limit=10)
    _add(store, 1, EARLY, limit=20)
    (window,) = store.windows()
    assert (window.accepted, window.limit) == (2, 20)
    items = client.scan(TableName=names.TRIALS.local_name)["Items"]
    (item,) = [i for i in items if i["sk"]["S"].startswith(names.CAPACITY_WINDOW_SK_PREFIX)]
    assert item["pk"]["S"] == names.CAPACITY_PK
    assert int(item[names.TTL_ATTRIBUTE]["N"]) == EARLY + HOUR + WINDOW_RETENTION_SECONDS


def test_trip_keeps_the_first_time_and_count(store):
    store.trip(now=1_000, count=101)
    store.trip(now=2_000, count=150)
    assert store.breaker() == BreakerState(tripped=True, tripped_at=1_000, tripped_count=101)


def test_reset_closes_the_breaker_and_clears_the_windows(store):
    _add(store, 80, EARLY)
    _add(store, 101, LATER)
    store.trip(now=LATER + 10, count=101)
    store.reset(now=LATER + 20)
    assert store.breaker() == BreakerState(tripped=False)
    assert store.windows() == []
    # Counting starts from zero, and a later trip records its own time and count.
    assert _add(store, 1, LATER) == 1
    store.trip(now=LATER + 30, count=7)
    assert store.breaker() == BreakerState(tripped=True, tripped_at=LATER + 30, tripped_count=7)


def test_reset_of_a_closed_breaker_is_harmless(store):
    store.reset(now=5)
    store.reset(now=6)
    assert store.breaker() == BreakerState(tripped=False)


def test_capacity_items_do_not_touch_trials(store, client):
    _add(store, 1, EARLY)
    store.trip(now=1, count=1)
    items = client.scan(TableName=names.TRIALS.local_name)["Items"]
    assert {item["pk"]["S"] for item in items} == {names.CAPACITY_PK}


def test_a_missing_table_is_a_store_error(client):
    missing = DynamoCapacityStore(client, "no-such-table")
    for call in (
        missing.breaker,
        missing.windows,
        lambda: missing.add(1, window_start=0, window_seconds=HOUR, limit=1),
        lambda: missing.trip(now=0, count=1),
        lambda: missing.reset(now=0),
    ):
        with pytest.raises(StoreError):
            call()


def test_report_shows_the_current_window_only_while_it_lasts(store):
    now = 10 * HOUR + 5
    assert report(store, now).current is None
    _add(store, 3, window_start(now, HOUR))
    current = report(store, now).current
    assert current is not None
    assert (current.start, current.accepted) == (10 * HOUR, 3)
    assert report(store, now + HOUR).current is None
    store.trip(now=now, count=3)
    assert report(store, now).breaker.tripped


def test_breaker_over_the_real_store_trips_and_resets(store):
    now = [float(10 * HOUR)]
    breaker = CapacityBreaker(store, lambda: now[0], limit=2, window_seconds=HOUR, cache_seconds=0, flush_seconds=0)
    for _ in range(2):
        assert not breaker.is_tripped()
        breaker.count_accepted()
    assert not store.breaker().tripped
    breaker.count_accepted()
    assert store.breaker() == BreakerState(tripped=True, tripped_at=10 * HOUR, tripped_count=3)
    assert breaker.is_tripped()
    now[0] += 60
    reset(store, now[0])
    assert not breaker.is_tripped()
    breaker.count_accepted()
    assert [window.accepted for window in store.windows()] == [1]


def _trial_with_sends(client, email: str, sends: int, *, window: int, network: str | None = None) -> str:
    from trialgw.adapters.dynamo_trials import DynamoTrialStore
    from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
    from trialgw.keys import hash_key, new_key
    from trialgw.models import Channel, Trial

    trial = Trial(hash_key(new_key()), "Jane", email, None, window - 60, window + 86400, signup_network=network)
    trials = DynamoTrialStore(client, names.TRIALS.local_name)
    trials.create(trial, ttl=trial.expires_at)
    DynamoWhitelistStore(client, names.WHITELIST.local_name, names.TRIALS.local_name).add(
        trial, Channel.MESSENGER, "1234", now=window, limit=10, ttl=trial.expires_at
    )
    for i in range(sends):
        taken = trials.take_quota(
            trial.key_hash,
            Channel.MESSENGER,
            "1234",
            now=window + i,
            limit=30,
            message_id=f"{email}-{i}",
            capacity_window=window,
        )
        assert taken.taken
    return trial.key_hash


def test_top_senders_are_the_trials_with_most_sends_counted_in_the_window(store, client):
    mallory = _trial_with_sends(client, "mallory@example.com", 5, window=LATER, network="203.0.113.0/24")
    jane = _trial_with_sends(client, "jane@example.com", 2, window=LATER)
    _trial_with_sends(client, "early@example.com", 9, window=EARLY)
    senders = store.top_senders(LATER, limit=10)
    assert [(s.key_hash, s.accepted, s.signup_network) for s in senders] == [
        (mallory, 5, "203.0.113.0/24"),
        (jane, 2, None),
    ]
    assert [s.email for s in store.top_senders(LATER, limit=1)] == ["mallory@example.com"]
    assert [s.accepted for s in store.top_senders(EARLY, limit=10)] == [9]


def test_a_send_given_back_leaves_the_window_count(store, client):
    from trialgw.adapters.dynamo_trials import DynamoTrialStore
    from trialgw.models import Channel

    key_hash = _trial_with_sends(client, "jane@example.com", 2, window=LATER)
    trials = DynamoTrialStore(client, names.TRIALS.local_name)
    trials.give_back_quota(key_hash, Channel.MESSENGER, "jane@example.com-1", capacity_window=LATER)
    # Given back twice (a retried give-back): it counts once, as the quota does.
    trials.give_back_quota(key_hash, Channel.MESSENGER, "jane@example.com-1", capacity_window=LATER)
    assert [s.accepted for s in store.top_senders(LATER, limit=10)] == [1]
    trials.give_back_quota(key_hash, Channel.MESSENGER, "jane@example.com-0", capacity_window=LATER)
    assert store.top_senders(LATER, limit=10) == []


def test_top_senders_fail_as_a_store_error(store, client):
    client.delete_table(TableName=names.TRIALS.local_name)
    with pytest.raises(StoreError):
        store.top_senders(LATER, limit=10)
