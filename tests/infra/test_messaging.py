"""Queues, topics and the secrets: encrypted, TLS only, dead letters, no secret in the template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest

from infra import topology
from infra.constructs.functions import settings_field
from infra.constructs.secrets import SECRET_KEYS
from infra.constructs.topics import END_USER_MESSAGING
from infra.stack import SECRET_SETTINGS, StackConfig, camel
from tests.infra.cfn import (
    environment,
    functions,
    output_resource,
    outputs,
    props,
    queue_ids,
    referenced_id,
    references,
    render,
    resources,
    topic_ids,
)
from tests.infra.conftest import Synthesized
from trialgw import names
from trialgw.providers.registry import PROVIDER_SECRET_KEYS

FOURTEEN_DAYS = 14 * 24 * 3600
SECURE_TRANSPORT_DENIED = {"Bool": {"aws:SecureTransport": "false"}}


def _policy_statements(template: dict[str, Any], policy_type: str, key: str, logical_id: str) -> list[dict[str, Any]]:
    statements = []
    for _, policy in resources(template, policy_type):
        if any(references(target, logical_id) for target in props(policy)[key]):
            statements.extend(props(policy)["PolicyDocument"]["Statement"])
    return statements


def _queues(template: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(queues with a dead-letter queue, their dead-letter queues), by logical id: the queues of `names.QUEUES`. The
    functions' own dead-letter queues (their failed asynchronous events) are not theirs: tests/infra/test_checkov.py."""
    all_queues = dict(resources(template, "AWS::SQS::Queue"))
    for function in resources(template, "AWS::Lambda::Function"):
        if (dead_letter_config := props(function[1]).get("DeadLetterConfig")) is not None:
            del all_queues[referenced_id(dead_letter_config["TargetArn"])]
    main = {qid: q for qid, q in all_queues.items() if "RedrivePolicy" in props(q)}
    dead = {referenced_id(props(q)["RedrivePolicy"]["deadLetterTargetArn"]) for q in main.values()}
    assert set(all_queues) == set(main) | dead, "every queue is a work queue or a dead-letter queue"
    return main, {qid: all_queues[qid] for qid in dead}


def test_one_queue_with_a_dead_letter_queue_per_queue_definition(template_json: dict[str, Any]) -> None:
    main, dead = _queues(template_json)
    assert len(main) == len(dead) == len(names.QUEUES)
    for queue in main.values():
        properties = props(queue)
        assert properties["RedrivePolicy"]["maxReceiveCount"] == 5  # cdk.json's queueMaxReceiveCount
        assert properties["VisibilityTimeout"] >= 60
    for queue in dead.values():
        assert props(queue)["MessageRetentionPeriod"] == FOURTEEN_DAYS


def test_every_queue_is_encrypted_and_refuses_plain_http(template_json: dict[str, Any]) -> None:
    main, dead = _queues(template_json)
    sources, topics = queue_ids(template_json), topic_ids(template_json)
    for queue_id, queue in {**main, **dead}.items():
        assert props(queue)["SqsManagedSseEnabled"] is True
        statements = _policy_statements(template_json, "AWS::SQS::QueuePolicy", "Queues", queue_id)
        assert any(s["Effect"] == "Deny" and s["Condition"] == SECURE_TRANSPORT_DENIED for s in statements)
        # Only the SNS topics subscribed to a queue are let in, each to send to that queue alone.
        feeding = {topics[t] for q in names.QUEUES if sources[q.logical] == queue_id for t in q.topics}
        allowed = [s for s in statements if s["Effect"] != "Deny"]
        assert len(allowed) == len(feeding)
        for statement in allowed:
            assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
            assert statement["Action"] == "sqs:SendMessage"
            assert references(statement["Resource"], queue_id)
            (topic_id,) = [t for t in feeding if references(statement["Condition"]["ArnEquals"]["aws:SourceArn"], t)]
            feeding.discard(topic_id)


def test_dead_letters_and_old_messages_raise_alarms(template_json: dict[str, Any]) -> None:
    main, dead = _queues(template_json)
    sources = queue_ids(template_json)
    consumed = {sources[logical] for d in topology.FUNCTIONS for logical in d.consumes}
    alarms = [props(a) for _, a in resources(template_json, "AWS::CloudWatch::Alarm")]
    watched = {
        (referenced_id(alarm["Dimensions"][0]["Value"]), alarm["MetricName"])
        for alarm in alarms
        if alarm.get("Namespace") == "AWS/SQS"
    }
    assert set(dead) & consumed, "no dead-letter queue is consumed: half of this test would check nothing"
    assert set(dead) - consumed, "every dead-letter queue is consumed: half of this test would check nothing"
    for dead_id in dead:
        # Unconsumed: any dead letter waits for an operator. Consumed: empty within seconds unless its consumer fails.
        metric = "ApproximateAgeOfOldestMessage" if dead_id in consumed else "ApproximateNumberOfMessagesVisible"
        assert (dead_id, metric) in watched
        assert len([w for w in watched if w[0] == dead_id]) == 1
    for queue_id in main:
        assert (queue_id, "ApproximateAgeOfOldestMessage") in watched


def test_functions_that_send_to_a_queue_or_back_off_on_it_get_its_url(template_json: dict[str, Any]) -> None:
    sources = queue_ids(template_json)
    for definition in topology.FUNCTIONS:
        variables = environment(functions(template_json)[definition.name][1])
        for queue in names.QUEUES:
            # A consumer needs the URL only to change a message's visibility (its settings then take the URL).
            backs_off = queue.logical in definition.consumes and (
                settings_field(queue.env_var) in definition.settings_model.model_fields
            )
            if queue.logical in definition.sends_to or backs_off:
                assert referenced_id(variables[queue.env_var]) == sources[queue.logical]  # a queue's Ref is its URL
            else:
                assert queue.env_var not in variables
    # The delivery function backs off on its queue; the dead-letter consumer needs no URL of the queue it consumes (only
    # the webhook events' it sends to, issue 18).
    assert "TRIALGW_OUTBOUND_QUEUE_URL" in environment(functions(template_json)["delivery"][1])
    dead_letters = [v for v in environment(functions(template_json)["dead_letters"][1]) if v.endswith("_QUEUE_URL")]
    assert dead_letters == [names.WEBHOOK_EVENTS.env_var]


def test_one_encrypted_tls_only_topic_per_topic_definition_subscribed_by_its_queue(
    template_json: dict[str, Any],
) -> None:
    # The operator alerts topic is the operations construct's (tests/infra/test_operations.py).
    alerts_id = referenced_id(outputs(template_json)["OperatorAlertsTopicArn"])
    topics = {t_id: t for t_id, t in resources(template_json, "AWS::SNS::Topic") if t_id != alerts_id}
    assert len(topics) == len(names.TOPICS)
    subscriptions = [props(s) for _, s in resources(template_json, "AWS::SNS::Subscription")]
    for definition in names.TOPICS:
        (topic_id,) = [t_id for t_id, t in topics.items() if props(t)["DisplayName"] == f"trialgw {definition.logical}"]
        key = template_json["Resources"][referenced_id(props(topics[topic_id])["KmsMasterKeyId"])]
        assert key["Type"] == "AWS::KMS::Key"
        assert props(key)["EnableKeyRotation"] is True
        statements = _policy_statements(template_json, "AWS::SNS::TopicPolicy", "Topics", topic_id)
        assert any(
            s["Effect"] == "Deny" and s["Principal"] == "*" and s["Condition"] == SECURE_TRANSPORT_DENIED
            for s in statements
        )
        subscribed = [s for s in subscriptions if references(s["TopicArn"], topic_id)]
        # SNS invokes no function directly: its notifications go to a queue (SNS's envelope kept), which keeps the
        # ones whose processing fails in its dead-letter queue.
        assert all(s["Protocol"] == "sqs" and s.get("RawMessageDelivery", False) is False for s in subscribed)
        expected = {queue_ids(template_json)[q.logical] for q in names.QUEUES if definition.logical in q.topics}
        assert {referenced_id(s["Endpoint"]) for s in subscribed} == expected
        assert len(subscribed) == len(expected) == 1


def _only_this_accounts_end_user_messaging(statement: dict[str, Any]) -> None:
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": END_USER_MESSAGING}
    condition = statement["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert render(condition["ArnLike"]["aws:SourceArn"]) == "arn:aws:sms-voice:eu-west-1:123456789012:*"


def test_end_user_messaging_of_this_account_alone_may_publish_two_way_sms(template_json: dict[str, Any]) -> None:
    topic_id = referenced_id(outputs(template_json)["TwoWaySmsTopicArn"])
    topic = props(template_json["Resources"][topic_id])
    statements = _policy_statements(template_json, "AWS::SNS::TopicPolicy", "Topics", topic_id)
    (publish,) = [s for s in statements if s["Effect"] == "Allow"]
    _only_this_accounts_end_user_messaging(publish)
    assert publish["Action"] == "sns:Publish"
    assert references(publish["Resource"], topic_id)
    # An encrypted topic takes messages only from publishers that may use its key.
    key = props(template_json["Resources"][referenced_id(topic["KmsMasterKeyId"])])
    (key_use,) = [s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": END_USER_MESSAGING}]
    _only_this_accounts_end_user_messaging(key_use)
    assert set(key_use["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}


def test_the_webhook_secret_is_generated_never_written_in_the_template(
    template_json: dict[str, Any], synthesized: Synthesized
) -> None:
    _, secret = output_resource(template_json, "WebhookSecretsName")
    properties = props(secret)
    assert "SecretString" not in properties
    generator = properties["GenerateSecretString"]
    assert generator["GenerateStringKey"] == "cm_webhook_secret"
    assert generator["ExcludePunctuation"] is True  # a URL path segment without escaping
    assert generator["PasswordLength"] >= 32
    assert json.loads(generator["SecretStringTemplate"]) == {"meta_app_secret": "", "meta_verify_token": ""}
    assert {generator["GenerateStringKey"], *json.loads(generator["SecretStringTemplate"])} == set(SECRET_KEYS)
    assert secret["DeletionPolicy"] == "Retain"
    _, variant_secret = output_resource(synthesized.variant_json, "WebhookSecretsName")
    assert variant_secret["DeletionPolicy"] == "Delete"


def test_the_provider_secret_has_no_value_so_no_deploy_ever_writes_one(
    template_json: dict[str, Any], synthesized: Synthesized
) -> None:
    _, secret = output_resource(template_json, "ProviderSecretsName")
    properties = props(secret)
    # Neither a value nor a generator: CloudFormation creates the secret empty, and a stack update has
    # nothing to write over the operator's tokens.
    assert "GenerateSecretString" not in properties
    assert "SecretString" not in properties
    for key in PROVIDER_SECRET_KEYS:
        assert key in properties["Description"]
    assert secret["DeletionPolicy"] == "Retain"
    _, variant_secret = output_resource(synthesized.variant_json, "ProviderSecretsName")
    assert variant_secret["DeletionPolicy"] == "Delete"
    # Exactly the two secrets: webhooks and providers.
    assert len(list(resources(template_json, "AWS::SecretsManager::Secret"))) == 2


SECRET_NAMES = (*SECRET_KEYS, *PROVIDER_SECRET_KEYS)


def _pairs(value: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) in `value`, also inside strings that are JSON objects (secret templates, config)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _pairs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _pairs(item)
    elif isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return
        yield from _pairs(parsed)


@pytest.mark.parametrize("which", ["stack", "variant"])
def test_no_secret_value_anywhere_in_the_template(synthesized: Synthesized, which: str) -> None:
    template_json = synthesized.template_json if which == "stack" else synthesized.variant_json
    text = json.dumps(template_json)
    # No literal secret value, and no dynamic reference that would copy a secret into a resource or output.
    assert [key for key, _ in _pairs(template_json) if key == "SecretString"] == []
    assert "{{resolve:secretsmanager" not in text
    assert "{{resolve:ssm-secure" not in text
    for key, value in _pairs(template_json):
        names_a_secret = key in SECRET_NAMES or key.removeprefix("TRIALGW_").lower() in SECRET_NAMES
        if names_a_secret:
            # Only the webhook secret's generator template lists keys, every one empty.
            assert value == "", (key, value)
    # Outputs name the secrets (their ARN's name part, from a Ref), never read an attribute of them.
    secret_ids = [secret_id for secret_id, _ in resources(template_json, "AWS::SecretsManager::Secret")]
    for name, output in template_json["Outputs"].items():
        for secret_id in secret_ids:
            assert f'"Fn::GetAtt": ["{secret_id}"' not in json.dumps(output["Value"]), name


def test_secret_keys_are_the_settings_the_functions_would_otherwise_read() -> None:
    readers = {
        "webhook": {d.settings_model for d in topology.FUNCTIONS if d.reads_webhook_secrets},
        "provider": {d.settings_model for d in topology.FUNCTIONS if d.reads_provider_secrets},
    }
    for kind, keys in (("webhook", SECRET_KEYS), ("provider", PROVIDER_SECRET_KEYS)):
        assert readers[kind], f"no function reads the {kind} secret"
        for model in readers[kind]:
            assert set(keys) <= set(model.model_fields), (kind, model.__name__)


def test_no_function_environment_holds_a_secret_only_the_name_of_the_secrets_it_reads(
    template_json: dict[str, Any],
) -> None:
    secrets = {
        "TRIALGW_WEBHOOK_SECRETS_NAME": ("WebhookSecretsName", "reads_webhook_secrets"),
        "TRIALGW_PROVIDER_SECRETS_NAME": ("ProviderSecretsName", "reads_provider_secrets"),
    }
    for definition in topology.FUNCTIONS:
        variables = environment(functions(template_json)[definition.name][1])
        for key in SECRET_SETTINGS:
            assert f"TRIALGW_{key.upper()}" not in variables
        for variable, (output, reads) in secrets.items():
            if not getattr(definition, reads):
                assert variable not in variables
                continue
            secret_id, _ = output_resource(template_json, output)
            name = variables[variable]
            assert name == outputs(template_json)[output]
            # The secret's name (the ARN without Secrets Manager's suffix), never its value.
            assert render(name) == f"ref-{secret_id.lower()}"


@pytest.mark.parametrize(
    ("knob", "output"), [("cmWebhookSecret", "WebhookSecretsName"), ("cmProductToken", "ProviderSecretsName")]
)
def test_secrets_are_no_context_knobs_and_are_refused_there(knob: str, output: str) -> None:
    assert not {camel(name) for name in SECRET_SETTINGS} & StackConfig.knobs()
    assert {camel(name) for name in PROVIDER_SECRET_KEYS} <= {camel(name) for name in SECRET_SETTINGS}
    app = cdk.App(context={"senderEmail": "a@example.com", knob: "oops"})
    with pytest.raises(ValueError, match=f"{knob} must not be in the CDK context: set them in the {output} secret"):
        StackConfig.from_context(app.node)


def test_webhook_outputs_name_the_urls_without_the_secret(template_json: dict[str, Any]) -> None:
    values = {name: render(value) for name, value in outputs(template_json).items()}
    cm_route = next(route for route in topology.ROUTES if route.path.startswith("/webhooks/cm/"))
    assert values["CmWebhookUrlTemplate"] == (
        values["ApiUrl"] + cm_route.path.replace("{secret}", "<cm_webhook_secret of WebhookSecretsName>")
    )
    assert values["MetaWebhookUrl"] == values["ApiUrl"] + "/webhooks/meta"
    assert values["TwoWaySmsTopicArn"].startswith("ref-")
