"""Which provider carries each channel: the operator's choice per channel (settings), with the sandbox as the
fallback for a channel whose provider lacks its credentials or account ids.

The choice is made per message, so credentials put into the secret after a deploy take effect within the
secret's cache time, without a cold start. Adapters are built once per process and keep their connection pools.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from trialgw.delivery.provider import DeliveryFailed, Provider, ProviderName, SmsSenders
from trialgw.models import Channel
from trialgw.observability import logger
from trialgw.settings import DeliverySettings

# A rotated or newly filled secret is picked up within this many seconds.
SECRET_CACHE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class ProviderCredentials:
    cm_product_token: str | None
    whatsapp_access_token: str | None
    messenger_page_token: str | None
    instagram_access_token: str | None

    def __repr__(self) -> str:
        # Never print a credential, whoever logs this object.
        return "ProviderCredentials(***)"

    def meta_token(self, channel: Channel) -> str | None:
        return {
            Channel.WHATSAPP: self.whatsapp_access_token,
            Channel.MESSENGER: self.messenger_page_token,
            Channel.INSTAGRAM: self.instagram_access_token,
        }.get(channel)


def provider_credentials(settings: DeliverySettings) -> ProviderCredentials:
    """From the Secrets Manager secret in AWS (cached), from settings locally. Raises DeliveryFailed (transient) when
    the secret cannot be read, so the message is retried rather than sent by the wrong provider."""
    if not settings.provider_secrets_name:
        return ProviderCredentials(
            settings.cm_product_token,
            settings.whatsapp_access_token,
            settings.messenger_page_token,
            settings.instagram_access_token,
        )
    from aws_lambda_powertools.utilities import parameters

    try:
        value: Any = parameters.get_secret(
            settings.provider_secrets_name, transform="json", max_age=SECRET_CACHE_SECONDS
        )
    except parameters.exceptions.GetParameterError as error:
        if not _has_no_value(error):
            raise DeliveryFailed(
                f"The provider credentials could not be read ({type(error).__name__}).", transient=True, code="secrets"
            ) from None
        # The stack creates the secret with no value; until the operator sets one, no channel has credentials.
        logger.warning("the provider credentials secret has no value; channels stay on the sandbox")
        return ProviderCredentials(None, None, None, None)
    except parameters.exceptions.TransformParameterError as error:
        raise DeliveryFailed(
            f"The provider credentials could not be read ({type(error).__name__}).", transient=True, code="secrets"
        ) from None
    if not isinstance(value, dict):
        raise DeliveryFailed("The provider credentials secret is not a JSON object.", transient=True, code="secrets")
    return ProviderCredentials(*(str(value.get(key) or "") or None for key in ProviderCredentials.__slots__))


def _has_no_value(error: Exception) -> bool:
    """Whether Secrets Manager answered ResourceNotFoundException: what GetSecretValue says of a secret with no
    value (no AWSCURRENT version), as the stack creates it. Powertools wraps the botocore error it raised in."""
    cause = error.__cause__ or error.__context__
    details = getattr(cause, "response", None)
    return isinstance(details, dict) and details.get("Error", {}).get("Code") == "ResourceNotFoundException"


def _configured(settings: DeliverySettings, channel: Channel) -> ProviderName:
    raw = {
        Channel.SMS: settings.provider_sms,
        Channel.WHATSAPP: settings.provider_whatsapp,
        Channel.MESSENGER: settings.provider_messenger,
        Channel.INSTAGRAM: settings.provider_instagram,
    }[channel]
    return ProviderName(raw)


def _meta_account(settings: DeliverySettings, channel: Channel) -> str | None:
    return {
        Channel.WHATSAPP: settings.whatsapp_phone_number_id,
        Channel.MESSENGER: settings.messenger_page_id,
        Channel.INSTAGRAM: settings.instagram_account_id,
    }.get(channel)


def providers_for(settings: DeliverySettings) -> Callable[[Channel], Provider]:
    """The provider of each channel, chosen per message (see the module docstring). Raises ValueError at start-up
    for a provider name that is none of `ProviderName`, or a provider that cannot carry the channel."""
    chosen = {channel: _configured(settings, channel) for channel in Channel}
    for channel, name in chosen.items():
        if name is ProviderName.AWS_SMS and channel is not Channel.SMS:
            raise ValueError(f"aws-sms carries SMS only, not {channel.value}")
        if name is ProviderName.META and channel is Channel.SMS:
            raise ValueError("meta does not carry SMS")

    @cache
    def built(name: ProviderName) -> Provider:
        return _build(name, settings)

    def provider(channel: Channel) -> Provider:
        name = chosen[channel]
        if name is not ProviderName.SANDBOX and not _has_credentials(name, channel, settings):
            logger.warning("provider lacks credentials; the sandbox delivers", extra={"channel": channel.value})
            name = ProviderName.SANDBOX
        return built(name)

    return provider


def _has_credentials(name: ProviderName, channel: Channel, settings: DeliverySettings) -> bool:
    if name is ProviderName.AWS_SMS:
        # IAM is its credential; the origination identity may be the account's default.
        return True
    credentials = provider_credentials(settings)
    if name is ProviderName.CM:
        return bool(credentials.cm_product_token)
    return bool(credentials.meta_token(channel)) and bool(_meta_account(settings, channel))


def _build(name: ProviderName, settings: DeliverySettings) -> Provider:
    if name is ProviderName.CM:
        from trialgw.delivery.cm import CmProvider

        return CmProvider(
            lambda: provider_credentials(settings).cm_product_token,
            settings.cm_gateway_url,
            settings.cm_senders,
            settings.provider_timeout_seconds,
            sms_senders=_sms_senders(settings),
        )
    if name is ProviderName.META:
        from trialgw.delivery.meta import MetaProvider

        return MetaProvider(
            settings.meta_graph_url,
            settings.whatsapp_phone_number_id,
            settings.messenger_page_id,
            settings.instagram_account_id,
            lambda channel: provider_credentials(settings).meta_token(channel),
            settings.provider_timeout_seconds,
        )
    if name is ProviderName.AWS_SMS:
        from trialgw.delivery.aws_sms import AwsSmsProvider

        return AwsSmsProvider(
            _sms_client, settings.sms_origination_identity, settings.sms_configuration_set, _sms_senders(settings)
        )
    from trialgw.delivery.sandbox import SandboxProvider

    # The sandbox shows the trial company's contact points as senders, unless the operator named CM senders.
    company = {
        Channel.WHATSAPP.value: settings.whatsapp_number,
        Channel.MESSENGER.value: settings.messenger_url,
        Channel.INSTAGRAM.value: settings.instagram_url,
    }
    return SandboxProvider(
        fault=settings.sandbox_fault,
        delay_seconds=settings.sandbox_delay_seconds,
        senders={**company, **settings.cm_senders},
        sms_senders=_sms_senders(settings),
    )


def _sms_senders(settings: DeliverySettings) -> SmsSenders:
    return SmsSenders(settings.trial_sms_sender, developer_allowed=settings.sms_allow_developer_sender)


def _sms_client() -> Any:
    from trialgw.adapters import aws

    return aws.sms_voice()
