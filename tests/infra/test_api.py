"""The REST API: a method per topology route, CORS for the site only, per-route throttling, safe access logs,
no API Gateway tracing (the firewall is tests/infra/test_firewall.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_apigateway as apigateway

from infra import api_errors, topology
from infra.constructs.api import method_throttling
from infra.stack import StackConfig
from infra.topology import RouteDef, RouteGroup
from tests.infra.cfn import environment, functions, outputs, props, referenced_id, references, render, resources
from tests.infra.conftest import (
    VARIANT_API_DOMAIN,
    VARIANT_CERTIFICATE_ARN,
    VARIANT_SITE_CERTIFICATE_ARN,
    VARIANT_SITE_DOMAIN,
    VARIANT_SITE_WEB_ACL_ARN,
    Synthesized,
)
from trialgw.http import CORS_ALLOW_HEADERS

# The route groups' figures at the knobs' defaults (requests per second, burst), per method.
DEFAULT_ROUTE_THROTTLING = {
    RouteGroup.SIGNUP: (2, 5),
    RouteGroup.GATEWAY: (10, 20),
    RouteGroup.WEBHOOKS: (50, 100),
    RouteGroup.DASHBOARD: (10, 20),
}


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


def test_api_gateways_own_answers_are_json_that_says_what_to_do(template_json: dict[str, Any]) -> None:
    by_type = {
        props(r)["ResponseType"]: props(r) for _, r in resources(template_json, "AWS::ApiGateway::GatewayResponse")
    }
    # An undefined path or method: 404 with the routes to use, never API Gateway's "Missing Authentication Token".
    no_route = by_type["MISSING_AUTHENTICATION_TOKEN"]
    assert no_route["StatusCode"] == "404"
    body = json.loads(no_route["ResponseTemplates"]["application/json"])
    assert body == {"message": api_errors.NO_ROUTE_MESSAGE}
    assert "/messaging/messagingtrial/gw/v1.0/message" in body["message"]
    assert "Authentication" not in body["message"]
    # API Gateway's other errors keep its status and message, as JSON.
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert "StatusCode" not in by_type[response_type]
        template = by_type[response_type]["ResponseTemplates"]["application/json"]
        assert template == '{"message": $context.error.messageString}'


def test_the_sdk_path_is_the_send_route(template_json: dict[str, Any]) -> None:
    # CM's SDKs append production's `/v1.0/message` to the base URL: there, the send function answers as at `/gw`.
    methods = {(verb, path): properties for verb, path, properties in _methods(template_json)}
    sdk = methods[("POST", "/messaging/messagingtrial/gw/v1.0/message")]
    gateway = methods[("POST", "/messaging/messagingtrial/gw")]
    assert sdk["Integration"]["Uri"] == gateway["Integration"]["Uri"]


def test_the_stage_is_not_traced_and_logs_no_request_data(template_json: dict[str, Any]) -> None:
    ((_, stage),) = resources(template_json, "AWS::ApiGateway::Stage")
    properties = props(stage)
    assert properties["StageName"] == "v1"
    # API Gateway's segments record the full URL, and the CM webhooks' paths carry their secret.
    assert properties["TracingEnabled"] is False
    (default,) = [s for s in properties["MethodSettings"] if (s["ResourcePath"], s["HttpMethod"]) == ("/*", "*")]
    assert default["ThrottlingRateLimit"] == 20
    assert default["ThrottlingBurstLimit"] == 40
    for settings in properties["MethodSettings"]:
        # Every method's own entry keeps the stage's logging: errors only, never request data.
        assert settings["LoggingLevel"] == "ERROR"
        assert settings["DataTraceEnabled"] is False
        assert settings["MetricsEnabled"] is True
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


def _method_settings(template_json: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stage's MethodSettings by (path, method), the path as API Gateway writes it (`~1` for `/`)."""
    ((_, stage),) = resources(template_json, "AWS::ApiGateway::Stage")
    return {(s["ResourcePath"], s["HttpMethod"]): s for s in props(stage)["MethodSettings"]}


def test_every_route_has_its_groups_throttling_and_only_preflights_fall_back_to_the_stage_default(
    template_json: dict[str, Any],
) -> None:
    settings = _method_settings(template_json)
    assert len(settings) == len(topology.ROUTES) + 1  # and the stage default
    for route in topology.ROUTES:
        assert route.group is not None, route
        entry = settings[("/" + route.path.rstrip("/").replace("/", "~1"), route.method)]
        rate, burst = DEFAULT_ROUTE_THROTTLING[route.group]
        assert (entry["ThrottlingRateLimit"], entry["ThrottlingBurstLimit"]) == (rate, burst), route
    by_group = {(route.group, route.method, route.path) for route in topology.ROUTES}
    assert (RouteGroup.SIGNUP, "POST", "/signup") in by_group
    assert {route.path for route in topology.ROUTES if route.group is RouteGroup.WEBHOOKS} == {
        "/webhooks/cm/{secret}",
        "/webhooks/cm-status/{secret}",
        "/webhooks/meta",
    }
    assert {route.function for route in topology.ROUTES if route.group is RouteGroup.GATEWAY} == {"send"}
    assert {route.function for route in topology.ROUTES if route.group is RouteGroup.DASHBOARD} == {"dashboard"}
    # Every method that exists has an entry of its own except the preflights.
    for verb, path, _ in _methods(template_json):
        own = ("/" + path.replace("/", "~1"), verb) in settings
        assert own == (verb != "OPTIONS"), (verb, path)


def test_a_route_without_a_throttling_group_is_refused() -> None:
    figures = dict.fromkeys(RouteGroup, apigateway.ThrottleSettings(rate_limit=1, burst_limit=1))
    with pytest.raises(ValueError, match="POST /x has no throttling group"):
        method_throttling([RouteDef("POST", "/x", "f")], figures)


def test_preflights_let_the_waf_challenge_token_through(template_json: dict[str, Any]) -> None:
    assert "x-aws-waf-token" in CORS_ALLOW_HEADERS
    (signup,) = [p for verb, path, p in _methods(template_json) if (verb, path) == ("OPTIONS", "/signup")]
    (response,) = signup["Integration"]["IntegrationResponses"]
    allowed = response["ResponseParameters"]["method.response.header.Access-Control-Allow-Headers"]
    assert "x-aws-waf-token" in allowed.strip("'").split(",")


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


class _Context:
    """A CDK node's context, as `StackConfig.from_context` reads it (`-c` gives strings)."""

    def __init__(self, **knobs: str) -> None:
        self.knobs = {"senderEmail": "a@example.com", **knobs}

    def try_get_context(self, key: str) -> object:
        return self.knobs.get(key)


def _config(**knobs: str) -> StackConfig:
    return StackConfig.from_context(_Context(**knobs))  # type: ignore[arg-type]


def test_route_throttling_knobs_are_read_per_group_and_checked() -> None:
    figures = _config(webhooksThrottleRateLimit="75.5", webhooksThrottleBurstLimit="150").route_throttling
    assert set(figures) == set(RouteGroup)
    assert (figures[RouteGroup.WEBHOOKS].rate_limit, figures[RouteGroup.WEBHOOKS].burst_limit) == (75.5, 150)
    assert (figures[RouteGroup.SIGNUP].rate_limit, figures[RouteGroup.SIGNUP].burst_limit) == (2, 5)
    with pytest.raises(ValueError, match="signupThrottleRateLimit must be more than 0"):
        _config(signupThrottleRateLimit="0")
    with pytest.raises(ValueError, match="dashboardThrottleBurstLimit must be at least 1"):
        _config(dashboardThrottleBurstLimit="0")


def test_the_human_check_knob_is_challenge_or_off() -> None:
    assert _config().signup_human_check == "challenge"
    assert _config(signupHumanCheck="off").signup_human_check == "off"
    with pytest.raises(ValueError, match="signupHumanCheck must be one of challenge, off"):
        _config(signupHumanCheck="captcha")


def test_the_site_knobs_are_checked_at_synth() -> None:
    config = _config(
        siteDomainName=VARIANT_SITE_DOMAIN,
        siteCertificateArn=VARIANT_SITE_CERTIFICATE_ARN,
        siteWebAclArn=VARIANT_SITE_WEB_ACL_ARN,
    )
    assert (config.site_domain_name, config.site_web_acl_arn) == (VARIANT_SITE_DOMAIN, VARIANT_SITE_WEB_ACL_ARN)
    with pytest.raises(ValueError, match="set siteDomainName and siteCertificateArn together"):
        _config(siteDomainName=VARIANT_SITE_DOMAIN)
    with pytest.raises(ValueError, match="not an ACM certificate ARN in us-east-1"):
        _config(
            siteDomainName=VARIANT_SITE_DOMAIN,
            siteCertificateArn=VARIANT_SITE_CERTIFICATE_ARN.replace("us-east-1", "eu-west-1"),
        )
    with pytest.raises(ValueError, match="not the ARN of a CloudFront-scoped web ACL"):
        _config(siteWebAclArn=VARIANT_SITE_WEB_ACL_ARN.replace("global", "regional"))
