"""The whitelist and message-log adapters (inbound claims, delivery leases) on moto's real HTTP server (the local
stack's backend).

Requests reach moto concurrently over sockets, as webhooks reach DynamoDB; the limit must hold.
"""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from trialgw import names
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel, Trial
from trialgw.ports import (
    AttemptState,
    InboundClaim,
    InboundClaimState,
    LoggedMessage,
    MessageRef,
    MessageStatus,
    WhitelistOutcome,
)

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


def test_a_claim_keeps_its_first_millisecond_for_every_retry(client):
    log = DynamoMessageLog(client, names.MESSAGES.local_name)
    first = log.claim(
        "cm", "ref-ms", received_at=NOW, now=NOW, lease_seconds=10, ttl=NOW + 3600, received_at_ms=NOW * 1000 + 42
    )
    assert (first.received_at, first.received_at_ms) == (NOW, NOW * 1000 + 42)
    log.release(first)
    retry = log.claim(
        "cm", "ref-ms", received_at=NOW + 1, now=NOW + 1, lease_seconds=10, ttl=NOW + 3600, received_at_ms=NOW_MS + 1500
    )
    assert (retry.received_at, retry.received_at_ms) == (NOW, NOW * 1000 + 42)
    # A claim from before claims kept milliseconds, taken over now: its second stands, with no milliseconds.
    client.update_item(
        TableName=names.MESSAGES.local_name,
        Key={names.PARTITION_KEY: {"S": f"{names.SEEN_PK_PREFIX}cm#ref-ms"}, names.SORT_KEY: {"S": names.SEEN_SK}},
        UpdateExpression="SET received_at = :old REMOVE received_at_ms",
        ExpressionAttributeValues={":old": {"N": str(NOW - 5)}},
    )
    log.release(retry)
    older = log.claim(
        "cm", "ref-ms", received_at=NOW + 2, now=NOW + 2, lease_seconds=10, ttl=NOW + 3600, received_at_ms=NOW_MS + 2000
    )
    assert (older.received_at, older.received_at_ms) == (NOW - 5, None)


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


# Delivery: an accepted send's record is its claim (`begin_attempt`), a lease until the invocation's deadline.

NOW_MS = NOW * 1000


def _queued_send(client, message_id: str) -> tuple[DynamoMessageLog, MessageRef]:
    log = DynamoMessageLog(client, names.MESSAGES.local_name)
    key_hash = _trial(client).key_hash
    log.record(
        LoggedMessage(key_hash, "outbound", Channel.SMS, "+31612345678", "Hi", NOW, message_id, "{}", NOW, "queued")
    )
    return log, MessageRef(key_hash=key_hash, at=NOW, message_id=message_id)


def _stored_record(client, ref: MessageRef) -> dict[str, Any]:
    key = {
        names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{ref.key_hash}"},
        names.SORT_KEY: {"S": f"{names.MESSAGE_SK_PREFIX}{ref.at:011d}#{ref.message_id}"},
    }
    item: dict[str, Any] = client.get_item(TableName=names.MESSAGES.local_name, Key=key)["Item"]
    return item


def test_a_delivery_attempt_owns_the_record_then_finds_it_in_flight_taken_over_or_finished(client):
    log, ref = _queued_send(client, "m-lease-1")
    first = log.begin_attempt(ref, now_ms=NOW_MS, lease_until_ms=NOW_MS + 900)
    assert (first.state, first.attempts, first.lease_until_ms) == (AttemptState.OWNED, 1, NOW_MS + 900)
    assert first.token
    # While the lease runs (its last millisecond included) another invocation finds it in flight, and until when;
    # nothing is counted.
    busy = log.begin_attempt(ref, now_ms=NOW_MS + 900, lease_until_ms=NOW_MS + 5000)
    assert (busy.state, busy.attempts, busy.lease_until_ms, busy.token) == (
        AttemptState.IN_FLIGHT,
        1,
        NOW_MS + 900,
        "",
    )
    # The holder died: past its lease a later attempt takes the record over, and counts itself.
    second = log.begin_attempt(ref, now_ms=NOW_MS + 901, lease_until_ms=NOW_MS + 5000)
    assert (second.state, second.attempts) == (AttemptState.OWNED, 2)
    assert second.token != first.token
    # The dead holder can neither end the new lease nor write `sent` under its own.
    log.release_attempt(ref, token=first.token)
    assert log.begin_attempt(ref, now_ms=NOW_MS + 902, lease_until_ms=NOW_MS + 5000).state is AttemptState.IN_FLIGHT
    assert not log.set_status(ref, MessageStatus.SENT, at=NOW, provider="cm", lease_token=first.token)
    assert log.set_status(ref, MessageStatus.SENT, at=NOW, provider="cm", lease_token=second.token)
    item = _stored_record(client, ref)
    assert (item["status"]["S"], item["attempts"]["N"]) == ("sent", "2")
    # Delivery is over: no lease outlives it.
    assert "lease_until_ms" not in item
    assert "lease_token" not in item
    finished = log.begin_attempt(ref, now_ms=NOW_MS + 99_999, lease_until_ms=NOW_MS + 200_000)
    assert (finished.state, finished.attempts) == (AttemptState.FINISHED, 2)


def test_a_released_attempt_is_taken_over_at_once_and_a_missing_record_is_no_record(client):
    log, ref = _queued_send(client, "m-lease-2")
    first = log.begin_attempt(ref, now_ms=NOW_MS, lease_until_ms=NOW_MS + 60_000)
    log.release_attempt(ref, token=first.token)
    retry = log.begin_attempt(ref, now_ms=NOW_MS + 1, lease_until_ms=NOW_MS + 60_000)
    assert (retry.state, retry.attempts) == (AttemptState.OWNED, 2)
    missing = MessageRef(key_hash=ref.key_hash, at=NOW, message_id="m-never-recorded")
    assert log.begin_attempt(missing, now_ms=NOW_MS, lease_until_ms=NOW_MS + 1).state is AttemptState.NO_RECORD
    # Failed (the dead-letter consumer, the sweeper): the lease ends with it.
    assert log.set_status(ref, MessageStatus.FAILED, at=NOW, reason="dead-lettered")
    assert "lease_token" not in _stored_record(client, ref)


def test_an_attempt_whose_answer_was_lost_finds_its_own_lease_and_counts_once(client, monkeypatch):
    # The SDK sends the same request again when an answer is lost after the write: the same token, as here.
    log, ref = _queued_send(client, "m-lease-3")
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
    first = log.begin_attempt(ref, now_ms=NOW_MS, lease_until_ms=NOW_MS + 60_000)
    again = log.begin_attempt(ref, now_ms=NOW_MS + 5, lease_until_ms=NOW_MS + 60_005)
    assert (again.state, again.attempts, again.token) == (AttemptState.OWNED, 1, first.token)
    # Its lease is the one the landed write took.
    assert again.lease_until_ms == NOW_MS + 60_000
    assert log.set_status(ref, MessageStatus.SENT, at=NOW, provider="cm", lease_token=again.token)
