"""Least privilege: each function gets exactly what topology declares; wildcards only where explained."""

from __future__ import annotations

import json
import re
from typing import Any

from infra import topology
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
    render,
    resources,
    role_statements,
)
from tests.infra.conftest import Synthesized
from trialgw import names

_PATH_PARAMETER = re.compile(r"\{\w+\}")
READ_DATA = {
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:Query",
    "dynamodb:Scan",
}
WRITE_DATA = {
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
}
TABLE_ACTIONS = {topology.Access.READ: READ_DATA, topology.Access.READ_WRITE: READ_DATA | WRITE_DATA}
SES_SEND = {"ses:SendEmail", "ses:SendRawEmail"}
SQS_SEND = {"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"}
# What an SQS event source grants its function (grant_consume_messages); ChangeMessageVisibility is the
# delivery function's back-off.
SQS_CONSUME = {
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
}
SMS_SEND = "sms-voice:SendTextMessage"
SMS_RESOURCES = {
    f"arn:aws:sms-voice:eu-west-1:123456789012:{kind}/*"
    for kind in ("phone-number", "sender-id", "pool", "configuration-set")
}
SECRET_READ = {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}
XRAY = {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}

# Every Allow statement on Resource "*" anywhere in the stack, with the reason it cannot be narrower.
WILDCARD_RESOURCE_ALLOWED = {
    frozenset(XRAY): "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
    "permissions; every traced function needs them.",
    frozenset({"cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"}): "CDK's own BucketDeployment "
    "handler: aws-cdk-lib grants invalidation on *, and the handler invalidates only the distribution "
    "named in its custom resource.",
}
# Every other Allow resource with a wildcard (as rendered for account 123456789012 in eu-west-1), with
# the reason it cannot be narrower. S3 object paths of buckets the stack owns need no entry.
WILDCARD_ARN_ALLOWED = dict.fromkeys(
    SMS_RESOURCES,
    "SendTextMessage is authorized on the origination identity (phone number, sender ID or pool) and the "
    "configuration set of each message; they are created outside the stack and the identity varies per "
    "message (the developer's sender, the smsOriginationIdentity knob, or End User Messaging's choice), "
    "so sending may use those of this account and region only.",
) | {
    "arn:aws:s3:::cdk-hnb659fds-assets-123456789012-eu-west-1/*": "CDK's own BucketDeployment handler reads the "
    "zipped pages from the CDK bootstrap assets bucket; aws-cdk-lib grants reading the objects under it.",
}
# AWS managed policies on roles CDK creates for its own machinery, never on our functions' roles.
MANAGED_POLICIES_ALLOWED = {
    "service-role/AWSLambdaBasicExecutionRole": "CDK's BucketDeployment handler role (created by CDK)",
    "service-role/AmazonAPIGatewayPushToCloudWatchLogs": "API Gateway's account-level CloudWatch Logs role",
}


def _statement_kind(statement: dict[str, Any]) -> str:
    services = {str(action).split(":")[0] for action in as_list(statement["Action"])}
    assert len(services) == 1, f"a statement mixing services: {statement}"
    return services.pop()


def _grants(statements: list[dict[str, Any]]) -> dict[str, dict[str, set[str]]]:
    """service → resource (as JSON) → actions, however CDK merged the statements."""
    grants: dict[str, dict[str, set[str]]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Action", "Effect", "Resource", "Condition"}, statement
        kind = _statement_kind(statement)
        for resource in as_list(statement["Resource"]):
            key = json.dumps(resource, sort_keys=True)
            grants.setdefault(kind, {}).setdefault(key, set()).update(as_list(statement["Action"]))
    return grants


def _arn(logical_id: str) -> str:
    return json.dumps({"Fn::GetAtt": [logical_id, "Arn"]}, sort_keys=True)


def _indexes(table_id: str) -> str:
    return json.dumps({"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, "/index/*"]]}, sort_keys=True)


def _expected_queues(
    definition: topology.FunctionDef, function: dict[str, Any], sources: dict[str, str]
) -> dict[str, set[str]]:
    """The queues the function sends to or consumes are the ones its environment names: sending, and consuming (from
    its event source) only where topology says so."""
    expected: dict[str, set[str]] = {}
    for actions, logicals in ((SQS_SEND, definition.sends_to), (SQS_CONSUME, definition.consumes)):
        for logical in logicals:
            expected.setdefault(_arn(sources[logical]), set()).update(actions)
    # A consumer whose time budget hands untried records back sends them to the queue it consumes.
    if definition.budget.hand_back_calls:
        for logical in definition.consumes:
            expected.setdefault(_arn(sources[logical]), set()).update(SQS_SEND)
    # An asynchronously invoked function's failed events go to its dead-letter queue, sent as its role.
    if (dead_letter_config := props(function).get("DeadLetterConfig")) is not None:
        expected[_arn(referenced_id(dead_letter_config["TargetArn"]))] = {"sqs:SendMessage"}
    return expected


def test_each_function_gets_exactly_what_topology_declares(template_json: dict[str, Any]) -> None:
    tables_by_env_var = {table.logical: table.env_var for table in names.TABLES}
    tables_by_logical = {table.logical: table for table in names.TABLES}
    sources = queue_ids(template_json)
    (identity_id, _), *_ = resources(template_json, "AWS::SES::EmailIdentity")
    (configuration_set_id, _), *_ = resources(template_json, "AWS::SES::ConfigurationSet")
    webhook_secret_id, _ = output_resource(template_json, "WebhookSecretsName")
    provider_secret_id, _ = output_resource(template_json, "ProviderSecretsName")
    for definition in topology.FUNCTIONS:
        _, function = functions(template_json)[definition.name]
        variables = environment(function)
        statements = role_statements(template_json, referenced_id(props(function)["Role"]))
        grants = _grants(statements)

        log_group_id = referenced_id(props(function)["LoggingConfig"]["LogGroup"])
        assert grants.pop("logs") == {_arn(log_group_id): {"logs:CreateLogStream", "logs:PutLogEvents"}}

        expected_tables = {
            _arn(referenced_id(variables[tables_by_env_var[logical]])): TABLE_ACTIONS[access]
            for logical, access in definition.tables.items()
        }
        # A table with indexes: CDK grants the same on its indexes (<table ARN>/index/*).
        expected_tables |= {
            _indexes(referenced_id(variables[tables_by_env_var[logical]])): TABLE_ACTIONS[access]
            for logical, access in definition.tables.items()
            if tables_by_logical[logical].indexes
        }
        assert grants.pop("dynamodb", {}) == expected_tables, definition.name

        assert grants.pop("sqs", {}) == _expected_queues(definition, function, sources), definition.name

        # Each secret it reads is the one its environment names, read-only.
        expected_secrets = {}
        for reads, secret_id, variable in (
            (definition.reads_webhook_secrets, webhook_secret_id, "TRIALGW_WEBHOOK_SECRETS_NAME"),
            (definition.reads_provider_secrets, provider_secret_id, "TRIALGW_PROVIDER_SECRETS_NAME"),
        ):
            if reads:
                expected_secrets[json.dumps({"Ref": secret_id})] = SECRET_READ
                assert references(variables[variable], secret_id)
            else:
                assert variable not in variables
        assert grants.pop("secretsmanager", {}) == expected_secrets, definition.name

        sms = [s for s in statements if _statement_kind(s) == "sms-voice"]
        grants.pop("sms-voice", None)
        if definition.sends_sms:
            (statement,) = sms
            assert as_list(statement["Action"]) == [SMS_SEND]
            assert {render(r) for r in as_list(statement["Resource"])} == SMS_RESOURCES
        else:
            assert sms == []

        ses = [s for s in statements if _statement_kind(s) == "ses"]
        grants.pop("ses", None)
        if definition.sends_email:
            (statement,) = ses
            assert set(as_list(statement["Action"])) == SES_SEND
            resources_ = as_list(statement["Resource"])
            assert len(resources_) == 2
            assert any(references(r, identity_id) and ":identity/" in json.dumps(r) for r in resources_)
            assert any(
                references(r, configuration_set_id) and ":configuration-set/" in json.dumps(r) for r in resources_
            )
            assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": "trials@example.com"}}
        else:
            assert ses == []
        assert grants == {}, f"{definition.name} has grants topology does not declare: {grants}"
        # Conditions only where SES needs them.
        assert all("Condition" not in s for s in statements if _statement_kind(s) != "ses")


def test_x_ray_may_be_written_only_where_tracing_is_on(template_json: dict[str, Any], synthesized: Synthesized) -> None:
    # Off by default: no function may write to X-Ray; on (the variant), every one may, and nothing more.
    for template, expected in ((template_json, None), (synthesized.variant_json, {json.dumps("*"): XRAY})):
        for _, function in functions(template).values():
            grants = _grants(role_statements(template, referenced_id(props(function)["Role"])))
            assert grants.get("xray") == expected


def test_no_statement_allows_every_action_and_wildcard_resources_are_explained(
    template_json: dict[str, Any],
) -> None:
    buckets = {bucket_id for bucket_id, _ in resources(template_json, "AWS::S3::Bucket")}
    # A table's own indexes (CDK grants them with the table; cdk-nag findings acknowledged with the reason).
    indexed = {
        t_id for t_id, t in resources(template_json, "AWS::DynamoDB::Table") if "GlobalSecondaryIndexes" in props(t)
    }
    for statement in identity_statements(template_json):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement["Action"])
        assert "*" not in actions
        assert not [a for a in actions if a.endswith(":*")], f"a whole service granted: {statement}"
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                assert frozenset(actions) in WILDCARD_RESOURCE_ALLOWED, f"unexplained Resource '*': {statement}"
            elif "*" in json.dumps(resource):
                own_objects = any(references(resource, b) for b in buckets) and render(resource).endswith("/*")
                own_indexes = json.dumps(resource, sort_keys=True) in {_indexes(t) for t in indexed}
                assert own_objects or own_indexes or render(resource) in WILDCARD_ARN_ALLOWED, (
                    f"unexplained wildcard: {resource}"
                )


def test_only_functions_that_send_sms_may_send_sms(template_json: dict[str, Any]) -> None:
    senders = {
        referenced_id(props(functions(template_json)[d.name][1])["Role"]) for d in topology.FUNCTIONS if d.sends_sms
    }
    for role_id, _ in resources(template_json, "AWS::IAM::Role"):
        statements = role_statements(template_json, role_id)
        sends = [s for s in statements if any(str(a).startswith("sms-voice:") for a in as_list(s["Action"]))]
        assert bool(sends) == (role_id in senders), role_id
        for statement in sends:
            assert as_list(statement["Action"]) == [SMS_SEND]
            assert "Condition" not in statement
            # Only identities and configuration sets of the stack's own account and region.
            assert {render(r) for r in as_list(statement["Resource"])} <= set(WILDCARD_ARN_ALLOWED)


def test_aws_managed_policies_only_on_cdk_machinery(template_json: dict[str, Any]) -> None:
    attached: set[str] = set()
    function_roles = {referenced_id(props(f)["Role"]) for _, f in functions(template_json).values()}
    for role_id, role in resources(template_json, "AWS::IAM::Role"):
        for arn in props(role).get("ManagedPolicyArns", []):
            assert role_id not in function_roles
            attached.add(render(arn).split(":policy/", 1)[1])
    assert attached <= set(MANAGED_POLICIES_ALLOWED)


def test_each_function_may_be_invoked_only_through_its_routes_and_its_schedule(template_json: dict[str, Any]) -> None:
    permissions = [props(p) for _, p in resources(template_json, "AWS::Lambda::Permission")]
    rules = dict(resources(template_json, "AWS::Events::Rule"))
    for definition in topology.FUNCTIONS:
        function_id, _ = functions(template_json)[definition.name]
        granted = [p for p in permissions if references(p["FunctionName"], function_id)]
        by_api = [p for p in granted if p["Principal"] == "apigateway.amazonaws.com"]
        by_rule = [p for p in granted if p["Principal"] == "events.amazonaws.com"]
        # No SNS permission: the topics deliver to queues, which the functions read through event sources.
        assert len(by_api) + len(by_rule) == len(granted), f"{definition.name}: an unexpected invoker"
        assert all(p["Action"] == "lambda:InvokeFunction" for p in granted)
        # API Gateway: one permission per route of this function, for the deployed stage only.
        routes = [route for route in topology.ROUTES if route.function == definition.name]
        sources = sorted(json.dumps(p["SourceArn"]) for p in by_api)
        assert len(sources) == len(routes)
        for route in routes:
            suffix = "/" + route.method + _PATH_PARAMETER.sub("*", route.path)
            assert sum(source.endswith(f'{suffix}"]]}}') for source in sources) == 1, suffix
        assert not any("test-invoke-stage" in source for source in sources)
        # EventBridge: one permission for the function's own schedule rule, from that rule only.
        assert len(by_rule) == (definition.schedule_minutes is not None)
        for permission in by_rule:
            rule = props(rules[referenced_id(permission["SourceArn"])])
            assert [referenced_id(t["Arn"]) for t in rule["Targets"]] == [function_id]
