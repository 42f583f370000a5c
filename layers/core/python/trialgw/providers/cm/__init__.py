"""The `cm` provider: CM's Business Messaging API for every channel (`delivery`), CM's JSON status reports
(`status`) and CM's MO webhook JSON (`inbound`). One product token carries every channel; CM's webhooks are
authenticated by a secret in their path."""

from __future__ import annotations

from trialgw.channels import Channel, ProviderName
from trialgw.providers.port import Provider, SmsSenders
from trialgw.providers.spec import CredentialSource, ProviderSpec
from trialgw.settings import DeliverySettings

PROVIDER = ProviderName.CM.value
PRODUCT_TOKEN = "cm_product_token"  # noqa: S105 - the secret's key, not a secret


def _build(settings: DeliverySettings, credential: CredentialSource, sms_senders: SmsSenders) -> Provider:
    from trialgw.providers.cm.delivery import CmProvider

    return CmProvider(
        lambda: credential(PRODUCT_TOKEN),
        settings.cm_gateway_url,
        settings.cm_senders,
        settings.provider_timeout_seconds,
        sms_senders=sms_senders,
    )


def _credentials(_channel: Channel) -> tuple[str, ...]:
    return (PRODUCT_TOKEN,)


SPEC = ProviderSpec(
    name=ProviderName.CM,
    build=_build,
    secret_keys=(PRODUCT_TOKEN,),
    credentials=_credentials,
    webhook_secret_keys=("cm_webhook_secret",),
    webhook_routes=(("POST", "/webhooks/cm/{secret}"), ("POST", "/webhooks/cm-status/{secret}")),
)

__all__ = ["PRODUCT_TOKEN", "PROVIDER", "SPEC"]
