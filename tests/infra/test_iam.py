"""Least privilege: each function gets exactly what topology declares; wildcards only where explained."""

from __future__ import annotations

import json
from typing import Any

from infra import topology
from tests.infra.cfn import (
    as_list,
    environment,
    functions,
    identity_statements,
    props,
    referenced_id,
    references,
    render,
    resources,
    role_statements,
)
from trialgw import names

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
XRAY = {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}

# Every Allow statement on Resource "*" anywhere in the stack, with the reason it cannot be narrower.
WILDCARD_RESOURCE_ALLOWED = {
    frozenset(XRAY): "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level "
    "permissions; every traced function needs them.",
    frozenset({"cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"}): "CDK's own BucketDeployment "
    "handler: aws-cdk-lib grants invalidation on *, and the handler invalidates only the distribution "
    "named in its custom resource.",
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


def test_each_function_gets_exactly_what_topology_declares(template_json: dict[str, Any]) -> None:
    tables_by_env_var = {table.logical: table.env_var for table in names.TABLES}
    (identity_id, _), *_ = resources(template_json, "AWS::SES::EmailIdentity")
    (configuration_set_id, _), *_ = resources(template_json, "AWS::SES::ConfigurationSet")
    for definition in topology.FUNCTIONS:
        _, function = functions(template_json)[definition.name]
        statements = role_statements(template_json, referenced_id(props(function)["Role"]))
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for statement in statements:
            assert statement["Effect"] == "Allow"
            by_kind.setdefault(_statement_kind(statement), []).append(statement)

        (logs,) = by_kind.pop("logs")
        assert set(as_list(logs["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
        assert logs["Resource"] == {"Fn::GetAtt": [referenced_id(props(function)["LoggingConfig"]["LogGroup"]), "Arn"]}

        (xray,) = by_kind.pop("xray")
        assert set(as_list(xray["Action"])) == XRAY

        dynamodb = by_kind.pop("dynamodb", [])
        assert len(dynamodb) == len(definition.tables)
        for logical, access in definition.tables.items():
            table_id = referenced_id(environment(function)[tables_by_env_var[logical]])
            (statement,) = [s for s in dynamodb if references(s["Resource"], table_id)]
            assert set(as_list(statement["Action"])) == TABLE_ACTIONS[access]
            assert as_list(statement["Resource"]) == [{"Fn::GetAtt": [table_id, "Arn"]}]

        ses = by_kind.pop("ses", [])
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
        assert by_kind == {}, f"{definition.name} has grants topology does not declare: {by_kind}"


def test_no_statement_allows_every_action_and_wildcard_resources_are_explained(
    template_json: dict[str, Any],
) -> None:
    for statement in identity_statements(template_json):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement["Action"])
        assert "*" not in actions
        assert not [a for a in actions if a.endswith(":*")], f"a whole service granted: {statement}"
        if "*" in as_list(statement["Resource"]):
            assert frozenset(actions) in WILDCARD_RESOURCE_ALLOWED, f"unexplained Resource '*': {statement}"


def test_aws_managed_policies_only_on_cdk_machinery(template_json: dict[str, Any]) -> None:
    attached: set[str] = set()
    function_roles = {referenced_id(props(f)["Role"]) for _, f in functions(template_json).values()}
    for role_id, role in resources(template_json, "AWS::IAM::Role"):
        for arn in props(role).get("ManagedPolicyArns", []):
            assert role_id not in function_roles
            attached.add(render(arn).split(":policy/", 1)[1])
    assert attached <= set(MANAGED_POLICIES_ALLOWED)


def test_api_gateway_may_invoke_each_function_only_through_its_route(template_json: dict[str, Any]) -> None:
    permissions = [props(p) for _, p in resources(template_json, "AWS::Lambda::Permission")]
    for route in topology.ROUTES:
        function_id, _ = functions(template_json)[route.function]
        granted = [p for p in permissions if references(p["FunctionName"], function_id)]
        assert granted, f"API Gateway cannot invoke {route.function}"
        for permission in granted:
            assert permission["Principal"] == "apigateway.amazonaws.com"
            source = json.dumps(permission["SourceArn"])
            assert f"/{route.method}{route.path}" in source
            assert "test-invoke-stage" not in source
