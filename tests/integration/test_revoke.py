"""Revoking a trial (`trialgw-admin trials revoke`) refuses its key at once: the next send is 401."""

from __future__ import annotations

import pytest

from tests.integration.conftest import load_handler, make_trial
from tests.integration.test_send_handler import (
    PHONE,
    accepted,
    call,
    gw_event,
    refusal,
    send_body,
    sent,
)
from trialgw import names
from trialgw.adapters import aws
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.gateway import answers
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel, TrialStatus


@pytest.fixture
def gw(aws_env):
    return load_handler("send")


def test_a_send_with_a_revoked_key_is_401(gw):
    key = make_trial((Channel.WHATSAPP, PHONE))
    store = DynamoTrialStore(aws.dynamodb(), names.TRIALS.local_name)
    assert call(gw, gw_event(send_body(key))) == accepted()

    assert store.revoke(hash_key(key)) is True
    trial = store.get(hash_key(key))
    assert trial is not None
    assert trial.status is TrialStatus.REVOKED
    assert call(gw, gw_event(send_body(key))) == refusal(401, 101, answers.INVALID_TOKEN)
    assert call(gw, gw_event(send_body(None), headers={"X-CM-PRODUCTTOKEN": key})) == refusal(
        401, 101, answers.INVALID_TOKEN
    )
    # Only the send before the revocation was counted.
    assert sent(key) == {"sent_whatsapp": 1}


def test_revoking_a_trial_that_does_not_exist(gw):
    store = DynamoTrialStore(aws.dynamodb(), names.TRIALS.local_name)
    key_hash = hash_key(new_key())
    assert store.revoke(key_hash) is False
    # The conditional write creates no item.
    assert store.get(key_hash) is None
