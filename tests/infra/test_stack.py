"""What the stack tells its operator (outputs) and the e-mail identity it sends from."""

from __future__ import annotations

from typing import Any

from infra import topology
from tests.infra.cfn import outputs, props, references, render, resources
from tests.infra.conftest import VARIANT_DOMAIN, Synthesized
from trialgw import names


def test_outputs_name_the_site_the_api_the_endpoints_the_tables_the_topic_and_the_secrets(
    template_json: dict[str, Any],
) -> None:
    values = {name: render(value) for name, value in outputs(template_json).items()}
    assert set(values) == {
        "SiteUrl",
        "ApiUrl",
        "SignupUrl",
        "GatewayUrl",
        "SenderEmail",
        "SesConfigurationSet",
        *(f"{table.logical.capitalize()}TableName" for table in names.TABLES),
        *(f"{topic.logical[:1].upper()}{topic.logical[1:]}TopicArn" for topic in names.TOPICS),
        "WebhookSecretsName",
        "ProviderSecretsName",
        "CmWebhookUrlTemplate",
        "CmStatusWebhookUrlTemplate",
        "MetaWebhookUrl",
        "OperatorAlertsTopicArn",
        "DashboardName",
    }
    assert values["SiteUrl"].startswith("https://")
    assert values["SiteUrl"].endswith(".cloudfront.net")
    assert values["ApiUrl"].startswith("https://")
    assert values["ApiUrl"].endswith("/v1")
    signup = next(route for route in topology.ROUTES if route.function == "signup")
    assert values["SignupUrl"] == values["ApiUrl"] + signup.path
    assert values["GatewayUrl"] == values["ApiUrl"] + "/messaging/messagingtrial/gw/"
    assert values["SenderEmail"] == "trials@example.com"


def test_an_address_identity_with_a_tls_only_configuration_set(template_json: dict[str, Any]) -> None:
    ((set_id, configuration_set),) = resources(template_json, "AWS::SES::ConfigurationSet")
    ((_, identity),) = resources(template_json, "AWS::SES::EmailIdentity")
    assert props(identity)["EmailIdentity"] == "trials@example.com"
    assert references(props(identity)["ConfigurationSetAttributes"]["ConfigurationSetName"], set_id)
    assert props(configuration_set)["DeliveryOptions"]["TlsPolicy"] == "REQUIRE"
    assert props(configuration_set)["SuppressionOptions"]["SuppressedReasons"] == ["BOUNCE", "COMPLAINT"]


def test_a_domain_identity_publishes_its_dkim_records(synthesized: Synthesized) -> None:
    ((_, identity),) = resources(synthesized.variant_json, "AWS::SES::EmailIdentity")
    assert props(identity)["EmailIdentity"] == VARIANT_DOMAIN
    dkim = [name for name in outputs(synthesized.variant_json) if name.startswith("DkimRecord")]
    assert len(dkim) == 3
