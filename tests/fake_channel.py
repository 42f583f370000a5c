"""A fifth channel, added for one test through the channel registry: what a new channel's author writes.

A real channel is a `Channel` member and its `ChannelSpec` in `trialgw/channels.py`, plus its settings fields
(docs/adding-a-channel.md). Here the member is added to the enum at run time and removed afterwards, and the
settings fields live in subclasses of the functions' settings, so the other tests never see Telegram.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from trialgw.channels import (
    Addressing,
    Channel,
    ChannelSpec,
    ContactLink,
    ContactSpec,
    ProviderName,
    register,
    unregister,
)
from trialgw.settings import DeliverySettings, MoWebhookSettings, SendSettings

NAME, VALUE = "TELEGRAM", "Telegram"
BOT_URL = "https://t.me/trialgw_bot"


class TelegramSendSettings(SendSettings):
    telegram_url: str = BOT_URL


class TelegramMoSettings(MoWebhookSettings):
    telegram_url: str = BOT_URL


class TelegramDeliverySettings(DeliverySettings):
    telegram_url: str = BOT_URL
    provider_telegram: ProviderName = ProviderName.SANDBOX


def _add_member() -> Channel:
    # What `class Channel(StrEnum)` does for a member written in its body (CPython's Enum keeps these three maps).
    member = str.__new__(Channel, VALUE)
    member._name_ = NAME
    member._value_ = VALUE
    Channel._member_map_[NAME] = member
    Channel._value2member_map_[VALUE] = member
    Channel._member_names_.append(NAME)
    return member


def _remove_member() -> None:
    Channel._member_map_.pop(NAME, None)
    Channel._value2member_map_.pop(VALUE, None)
    if NAME in Channel._member_names_:
        Channel._member_names_.remove(NAME)


def spec(channel: Channel) -> ChannelSpec:
    return ChannelSpec(
        channel=channel,
        addressing=Addressing.ACCOUNT,
        quota_setting="quota_other",
        provider_setting="provider_telegram",
        providers=frozenset({ProviderName.SANDBOX, ProviderName.CM}),
        contact=ContactSpec(
            setting="telegram_url",
            link=ContactLink.URL,
            instruction="Send your key on Telegram to our bot",
            whitelist="on Telegram from that account to {contact}",
        ),
    )


@contextmanager
def telegram() -> Iterator[Channel]:
    """Telegram registered as a fifth channel for the duration of the block."""
    channel = _add_member()
    try:
        register(spec(channel))
        yield channel
    finally:
        unregister(channel)
        _remove_member()
