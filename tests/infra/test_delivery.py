"""The delivery function's wiring: its queue event source, its attempts, its provider secret and SMS sending."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from infra import topology
from infra.stack import StackConfig
from tests.infra.cfn import (
    as_list,
    environment,
    functions,
    identity_statements,
    output_resource,
    props,
    referenced_id,
    references,
    resources,
    role_statements,
)
from tests.infra.conftest import VARIANT_DELIVERY_MAX_CONCURRENCY, VARIANT_MAX_RECEIVE_COUNT, Synthesized
from trialgw import names
from trialgw.settings import DeliverySettings

QUEUE_ENV_VARS = {queue.logical: queue.env_var for queue in names.QUEUES}
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
    for definition in topology.FUNCTIONS:
        function_id, function = functions(template_json)[definition.name]
        mappings = _mappings(template_json, function_id)
        assert len(mappings) == len(definition.consumes), definition.name
        variables = environment(function)
        consumed = {referenced_id(variables[QUEUE_ENV_VARS[logical]]) for logical in definition.consumes}
        assert {referenced_id(m["EventSourceArn"]) for m in mappings} == consumed
        for mapping in mappings:
            assert mapping["BatchSize"] == 10
            assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert mapping["MaximumBatchingWindowInSeconds"] == 1
            assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}
            assert mapping.get("Enabled", True) is True
            queue = props(queues[referenced_id(mapping["EventSourceArn"])])
            # The work queue (with its dead-letter queue), never the dead-letter queue itself.
            assert "RedrivePolicy" in queue
            # A message in flight stays invisible for a whole invocation (AWS recommends 6 times the timeout).
            assert queue["VisibilityTimeout"] >= 6 * props(function)["Timeout"]


def test_every_event_source_is_a_topology_consumer(template_json: dict[str, Any]) -> None:
    mappings = [props(m) for _, m in resources(template_json, "AWS::Lambda::EventSourceMapping")]
    assert len(mappings) == sum(len(d.consumes) for d in topology.FUNCTIONS)


def _max_attempts_and_receive_count(template: dict[str, Any], name: str) -> tuple[int, set[int]]:
    function_id, function = functions(template)[name]
    queues = dict(resources(template, "AWS::SQS::Queue"))
    counts = {
        props(queues[referenced_id(m["EventSourceArn"])])["RedrivePolicy"]["maxReceiveCount"]
        for m in _mappings(template, function_id)
    }
    settings = DeliverySettings.model_validate(
        {"delivery_max_attempts": environment(function)["TRIALGW_DELIVERY_MAX_ATTEMPTS"]}
    )
    return settings.delivery_max_attempts, counts


def test_delivery_max_attempts_is_the_consumed_queues_max_receive_count(synthesized: Synthesized) -> None:
    for definition in CONSUMERS:
        assert issubclass(definition.settings_model, DeliverySettings)
        attempts, counts = _max_attempts_and_receive_count(synthesized.template_json, definition.name)
        assert counts == {attempts} == {synthesized.stack.config.queue_max_receive_count}
        # The knob moves both together.
        attempts, counts = _max_attempts_and_receive_count(synthesized.variant_json, definition.name)
        assert counts == {attempts} == {VARIANT_MAX_RECEIVE_COUNT}


def test_delivery_max_attempts_is_no_knob() -> None:
    assert "deliveryMaxAttempts" not in StackConfig.knobs()
    assert "queueMaxReceiveCount" in StackConfig.knobs()


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
    mappings = [props(m) for _, m in resources(synthesized.variant_json, "AWS::Lambda::EventSourceMapping")]
    assert mappings
    assert {m["ScalingConfig"]["MaximumConcurrency"] for m in mappings} == {VARIANT_DELIVERY_MAX_CONCURRENCY}
