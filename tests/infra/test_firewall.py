"""The API's web ACL: per-IP rate limits that catch every spelling of sign-up, the sign-up Challenge with its
SDK published to the pages, AWS managed rules."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from infra.constructs.firewall import PATH_TRANSFORMATIONS
from infra.constructs.site import CONFIG_WAF_CHALLENGE_SCRIPT_URL
from tests.infra.cfn import as_list, props, referenced_id, references, resources, role_statements
from tests.infra.conftest import Synthesized

# Every way a client can write a path that API Gateway routes to the sign-up function: through the
# execute-api URL (stage prefix) or a custom domain (stage at the root), with a trailing slash, in other
# case, percent-encoded, with doubled slashes.
SIGNUP_SPELLINGS = (
    "/v1/signup",
    "/v1/signup/",
    "/signup",
    "/signup/",
    "/V1/SignUp",
    "/v1/SIGNUP/",
    "/v1/%73ignup",
    "/v1/%73%69%67%6E%75%70",
    "/v1/signup%2F",
    "/%2Fv1%2Fsignup",
    "//v1//signup",
    "/v1//signup//",
    "//signup",
)
# Paths that are not sign-up: they stay out of its tighter limit and its Challenge.
NOT_SIGNUP = (
    "/v1/signupx",
    "/v1/signup/x",
    "/v1/x/signup",
    "/v2/signup",
    "/v1/sign-up",
    "/v1/dashboard-api/trial",
    "/v1/messaging/messagingtrial/gw",
    "/v1/webhooks/cm/signup",
    "/",
)


def _acl(template_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((acl_id, acl),) = resources(template_json, "AWS::WAFv2::WebACL")
    return acl_id, props(acl)


def _rules(template_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["Name"]: rule for rule in _acl(template_json)[1]["Rules"]}


def _matches(statement: dict[str, Any], path: str) -> bool:
    """Whether WAF would match `path` with this OR of regexes. URL_DECODE and LOWERCASE are applied as WAF
    does; NORMALIZE_PATH is left out, so the patterns must catch doubled slashes on their own."""
    regexes = statement["OrStatement"]["Statements"]
    seen = unquote(path).lower()
    return any(re.search(r["RegexMatchStatement"]["RegexString"], seen) for r in regexes)


def test_a_regional_web_acl_guards_the_stage_with_a_tighter_signup_rate(template_json: dict[str, Any]) -> None:
    acl_id, acl = _acl(template_json)
    ((_, association),) = resources(template_json, "AWS::WAFv2::WebACLAssociation")
    ((stage_id, _),) = resources(template_json, "AWS::ApiGateway::Stage")
    assert acl["Scope"] == "REGIONAL"
    assert references(props(association)["WebACLArn"], acl_id)
    assert references(props(association)["ResourceArn"], stage_id)
    rules = _rules(template_json)
    signup = rules["SignupRatePerIp"]["Statement"]["RateBasedStatement"]
    everything = rules["RequestRatePerIp"]["Statement"]["RateBasedStatement"]
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
    assert sorted(rule["Priority"] for rule in rules.values()) == list(range(len(rules)))


@pytest.mark.parametrize("which", ["stack", "variant"])
def test_the_signup_rate_rule_matches_every_spelling_api_gateway_routes_to_sign_up(
    synthesized: Synthesized, which: str
) -> None:
    template_json = synthesized.template_json if which == "stack" else synthesized.variant_json
    scope_down = _rules(template_json)["SignupRatePerIp"]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    for regex in scope_down["OrStatement"]["Statements"]:
        match = regex["RegexMatchStatement"]
        assert match["FieldToMatch"] == {"UriPath": {}}
        # Decoding first: a decoded %2F is a slash for the others to see.
        assert [(t["Priority"], t["Type"]) for t in match["TextTransformations"]] == list(
            enumerate(PATH_TRANSFORMATIONS)
        )
        # WAF refuses capturing groups.
        assert "(" not in match["RegexString"]
    for path in SIGNUP_SPELLINGS:
        assert _matches(scope_down, path), path
    for path in NOT_SIGNUP:
        assert not _matches(scope_down, path), path


def test_sign_up_posts_and_nothing_else_are_challenged_after_the_rate_limit(template_json: dict[str, Any]) -> None:
    rules = _rules(template_json)
    challenged = [name for name, rule in rules.items() if {"Challenge", "Captcha"} & set(rule.get("Action", {}))]
    assert challenged == ["SignupChallenge"]
    rule = rules["SignupChallenge"]
    assert rule["Action"] == {"Challenge": {}}
    assert rules["SignupRatePerIp"]["Priority"] < rule["Priority"] < rules["RequestRatePerIp"]["Priority"]
    method, path = rule["Statement"]["AndStatement"]["Statements"]
    # POST only: a CORS preflight (OPTIONS) cannot carry the token.
    assert method["ByteMatchStatement"]["FieldToMatch"] == {"Method": {}}
    assert (method["ByteMatchStatement"]["PositionalConstraint"], method["ByteMatchStatement"]["SearchString"]) == (
        "EXACTLY",
        "POST",
    )
    # The same spellings as the rate rule.
    assert path == rules["SignupRatePerIp"]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]


def test_the_web_acl_accepts_challenge_tokens_from_the_pages_domain(template_json: dict[str, Any]) -> None:
    ((distribution_id, _),) = resources(template_json, "AWS::CloudFront::Distribution")
    _, acl = _acl(template_json)
    (domain,) = acl["TokenDomains"]
    assert domain == {"Fn::GetAtt": [distribution_id, "DomainName"]}


def test_the_integration_url_is_read_from_the_web_acl_at_deploy_time_with_least_privilege(
    template_json: dict[str, Any],
) -> None:
    acl_id, _ = _acl(template_json)
    ((lookup_id, lookup),) = resources(template_json, "Custom::AWS")
    for phase in ("Create", "Update"):
        call = json.dumps(props(lookup)[phase])
        assert '\\"service\\":\\"WAFV2\\"' in call
        assert '\\"action\\":\\"getWebACL\\"' in call
        assert '\\"Scope\\":\\"REGIONAL\\"' in call
        assert '\\"outputPaths\\":[\\"ApplicationIntegrationURL\\"]' in call
        assert references(props(lookup)[phase], acl_id)
    assert "Delete" not in props(lookup)
    provider = template_json["Resources"][referenced_id(props(lookup)["ServiceToken"])]
    statements = role_statements(template_json, referenced_id(props(provider)["Role"]))
    assert statements == [{"Action": "wafv2:GetWebACL", "Effect": "Allow", "Resource": {"Fn::GetAtt": [acl_id, "Arn"]}}]
    # The pages learn the SDK's URL from config.json, written at deploy time.
    ((_, deployment),) = resources(template_json, "Custom::CDKBucketDeployment")
    markers = [value for source in props(deployment)["SourceMarkers"] for value in source.values()]
    (script,) = [value for value in markers if references(value, lookup_id)]
    assert script == {
        "Fn::Join": ["", ['"', {"Fn::GetAtt": [lookup_id, "ApplicationIntegrationURL"]}, 'challenge.js"']]
    }
    assert CONFIG_WAF_CHALLENGE_SCRIPT_URL == "wafChallengeScriptUrl"


def test_without_the_human_check_there_is_no_challenge_no_token_domain_and_no_lookup(
    synthesized: Synthesized,
) -> None:
    variant = synthesized.variant_json
    assert synthesized.variant.config.signup_human_check == "off"
    rules = _rules(variant)
    assert "SignupChallenge" not in rules
    assert all("Challenge" not in rule.get("Action", {}) for rule in rules.values())
    assert "TokenDomains" not in _acl(variant)[1]
    assert list(resources(variant, "Custom::AWS")) == []
    assert "SignupRatePerIp" in rules


def test_webhooks_are_not_rate_limited_per_ip_and_bodies_are_sized_by_the_handlers(
    template_json: dict[str, Any],
) -> None:
    rules = _rules(template_json)
    scope_down = rules["RequestRatePerIp"]["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    exempt = scope_down["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert (exempt["PositionalConstraint"], exempt["SearchString"]) == ("CONTAINS", "/webhooks/")
    # `/v1/webhooks/../messaging/...` is no webhook: the path is normalized before the exemption applies.
    assert [t["Type"] for t in sorted(exempt["TextTransformations"], key=lambda t: t["Priority"])] == list(
        PATH_TRANSFORMATIONS
    )
    common = rules["AwsCommonRules"]["Statement"]["ManagedRuleGroupStatement"]
    counted = {o["Name"] for o in common["RuleActionOverrides"] if "Count" in o["ActionToUse"]}
    # The handlers answer oversized bodies themselves (webhooks take 64 KiB, beyond the rule's 8 KB).
    assert counted == {"CrossSiteScripting_BODY", "SizeRestrictions_BODY"}


def test_the_lookup_role_is_cdk_machinery_with_nothing_else(template_json: dict[str, Any]) -> None:
    ((_, lookup),) = resources(template_json, "Custom::AWS")
    provider = template_json["Resources"][referenced_id(props(lookup)["ServiceToken"])]
    assert props(provider)["Runtime"].startswith("nodejs")
    # Its logs have a retention, like every other log group of the stack.
    group = template_json["Resources"][referenced_id(props(provider)["LoggingConfig"]["LogGroup"])]
    assert props(group)["RetentionInDays"] == 30
    role = template_json["Resources"][referenced_id(props(provider)["Role"])]
    assert [json.dumps(arn) for arn in as_list(props(role)["ManagedPolicyArns"])] == [
        json.dumps(
            {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                ]
            }
        )
    ]
