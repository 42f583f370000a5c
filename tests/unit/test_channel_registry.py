"""The channel registry: every channel has a complete spec, and each fact it holds is one the rest can use."""

from __future__ import annotations

import pytest

from tests import fake_channel
from trialgw import channels as registry
from trialgw.channels import (
    CHANNELS,
    DEFAULT_CHANNEL,
    Addressing,
    Channel,
    ChannelSpec,
    ContactLink,
    ProviderName,
    check_provider,
    parse_channel,
)
from trialgw.settings import DeliverySettings, TrialSettings

SPECS = list(CHANNELS.values())


def test_every_channel_has_a_spec_and_every_spec_a_channel() -> None:
    assert list(CHANNELS) == list(Channel)
    assert all(channel is spec.channel for channel, spec in CHANNELS.items())
    assert DEFAULT_CHANNEL in CHANNELS


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.channel.value)
def test_each_spec_is_complete(spec: ChannelSpec) -> None:
    trial, delivery = TrialSettings(), DeliverySettings()
    # Its quota, provider and contact point are settings, with values of the right kind.
    assert isinstance(getattr(trial, spec.quota_setting), int)
    assert isinstance(getattr(delivery, spec.provider_setting), ProviderName)
    contact = getattr(trial, spec.contact.setting)
    assert contact, f"{spec.contact.setting} has no default"
    assert isinstance(contact, dict) == (spec.contact.link is ContactLink.SMS)
    # The sandbox carries every channel, so a fresh deploy sends on each.
    assert ProviderName.SANDBOX in spec.providers
    assert spec.contact.instruction.strip()
    assert "{contact}" in spec.contact.whitelist
    assert ("{region}" in spec.contact.instruction) == isinstance(contact, dict)
    assert spec.addressing in Addressing
    assert spec.addressing.noun
    assert spec.addressing.kind


def test_spellings_name_one_channel_each() -> None:
    spellings = [spelling for spec in SPECS for spelling in spec.spellings]
    assert len(spellings) == len(set(spellings))
    for spec in SPECS:
        value = spec.channel.value
        for spelling in (value, value.lower(), value.upper(), value.replace(" ", "")):
            assert parse_channel(spelling) is spec.channel
    assert parse_channel("Viber") is None


def test_short_names_are_unique_because_they_name_headers_and_counters() -> None:
    short = [spec.channel.short_name.lower() for spec in SPECS]
    assert len(short) == len(set(short))


def test_each_provider_carries_a_channel_and_is_refused_where_the_spec_says_no() -> None:
    for name in ProviderName:
        assert registry.carriers(name), name
    for spec in SPECS:
        for name in ProviderName:
            if name in spec.providers:
                check_provider(spec.channel, name)
            else:
                with pytest.raises(ValueError, match=spec.channel.value):
                    check_provider(spec.channel, name)


def test_a_channel_registered_for_a_while_is_removed_again() -> None:
    with fake_channel.telegram() as telegram:
        assert telegram in CHANNELS
    assert telegram not in CHANNELS
    assert parse_channel("Telegram") is None
