"""Which provider carries each channel: settings per channel, the sandbox when credentials are missing."""

from __future__ import annotations

from typing import Any

import pytest

from trialgw.delivery import registry
from trialgw.delivery.provider import DeliveryFailed, ProviderName
from trialgw.delivery.registry import ProviderCredentials, provider_credentials, providers_for
from trialgw.models import Channel
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
    # Instagram has neither a token nor an account id: the sandbox stands in.
    assert providers(Channel.INSTAGRAM).name is ProviderName.SANDBOX


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
