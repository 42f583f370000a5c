"""Which provider carries each channel: the operator's choice per channel (settings).

The sandbox carries a channel only when it is the choice for it. A channel set to a provider that lacks its
credential (in the provider secret; locally, a setting) or its account id (a setting) is not configured: it fails
closed, every message failing at once with a reason that names what the operator must set ("channel not
configured: ..."), never handed to the sandbox, which would record it `sent` although nothing reached a phone.

The choice is made per message, so credentials put into the secret after a deploy take effect within the
secret's cache time, without a cold start. Adapters are built once per process and keep their connection pools.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from trialgw.channels import CHANNELS, check_provider, single_contact
from trialgw.delivery.provider import NOT_CONFIGURED, Delivered, DeliveryFailed, Provider, ProviderName, SmsSenders
from trialgw.models import Channel
from trialgw.observability import logger
from trialgw.ports import OutboundMessage
from trialgw.settings import DeliverySettings, env_var

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

    from trialgw.adapters import aws

    # Within the time budget's limits (Powertools' own client would wait up to a minute).
    aws.budget_secrets()
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
        logger.warning(
            "the provider credentials secret has no value; every channel set to a provider is not configured"
        )
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


# What a provider needs for a channel beyond IAM: its credential (a key of the provider secret, and locally the
# setting of the same name) and the account it sends from (a setting, a deploy-time knob in AWS).
_META_TOKENS = {
    Channel.WHATSAPP: "whatsapp_access_token",
    Channel.MESSENGER: "messenger_page_token",
    Channel.INSTAGRAM: "instagram_access_token",
}
_META_ACCOUNTS = {
    Channel.WHATSAPP: "whatsapp_phone_number_id",
    Channel.MESSENGER: "messenger_page_id",
    Channel.INSTAGRAM: "instagram_account_id",
}


def required_credentials(name: ProviderName, channel: Channel) -> tuple[str, ...]:
    """The provider secret's keys `name` needs to carry `channel` (aws-sms: none, IAM is its credential)."""
    if name is ProviderName.CM:
        return ("cm_product_token",)
    if name is ProviderName.META and channel in _META_TOKENS:
        return (_META_TOKENS[channel],)
    return ()


def required_accounts(name: ProviderName, channel: Channel) -> tuple[str, ...]:
    """The settings fields naming the account `name` sends `channel` from (aws-sms: the origination identity may be
    the account's default; cm: the senders are optional)."""
    return (_META_ACCOUNTS[channel],) if name is ProviderName.META and channel in _META_ACCOUNTS else ()


def chosen_providers(settings: DeliverySettings) -> dict[Channel, ProviderName]:
    """The operator's provider for each channel (the settings field its registry spec names). Raises ValueError for
    a provider name that is none of `ProviderName`, or a provider the channel's spec does not allow."""
    chosen = {spec.channel: ProviderName(getattr(settings, spec.provider_setting)) for spec in CHANNELS.values()}
    for channel, name in chosen.items():
        check_provider(channel, name)
    return chosen


def missing_accounts(settings: DeliverySettings, channel: Channel) -> tuple[str, ...]:
    """The account ids the channel's chosen provider needs and the settings lack (what a deploy can check)."""
    name = chosen_providers(settings)[channel]
    return tuple(field for field in required_accounts(name, channel) if not getattr(settings, field))


def providers_for(settings: DeliverySettings) -> Callable[[Channel], Provider]:
    """The provider of each channel, chosen per message (see the module docstring). Raises ValueError at start-up
    for a provider name that is none of `ProviderName`, or a provider that cannot carry the channel."""
    chosen = chosen_providers(settings)

    @cache
    def built(name: ProviderName) -> Provider:
        return _build(name, settings)

    def provider(channel: Channel) -> Provider:
        name = chosen[channel]
        if name is ProviderName.SANDBOX:
            return built(name)
        # Reading the credentials may fail like a delivery: transiently (DeliveryFailed), and the message is retried.
        credentials = provider_credentials(settings)
        missing = tuple(key for key in required_credentials(name, channel) if not _credential(credentials, key))
        missing += missing_accounts(settings, channel)
        if missing:
            return NotConfigured(name, not_configured_reason(settings, channel, name, missing))
        return built(name)

    return provider


def _credential(credentials: ProviderCredentials, key: str) -> str | None:
    value = getattr(credentials, key)
    return value if isinstance(value, str) else None


def not_configured_reason(
    settings: DeliverySettings, channel: Channel, name: ProviderName, missing: tuple[str, ...]
) -> str:
    """Why a message on a channel that is not configured failed: for the developer, that nothing was sent and why;
    for the operator, what to set, where (names only, never a value)."""
    accounts = set(required_accounts(name, channel))
    actions = []
    for field in missing:
        if field not in accounts and settings.provider_secrets_name:
            actions.append(f"trialgw-admin providers set-credential {field} --stack <stack>")
        elif field in accounts and settings.provider_secrets_name:
            actions.append(f"deploy with -c {_camel(field)}=<id>")
        else:
            actions.append(f"set {env_var(field)}")
    lacking = " and ".join(missing)
    return (
        f"channel not configured: {channel.value} is set to the {name.value} provider, whose {lacking} "
        f"{'is' if len(missing) == 1 else 'are'} missing, so nothing was sent (operator: {'; '.join(actions)})"
    )


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.capitalize() for part in rest)


class NotConfigured:
    """Stands in for the chosen provider of a channel that is not configured: every message fails at once, as a
    permanent failure (retries cannot help until the operator acts, and then the next message goes through)."""

    def __init__(self, name: ProviderName, reason: str) -> None:
        self.name = name
        self.reason = reason

    def deliver(self, message: OutboundMessage) -> Delivered:  # noqa: ARG002 - every message fails alike
        raise DeliveryFailed(self.reason, transient=False, code=NOT_CONFIGURED)


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

    # The sandbox shows the trial company's contact points as senders, unless the operator named CM senders; SMS,
    # with numbers by region, has its own sender (`SmsSenders`).
    company = {
        channel.value: contact for channel in CHANNELS if (contact := single_contact(settings, channel)) is not None
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
