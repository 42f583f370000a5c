"""The `meta` provider: WhatsApp Cloud API, Messenger and Instagram messaging through Meta's Graph API (`delivery`),
Meta's webhooks with their signature and verify handshake (`inbound`) and WhatsApp's statuses (`status`).

`META_CHANNELS` is the one table of what Meta needs per channel: a channel Meta carries is a row here (and its body
in `delivery`), read by the registry, the stack, the admin CLI, the webhook parser and the local stack.
"""

from __future__ import annotations

from typing import NamedTuple

from trialgw.channels import Channel, ProviderName
from trialgw.providers.port import Provider, SmsSenders
from trialgw.providers.spec import CredentialSource, ProviderSpec
from trialgw.settings import DeliverySettings

PROVIDER = ProviderName.META.value


class MetaChannel(NamedTuple):
    """`token`: the provider secret's key with the channel's access token (locally, the setting of that name);
    `account`: the `DeliverySettings` field naming the number, Page or account it sends from; `webhook_object`: the
    `object` of its webhooks."""

    token: str
    account: str
    webhook_object: str


META_CHANNELS: dict[Channel, MetaChannel] = {
    Channel.WHATSAPP: MetaChannel("whatsapp_access_token", "whatsapp_phone_number_id", "whatsapp_business_account"),
    Channel.MESSENGER: MetaChannel("messenger_page_token", "messenger_page_id", "page"),
    Channel.INSTAGRAM: MetaChannel("instagram_access_token", "instagram_account_id", "instagram"),
}


def token_key(channel: Channel) -> str | None:
    """The provider secret's key with `channel`'s access token, or None for a channel Meta does not carry."""
    row = META_CHANNELS.get(channel)
    return None if row is None else row.token


def _build(settings: DeliverySettings, credential: CredentialSource, _sms: SmsSenders) -> Provider:
    from trialgw.providers.meta.delivery import MetaProvider

    def token(channel: Channel) -> str | None:
        key = token_key(channel)
        return None if key is None else credential(key)

    return MetaProvider(
        settings.meta_graph_url,
        settings.whatsapp_phone_number_id,
        settings.messenger_page_id,
        settings.instagram_account_id,
        token,
        settings.provider_timeout_seconds,
    )


def _credentials(channel: Channel) -> tuple[str, ...]:
    return (row.token,) if (row := META_CHANNELS.get(channel)) else ()


def _accounts(channel: Channel) -> tuple[str, ...]:
    return (row.account,) if (row := META_CHANNELS.get(channel)) else ()


SPEC = ProviderSpec(
    name=ProviderName.META,
    build=_build,
    secret_keys=tuple(row.token for row in META_CHANNELS.values()),
    credentials=_credentials,
    accounts=_accounts,
    webhook_secret_keys=("meta_app_secret", "meta_verify_token"),
    webhook_routes=(("GET", "/webhooks/meta"), ("POST", "/webhooks/meta")),
)

__all__ = ["META_CHANNELS", "PROVIDER", "SPEC", "MetaChannel", "token_key"]
