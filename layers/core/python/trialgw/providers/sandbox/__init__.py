"""The `sandbox` provider: delivers nowhere and records each delivery (`delivery`); the default for every channel
locally. It needs no credential and takes no webhook."""

from __future__ import annotations

from trialgw.channels import CHANNELS, ProviderName, single_contact
from trialgw.providers.port import Provider, SmsSenders
from trialgw.providers.spec import CredentialSource, ProviderSpec
from trialgw.settings import DeliverySettings


def _build(settings: DeliverySettings, _credential: CredentialSource, sms_senders: SmsSenders) -> Provider:
    from trialgw.providers.sandbox.delivery import SandboxProvider

    # The sandbox shows the trial company's contact points as senders, unless the operator named CM senders; SMS,
    # with numbers by region, has its own sender (`SmsSenders`).
    company = {
        channel.value: contact for channel in CHANNELS if (contact := single_contact(settings, channel)) is not None
    }
    return SandboxProvider(
        fault=settings.sandbox_fault,
        delay_seconds=settings.sandbox_delay_seconds,
        reports=settings.sandbox_reports,
        senders={**company, **settings.cm_senders},
        sms_senders=sms_senders,
    )


SPEC = ProviderSpec(name=ProviderName.SANDBOX, build=_build)

__all__ = ["SPEC"]
