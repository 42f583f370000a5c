"""Which provider carries each channel: the operator's choice per channel (settings).

The sandbox carries a channel only when it is the choice for it. A channel set to a provider that lacks its
credential (in the provider secret; locally, a setting) or its account id (a setting) is not configured: it fails
closed, every message failing at once with a reason that names what the operator must set ("channel not
configured: ..."), never handed to the sandbox, which would record it `sent` although nothing reached a phone.

Each provider is one package (`trialgw.providers.<name>`) whose `SPEC` says what it needs (its secret keys, the
credentials and accounts per channel, how it is built); this module reads the specs and names no provider's
channels. The choice is made per message, so credentials put into the secret after a deploy take effect within the
secret's cache time, without a cold start. Adapters are built once per process and keep their connection pools.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from trialgw.adapters.secrets import SECRET_CACHE_SECONDS, SecretProblem, SecretUnreadable, read_json_secret
from trialgw.channels import CHANNELS, check_provider
from trialgw.models import Channel
from trialgw.observability import logger
from trialgw.ports import OutboundMessage
from trialgw.providers import aws_sms, cm, meta, sandbox
from trialgw.providers.port import NOT_CONFIGURED, Delivered, DeliveryFailed, Provider, ProviderName
from trialgw.providers.spec import ProviderSpec, sms_senders
from trialgw.settings import DeliverySettings, env_var

# Every provider package's spec, by name.
SPECS: dict[ProviderName, ProviderSpec] = {spec.name: spec for spec in (sandbox.SPEC, cm.SPEC, meta.SPEC, aws_sms.SPEC)}
# The provider secret's keys (each also a setting, for the local stack): what the stack describes, the delivery
# function reads and `trialgw-admin providers set-credential` accepts. In `ProviderName` order.
PROVIDER_SECRET_KEYS: tuple[str, ...] = tuple(key for name in ProviderName for key in SPECS[name].secret_keys)
# The webhook secret's keys: what the stack creates and the mo_webhook function checks.
WEBHOOK_SECRET_KEYS: tuple[str, ...] = tuple(key for name in ProviderName for key in SPECS[name].webhook_secret_keys)
# The (method, path) routes the providers' webhooks take (all served by the mo_webhook function).
WEBHOOK_ROUTES: tuple[tuple[str, str], ...] = tuple(
    route for name in ProviderName for route in SPECS[name].webhook_routes
)

__all__ = [
    "PROVIDER_SECRET_KEYS",
    "SECRET_CACHE_SECONDS",
    "SPECS",
    "WEBHOOK_ROUTES",
    "WEBHOOK_SECRET_KEYS",
    "NotConfigured",
    "ProviderCredentials",
    "chosen_providers",
    "missing_accounts",
    "not_configured_reason",
    "provider_credentials",
    "providers_for",
    "required_accounts",
    "required_credentials",
]


class ProviderCredentials:
    """The provider secret's values, one attribute per key of `PROVIDER_SECRET_KEYS` (None when unset)."""

    __slots__ = PROVIDER_SECRET_KEYS

    def __init__(self, *values: str | None) -> None:
        for key, value in zip(PROVIDER_SECRET_KEYS, values, strict=True):
            object.__setattr__(self, key, value)

    if TYPE_CHECKING:
        # Each key is an attribute (`credentials.cm_product_token`), made from the specs at import.
        def __getattr__(self, key: str) -> str | None: ...

    @classmethod
    def none(cls) -> ProviderCredentials:
        return cls(*(None for _ in PROVIDER_SECRET_KEYS))

    @classmethod
    def of(cls, values: Callable[[str], object]) -> ProviderCredentials:
        """From `values(key)` for each key; an empty or missing value is None."""
        return cls(*(str(values(key) or "") or None for key in PROVIDER_SECRET_KEYS))

    def get(self, key: str) -> str | None:
        value = getattr(self, key, None)
        return value if isinstance(value, str) else None

    def meta_token(self, channel: Channel) -> str | None:
        key = meta.token_key(channel)
        return None if key is None else self.get(key)

    def _values(self) -> tuple[str | None, ...]:
        return tuple(self.get(key) for key in PROVIDER_SECRET_KEYS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProviderCredentials) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        # Never print a credential, whoever logs this object.
        return "ProviderCredentials(***)"


def provider_credentials(settings: DeliverySettings) -> ProviderCredentials:
    """From the Secrets Manager secret in AWS (cached), from settings locally. Raises DeliveryFailed (transient) when
    the secret cannot be read, so the message is retried rather than sent by the wrong provider."""
    if not settings.provider_secrets_name:
        return ProviderCredentials.of(lambda key: getattr(settings, key))
    try:
        value = read_json_secret(settings.provider_secrets_name)
    except SecretUnreadable as error:
        if error.problem is SecretProblem.NOT_OBJECT:
            reason = "The provider credentials secret is not a JSON object."
        else:
            reason = f"The provider credentials could not be read ({error.error})."
        raise DeliveryFailed(reason, transient=True, code="secrets") from None
    if value is None:
        # The stack creates the secret with no value; until the operator sets one, no channel has credentials.
        logger.warning(
            "the provider credentials secret has no value; every channel set to a provider is not configured"
        )
        return ProviderCredentials.none()
    return ProviderCredentials.of(value.get)


def required_credentials(name: ProviderName, channel: Channel) -> tuple[str, ...]:
    """The provider secret's keys `name` needs to carry `channel` (aws-sms: none, IAM is its credential)."""
    return SPECS[name].credentials(channel)


def required_accounts(name: ProviderName, channel: Channel) -> tuple[str, ...]:
    """The settings fields naming the account `name` sends `channel` from (aws-sms: the origination identity may be
    the account's default; cm: the senders are optional)."""
    return SPECS[name].accounts(channel)


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
        missing = tuple(key for key in required_credentials(name, channel) if not credentials.get(key))
        missing += missing_accounts(settings, channel)
        if missing:
            return NotConfigured(name, not_configured_reason(settings, channel, name, missing))
        return built(name)

    return provider


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
    return SPECS[name].build(settings, lambda key: provider_credentials(settings).get(key), sms_senders(settings))
