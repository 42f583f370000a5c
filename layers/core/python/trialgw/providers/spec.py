"""What a provider package declares about itself: its `ProviderSpec`, which the registry, the stack and the admin
CLI read instead of naming providers.

A provider package (`trialgw.providers.<name>`) keeps its facts in its `__init__` (cheap to import: no HTTP or AWS
client) and its code in submodules loaded on use: `delivery` (the `Provider`), its status-report parser and its
inbound parser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from trialgw.channels import Channel, ProviderName
from trialgw.providers.port import Provider, SmsSenders
from trialgw.settings import DeliverySettings

# A credential by its key in the provider secret (locally, the setting of the same name), read on every call so a
# rotated secret takes effect without a cold start.
CredentialSource = Callable[[str], str | None]


def _nothing(_channel: Channel) -> tuple[str, ...]:
    return ()


class ProviderSpec(NamedTuple):
    """One provider's facts.

    `secret_keys`: the provider secret's keys it reads (each also a `DeliverySettings` field, for the local stack);
    `credentials(channel)`: those it needs to carry `channel`; `accounts(channel)`: the `DeliverySettings` fields
    naming the account it sends `channel` from; `webhook_secret_keys`: the webhook secret's keys its webhooks check;
    `webhook_routes`: the (method, path) routes its webhooks take, in API Gateway's `{param}` syntax (served by the
    mo_webhook function, placed by `infra/topology.py`); `build`: its
    `Provider`, made from the settings, a credential source and the SMS senders.
    """

    name: ProviderName
    build: Callable[[DeliverySettings, CredentialSource, SmsSenders], Provider]
    secret_keys: tuple[str, ...] = ()
    credentials: Callable[[Channel], tuple[str, ...]] = _nothing
    accounts: Callable[[Channel], tuple[str, ...]] = _nothing
    webhook_secret_keys: tuple[str, ...] = ()
    webhook_routes: tuple[tuple[str, str], ...] = ()


def sms_senders(settings: DeliverySettings) -> SmsSenders:
    """Who SMS come from, for every provider that carries SMS."""
    return SmsSenders(settings.trial_sms_sender, developer_allowed=settings.sms_allow_developer_sender)


__all__ = ["CredentialSource", "ProviderSpec", "sms_senders"]
