"""The delivery function's wiring: its queue event source, its attempts, its provider secret and SMS sending."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest

from infra import topology
from infra.stack import StackConfig, camel
from tests.infra.cfn import (
    as_list,
    environment,
    functions,
    identity_statements,
    output_resource,
    props,
    queue_ids,
    referenced_id,
    references,
    resources,
    role_statements,
)
from tests.infra.conftest import (
    VARIANT_DELIVERY_MAX_CONCURRENCY,
    VARIANT_MAX_RECEIVE_COUNT,
    VARIANT_PROVIDERS,
    Synthesized,
)
from trialgw import names
from trialgw.settings import DeliveryAttempts, DeliverySettings, env_var

CONSUMERS = [d for d in topology.FUNCTIONS if d.consumes]


def _mappings(template: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    return [
        props(m)
        for _, m in resources(template, "AWS::Lambda::EventSourceMapping")
        if references(props(m)["FunctionName"], function_id)
    ]


def test_topology_has_a_consumer() -> None:
    assert CONSUMERS, "no function consumes a queue: these tests would check nothing"


def test_each_consumed_queue_feeds_its_function_in_batches_of_10_with_partial_batch_responses(
    template_json: dict[str, Any],
) -> None:
    queues = dict(resources(template_json, "AWS::SQS::Queue"))
    sources = queue_ids(template_json)
    for definition in topology.FUNCTIONS:
        function_id, function = functions(template_json)[definition.name]
        mappings = _mappings(template_json, function_id)
        assert len(mappings) == len(definition.consumes), definition.name
        consumed = {sources[logical] for logical in definition.consumes}
        assert {referenced_id(m["EventSourceArn"]) for m in mappings} == consumed
        for mapping in mappings:
            assert mapping["BatchSize"] == 10
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert mapping["MaximumBatchingWindowInSeconds"] == 1
            # The stack's deliveryMaxConcurrency, or the function's own cap (webhook_delivery's 2, issue 18).
            assert mapping["ScalingConfig"] == {"MaximumConcurrency": definition.max_concurrency or 5}
            assert mapping.get("Enabled", True) is True
            queue = props(queues[referenced_id(mapping["EventSourceArn"])])
            # A work queue (with its dead-letter queue), or a dead-letter queue where topology says so.
            source_id = referenced_id(mapping["EventSourceArn"])
            source = next(logical for logical, queue_id in sources.items() if queue_id == source_id)
            assert ("RedrivePolicy" in queue) is not names.queue_source(source)[1]
            # A message in flight stays invisible for a whole invocation (AWS recommends 6 times the timeout).
            assert queue["VisibilityTimeout"] >= 6 * props(function)["Timeout"]


def test_the_delivery_queues_dead_letters_are_consumed_and_nothing_else_consumes_a_dead_letter_queue() -> None:
    dead_letter_consumers = {
        (definition.name, logical)
        for definition in topology.FUNCTIONS
        for logical in definition.consumes
        if names.queue_source(logical)[1]
    }
    assert dead_letter_consumers == {("dead_letters", names.OUTBOUND.dead_letters)}


def test_every_event_source_is_a_topology_consumer(template_json: dict[str, Any]) -> None:
    mappings = [props(m) for _, m in resources(template_json, "AWS::Lambda::EventSourceMapping")]
    assert len(mappings) == sum(len(d.consumes) for d in topology.FUNCTIONS)


def _max_attempts_and_receive_count(template: dict[str, Any], name: str) -> tuple[int, int]:
    """A function's TRIALGW_DELIVERY_MAX_ATTEMPTS, and the delivery queue's maxReceiveCount."""
    _, function = functions(template)[name]
    outbound = template["Resources"][queue_ids(template)[names.OUTBOUND.logical]]
    settings = DeliveryAttempts.model_validate(
        {"delivery_max_attempts": environment(function)["TRIALGW_DELIVERY_MAX_ATTEMPTS"]}
    )
    return settings.delivery_max_attempts, props(outbound)["RedrivePolicy"]["maxReceiveCount"]


def test_delivery_max_attempts_is_the_delivery_queues_max_receive_count(synthesized: Synthesized) -> None:
    # The delivery function (its last attempt), the dead-letter consumer (the reason it writes) and the sweeper (the
    # longest a delivery can take) all count the delivery queue's receives.
    counting = [d for d in topology.FUNCTIONS if issubclass(d.settings_model, DeliveryAttempts)]
    assert {d.name for d in counting} == {"delivery", "dead_letters", "sweeper"}
    assert next(d for d in counting if d.name == "delivery").consumes == (names.OUTBOUND.logical,)
    for definition in counting:
        attempts, count = _max_attempts_and_receive_count(synthesized.template_json, definition.name)
        assert attempts == count == synthesized.stack.config.queue_max_receive_count
        # The knob moves both together.
        attempts, count = _max_attempts_and_receive_count(synthesized.variant_json, definition.name)
        assert attempts == count == VARIANT_MAX_RECEIVE_COUNT


def test_delivery_max_attempts_is_no_knob() -> None:
    assert "deliveryMaxAttempts" not in StackConfig.knobs()
    assert "queueMaxReceiveCount" in StackConfig.knobs()


def test_the_local_phone_url_is_no_knob() -> None:
    # Only the local stack has a simulated phone; a deployment pointing developers to one would send them nowhere.
    assert "localPhoneUrl" not in StackConfig.knobs()


def test_the_provider_secret_is_readable_only_by_functions_that_read_it(template_json: dict[str, Any]) -> None:
    secret_id, _ = output_resource(template_json, "ProviderSecretsName")
    readers = {
        referenced_id(props(functions(template_json)[d.name][1])["Role"])
        for d in topology.FUNCTIONS
        if d.reads_provider_secrets
    }
    assert readers
    granted = {
        role_id
        for role_id, _ in resources(template_json, "AWS::IAM::Role")
        if any(references(s["Resource"], secret_id) for s in role_statements(template_json, role_id))
    }
    assert granted == readers
    # No managed policy or other identity policy names it, and no resource policy opens it.
    naming = [s for s in identity_statements(template_json) if references(s["Resource"], secret_id)]
    assert all(
        set(as_list(s["Action"])) == {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"} for s in naming
    )
    assert len(naming) == len(readers)
    assert list(resources(template_json, "AWS::SecretsManager::ResourcePolicy")) == []


def test_cdk_json_provider_knobs_reach_only_the_delivery_function(template_json: dict[str, Any]) -> None:
    for definition in topology.FUNCTIONS:
        variables = environment(functions(template_json)[definition.name][1])
        if issubclass(definition.settings_model, DeliverySettings):
            assert variables["TRIALGW_PROVIDER_SMS"] == "sandbox"
            # cdk.json lists the optional ones empty: they keep their default (unset).
            assert "TRIALGW_SMS_ORIGINATION_IDENTITY" not in variables
            assert "TRIALGW_WHATSAPP_PHONE_NUMBER_ID" not in variables
        else:
            assert not {v for v in variables if v.startswith("TRIALGW_PROVIDER_")}


def test_provider_knobs_from_the_command_line_are_validated_settings() -> None:
    app = cdk.App(
        context={
            "senderEmail": "a@example.com",
            "providerSms": "aws-sms",
            "smsOriginationIdentity": "pool-0123456789abcdef",
            "smsConfigurationSet": "",
            "cmSenders": '{"SMS": "ACME"}',
        }
    )
    config = StackConfig.from_context(app.node)
    assert config.settings_overrides == {
        "provider_sms": "aws-sms",
        "sms_origination_identity": "pool-0123456789abcdef",
        "cm_senders": {"SMS": "ACME"},
    }


def test_the_delivery_concurrency_is_a_knob(synthesized: Synthesized) -> None:
    capped = {
        function_id
        for definition in topology.FUNCTIONS
        if definition.max_concurrency is not None
        for function_id, _ in [functions(synthesized.variant_json)[definition.name]]
    }
    mappings = [
        props(m)
        for _, m in resources(synthesized.variant_json, "AWS::Lambda::EventSourceMapping")
        if referenced_id(props(m)["FunctionName"]) not in capped
    ]
    assert mappings
    assert {m["ScalingConfig"]["MaximumConcurrency"] for m in mappings} == {VARIANT_DELIVERY_MAX_CONCURRENCY}


def test_the_webhook_worker_runs_at_most_two_invocations_at_once_whatever_the_knob(synthesized: Synthesized) -> None:
    # Its records are handled one at a time, so this bounds the calls in flight to the trials' webhook URLs (issue 18).
    function_id, _ = functions(synthesized.variant_json)["webhook_delivery"]
    [mapping] = [
        props(m)
        for _, m in resources(synthesized.variant_json, "AWS::Lambda::EventSourceMapping")
        if referenced_id(props(m)["FunctionName"]) == function_id
    ]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert VARIANT_DELIVERY_MAX_CONCURRENCY != 2


def _warnings(synthesized: Synthesized, stack: cdk.Stack) -> list[str]:
    metadata = json.loads((synthesized.outdir / f"{stack.artifact_id}.metadata.json").read_text(encoding="utf-8"))
    return [entry["data"] for entries in metadata.values() for entry in entries if entry["type"] == "aws:cdk:warning"]


def test_the_deploy_names_every_credential_the_chosen_providers_need_in_the_secret(synthesized: Synthesized) -> None:
    # The variant: SMS and Messenger on cm, WhatsApp on meta, Instagram on the sandbox.
    assert {k: v for k, v in VARIANT_PROVIDERS.items() if k.startswith("provider_")} == {
        "provider_sms": "cm",
        "provider_whatsapp": "meta",
        "provider_messenger": "cm",
    }
    reminders = [w for w in _warnings(synthesized, synthesized.variant) if "providerCredential" in w]
    # The stack is region-agnostic (its region a token until deploy): the command names the stack only.
    target = f"--stack {synthesized.variant.stack_name}"
    assert sorted(reminders) == sorted(
        [
            "SMS (cm), Facebook Messenger (cm) need cm_product_token in the provider secret (ProviderSecretsName "
            'output): until it is there, their messages fail "channel not configured" and the ChannelNotConfigured '
            f"alarm fires. Set it after deploying: trialgw-admin providers set-credential cm_product_token {target} "
            "[ack: trialgw:providerCredential:cm_product_token]",
            "WhatsApp (meta) needs whatsapp_access_token in the provider secret (ProviderSecretsName output): until "
            'it is there, its messages fail "channel not configured" and the ChannelNotConfigured alarm fires. Set it '
            f"after deploying: trialgw-admin providers set-credential whatsapp_access_token {target} "
            "[ack: trialgw:providerCredential:whatsapp_access_token]",
        ]
    )
    # cdk.json leaves every channel on the sandbox: nothing to set, nothing said.
    assert not [w for w in _warnings(synthesized, synthesized.stack) if "providerCredential" in w]
    variables = environment(functions(synthesized.variant_json)["delivery"][1])
    assert (variables["TRIALGW_PROVIDER_WHATSAPP"], variables["TRIALGW_PROVIDER_SMS"]) == ("meta", "cm")


@pytest.mark.parametrize(
    ("channel_knobs", "refusal"),
    [
        (
            {"providerWhatsapp": "meta"},
            "providerWhatsapp is meta, which sends WhatsApp from an account this deployment must name: set "
            "whatsappPhoneNumberId (-c whatsappPhoneNumberId=<id>), or choose another provider",
        ),
        ({"providerMessenger": "meta", "messengerPageId": ""}, "set messengerPageId"),
        ({"providerInstagram": "meta"}, "set instagramAccountId"),
        ({"providerWhatsapp": "aws-sms"}, "aws-sms carries SMS only, not WhatsApp"),
    ],
)
def test_a_channel_that_could_never_send_stops_the_synth(channel_knobs: dict[str, str], refusal: str) -> None:
    app = cdk.App(context={"senderEmail": "a@example.com", **channel_knobs})
    with pytest.raises(ValueError, match=re.escape(refusal)):
        StackConfig.from_context(app.node)


def test_a_provider_name_that_is_no_provider_stops_the_synth() -> None:
    # Provider names are an enum: a typo fails the synth, not every delivery after the deploy.
    app = cdk.App(context={"senderEmail": "a@example.com", "providerSms": "aws_sms"})
    with pytest.raises(ValueError, match=r"provider_sms[\s\S]*'sandbox', 'cm', 'meta' or 'aws-sms'"):
        StackConfig.from_context(app.node)


def test_a_provider_given_its_account_id_passes_the_synths_check() -> None:
    app = cdk.App(context={"senderEmail": "a@example.com", "providerWhatsapp": "meta", "whatsappPhoneNumberId": "1"})
    assert StackConfig.from_context(app.node).settings_overrides["provider_whatsapp"] == "meta"


@pytest.mark.parametrize(
    ("field", "holders"),
    [(topology.INBOUND_LEASE_FIELD, {"mo_webhook", "sms_inbound"}), (topology.IDEMPOTENCY_LEASE_FIELD, {"send"})],
)
def test_a_lease_is_its_functions_timeout_and_no_knob(
    template_json: dict[str, Any], field: str, holders: set[str]
) -> None:
    lease = env_var(field)
    for name, (_, function) in functions(template_json).items():
        variables = environment(function)
        if name in holders:
            assert int(variables[lease]) == props(function)["Timeout"] == topology.function(name).timeout_seconds
        else:
            assert lease not in variables
    assert camel(field) not in StackConfig.knobs()
