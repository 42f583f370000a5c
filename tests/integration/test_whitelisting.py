"""Whitelisting, the record and the reply's count in one transaction (`DynamoWhitelisting`) on moto's real HTTP server.

One call when the recipient is new; every condition that can fail cancels the whole transaction, and each branch
is tried here: already whitelisted and full write nothing, a record written before stays as it was, a reply over the
limit or counted before is left out, and a second cancellation (the items changed in between) fails the call with
nothing written.
"""

from __future__ import annotations

from typing import Any

import pytest

from trialgw import names
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_replies import DynamoReplyLimiter, log_key, reply_digest
from trialgw.adapters.dynamo_trials import DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.adapters.dynamo_whitelisting import DynamoWhitelisting
from trialgw.errors import StoreError
from trialgw.keys import hash_key, new_key
from trialgw.models import Channel, Trial, member_token
from trialgw.ports import LoggedMessage, ReplyCount, Whitelisted, WhitelistOutcome

NOW = 1_800_000_000
PHONE = "+31612345678"
LIMIT = 10
REPLY_LIMIT = 2
WINDOW = 3600


@pytest.fixture
def client(moto_dynamodb):
    return moto_dynamodb


@pytest.fixture
def calls(client) -> list[str]:
    """The DynamoDB operations the client makes from here on."""
    made: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda model, **_: made.append(model.name))
    return made


def _stores(client) -> tuple[DynamoWhitelistStore, DynamoMessageLog, DynamoReplyLimiter]:
    return (
        DynamoWhitelistStore(client, names.WHITELIST.local_name, names.TRIALS.local_name),
        DynamoMessageLog(client, names.MESSAGES.local_name),
        DynamoReplyLimiter(client, names.WHITELIST.local_name),
    )


def _whitelisting(client) -> DynamoWhitelisting:
    return DynamoWhitelisting(client, *_stores(client))


def _trial(client) -> Trial:
    trial = Trial(hash_key(new_key()), "Jane", "jane@example.com", None, NOW, NOW + 3600)
    DynamoTrialStore(client, names.TRIALS.local_name).create(trial, ttl=NOW + 7200)
    return trial


def _record(trial: Trial, ref: str = "ref-1", text: str = "my key: [trial key]") -> LoggedMessage:
    return LoggedMessage(trial.key_hash, "inbound", Channel.WHATSAPP, PHONE, text, NOW, f"cm:{ref}", "{}", NOW + 7200)


def _reply(ref: str = "ref-1", now: int = NOW) -> ReplyCount:
    return ReplyCount(Channel.WHATSAPP, PHONE, now, REPLY_LIMIT, WINDOW, f"cm:{ref}")


def _add(
    client, trial: Trial, *, ref: str = "ref-1", limit: int = LIMIT, text: str = "my key: [trial key]"
) -> Whitelisted:
    return _whitelisting(client).add_recorded(
        trial,
        Channel.WHATSAPP,
        PHONE,
        now=NOW,
        limit=limit,
        ttl=NOW + 7200,
        record=_record(trial, ref, text),
        reply=_reply(ref),
    )


def _whitelisted(client, trial: Trial) -> tuple[bool, bool, bool]:
    """(entry, reverse index, member of the trial item) for PHONE on WhatsApp."""
    whitelist, _, _ = _stores(client)
    entry = any(e.address == PHONE for e in whitelist.entries(trial.key_hash))
    reverse = any(m.key_hash == trial.key_hash for m in whitelist.memberships(Channel.WHATSAPP, PHONE))
    state = DynamoTrialStore(client, names.TRIALS.local_name).state(trial.key_hash)
    member = state is not None and member_token(Channel.WHATSAPP, PHONE) in state.members
    return entry, reverse, member


def _records(client, trial: Trial) -> list[str | None]:
    """The texts of the trial's recorded messages."""
    _, log, _ = _stores(client)
    return [m.text for m in log.page(trial.key_hash, limit=50, cursor=None).messages]


def _counted(client) -> list[str]:
    """The reply ids (digests) in PHONE's reply log."""
    key = log_key(Channel.WHATSAPP, PHONE, limit=REPLY_LIMIT, window_seconds=WINDOW)
    item: dict[str, Any] = client.get_item(TableName=names.WHITELIST.local_name, Key=key, ConsistentRead=True).get(
        "Item", {}
    )
    return [slot["M"]["id"]["S"] for name, slot in sorted(item.items()) if name[0] == "r" and slot["M"]["id"]["S"]]


def _fill_reply_log(client) -> None:
    """PHONE's replies up to the limit, from other messages."""
    _, _, limiter = _stores(client)
    for n in range(REPLY_LIMIT):
        assert limiter.take(
            Channel.WHATSAPP, PHONE, now=NOW, limit=REPLY_LIMIT, window_seconds=WINDOW, reply_id=f"x{n}"
        )


def test_a_new_recipient_is_whitelisted_recorded_and_counted_in_one_call(client, calls):
    trial = _trial(client)
    calls.clear()

    assert _add(client, trial) == Whitelisted(WhitelistOutcome.ADDED, reply_allowed=True)

    assert calls == ["TransactWriteItems"]
    assert _whitelisted(client, trial) == (True, True, True)
    assert _records(client, trial) == ["my key: [trial key]"]
    assert _counted(client) == [reply_digest("cm:ref-1")]


def test_already_whitelisted_writes_nothing(client, calls):
    trial = _trial(client)
    _add(client, trial)
    calls.clear()

    assert _add(client, trial, ref="ref-2", text="again") == Whitelisted(WhitelistOutcome.ALREADY)

    assert calls == ["TransactWriteItems"]
    # Neither the second message's record nor its reply's count: the caller writes what ALREADY needs.
    assert _records(client, trial) == ["my key: [trial key]"]
    assert _counted(client) == [reply_digest("cm:ref-1")]
    state = DynamoTrialStore(client, names.TRIALS.local_name).state(trial.key_hash)
    assert state is not None
    assert len(state.members) == 1


@pytest.mark.parametrize("reason", ["full", "no trial"])
def test_full_or_a_missing_trial_writes_nothing(client, reason):
    trial = _trial(client)
    if reason == "full":
        whitelist, _, _ = _stores(client)
        assert whitelist.add(trial, Channel.SMS, "+31600000001", now=NOW, limit=1, ttl=NOW + 7200) is (
            WhitelistOutcome.ADDED
        )
    else:
        DynamoTrialStore(client, names.TRIALS.local_name).delete(trial.key_hash)

    assert _add(client, trial, limit=1) == Whitelisted(WhitelistOutcome.FULL)

    assert _whitelisted(client, trial)[:2] == (False, False)
    assert _records(client, trial) == []
    assert _counted(client) == []


def test_a_record_written_before_stays_and_the_rest_is_written(client, calls):
    # An earlier attempt of this message recorded it (already whitelisted then), and the sender was taken off since.
    trial = _trial(client)
    _, log, _ = _stores(client)
    log.record(_record(trial, text="first attempt"))
    calls.clear()

    assert _add(client, trial, text="retry") == Whitelisted(WhitelistOutcome.ADDED, reply_allowed=True)

    # The record's condition cancelled the first round; the second wrote the rest.
    assert calls == ["TransactWriteItems", "TransactWriteItems"]
    assert _whitelisted(client, trial) == (True, True, True)
    assert _records(client, trial) == ["first attempt"]
    assert _counted(client) == [reply_digest("cm:ref-1")]


def test_over_the_reply_limit_whitelists_and_records_without_a_reply(client, calls):
    trial = _trial(client)
    _fill_reply_log(client)
    calls.clear()

    assert _add(client, trial) == Whitelisted(WhitelistOutcome.ADDED, reply_allowed=False)

    assert calls == ["TransactWriteItems", "TransactWriteItems"]
    assert _whitelisted(client, trial) == (True, True, True)
    assert _records(client, trial) == ["my key: [trial key]"]
    assert reply_digest("cm:ref-1") not in _counted(client)


def test_a_reply_counted_by_an_earlier_attempt_is_allowed_and_counted_once(client):
    # The earlier attempt counted its reply as the limit's last slot; the whitelist entry is not there (taken off
    # since), so the retry whitelists again and may reply, without a second count.
    trial = _trial(client)
    _, _, limiter = _stores(client)
    limiter.take(Channel.WHATSAPP, PHONE, now=NOW, limit=REPLY_LIMIT, window_seconds=WINDOW, reply_id="other")
    limiter.take(Channel.WHATSAPP, PHONE, now=NOW, limit=REPLY_LIMIT, window_seconds=WINDOW, reply_id="cm:ref-1")

    assert _add(client, trial) == Whitelisted(WhitelistOutcome.ADDED, reply_allowed=True)

    assert _whitelisted(client, trial) == (True, True, True)
    assert _counted(client) == [reply_digest("other"), reply_digest("cm:ref-1")]


def test_a_second_cancellation_fails_with_nothing_written(client):
    # Between the rounds another message of the sender's whitelists it on the same trial: the retry round is
    # cancelled too, and the call fails (503 for the message) rather than guess.
    trial = _trial(client)
    _fill_reply_log(client)
    rounds: list[int] = []

    def meanwhile(**_: Any) -> None:
        rounds.append(1)
        if len(rounds) == 1:
            _stores(client)[0].add(trial, Channel.WHATSAPP, PHONE, now=NOW, limit=LIMIT, ttl=NOW + 7200)

    client.meta.events.register("after-call.dynamodb.TransactWriteItems", meanwhile)
    try:
        with pytest.raises(StoreError, match="could not whitelist"):
            _add(client, trial)
    finally:
        client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", meanwhile)

    assert len(rounds) == 3  # the two rounds, and the concurrent whitelisting between them
    assert _records(client, trial) == []


def test_record_and_count_for_an_already_whitelisted_sender(client, calls):
    trial = _trial(client)
    whitelisting = _whitelisting(client)
    calls.clear()

    assert whitelisting.record_counted(_record(trial), _reply()) is True
    assert calls == ["TransactWriteItems"]
    assert _records(client, trial) == ["my key: [trial key]"]
    assert _counted(client) == [reply_digest("cm:ref-1")]

    # The provider's retry of the message: both written already, so one call, nothing more, the reply allowed.
    calls.clear()
    assert whitelisting.record_counted(_record(trial, text="retry"), _reply()) is True
    assert calls == ["TransactWriteItems"]
    assert _records(client, trial) == ["my key: [trial key]"]
    assert _counted(client) == [reply_digest("cm:ref-1")]


def test_record_and_count_over_the_limit_records_without_a_reply(client, calls):
    trial = _trial(client)
    _fill_reply_log(client)
    calls.clear()

    assert _whitelisting(client).record_counted(_record(trial), _reply()) is False

    assert calls == ["TransactWriteItems", "TransactWriteItems"]
    assert _records(client, trial) == ["my key: [trial key]"]
    assert reply_digest("cm:ref-1") not in _counted(client)
