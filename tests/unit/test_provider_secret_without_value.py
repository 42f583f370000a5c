"""The provider credentials secret as the stack creates it, with no value: the delivery function reads "no
credentials" (each channel set to a provider is not configured: its messages fail at once, saying so) rather than
retrying every message as if the secret were unreadable.

Secrets Manager is a real Powertools SecretsProvider whose boto3 client answers from botocore's Stubber.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from botocore.config import Config
from botocore.stub import Stubber

from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers.port import NOT_CONFIGURED, DeliveryFailed, ProviderName
from trialgw.providers.registry import PROVIDER_SECRET_KEYS, ProviderCredentials, provider_credentials, providers_for
from trialgw.settings import DeliverySettings

SECRET = "trialgw/providers"
# What GetSecretValue answers for a secret created without a value (no AWSCURRENT version).
NO_VALUE = "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client(
        "secretsmanager",
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    monkeypatch.setitem(DEFAULT_PROVIDERS, "secrets", SecretsProvider(boto3_client=client))
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def settings(**overrides: str) -> DeliverySettings:
    return DeliverySettings(provider_secrets_name=SECRET, **overrides)


def test_the_credential_keys_are_one_list_for_the_stack_the_function_and_the_admin_cli() -> None:
    assert ProviderCredentials.__slots__ == PROVIDER_SECRET_KEYS
    assert set(PROVIDER_SECRET_KEYS) <= set(DeliverySettings.model_fields)


def test_a_secret_without_a_value_means_no_credentials(secrets: Stubber) -> None:
    secrets.add_client_error(
        "get_secret_value", "ResourceNotFoundException", NO_VALUE, expected_params={"SecretId": SECRET}
    )
    credentials = provider_credentials(settings())
    assert credentials == ProviderCredentials(None, None, None, None)


def test_until_the_operator_sets_a_value_each_chosen_channel_is_not_configured(secrets: Stubber) -> None:
    for _ in range(2):  # WhatsApp and Messenger each ask
        secrets.add_client_error("get_secret_value", "ResourceNotFoundException", NO_VALUE)
    providers = providers_for(
        settings(
            provider_whatsapp="meta",
            provider_messenger="cm",
            whatsapp_phone_number_id="106540352242922",
        )
    )
    for channel, name, key in (
        (Channel.WHATSAPP, ProviderName.META, "whatsapp_access_token"),
        (Channel.MESSENGER, ProviderName.CM, "cm_product_token"),
    ):
        provider = providers(channel)
        assert provider.name is name
        with pytest.raises(DeliveryFailed) as failed:
            provider.deliver(OutboundMessage(channel, "+31612345678", "hi", "send", "m1"))
        assert (failed.value.transient, failed.value.code) == (False, NOT_CONFIGURED)
        assert f"set-credential {key} " in failed.value.reason
    # SMS stays on the sandbox, chosen by default: it reads no secret.
    assert providers(Channel.SMS).name is ProviderName.SANDBOX


def test_once_the_secret_has_a_value_it_is_used(secrets: Stubber) -> None:
    secrets.add_response(
        "get_secret_value",
        {"Name": SECRET, "SecretString": '{"cm_product_token": "00000000-0000-4000-8000-000000000000"}'},
        expected_params={"SecretId": SECRET},
    )
    credentials = provider_credentials(settings())
    assert credentials.cm_product_token == "00000000-0000-4000-8000-000000000000"
    assert credentials.whatsapp_access_token is None


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", "not authorized to perform secretsmanager:GetSecretValue"),
        ("InternalServiceError", "try again"),
        ("DecryptionFailure", "KMS key disabled"),
    ],
)
def test_any_other_failure_is_still_a_transient_failure(secrets: Stubber, code: str, message: str) -> None:
    # Unlike "no value", these may hide real credentials: the message is retried, never failed as not configured.
    secrets.add_client_error("get_secret_value", code, message)
    with pytest.raises(DeliveryFailed) as failed:
        provider_credentials(settings())
    assert failed.value.transient
