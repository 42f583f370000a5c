import json

import pytest

from tests.fakes import (
    FakeClock,
    FakeMessageLog,
    FakeOutboundQueue,
    FakeReplyLimiter,
    FakeTrialStore,
    FakeWebhookEventQueue,
    FakeWhitelisting,
    FakeWhitelistStore,
)
from trialgw.errors import DependencyUnavailable
from trialgw.join_codes import hash_join_code, join_code, join_text
from trialgw.keys import KEY_PLACEHOLDER, hash_key, new_key
from trialgw.logic.inbound import InboundDeps, InboundOutcome, handle_inbound, reply_message_id
from trialgw.logic.webhook_forwarding import event_id
from trialgw.models import Channel, InboundMessage, Trial, TrialStatus
from trialgw.observability import metrics
from trialgw.settings import MoWebhookSettings
from trialgw.webhook_events import WebhookEvent, WebhookKind

NOW = 1_800_000_000
SETTINGS = MoWebhookSettings(site_url="https://trial.example.com")


@pytest.fixture
def deps() -> InboundDeps:
    whitelist, messages, replies = FakeWhitelistStore(), FakeMessageLog(), FakeReplyLimiter()
    return InboundDeps(
        trials=FakeTrialStore(),
        whitelist=whitelist,
        messages=messages,
        outbound=FakeOutboundQueue(),
        replies=replies,
        clock=FakeClock(NOW),
        whitelisting=FakeWhitelisting(whitelist, messages, replies),
        webhook_events=FakeWebhookEventQueue(),
    )


def _trial(deps: InboundDeps, *, expires_at: int = NOW + 3600, status: TrialStatus = TrialStatus.ACTIVE) -> str:
    key = new_key()
    deps.trials.create(
        Trial(hash_key(key), "Jane", "jane@example.com", None, NOW - 60, expires_at, status),
        ttl=expires_at,
        join_hash=hash_join_code(join_code(key)),
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


# --- the per-sender reply limit ---------------------------------------------------------------------------------


@pytest.fixture
def suppressed_metric():
    """How many RepliesSuppressed the use case added (Powertools keeps metrics until they are flushed)."""
    metrics.clear_metrics()

    def count() -> int:
        values = metrics.metric_set.get("RepliesSuppressed", {}).get("Value", [])
        return int(sum(values))

    yield count
    metrics.clear_metrics()


def test_twenty_dead_keys_from_one_phone_get_the_limit_in_replies_and_another_phone_its_own(
    deps, suppressed_metric, caplog
):
    assert SETTINGS.reply_limit_per_sender == 5
    attacker, other = "+31611111111", "+31622222222"
    keys = [new_key() for _ in range(20)]
    outcomes = [handle_inbound(_mo(key, sender=attacker), SETTINGS, deps) for key in keys]
    # Every message is processed as before (the outcome says so); only the replies stop.
    assert outcomes == [InboundOutcome.INVALID_KEY] * 20
    assert [m.to for m in deps.outbound.queued] == [attacker] * 5
    assert suppressed_metric() == 15
    # Logged with the number masked, and never the text (the dead keys).
    suppressed = [r for r in caplog.records if r.getMessage() == "reply suppressed: sender over the reply limit"]
    assert len(suppressed) == 15
    assert {(r.sender, r.outcome, r.reply_limit) for r in suppressed} == {("+316******11", "invalid_key", 5)}
    logged = str([vars(r) for r in suppressed])
    assert attacker not in logged
    assert not any(key in logged for key in keys)

    assert handle_inbound(_mo(new_key(), sender=other), SETTINGS, deps) is InboundOutcome.INVALID_KEY
    assert [m.to for m in deps.outbound.queued][-1] == other


def test_above_the_limit_the_message_is_still_whitelisted_recorded_and_stopped_without_a_reply(deps):
    settings = SETTINGS.model_copy(update={"reply_limit_per_sender": 1})
    assert handle_inbound(_mo(new_key()), settings, deps) is InboundOutcome.INVALID_KEY
    assert len(deps.outbound.queued) == 1

    key = _trial(deps)
    assert handle_inbound(_mo(key), settings, deps) is InboundOutcome.WHITELISTED
    assert [m.key_hash for m in deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678")] == [hash_key(key)]
    assert handle_inbound(_mo("hello"), settings, deps) is InboundOutcome.RECORDED
    assert [m.text for m in deps.messages.recorded] == [KEY_PLACEHOLDER, "hello"]
    assert handle_inbound(_mo("STOP"), settings, deps) is InboundOutcome.STOPPED
    assert deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678") == []
    # The join hint counts too, and its daily claim is spent: no hint today either way.
    assert handle_inbound(_mo("hello?"), settings, deps) is InboundOutcome.JOIN_HINT
    assert len(deps.outbound.queued) == 1
    assert [allowed for *_, allowed in deps.replies.takes] == [True, False, False, False]


def test_the_window_rolls_rather_than_restarting(deps):
    settings = SETTINGS.model_copy(update={"reply_limit_per_sender": 2, "reply_window_seconds": 100})
    replied = []
    for offset in (0, 50, 99, 100, 120, 150):
        deps.clock.now = NOW + offset
        before = len(deps.outbound.queued)
        handle_inbound(_mo(new_key()), settings, deps)
        replied.append(len(deps.outbound.queued) > before)
    # At 100 the reply of 0 left the window; at 120 the ones of 50 and 100 are both still in it, which a fixed
    # window starting at 100 would not see; at 150 the one of 50 left.
    assert replied == [True, True, False, True, False, True]


def test_the_limit_is_per_sender_and_channel(deps):
    settings = SETTINGS.model_copy(update={"reply_limit_per_sender": 1})
    for sender, channel in [
        ("+31612345678", Channel.WHATSAPP),
        ("+31612345678", Channel.SMS),
        ("+31687654321", Channel.WHATSAPP),
        ("+31612345678", Channel.WHATSAPP),
    ]:
        handle_inbound(_mo(new_key(), sender=sender, channel=channel), settings, deps)
    assert [(m.channel, m.to) for m in deps.outbound.queued] == [
        (Channel.WHATSAPP, "+31612345678"),
        (Channel.SMS, "+31612345678"),
        (Channel.WHATSAPP, "+31687654321"),
    ]


def test_a_retry_after_a_failed_enqueue_is_not_counted_twice(deps):
    settings = SETTINGS.model_copy(update={"reply_limit_per_sender": 1})
    key = _trial(deps)
    message = _mo(key)
    deps.outbound.fail = True
    with pytest.raises(DependencyUnavailable):
        handle_inbound(message, settings, deps)
    deps.outbound.fail = False
    # The provider's retry: its reply was counted the first time, and is sent now within the limit of one.
    assert handle_inbound(message, settings, deps) is InboundOutcome.ALREADY_WHITELISTED
    assert len(deps.outbound.queued) == 1
    assert deps.replies.log[(Channel.WHATSAPP, "+31612345678")] == [(NOW, f"cm:{message.provider_message_id}")]


def test_a_failing_limiter_fails_the_message_for_the_providers_retry(deps):
    key = _trial(deps)
    message = _mo(key)
    deps.replies.fail = True
    with pytest.raises(DependencyUnavailable):
        handle_inbound(message, SETTINGS, deps)
    # Neither sent unlimited nor silently dropped: nothing queued, the claim released for the retry.
    assert deps.outbound.queued == []
    assert deps.messages.released == [("cm", message.provider_message_id)]
    # The count is part of the whitelisting's one write: none of it was written, so the retry whitelists.
    assert deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678") == []
    assert deps.messages.recorded == []
    deps.replies.fail = False
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.WHITELISTED
    assert "You are whitelisted" in _replies(deps)[-1]


# --- claims are leases ------------------------------------------------------------------------------------------

LEASE = SETTINGS.inbound_lease_seconds


def _claim_as_a_dead_invocation(deps: InboundDeps, message: InboundMessage) -> None:
    """The claim an invocation made before it died (a crash, a timeout): never completed, never released."""
    claim = deps.messages.claim(
        message.provider,
        message.provider_message_id,
        received_at=message.received_at,
        now=int(deps.clock()),
        lease_seconds=LEASE,
        ttl=NOW + 7 * 24 * 3600,
    )
    assert claim.state.value == "owned"


def test_a_claim_left_by_a_dead_invocation_holds_off_retries_only_until_its_lease_runs_out(deps):
    key = _trial(deps)
    message = _mo(key)
    _claim_as_a_dead_invocation(deps, message)

    # Within the lease the holder may still finish: the provider is asked to retry, not told "duplicate".
    deps.clock.now = NOW + LEASE
    with pytest.raises(DependencyUnavailable) as busy:
        handle_inbound(message, SETTINGS, deps)
    assert busy.value.retry_after_seconds == 1
    assert deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678") == []

    # Past it, the retry (arriving later, with its own arrival time) is processed, once.
    deps.clock.now = NOW + LEASE + 1
    retry = message._replace(received_at=NOW + LEASE + 1)
    assert handle_inbound(retry, SETTINGS, deps) is InboundOutcome.WHITELISTED
    assert len(deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678")) == 1
    assert len(deps.outbound.queued) == 1
    # Recorded at the time the message first arrived.
    assert [m.at for m in deps.messages.recorded] == [NOW]
    assert handle_inbound(retry, SETTINGS, deps) is InboundOutcome.DUPLICATE


def test_a_busy_answer_asks_for_a_retry_when_the_lease_ends(deps):
    message = _mo("hello")
    _claim_as_a_dead_invocation(deps, message)
    with pytest.raises(DependencyUnavailable) as busy:
        handle_inbound(message, SETTINGS, deps)
    assert busy.value.retry_after_seconds == LEASE
    assert "being processed" in busy.value.message


def test_a_failed_completion_leaves_a_processed_message_that_a_late_redelivery_repeats_harmlessly(deps, caplog):
    key = _trial(deps)
    message = _mo(key)
    deps.messages.fail_complete = True

    # Processed: answered as such, although the claim could not be marked done.
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.WHITELISTED
    assert any("claim not completed" in r.getMessage() for r in caplog.records)
    deps.messages.fail_complete = False

    deps.clock.now = NOW + LEASE + 5
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.ALREADY_WHITELISTED
    # No second slot, no second record, the reply counted once and queued under the same id (delivery sends it once).
    assert len(deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678")) == 1
    assert len(deps.messages.recorded) == 1
    assert len(deps.replies.log[(Channel.WHATSAPP, "+31612345678")]) == 1
    assert len({m.message_id for m in deps.outbound.queued}) == 1
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.DUPLICATE


def test_an_unexpected_error_releases_the_claim_and_propagates(deps, monkeypatch):
    key = _trial(deps)
    message = _mo(key)

    def broken(_key_hash: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(deps.trials, "get", broken)
    with pytest.raises(RuntimeError):
        handle_inbound(message, SETTINGS, deps)
    assert deps.messages.released == [("cm", message.provider_message_id)]
    monkeypatch.undo()
    # The retry need not wait for the lease.
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.WHITELISTED


def test_a_release_that_fails_leaves_the_retry_to_the_lease(deps, caplog):
    key = _trial(deps)
    message = _mo(key)
    deps.outbound.fail = True
    deps.messages.fail_release = True
    with pytest.raises(DependencyUnavailable):
        handle_inbound(message, SETTINGS, deps)
    assert any("processed once its lease ends" in r.getMessage() for r in caplog.records)
    deps.outbound.fail = deps.messages.fail_release = False
    with pytest.raises(DependencyUnavailable):
        handle_inbound(message, SETTINGS, deps)
    deps.clock.now = NOW + LEASE + 1
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.ALREADY_WHITELISTED
    assert len(deps.outbound.queued) == 1


def test_every_reply_of_one_message_has_one_id_and_two_messages_two(deps):
    first, second = _mo(new_key()), _mo(new_key())
    handle_inbound(first, SETTINGS, deps)
    handle_inbound(second, SETTINGS, deps)
    # Another arrival of the same message (a provider's retry) has the same reply id.
    assert reply_message_id(first) == reply_message_id(first._replace(received_at=NOW + 600))
    assert [m.message_id for m in deps.outbound.queued] == [reply_message_id(first), reply_message_id(second)]
    assert reply_message_id(first) != reply_message_id(second)
    assert all(len(m.message_id) == 32 for m in deps.outbound.queued)


def test_inbound_messages_get_increasing_milliseconds_within_their_second(deps):
    key = _trial(deps)
    handle_inbound(_mo(key), SETTINGS, deps)
    for n in range(3):
        assert handle_inbound(_mo(f"hello {n}"), SETTINGS, deps) is InboundOutcome.RECORDED
    stamps = [m.at_ms for m in deps.messages.recorded]
    assert all(m.at == NOW for m in deps.messages.recorded)
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 4
    assert all(s is not None and s // 1000 == NOW for s in stamps)


def test_a_retry_records_at_the_first_claims_millisecond(deps):
    key = _trial(deps)
    handle_inbound(_mo(key), SETTINGS, deps)
    message = _mo("hello")
    deps.outbound.fail = True
    deps.messages.fail_record = True
    with pytest.raises(DependencyUnavailable):
        handle_inbound(message, SETTINGS, deps)
    first_ms = deps.messages.claims[("cm", message.provider_message_id)].received_at_ms
    deps.outbound.fail = deps.messages.fail_record = False
    deps.clock.now = NOW + 0.5
    handle_inbound(message, SETTINGS, deps)
    (recorded,) = [m for m in deps.messages.recorded if m.text == "hello"]
    assert recorded.at_ms == first_ms


def test_a_message_handled_after_its_second_keeps_to_that_second(deps):
    key = _trial(deps)
    deps.clock.now = NOW + 2.5
    handle_inbound(_mo(key), SETTINGS, deps)
    (recorded,) = deps.messages.recorded
    assert (recorded.at, recorded.at_ms) == (NOW, NOW * 1000 + 999)


# The join code (`join amber-fox-river-482`, trialgw.join_codes) whitelists like the key.


@pytest.mark.parametrize("channel", list(Channel))
def test_the_join_code_whitelists_on_every_channel_like_the_key(deps, channel):
    key = _trial(deps)
    sender = "+31612345678" if channel in (Channel.SMS, Channel.WHATSAPP) else "1234567890"
    typed = join_text(key).upper().replace("-", " ")
    assert handle_inbound(_mo(typed, sender, channel), SETTINGS, deps) is InboundOutcome.WHITELISTED
    (membership,) = deps.whitelist.memberships(channel, sender)
    assert membership.key_hash == hash_key(key)
    assert "You are whitelisted" in deps.outbound.queued[-1].text
    # Again: already whitelisted, no second slot; the key says the same.
    assert handle_inbound(_mo(join_text(key), sender, channel), SETTINGS, deps) is InboundOutcome.ALREADY_WHITELISTED
    assert handle_inbound(_mo(key, sender, channel), SETTINGS, deps) is InboundOutcome.ALREADY_WHITELISTED
    assert len(deps.whitelist.listed[hash_key(key)]) == 1


@pytest.mark.parametrize("kind", ["unknown", "expired", "revoked"])
def test_an_unknown_or_ended_trials_code_is_explained_and_changes_nothing(deps, kind):
    if kind == "unknown":
        key = new_key()
    else:
        key = _trial(deps, expires_at=NOW) if kind == "expired" else _trial(deps, status=TrialStatus.REVOKED)
    assert handle_inbound(_mo(join_text(key)), SETTINGS, deps) is InboundOutcome.INVALID_KEY
    assert deps.whitelist.memberships(Channel.WHATSAPP, "+31612345678") == []
    assert "That join code is invalid or has expired" in deps.outbound.queued[-1].text


# The trial's own webhook events (issue 18): a message recorded for a trial is that trial's `inbound` event.


def _events(deps: InboundDeps) -> list[WebhookEvent]:
    return deps.webhook_events.events  # type: ignore[attr-defined,no-any-return]


def test_a_recorded_message_is_one_inbound_event_per_trial_it_is_recorded_for(deps):
    first, second = _trial(deps), _trial(deps, expires_at=NOW + 7200)
    handle_inbound(_mo(first), SETTINGS, deps)
    handle_inbound(_mo(join_text(second)), SETTINGS, deps)
    # Joining (by key or code) is the gateway's business: no event.
    assert _events(deps) == []
    message = _mo("Grüße, see you at 5")
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.RECORDED
    events = _events(deps)
    recorded = {m.key_hash: m for m in deps.messages.recorded if m.text == "Grüße, see you at 5"}
    assert {e.key_hash for e in events} == {hash_key(first), hash_key(second)} == set(recorded)
    for event in events:
        record = recorded[event.key_hash]
        assert event.kind is WebhookKind.INBOUND
        # The dashboard's CM MO JSON, compact; the record's expiry; an id made of the trial and the message.
        assert json.loads(event.payload) == json.loads(record.payload)
        assert json.loads(event.payload)["message"]["text"] == "Grüße, see you at 5"
        assert event.ttl == record.ttl
        assert event.event_id == event_id(event.key_hash, record.message_id)
        assert event.created_at_ms // 1000 == NOW
    assert events[0].ttl != events[1].ttl


def test_a_providers_retry_of_a_recorded_message_makes_the_same_event_again(deps):
    key = _trial(deps)
    handle_inbound(_mo(key), SETTINGS, deps)
    message = _mo("hello")
    deps.messages.fail_complete = True
    handle_inbound(message, SETTINGS, deps)
    deps.messages.fail_complete = False
    deps.clock.now = NOW + SETTINGS.inbound_lease_seconds + 1
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.RECORDED
    first, again = _events(deps)
    assert first.event_id == again.event_id
    assert first.payload == again.payload


@pytest.mark.parametrize("text", ["STOP", "stop!"])
def test_stop_keys_codes_and_strangers_make_no_event(deps, text):
    key = _trial(deps)
    assert handle_inbound(_mo("hello"), SETTINGS, deps) is InboundOutcome.JOIN_HINT
    assert handle_inbound(_mo(key), SETTINGS, deps) is InboundOutcome.WHITELISTED
    assert handle_inbound(_mo(key), SETTINGS, deps) is InboundOutcome.ALREADY_WHITELISTED
    assert handle_inbound(_mo(join_text(key)), SETTINGS, deps) is InboundOutcome.ALREADY_WHITELISTED
    assert handle_inbound(_mo(new_key()), SETTINGS, deps) is InboundOutcome.INVALID_KEY
    assert handle_inbound(_mo(text), SETTINGS, deps) is InboundOutcome.STOPPED
    assert _events(deps) == []


def test_a_failing_webhook_queue_loses_the_event_never_the_message(deps):
    key = _trial(deps)
    handle_inbound(_mo(key), SETTINGS, deps)
    deps.webhook_events.fail = True
    metrics.clear_metrics()
    message = _mo("hello")
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.RECORDED
    assert [m.text for m in deps.messages.recorded][-1] == "hello"
    assert _events(deps) == []
    # Processed: the claim is completed, not released for a provider's retry.
    assert deps.messages.released == []
    assert handle_inbound(message, SETTINGS, deps) is InboundOutcome.DUPLICATE
    assert sum(metrics.metric_set.get("WebhookEventsNotQueued", {}).get("Value", [])) == 1
    metrics.clear_metrics()
