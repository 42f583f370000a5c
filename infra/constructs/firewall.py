"""A regional WAFv2 web ACL in front of the API stage: per-IP rate limits, a human check on sign-up
(AWS WAF Challenge) and AWS managed rules."""

from __future__ import annotations

import re
from typing import Literal

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.constructs import acknowledge

Acl = wafv2.CfnWebACL
# WAF counts requests per client IP over this window; rate limits are per window.
RATE_WINDOW_SECONDS = 300
WAF_MINIMUM_RATE_LIMIT = 10
# The signupHumanCheck knob: `challenge` puts AWS WAF's Challenge (a silent browser check, answered by
# the JavaScript SDK the sign-up page loads) in front of every sign-up; `off` leaves sign-up to the
# rate limits alone.
HumanCheck = Literal["challenge", "off"]
HUMAN_CHECKS: tuple[HumanCheck, ...] = ("challenge", "off")
# The SDK script under the web ACL's application integration URL (which ends in "/").
CHALLENGE_SCRIPT = "challenge.js"
# How WAF sees the path before matching it: percent-decoded (API Gateway routes `/v1/%73ignup` to
# sign-up), `//`, `/./` and `/../` resolved, lower-cased. In this order: decoding can make the others.
PATH_TRANSFORMATIONS = ("URL_DECODE", "NORMALIZE_PATH", "LOWERCASE")


def _visibility(metric_name: str) -> Acl.VisibilityConfigProperty:
    # Metrics yes; sampled requests no: a sample keeps the request's headers, and a trial key may
    # ride in X-CM-PRODUCTTOKEN or Authorization.
    return Acl.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=False
    )


def _too_many_requests() -> Acl.RuleActionProperty:
    # 429 rather than WAF's default 403, so clients (and the signup page) can tell "slow down".
    return Acl.RuleActionProperty(
        block=Acl.BlockActionProperty(custom_response=Acl.CustomResponseProperty(response_code=429))
    )


def _rate_per_ip(limit: int, scope_down: Acl.StatementProperty | None = None) -> Acl.StatementProperty:
    return Acl.StatementProperty(
        rate_based_statement=Acl.RateBasedStatementProperty(
            aggregate_key_type="IP",
            limit=limit,
            evaluation_window_sec=RATE_WINDOW_SECONDS,
            scope_down_statement=scope_down,
        )
    )


def _path_transformations() -> list[Acl.TextTransformationProperty]:
    return [
        Acl.TextTransformationProperty(priority=priority, type=kind)
        for priority, kind in enumerate(PATH_TRANSFORMATIONS)
    ]


def _path_contains(search: str) -> Acl.StatementProperty:
    """The URI path, as `PATH_TRANSFORMATIONS` leave it, CONTAINS `search` (so `/webhooks/../` is not it)."""
    return Acl.StatementProperty(
        byte_match_statement=Acl.ByteMatchStatementProperty(
            field_to_match=Acl.FieldToMatchProperty(uri_path={}),
            positional_constraint="CONTAINS",
            search_string=search,
            text_transformations=_path_transformations(),
        )
    )


def route_path_patterns(stage_name: str, path: str) -> tuple[str, ...]:
    """Regexes for every spelling of `path` that API Gateway routes to it, as WAF sees it after
    `PATH_TRANSFORMATIONS`: with the stage prefix (the execute-api URL) or without it (a custom domain
    maps the stage at its root), any run of slashes between segments, an optional trailing slash.

    Two anchored patterns rather than one with an optional group: WAF's regex engine refuses
    capturing groups.
    """
    segments = "/+".join(re.escape(segment.lower()) for segment in path.strip("/").split("/"))
    stage = re.escape(stage_name.lower())
    return (f"^/+{segments}/*$", f"^/+{stage}/+{segments}/*$")


def _route_match(stage_name: str, path: str) -> Acl.StatementProperty:
    return Acl.StatementProperty(
        or_statement=Acl.OrStatementProperty(
            statements=[
                Acl.StatementProperty(
                    regex_match_statement=Acl.RegexMatchStatementProperty(
                        field_to_match=Acl.FieldToMatchProperty(uri_path={}),
                        regex_string=pattern,
                        text_transformations=_path_transformations(),
                    )
                )
                for pattern in route_path_patterns(stage_name, path)
            ]
        )
    )


def _method_is(method: str) -> Acl.StatementProperty:
    return Acl.StatementProperty(
        byte_match_statement=Acl.ByteMatchStatementProperty(
            field_to_match=Acl.FieldToMatchProperty(method={}),
            positional_constraint="EXACTLY",
            search_string=method,
            text_transformations=[Acl.TextTransformationProperty(priority=0, type="NONE")],
        )
    )


def _not(statement: Acl.StatementProperty) -> Acl.StatementProperty:
    return Acl.StatementProperty(not_statement=Acl.NotStatementProperty(statement=statement))


def _managed(name: str, *, count_only: tuple[str, ...] = ()) -> Acl.StatementProperty:
    return Acl.StatementProperty(
        managed_rule_group_statement=Acl.ManagedRuleGroupStatementProperty(
            vendor_name="AWS",
            name=name,
            rule_action_overrides=[
                Acl.RuleActionOverrideProperty(name=rule, action_to_use=Acl.RuleActionProperty(count={}))
                for rule in count_only
            ]
            or None,
        )
    )


class ApiFirewall(Construct):
    """Rules, in order: sign-up per IP (tight: each sign-up sends an e-mail), the sign-up Challenge
    (with `human_check="challenge"`), all requests per IP, AWS's common rule set and known bad inputs.

    With the Challenge on, `challenge_script_url` is the URL of the SDK script the sign-up page loads
    (read from the web ACL at deploy time), and `accept_tokens_from` names the page's domain, where the
    SDK gets its tokens.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: apigateway.Stage,
        stage_name: str,
        signup_path: str,
        signup_limit_per_ip: int,
        request_limit_per_ip: int,
        webhook_path_fragment: str,
        human_check: HumanCheck,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        if human_check not in HUMAN_CHECKS:
            raise ValueError(f"signupHumanCheck must be one of {HUMAN_CHECKS}, got {human_check!r}")
        signup = _route_match(stage_name, signup_path)
        rules = [
            Acl.RuleProperty(
                name="SignupRatePerIp",
                priority=0,
                # Before the Challenge: a flooding IP is refused without costing a challenge each time.
                statement=_rate_per_ip(signup_limit_per_ip, signup),
                action=_too_many_requests(),
                visibility_config=_visibility("SignupRatePerIp"),
            ),
        ]
        if human_check == "challenge":
            rules.append(
                Acl.RuleProperty(
                    name="SignupChallenge",
                    priority=1,
                    # POST only: a CORS preflight (OPTIONS) carries no token and must pass, and no other
                    # route is a human's to call.
                    statement=Acl.StatementProperty(
                        and_statement=Acl.AndStatementProperty(statements=[_method_is("POST"), signup])
                    ),
                    action=Acl.RuleActionProperty(challenge={}),
                    visibility_config=_visibility("SignupChallenge"),
                )
            )
        rules += [
            Acl.RuleProperty(
                name="RequestRatePerIp",
                priority=2,
                # Providers deliver every end user's messages from a few IPs, and webhooks are
                # authenticated (signature or path secret): they are not rate-limited per IP.
                statement=_rate_per_ip(request_limit_per_ip, _not(_path_contains(webhook_path_fragment.lower()))),
                action=_too_many_requests(),
                visibility_config=_visibility("RequestRatePerIp"),
            ),
            Acl.RuleProperty(
                name="AwsCommonRules",
                priority=3,
                # Message texts are the payload of this API: "<b>hi</b>" must reach the phone. The
                # pages render everything with textContent under a strict CSP, so the XSS body rule
                # only counts. The 8 KB body rule only counts too: each handler enforces its own body
                # limit with a documented answer (webhooks take up to 64 KiB).
                statement=_managed(
                    "AWSManagedRulesCommonRuleSet", count_only=("CrossSiteScripting_BODY", "SizeRestrictions_BODY")
                ),
                override_action=Acl.OverrideActionProperty(none={}),
                visibility_config=_visibility("AwsCommonRules"),
            ),
            Acl.RuleProperty(
                name="AwsKnownBadInputs",
                priority=4,
                statement=_managed("AWSManagedRulesKnownBadInputsRuleSet"),
                override_action=Acl.OverrideActionProperty(none={}),
                visibility_config=_visibility("AwsKnownBadInputs"),
            ),
        ]
        self.web_acl = Acl(
            self,
            "WebAcl",
            scope="REGIONAL",
            description="trialgw API: rate limits per IP, a Challenge on sign-up, AWS managed rules",
            default_action=Acl.DefaultActionProperty(allow={}),
            visibility_config=_visibility("trialgw-api"),
            rules=rules,
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        self.challenge_script_url: str | None = None
        if human_check == "challenge":
            self.challenge_script_url = self._integration_url(log_retention, removal_policy) + CHALLENGE_SCRIPT

    def accept_tokens_from(self, domain: str) -> None:
        """Accept Challenge tokens issued for `domain` (WAF accepts only the protected host's own by
        default): the SDK runs on the pages' domain, the API it protects is on another."""
        self.web_acl.token_domains = [*(self.web_acl.token_domains or []), domain]

    def _integration_url(self, log_retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> str:
        """The web ACL's application integration URL (where its SDK scripts live): GetWebACL returns it,
        CloudFormation has no attribute for it, so a custom resource asks at deploy time."""
        reference = self.web_acl.web_acl_ref
        get_web_acl = cr.AwsSdkCall(
            service="WAFV2",
            action="getWebACL",
            parameters={"Name": reference.web_acl_name, "Id": reference.web_acl_id, "Scope": "REGIONAL"},
            physical_resource_id=cr.PhysicalResourceId.of(reference.web_acl_id),
            # Only the URL: a custom resource's answer to CloudFormation is limited to 4 KB.
            output_paths=["ApplicationIntegrationURL"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "IntegrationUrl",
            on_create=get_web_acl,
            on_update=get_web_acl,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["wafv2:GetWebACL"], resources=[self.web_acl.attr_arn])]
            ),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(self, "IntegrationUrlLogs", retention=log_retention, removal_policy=removal_policy),
        )
        # CDK's one provider function of every AwsCustomResource in the stack (a singleton at stack level).
        provider = Stack.of(self).node.find_child(f"AWS{cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace('-', '')}")
        acknowledge(
            provider,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's AwsCustomResource provider function logs through the AWS managed basic execution policy; "
            "CDK creates its role, and its only other permission is wafv2:GetWebACL on this web ACL.",
        )
        return lookup.get_response_field("ApplicationIntegrationURL")
