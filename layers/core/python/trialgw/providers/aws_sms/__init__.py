"""The `aws-sms` provider: AWS End User Messaging SMS for the SMS channel (`delivery`), its configuration set's
delivery events (`status`) and two-way SMS through SNS (`inbound`). IAM is its credential: it needs no key of the
provider secret, and its events arrive through SNS, not a webhook route."""

from __future__ import annotations

from typing import Any

from trialgw.channels import ProviderName
from trialgw.providers.masking import MaskRule
from trialgw.providers.port import Provider, SmsSenders
from trialgw.providers.spec import CredentialSource, ProviderSpec
from trialgw.settings import DeliverySettings

PROVIDER = ProviderName.AWS_SMS.value
# AWS's texts can quote the destination number as a bare run of digits.
AWS_SMS_MASKING = MaskRule()


def _build(settings: DeliverySettings, _credential: CredentialSource, sms_senders: SmsSenders) -> Provider:
    from trialgw.providers.aws_sms.delivery import AwsSmsProvider

    return AwsSmsProvider(_sms_client, settings.sms_origination_identity, settings.sms_configuration_set, sms_senders)


def _sms_client() -> Any:
    from trialgw.adapters import aws

    return aws.sms_voice()


SPEC = ProviderSpec(name=ProviderName.AWS_SMS, build=_build)

__all__ = ["AWS_SMS_MASKING", "PROVIDER", "SPEC"]
