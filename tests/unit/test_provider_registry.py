"""Which provider carries each channel: settings per channel; the sandbox only where chosen, and a channel whose
provider lacks its credentials or account id fails closed ("channel not configured")."""

from __future__ import annotations

from typing import Any

import pytest

from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers import registry
from trialgw.providers.port import NOT_CONFIGURED, DeliveryFailed, Provider, ProviderName
from trialgw.providers.registry import (
    PROVIDER_SECRET_KEYS,
    NotConfigured,
    ProviderCredentials,
    missing_accounts,
    provider_credentials,
    providers_for,
    required_credentials,
)
from trialgw.settings import DeliverySettings


def test_the_sandbox_carries_every_channel_by_default():
    providers = providers_for(DeliverySettings())
    assert {providers(channel).name for channel in Channel} == {ProviderName.SANDBOX}
    assert providers(Channel.SMS) is providers(Channel.WHATSAPP)  # built once per process


def test_each_channel_gets_its_configured_provider_when_it_has_credentials():
    settings = DeliverySettings(
        provider_sms="aws-sms",
        provider_whatsapp="meta",
        provider_messenger="cm",
        provider_instagram="meta",
        cm_product_token="00000000-0000-4000-8000-000000000000",
        whatsapp_access_token="wa-token",
        whatsapp_phone_number_id="106540352242922",
    )
    providers = providers_for(settings)
    assert providers(Channel.SMS).name is ProviderName.AWS_SMS
    assert providers(Channel.WHATSAPP).name is ProviderName.META
    assert providers(Channel.MESSENGER).name is ProviderName.CM
    # Instagram has neither a token nor an account id: not the sandbox, which would say `sent` for nothing.
    instagram = providers(Channel.INSTAGRAM)
    assert isinstance(instagram, NotConfigured)
    assert instagram.name is ProviderName.META


def _failure(provider: Provider) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as failed:
        provider.deliver(OutboundMessage(Channel.WHATSAPP, "+31612345678", "hi", "send", "m1"))
    return failed.value


def test_locally_a_channel_without_its_credentials_fails_at_once_naming_the_settings_to_set():
    providers = providers_for(DeliverySettings(provider_whatsapp="meta", provider_sms="cm"))
    whatsapp = _failure(providers(Channel.WHATSAPP))
    # Permanent: retrying cannot help until the operator acts.
    assert (whatsapp.transient, whatsapp.code) == (False, NOT_CONFIGURED)
    assert whatsapp.reason == (
        "channel not configured: WhatsApp is set to the meta provider, whose whatsapp_access_token and "
        "whatsapp_phone_number_id are missing, so nothing was sent (operator: set TRIALGW_WHATSAPP_ACCESS_TOKEN; "
        "set TRIALGW_WHATSAPP_PHONE_NUMBER_ID)"
    )
    assert _failure(providers(Channel.SMS)).reason == (
        "channel not configured: SMS is set to the cm provider, whose cm_product_token is missing, so nothing was "
        "sent (operator: set TRIALGW_CM_PRODUCT_TOKEN)"
    )
    # The channels left on the sandbox by choice still deliver there.
    assert providers(Channel.MESSENGER).name is ProviderName.SANDBOX


def test_in_aws_the_reason_names_the_credential_command_and_the_context_knob(monkeypatch: pytest.MonkeyPatch):
    from aws_lambda_powertools.utilities import parameters

    monkeypatch.setattr(parameters, "get_secret", lambda _name, **_kwargs: {"whatsapp_access_token": "wa-token"})
    settings = DeliverySettings(provider_secrets_name="trialgw/providers", provider_whatsapp="meta", provider_sms="cm")
    providers = providers_for(settings)
    assert _failure(providers(Channel.WHATSAPP)).reason == (
        "channel not configured: WhatsApp is set to the meta provider, whose whatsapp_phone_number_id is missing, so "
        "nothing was sent (operator: deploy with -c whatsappPhoneNumberId=<id>)"
    )
    reason = _failure(providers(Channel.SMS)).reason
    assert reason.endswith("(operator: trialgw-admin providers set-credential cm_product_token --stack <stack>)")
    # A credential set later is used by the next message, without a cold start.
    monkeypatch.setattr(parameters, "get_secret", lambda _name, **_kwargs: {"cm_product_token": "tok"})
    assert providers(Channel.SMS).name is ProviderName.CM


def test_a_secret_that_cannot_be_read_is_retried_not_failed_as_not_configured(monkeypatch: pytest.MonkeyPatch):
    from aws_lambda_powertools.utilities import parameters

    def get_secret(name: str, **kwargs: Any) -> Any:
        raise parameters.exceptions.GetParameterError("AccessDenied")

    monkeypatch.setattr(parameters, "get_secret", get_secret)
    providers = providers_for(DeliverySettings(provider_secrets_name="trialgw/providers", provider_sms="cm"))
    with pytest.raises(DeliveryFailed) as failed:
        providers(Channel.SMS)
    assert failed.value.transient
    # The sandbox needs no secret: it is not even read.
    assert providers(Channel.WHATSAPP).name is ProviderName.SANDBOX


def test_aws_sms_needs_no_credential_and_the_deploy_checks_only_meta_accounts():
    settings = DeliverySettings(provider_sms="aws-sms", provider_whatsapp="meta", provider_messenger="cm")
    assert providers_for(settings)(Channel.SMS).name is ProviderName.AWS_SMS
    assert [missing_accounts(settings, channel) for channel in Channel] == [(), ("whatsapp_phone_number_id",), (), ()]
    assert required_credentials(ProviderName.AWS_SMS, Channel.SMS) == ()
    assert required_credentials(ProviderName.SANDBOX, Channel.SMS) == ()
    assert required_credentials(ProviderName.META, Channel.INSTAGRAM) == ("instagram_access_token",)
    # Every credential a provider may need is a key of the provider secret.
    needed = {key for name in ProviderName for channel in Channel for key in required_credentials(name, channel)}
    assert needed == set(PROVIDER_SECRET_KEYS)


def test_a_provider_that_cannot_carry_a_channel_is_refused_at_start():
    with pytest.raises(ValueError, match="aws-sms carries SMS only"):
        providers_for(DeliverySettings(provider_whatsapp="aws-sms"))
    with pytest.raises(ValueError, match="meta does not carry SMS"):
        providers_for(DeliverySettings(provider_sms="meta"))
    with pytest.raises(ValueError, match="twilio"):
        providers_for(DeliverySettings(provider_sms="twilio"))


def test_credentials_come_from_the_secret_when_one_is_named(monkeypatch: pytest.MonkeyPatch):
    from aws_lambda_powertools.utilities import parameters

    asked: list[dict[str, Any]] = []

    def get_secret(name: str, **kwargs: Any) -> Any:
        asked.append({"name": name, **kwargs})
        return {"cm_product_token": "tok", "whatsapp_access_token": "", "unrelated": "x"}

    monkeypatch.setattr(parameters, "get_secret", get_secret)
    credentials = provider_credentials(
        DeliverySettings(provider_secrets_name="trialgw/providers", cm_product_token="env")
    )
    assert credentials.cm_product_token == "tok"
    assert credentials.whatsapp_access_token is None
    assert asked == [{"name": "trialgw/providers", "transform": "json", "max_age": registry.SECRET_CACHE_SECONDS}]
    assert "tok" not in repr(credentials)


def test_an_unreadable_secret_is_a_transient_failure(monkeypatch: pytest.MonkeyPatch):
    from aws_lambda_powertools.utilities import parameters

    def get_secret(name: str, **kwargs: Any) -> Any:
        raise parameters.exceptions.GetParameterError("AccessDenied for secret value s3cr3t")

    monkeypatch.setattr(parameters, "get_secret", get_secret)
    with pytest.raises(DeliveryFailed) as failed:
        provider_credentials(DeliverySettings(provider_secrets_name="trialgw/providers"))
    assert failed.value.transient
    assert "s3cr3t" not in failed.value.reason


def test_meta_tokens_per_channel():
    credentials = ProviderCredentials("cm", "wa", "page", "ig")
    assert [credentials.meta_token(channel) for channel in Channel] == [None, "wa", "page", "ig"]
