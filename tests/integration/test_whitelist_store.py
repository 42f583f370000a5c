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
from trialgw.ports import InboundClaim, InboundClaimState, LoggedMessage, WhitelistOutcome

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


def _claim(log: DynamoMessageLog, provider: str, ref: str, *, now: int, received_at: int = NOW) -> InboundClaim:
    return log.claim(provider, ref, received_at=received_at, now=now, lease_seconds=10, ttl=NOW + 3600)


def test_message_log_claims_are_leases_completed_once(client):
    log = DynamoMessageLog(client, names.MESSAGES.local_name)
    first = _claim(log, "cm", "ref-1", now=NOW)
    assert (first.state, first.received_at, first.lease_until) == (InboundClaimState.OWNED, NOW, NOW + 10)
    # Another provider's id of the same spelling is another message.
    assert _claim(log, "meta", "ref-1", now=NOW).state is InboundClaimState.OWNED
    # While the lease runs (its last second included), a retry finds it busy, and learns until when.
    busy = _claim(log, "cm", "ref-1", now=NOW + 10, received_at=NOW + 10)
    assert (busy.state, busy.lease_until, busy.token) == (InboundClaimState.BUSY, NOW + 10, "")
    # The holder died: past its lease a retry takes the claim over, keeping the first arrival time.
    second = _claim(log, "cm", "ref-1", now=NOW + 11, received_at=NOW + 11)
    assert (second.state, second.received_at, second.lease_until) == (InboundClaimState.OWNED, NOW, NOW + 21)
    assert second.token != first.token
    # The dead holder's late release ends no lease of the new holder's.
    log.release(first)
    assert _claim(log, "cm", "ref-1", now=NOW + 12).state is InboundClaimState.BUSY
    log.complete(second, ttl=NOW + 7200)
    done = _claim(log, "cm", "ref-1", now=NOW + 99_999)
    assert done.state is InboundClaimState.DONE
    # Releasing a completed claim changes nothing: it stays done.
    log.release(second)
    assert _claim(log, "cm", "ref-1", now=NOW + 99_999).state is InboundClaimState.DONE


def test_a_released_claim_is_taken_over_at_once(client):
    log = DynamoMessageLog(client, names.MESSAGES.local_name)
    first = _claim(log, "cm", "ref-2", now=NOW)
    log.release(first)
    retry = _claim(log, "cm", "ref-2", now=NOW + 1, received_at=NOW + 1)
    assert (retry.state, retry.received_at) == (InboundClaimState.OWNED, NOW)


def test_a_claim_written_before_claims_had_a_state_is_done(client):
    # Claims made before leases existed (no state): their messages were processed, or are beyond telling.
    client.put_item(
        TableName=names.MESSAGES.local_name,
        Item={
            names.PARTITION_KEY: {"S": f"{names.SEEN_PK_PREFIX}cm#ref-old"},
            names.SORT_KEY: {"S": names.SEEN_SK},
            "claim": {"S": "0" * 32},
            names.TTL_ATTRIBUTE: {"N": str(NOW + 3600)},
        },
    )
    log = DynamoMessageLog(client, names.MESSAGES.local_name)
    assert _claim(log, "cm", "ref-old", now=NOW + 99_999).state is InboundClaimState.DONE


def test_message_log_records(client):
    log = DynamoMessageLog(client, names.MESSAGES.local_name)
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
