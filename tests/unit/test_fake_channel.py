"""A fifth channel needs no branch anywhere: Telegram, registered only through the channel registry
(tests/fake_channel.py), is parsed, sent, whitelisted, answered and delivered by the same code as the four."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from infra.local.mo import CM, CompanyAddresses, cm_payload, parse_mo_request
from infra.site_rules import trial_rules
from tests import fake_channel
from tests.cm_requests import cm_send_body
from tests.fakes import (
    FakeCapacityStore,
    FakeClock,
    FakeMessageLog,
    FakeOutboundQueue,
    FakeReplyLimiter,
    FakeSendKeys,
    FakeTrialStore,
    FakeWebhookEventQueue,
    FakeWhitelisting,
    FakeWhitelistStore,
)
from tests.send_answers import send
from trialgw.adapters.dynamo_trials import sent_attribute
from trialgw.channels import CHANNELS, ProviderName, channels, parse_channel
from trialgw.gateway.request import parse_send_request
from trialgw.keys import hash_key, new_key
from trialgw.logic.capacity import CapacityBreaker
from trialgw.logic.inbound import InboundDeps, InboundOutcome, handle_inbound
from trialgw.logic.send import SendDeps
from trialgw.logic.trial_email import ContactPoint, contact_points
from trialgw.models import Channel, Trial
from trialgw.ports import OutboundMessage
from trialgw.providers.cm.delivery import build_cm_request
from trialgw.providers.cm.inbound import parse_cm_mo
from trialgw.providers.registry import chosen_providers, providers_for
from trialgw.providers.sandbox.delivery import DELIVERIES

NOW = 1_800_000_000
ACCOUNT = "5550001234"


@pytest.fixture
def telegram() -> Iterator[Channel]:
    with fake_channel.telegram() as channel:
        yield channel


def _send_deps(trials: FakeTrialStore, outbound: FakeOutboundQueue) -> SendDeps:
    clock = FakeClock(NOW)
    breaker = CapacityBreaker(
        FakeCapacityStore(), clock, limit=1000, window_seconds=3600, cache_seconds=0, flush_seconds=0
    )
    ids = itertools.count(1)
    return SendDeps(
        trials,
        FakeMessageLog(),
        outbound,
        breaker,
        clock,
        new_message_id=lambda: f"m{next(ids)}",
        send_keys=FakeSendKeys(),
    )


def _trial(trials: FakeTrialStore) -> str:
    key = new_key()
    trials.create(Trial(hash_key(key), "Jane", "jane@example.com", None, NOW - 60, NOW + 3600), ttl=NOW + 3600)
    return key


def _body(to: str) -> str:
    return cm_send_body(None, channels=["telegram"], to=[to], content="Hi", sender="Test", reference=None)


def test_it_is_a_channel_like_the_others(telegram: Channel) -> None:
    assert list(channels())[-1] is telegram
    assert parse_channel("TELEGRAM") is telegram
    assert Channel("Telegram") is telegram
    assert fake_channel.TelegramSendSettings().quota_for(telegram) == 30
    assert telegram in fake_channel.TelegramSendSettings().offered_channels
    assert sent_attribute(telegram) == "sent_telegram"


def test_a_send_is_refused_until_whitelisted_then_accepted(telegram: Channel) -> None:
    settings = fake_channel.TelegramSendSettings()
    trials, outbound = FakeTrialStore(), FakeOutboundQueue()
    deps = _send_deps(trials, outbound)
    key = _trial(trials)

    refused = send(parse_send_request(_body(ACCOUNT), "application/json", key), settings, deps)
    assert refused.status == 403
    assert (
        f"send this trial's key on Telegram from that account to {fake_channel.BOT_URL}, then send this message again"
        in refused.body["details"]
    )
    not_an_id = send(parse_send_request(_body("@jane"), "application/json", key), settings, deps)
    assert "is not a Telegram id: the numeric id of the account" in not_an_id.body["details"]

    trials.whitelist(hash_key(key), telegram, ACCOUNT)
    accepted = send(parse_send_request(_body(ACCOUNT), "application/json", key), settings, deps)
    assert accepted.status == 200
    assert accepted.headers["X-Trial-Remaining-Telegram"] == "29"
    (queued,) = outbound.queued
    assert (queued.channel, queued.to) == (telegram, ACCOUNT)


def test_the_key_sent_on_it_whitelists_its_account(telegram: Channel) -> None:
    settings = fake_channel.TelegramMoSettings()
    mo = {
        "reference": "tg-1",
        "from": {"number": f" {ACCOUNT} "},
        "to": {"number": "trialgw_bot"},
        "message": {"text": ""},
        "channel": "telegram",
    }
    trials, outbound = FakeTrialStore(), FakeOutboundQueue()
    whitelist, messages, replies = FakeWhitelistStore(), FakeMessageLog(), FakeReplyLimiter()
    whitelisting = FakeWhitelisting(whitelist, messages, replies)
    deps = InboundDeps(
        trials, whitelist, messages, outbound, replies, FakeClock(NOW), whitelisting, FakeWebhookEventQueue()
    )
    key = _trial(trials)
    (message,) = parse_cm_mo({**mo, "message": {"text": key}}, received_at=NOW)
    assert (message.channel, message.sender) == (telegram, ACCOUNT)
    assert handle_inbound(message, settings, deps) is InboundOutcome.WHITELISTED
    (reply,) = outbound.queued
    assert reply.channel is telegram
    assert "test messages sent to this account will now reach you" in reply.text


def test_it_is_delivered_by_the_provider_its_spec_allows(telegram: Channel) -> None:
    settings = fake_channel.TelegramDeliverySettings()
    assert chosen_providers(settings)[telegram] is ProviderName.SANDBOX
    message = OutboundMessage(channel=telegram, to=ACCOUNT, text="Hi", kind="reply", message_id="tg-reply-1")
    delivered = providers_for(settings)(telegram).deliver(message)
    assert delivered.provider is ProviderName.SANDBOX
    (entry,) = [e for e in DELIVERIES.entries() if e.message_id == "tg-reply-1"]
    assert entry.sender == fake_channel.BOT_URL, "the sandbox shows the company's contact point as the sender"
    msg = build_cm_request(message, "trialgw_bot")["messages"]["msg"][0]  # type: ignore[index]
    assert (msg["allowedChannels"], msg["to"]) == (["Telegram"], [{"number": ACCOUNT}])
    with pytest.raises(ValueError, match="meta does not carry Telegram"):
        chosen_providers(fake_channel.TelegramDeliverySettings(provider_telegram=ProviderName.META))
    with pytest.raises(ValueError, match="aws-sms carries SMS only, not Telegram"):
        chosen_providers(fake_channel.TelegramDeliverySettings(provider_telegram=ProviderName.AWS_SMS))


def test_the_pages_the_e_mail_and_the_local_stack_list_it(telegram: Channel) -> None:
    settings = fake_channel.TelegramSendSettings()
    points = contact_points(settings, new_key())
    bot = fake_channel.BOT_URL
    # A page's link takes no text: its join link (the QR codes') is the link itself.
    assert ContactPoint("Telegram", "Send your key on Telegram to our bot", "", bot, join_link=bot) in points
    assert points[-1].channel == "SMS", "numbers by region still come last"
    rules = trial_rules(settings)
    assert rules["channels"][-1] == {
        "name": "Telegram",
        "short": "Telegram",
        "addressing": "account",
        "quota": 30,
        "regional": False,
    }
    assert rules["quotaGroups"][-1]["channels"] == ["Facebook Messenger", "Instagram", "Telegram"]
    mo = parse_mo_request(json.dumps({"channel": "telegram", "from": ACCOUNT, "text": "hi"}).encode())
    assert (mo.channel, mo.via) == (telegram, CM)
    company = CompanyAddresses(whatsapp_number="+31850876714", sms_number="+3197005159375")
    assert cm_payload(mo, company, reference="r", now=NOW)["channel"] == "Telegram"


def test_it_is_gone_after_the_test() -> None:
    assert [channel.value for channel in CHANNELS] == ["SMS", "WhatsApp", "Facebook Messenger", "Instagram"]
    assert len(Channel) == 4
