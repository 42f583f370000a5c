"""The whitelist and message-log adapters on moto's real HTTP server (the local stack's backend).

Requests reach moto concurrently over sockets, as webhooks reach DynamoDB; the limit must hold.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from trialgw import names
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel, Trial
from trialgw.ports import LoggedMessage, WhitelistOutcome

NOW = 1_800_000_000


@pytest.fixture
def client(moto_dynamodb):
    return moto_dynamodb


@pytest.fixture
def endpoint(moto_endpoint):
    return moto_endpoint


def _trial(client) -> Trial:
    trial = Trial(hash_key(new_key()), "Jane", "jane@example.com", None, NOW, NOW + 3600)
    DynamoTrialStore(client, names.TRIALS.local_name).create(trial, ttl=NOW + 7200)
    return trial


def _store(client) -> DynamoWhitelistStore:
    return DynamoWhitelistStore(client, names.WHITELIST.local_name, names.TRIALS.local_name)


def _count(client, trial: Trial) -> int:
    state = DynamoTrialStore(client, names.TRIALS.local_name).state(trial.key_hash)
    assert state is not None
    return len(state.members)


def test_twelve_concurrent_senders_give_exactly_ten_entries(client, endpoint):
    trial = _trial(client)

    def whitelist(i: int) -> WhitelistOutcome:
        # One client per sender, as separate Lambda instances would have.
        store = _store(boto3.client("dynamodb", endpoint_url=endpoint))
        return store.add(trial, Channel.WHATSAPP, f"+3161234{i:04d}", now=NOW, limit=10, ttl=NOW + 7200)

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = Counter(pool.map(whitelist, range(12)))
    assert outcomes == {WhitelistOutcome.ADDED: 10, WhitelistOutcome.FULL: 2}
    assert _count(client, trial) == 10


def test_the_same_sender_concurrently_takes_one_slot(client, endpoint):
    trial = _trial(client)

    def whitelist(_: int) -> WhitelistOutcome:
        store = _store(boto3.client("dynamodb", endpoint_url=endpoint))
        return store.add(trial, Channel.SMS, "+31612345678", now=NOW, limit=10, ttl=NOW + 7200)

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = Counter(pool.map(whitelist, range(6)))
    assert outcomes == {WhitelistOutcome.ADDED: 1, WhitelistOutcome.ALREADY: 5}
    assert _count(client, trial) == 1


def test_memberships_remove_and_a_freed_slot(client):
    store = _store(client)
    first, second = _trial(client), _trial(client)
    for trial in (first, second):
        assert store.add(trial, Channel.INSTAGRAM, "1784000000001", now=NOW, limit=1, ttl=NOW + 7200) is (
            WhitelistOutcome.ADDED
        )
    assert {m.key_hash for m in store.memberships(Channel.INSTAGRAM, "1784000000001")} == {
        first.key_hash,
        second.key_hash,
    }
    assert store.memberships(Channel.MESSENGER, "1784000000001") == []
    assert store.add(first, Channel.INSTAGRAM, "1784000000002", now=NOW, limit=1, ttl=NOW + 7200) is (
        WhitelistOutcome.FULL
    )
    store.remove(first.key_hash, Channel.INSTAGRAM, "1784000000001")
    store.remove(first.key_hash, Channel.INSTAGRAM, "1784000000001")  # a repeated STOP changes nothing
    assert _count(client, first) == 0
    assert [m.key_hash for m in store.memberships(Channel.INSTAGRAM, "1784000000001")] == [second.key_hash]
    assert store.add(first, Channel.INSTAGRAM, "1784000000002", now=NOW, limit=1, ttl=NOW + 7200) is (
        WhitelistOutcome.ADDED
    )


def test_join_hint_once_per_day(client):
    store = _store(client)
    assert store.claim_join_hint(Channel.SMS, "+31612345678", day="2027-01-15", ttl=NOW)
    assert not store.claim_join_hint(Channel.SMS, "+31612345678", day="2027-01-15", ttl=NOW)
    assert store.claim_join_hint(Channel.SMS, "+31612345678", day="2027-01-16", ttl=NOW)


def test_message_log_claims_once_and_records(client):
    log = DynamoMessageLog(client, names.MESSAGES.local_name)
    assert log.claim("cm", "ref-1", ttl=NOW)
    assert not log.claim("cm", "ref-1", ttl=NOW)
    assert log.claim("meta", "ref-1", ttl=NOW)
    log.release("cm", "ref-1")
    assert log.claim("cm", "ref-1", ttl=NOW)
    trial = _trial(client)
    for at, text in ((NOW + 5, "second"), (NOW, "first")):
        log.record(
            LoggedMessage(trial.key_hash, "inbound", Channel.SMS, "+31612345678", text, at, f"cm:{at}", "{}", NOW)
        )
    items = client.query(
        TableName=names.MESSAGES.local_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TRIAL#{trial.key_hash}"}},
    )["Items"]
    assert [item["text"]["S"] for item in items] == ["first", "second"]
