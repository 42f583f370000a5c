"""Idempotency-Keys of sends on moto's server: one owner at a time, the first answer kept, a lease that runs out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from trialgw import names
from trialgw.adapters.dynamo_send_keys import DynamoSendKeys
from trialgw.errors import StoreError
from trialgw.ports import SendKeyState

NOW = 1_800_000_000
TRIAL = "a" * 64


@pytest.fixture
def keys(moto_dynamodb) -> DynamoSendKeys:
    return DynamoSendKeys(moto_dynamodb, names.MESSAGES.local_name)


def _claim(keys: DynamoSendKeys, *, fingerprint: str = "fp-1", message_id: str = "m-1", now: int = NOW, key: str = "k"):
    return keys.claim(TRIAL, key, fingerprint=fingerprint, message_id=message_id, now=now, lease_seconds=30)


def test_the_first_claim_owns_the_key_with_its_message(keys):
    claim = _claim(keys)
    assert (claim.state, claim.message_id, claim.at, claim.lease_until) == (SendKeyState.OWNED, "m-1", NOW, NOW + 30)
    assert claim.token


def test_while_the_lease_runs_the_same_request_is_busy_and_another_body_is_refused(keys):
    _claim(keys)
    busy = _claim(keys, message_id="m-2", now=NOW + 29)
    assert (busy.state, busy.lease_until) == (SendKeyState.BUSY, NOW + 30)
    assert _claim(keys, fingerprint="fp-other", now=NOW + 29).state is SendKeyState.REUSED


def test_a_completed_key_gives_its_answer_and_never_another(keys):
    _claim(keys)
    keys.complete(TRIAL, "k", answer='{"status": 200}', ttl=NOW + 86400)
    answered = _claim(keys, message_id="m-2", now=NOW + 3600)
    assert (answered.state, answered.answer) == (SendKeyState.ANSWERED, '{"status": 200}')
    assert _claim(keys, fingerprint="fp-other", now=NOW + 3600).state is SendKeyState.REUSED


def test_after_the_lease_the_retry_takes_the_key_over_with_the_same_message(keys):
    first = _claim(keys)
    retry = _claim(keys, message_id="m-2", now=NOW + 30)
    assert (retry.state, retry.message_id, retry.at) == (SendKeyState.OWNED, "m-1", NOW)
    assert retry.token != first.token
    # The first holder, back from the dead, cannot give away the key it lost.
    keys.release(TRIAL, "k", token=first.token)
    assert _claim(keys, now=NOW + 31).state is SendKeyState.BUSY
    keys.release(TRIAL, "k", token=retry.token)
    assert _claim(keys, message_id="m-3", now=NOW + 31).message_id == "m-3"


def test_keys_are_per_trial_and_per_key(keys):
    _claim(keys)
    assert _claim(keys, key="other", message_id="m-2").message_id == "m-2"
    other_trial = keys.claim("b" * 64, "k", fingerprint="fp-1", message_id="m-3", now=NOW, lease_seconds=30)
    assert other_trial.state is SendKeyState.OWNED


def test_concurrent_requests_with_one_key_have_one_owner(keys):
    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = list(pool.map(lambda i: _claim(keys, message_id=f"m-{i}"), range(16)))
    owners = [claim for claim in claims if claim.state is SendKeyState.OWNED]
    assert len(owners) == 1
    assert {claim.state for claim in claims} - {SendKeyState.OWNED} == {SendKeyState.BUSY}


def test_a_store_that_fails_is_a_store_error(keys, moto_dynamodb):
    moto_dynamodb.delete_table(TableName=names.MESSAGES.local_name)
    with pytest.raises(StoreError):
        _claim(keys)
