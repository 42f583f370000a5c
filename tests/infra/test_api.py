"""The REST API: a method per topology route, CORS for the site only, throttling, safe access logs, WAF."""

from __future__ import annotations

import json
from typing import Any

from infra import topology
from tests.infra.cfn import environment, functions, outputs, props, referenced_id, references, render, resources
from tests.infra.conftest import VARIANT_API_DOMAIN, VARIANT_CERTIFICATE_ARN, Synthesized


def _resource_paths(template: dict[str, Any]) -> dict[str, str]:
    """API Gateway resource logical id → its full path, following ParentId up to the root."""
    api_resources = dict(resources(template, "AWS::ApiGateway::Resource"))

    def path_of(logical_id: str) -> str:
        properties = props(api_resources[logical_id])
        parent = properties["ParentId"]
        prefix = "" if "Fn::GetAtt" in parent else path_of(referenced_id(parent))
        return f"{prefix}/{properties['PathPart']}"

    return {logical_id: path_of(logical_id) for logical_id in api_resources}


def _methods(template: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    paths = _resource_paths(template)
    found = []
    for _, method in resources(template, "AWS::ApiGateway::Method"):
        properties = props(method)
        resource_id = properties["ResourceId"]
        path = "/" if "Fn::GetAtt" in resource_id else paths[referenced_id(resource_id)]
        found.append((properties["HttpMethod"], path, properties))
    return found


def test_the_api_is_regional(template_json: dict[str, Any]) -> None:
    ((_, api),) = resources(template_json, "AWS::ApiGateway::RestApi")
    assert props(api)["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_one_method_per_topology_route_each_proxying_to_its_function(template_json: dict[str, Any]) -> None:
    methods = {(verb, path): properties for verb, path, properties in _methods(template_json) if verb != "OPTIONS"}
    assert set(methods) == {(route.method, route.path.rstrip("/")) for route in topology.ROUTES}
    for route in topology.ROUTES:
        integration = methods[(route.method, route.path.rstrip("/"))]["Integration"]
        function_id, _ = functions(template_json)[route.function]
        assert integration["Type"] == "AWS_PROXY"
        assert references(integration["Uri"], function_id)


def test_cors_preflights_allow_only_the_site_origin(template_json: dict[str, Any]) -> None:
    ((distribution_id, _),) = resources(template_json, "AWS::CloudFront::Distribution")
    site_origin = f"'{render(outputs(template_json)['SiteUrl'])}'"
    preflights = [properties for verb, _, properties in _methods(template_json) if verb == "OPTIONS"]
    assert len(preflights) == len({route.path for route in topology.ROUTES})
    for preflight in preflights:
        (response,) = preflight["Integration"]["IntegrationResponses"]
        allowed = response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"]
        assert references(allowed, distribution_id)
        assert render(allowed) == site_origin
    for _, gateway_response in resources(template_json, "AWS::ApiGateway::GatewayResponse"):
        headers = props(gateway_response)["ResponseParameters"]
        assert render(headers["gatewayresponse.header.Access-Control-Allow-Origin"]) == site_origin


def test_the_stage_is_throttled_traced_and_logs_no_request_data(template_json: dict[str, Any]) -> None:
    ((_, stage),) = resources(template_json, "AWS::ApiGateway::Stage")
    properties = props(stage)
    assert properties["StageName"] == "v1"
    assert properties["TracingEnabled"] is True
    (settings,) = properties["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 20
    assert settings["ThrottlingBurstLimit"] == 40
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    access_log = json.loads(properties["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "resourcePath", "ip"} <= set(access_log)
    for variable in access_log.values():
        # No bodies, headers (trial keys), query strings, or the raw path (the CM webhook secret):
        # of everything path-like, only the route template ($context.resourcePath) is logged.
        assert "$input" not in variable
        assert "header" not in variable.lower()
        assert "querystring" not in variable.lower()
        assert "path" not in variable.lower() or variable == "$context.resourcePath"
        assert variable != "$context.identity.apiKey"
    assert access_log["resourcePath"] == "$context.resourcePath"


def test_api_log_groups_have_a_retention(template_json: dict[str, Any]) -> None:
    ((_, stage),) = resources(template_json, "AWS::ApiGateway::Stage")
    access_group_id = next(
        logical_id
        for logical_id, _ in resources(template_json, "AWS::Logs::LogGroup")
        if references(props(stage)["AccessLogSetting"]["DestinationArn"], logical_id)
    )
    execution_groups = [
        group
        for _, group in resources(template_json, "AWS::Logs::LogGroup")
        if "API-Gateway-Execution-Logs_" in json.dumps(props(group).get("LogGroupName", ""))
    ]
    assert len(execution_groups) == 1
    for group in [template_json["Resources"][access_group_id], *execution_groups]:
        assert props(group)["RetentionInDays"] == 30


def test_a_regional_web_acl_guards_the_stage_with_a_tighter_signup_rate(template_json: dict[str, Any]) -> None:
    ((acl_id, acl),) = resources(template_json, "AWS::WAFv2::WebACL")
    ((_, association),) = resources(template_json, "AWS::WAFv2::WebACLAssociation")
    ((stage_id, _),) = resources(template_json, "AWS::ApiGateway::Stage")
    assert props(acl)["Scope"] == "REGIONAL"
    assert references(props(association)["WebACLArn"], acl_id)
    assert references(props(association)["ResourceArn"], stage_id)
    rules = {rule["Name"]: rule for rule in props(acl)["Rules"]}
    signup = rules["SignupRatePerIp"]["Statement"]["RateBasedStatement"]
    everything = rules["RequestRatePerIp"]["Statement"]["RateBasedStatement"]
    assert signup["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == "/signup"
    assert signup["Limit"] < everything["Limit"]
    assert rules["SignupRatePerIp"]["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in rules.values()
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert managed == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    # Samples would keep request headers, where trial keys ride.
    assert all(rule["VisibilityConfig"]["SampledRequestsEnabled"] is False for rule in rules.values())


def test_webhooks_are_not_rate_limited_per_ip_and_bodies_are_sized_by_the_handlers(
    template_json: dict[str, Any],
) -> None:
    ((_, acl),) = resources(template_json, "AWS::WAFv2::WebACL")
    rules = {rule["Name"]: rule for rule in props(acl)["Rules"]}
    scope_down = rules["RequestRatePerIp"]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    exempt = scope_down["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert (exempt["PositionalConstraint"], exempt["SearchString"]) == ("CONTAINS", "/webhooks/")
    common = rules["AwsCommonRules"]["Statement"]["ManagedRuleGroupStatement"]
    counted = {o["Name"] for o in common["RuleActionOverrides"] if "Count" in o["ActionToUse"]}
    # The handlers answer oversized bodies themselves (webhooks take 64 KiB, beyond the rule's 8 KB).
    assert counted == {"CrossSiteScripting_BODY", "SizeRestrictions_BODY"}


def test_without_a_custom_domain_there_is_none(template_json: dict[str, Any]) -> None:
    assert list(resources(template_json, "AWS::ApiGateway::DomainName")) == []
    assert "ApiDomainTarget" not in outputs(template_json)


def test_a_custom_domain_maps_the_stage_at_its_root_over_tls_1_2_and_becomes_the_api_url(
    synthesized: Synthesized,
) -> None:
    variant = synthesized.variant_json
    ((domain_id, domain),) = resources(variant, "AWS::ApiGateway::DomainName")
    assert props(domain)["DomainName"] == VARIANT_API_DOMAIN
    assert props(domain)["RegionalCertificateArn"] == VARIANT_CERTIFICATE_ARN
    assert props(domain)["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert props(domain)["SecurityPolicy"] == "TLS_1_2"
    ((_, mapping),) = resources(variant, "AWS::ApiGateway::BasePathMapping")
    assert references(props(mapping)["DomainName"], domain_id)
    assert "BasePath" not in props(mapping)
    ((api_id, _),) = resources(variant, "AWS::ApiGateway::RestApi")
    assert references(props(mapping)["RestApiId"], api_id)
    ((stage_id, _),) = resources(variant, "AWS::ApiGateway::Stage")
    assert references(props(mapping)["Stage"], stage_id)

    values = outputs(variant)
    assert render(values["ApiUrl"]) == f"https://{VARIANT_API_DOMAIN}"
    assert render(values["GatewayUrl"]) == f"https://{VARIANT_API_DOMAIN}/messaging/messagingtrial/gw/"
    assert references(values["ApiDomainTarget"], domain_id)
    # The curl examples the functions show, and the pages' CORS origin, name the domain too.
    for name, (_, function) in functions(variant).items():
        api_url = environment(function).get("TRIALGW_API_URL")
        assert api_url in (None, f"https://{VARIANT_API_DOMAIN}"), name
