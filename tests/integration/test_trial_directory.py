"""The operator's list of trials on moto (`DynamoTrialStore.listed`): every trial item and nothing else that shares
the trials table (capacity windows, the breaker, sign-up counters), or only the trials with one public id."""

from __future__ import annotations

import boto3
import pytest

from trialgw import names
from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
from trialgw.adapters.dynamo_trials import DynamoSignupCounter, DynamoTrialStore
from trialgw.keys import hash_key, new_key, trial_id
from trialgw.models import Trial
from trialgw.ports import ListedTrial, SignupCount, TrialDirectory

NOW = 1_772_442_930


@pytest.fixture
def store(aws_env) -> DynamoTrialStore:
    return DynamoTrialStore(boto3.client("dynamodb"), names.TRIALS.local_name)


def _trial(store: DynamoTrialStore, created_at: int) -> str:
    key_hash = hash_key(new_key())
    trial = Trial(
        key_hash=key_hash,
        name="N",
        email="n@example.com",
        company=None,
        created_at=created_at,
        expires_at=created_at + 86_400,
    )
    store.create(trial, ttl=created_at + 86_400)
    return key_hash


def test_every_trial_and_nothing_else_in_the_table(store: DynamoTrialStore) -> None:
    client = boto3.client("dynamodb")
    directory: TrialDirectory = store
    assert directory.listed() == []
    first, second = _trial(store, NOW - 60), _trial(store, NOW)
    capacity = DynamoCapacityStore(client, names.TRIALS.local_name)
    capacity.add(3, window_start=NOW // 3600 * 3600, window_seconds=3600, limit=10)
    capacity.trip(now=NOW, count=3)
    count = SignupCount(kind="mailbox", subject="3f2a9c", window_start=NOW // 3600 * 3600, window_seconds=3600, limit=5)
    assert DynamoSignupCounter(client, names.TRIALS.local_name).acquire([count]) == []
    assert sorted(directory.listed(), key=lambda listed: listed.created_at) == [
        ListedTrial(first, NOW - 60),
        ListedTrial(second, NOW),
    ]


def test_by_public_id(store: DynamoTrialStore) -> None:
    key_hash = _trial(store, NOW)
    _trial(store, NOW)
    assert store.listed(trial_id=trial_id(key_hash)) == [ListedTrial(key_hash, NOW)]
    assert store.listed(trial_id="0123456789abcdef") == []
