import json

import pytest

from tests.fakes import FakeClock, FakeMessageLog, FakeOutboundQueue, FakeTrialStore, FakeWhitelistStore
from trialgw.errors import DependencyUnavailable
from trialgw.keys import KEY_PLACEHOLDER, hash_key, new_key
from trialgw.logic.inbound import InboundDeps, InboundOutcome, handle_inbound
from trialgw.models import Channel, InboundMessage, Trial, TrialStatus
from trialgw.settings import TrialSettings

NOW = 1_800_000_000
SETTINGS = TrialSettings(site_url="https://trial.example.com")


@pytest.fixture
def deps() -> InboundDeps:
    return InboundDeps(
        trials=FakeTrialStore(),
        whitelist=FakeWhitelistStore(),
        messages=FakeMessageLog(),
        outbound=FakeOutboundQueue(),
        clock=FakeClock(NOW),
    )


def _trial(deps: InboundDeps, *, expires_at: int = NOW + 3600, status: TrialStatus = TrialStatus.ACTIVE) -> str:
    key = new_key()
    deps.trials.create(
        Trial(hash_key(key), "Jane", "jane@example.com", None, NOW - 60, expires_at, status), ttl=expires_at
    )
    return key


_ids = iter(range(10**6))


def _mo(text: str | None, sender: str = "+31612345678", channel: Channel = Channel.WHATSAPP) -> InboundMessage:
    return InboundMessage(channel, sender, "+31850876714", text, "cm", f"ref-{next(_ids)}", NOW)


def _replies(deps: InboundDeps) -> list[str]:
    return [m.text for m in deps.outbound.queued]  # type: ignore[attr-defined]


def test_key_in_text_whitelists_records_and_replies(deps):
    key = _trial(deps)
    outcome = handle_inbound(_mo(f"Hi there, my key: {key.upper()} thanks"), SETTINGS, deps)
    assert outcome is InboundOutcome.WHITELISTED
    (membership,) = deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678")
    assert membership.key_hash == hash_key(key)
    (logged,) = deps.messages.recorded
    assert logged.direction == "inbound"
    assert logged.key_hash == hash_key(key)
    payload = json.loads(logged.payload)
    assert payload["channel"] == "WhatsApp"
    assert payload["from"]["number"] == "+31612345678"
    (reply,) = deps.outbound.queued
    assert reply.kind == "reply"
    assert reply.to == "+31612345678"
    assert reply.channel is Channel.WHATSAPP
    assert "whitelisted" in reply.text
    assert "UTC" in reply.text


def test_same_sender_again_takes_no_second_slot(deps):
    key = _trial(deps)
    handle_inbound(_mo(key), SETTINGS, deps)
    assert handle_inbound(_mo(key), SETTINGS, deps) is InboundOutcome.ALREADY_WHITELISTED
    assert len(deps.whitelist.listed[hash_key(key)]) == 1
    assert "already whitelisted" in _replies(deps)[-1]


def test_eleventh_recipient_is_refused(deps):
    key = _trial(deps)
    for i in range(10):
        assert handle_inbound(_mo(key, sender=f"+3161234{i:04d}"), SETTINGS, deps) is InboundOutcome.WHITELISTED
    assert handle_inbound(_mo(key, sender="+31699999999"), SETTINGS, deps) is InboundOutcome.WHITELIST_FULL
    assert "10 whitelisted recipients" in _replies(deps)[-1]
    assert deps.whitelist.memberships(Channel.WHATSAPP, "+31699999999") == []


@pytest.mark.parametrize("kind", ["unknown", "expired", "revoked"])
def test_invalid_or_expired_key_is_explained_and_changes_nothing(deps, kind):
    if kind == "unknown":
        key = new_key()
    elif kind == "expired":
        key = _trial(deps, expires_at=NOW)
    else:
        key = _trial(deps, status=TrialStatus.REVOKED)
    assert handle_inbound(_mo(key), SETTINGS, deps) is InboundOutcome.INVALID_KEY
    assert deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678") == []
    assert deps.messages.recorded == []
    assert "invalid or has expired" in _replies(deps)[-1]


def test_messages_from_whitelisted_senders_are_recorded_until_expiry(deps):
    key = _trial(deps, expires_at=NOW + 10)
    handle_inbound(_mo(key), SETTINGS, deps)
    assert handle_inbound(_mo("hello"), SETTINGS, deps) is InboundOutcome.RECORDED
    # The key is stored only as its hash: the joining message is recorded with it blanked out, text and payload.
    assert [m.text for m in deps.messages.recorded] == [KEY_PLACEHOLDER, "hello"]
    assert key not in deps.messages.recorded[0].payload
    deps.clock.now = NOW + 10
    # At the second the trial expires, the sender is a stranger again.
    assert handle_inbound(_mo("still there?"), SETTINGS, deps) is InboundOutcome.JOIN_HINT


def test_strangers_get_the_join_hint_once_a_day(deps):
    assert handle_inbound(_mo("hello"), SETTINGS, deps) is InboundOutcome.JOIN_HINT
    assert "send the trial key" in _replies(deps)[-1]
    assert handle_inbound(_mo("hello?"), SETTINGS, deps) is InboundOutcome.IGNORED
    deps.clock.now = NOW + 24 * 3600
    assert handle_inbound(_mo("hello??"), SETTINGS, deps) is InboundOutcome.JOIN_HINT
    assert deps.messages.recorded == []


def test_stop_removes_the_sender_from_every_trial(deps):
    first, second = _trial(deps), _trial(deps)
    handle_inbound(_mo(first), SETTINGS, deps)
    handle_inbound(_mo(second), SETTINGS, deps)
    assert handle_inbound(_mo(" stop! "), SETTINGS, deps) is InboundOutcome.STOPPED
    assert deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678") == []
    assert "removed" in _replies(deps)[-1]
    # Not on any trial any more: a second STOP is not answered.
    assert handle_inbound(_mo("STOP"), SETTINGS, deps) is InboundOutcome.IGNORED


def test_whitelisting_is_per_channel(deps):
    key = _trial(deps)
    handle_inbound(_mo(key, sender="+31612345678", channel=Channel.SMS), SETTINGS, deps)
    assert deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678") == []
    assert len(deps.whitelist.memberships(Channel.SMS, "+31612345678")) == 1


def test_a_redelivered_provider_message_is_processed_once(deps):
    key = _trial(deps)
    message = _mo(key)
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.WHITELISTED
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.DUPLICATE
    assert len(deps.outbound.queued) == 1
    assert len(deps.messages.recorded) == 1


def test_a_failure_releases_the_claim_so_the_providers_retry_is_processed(deps):
    key = _trial(deps)
    message = _mo(key)
    deps.outbound.fail = True
    with pytest.raises(DependencyUnavailable):
        handle_inbound(message, SETTINGS, deps)
    assert deps.messages.released == [("cm", message.provider_message_id)]
    deps.outbound.fail = False
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.ALREADY_WHITELISTED
    assert len(deps.outbound.queued) == 1


def test_store_failure_is_unavailable(deps):
    deps.whitelist.fail = True
    with pytest.raises(DependencyUnavailable):
        handle_inbound(_mo("hello"), SETTINGS, deps)
