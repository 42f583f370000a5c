"""A regional WAFv2 web ACL in front of the API stage: per-IP rate limits and AWS managed rules."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

Acl = wafv2.CfnWebACL
# WAF counts requests per client IP over this window; rate limits are per window.
RATE_WINDOW_SECONDS = 300
WAF_MINIMUM_RATE_LIMIT = 10


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


def _path_match(constraint: str, search: str) -> Acl.StatementProperty:
    """The URI path (lower-cased) ENDS_WITH / CONTAINS `search`. WAF sees the stage prefix (`/v1/...`),
    so paths are matched by their end or inside, never from the start."""
    return Acl.StatementProperty(
        byte_match_statement=Acl.ByteMatchStatementProperty(
            field_to_match=Acl.FieldToMatchProperty(uri_path={}),
            positional_constraint=constraint,
            search_string=search,
            text_transformations=[Acl.TextTransformationProperty(priority=0, type="LOWERCASE")],
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
    """Rules, in order: signup per IP (tight: each signup sends an e-mail), all requests per IP,
    AWS's common rule set and known bad inputs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: apigateway.Stage,
        signup_path: str,
        signup_limit_per_ip: int,
        request_limit_per_ip: int,
        webhook_path_fragment: str,
    ) -> None:
        super().__init__(scope, construct_id)
        rules = [
            Acl.RuleProperty(
                name="SignupRatePerIp",
                priority=0,
                statement=_rate_per_ip(signup_limit_per_ip, _path_match("ENDS_WITH", signup_path.lower())),
                action=_too_many_requests(),
                visibility_config=_visibility("SignupRatePerIp"),
            ),
            Acl.RuleProperty(
                name="RequestRatePerIp",
                priority=1,
                # Providers deliver every end user's messages from a few IPs, and webhooks are
                # authenticated (signature or path secret): they are not rate-limited per IP.
                statement=_rate_per_ip(request_limit_per_ip, _not(_path_match("CONTAINS", webhook_path_fragment))),
                action=_too_many_requests(),
                visibility_config=_visibility("RequestRatePerIp"),
            ),
            Acl.RuleProperty(
                name="AwsCommonRules",
                priority=2,
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
                priority=3,
                statement=_managed("AWSManagedRulesKnownBadInputsRuleSet"),
                override_action=Acl.OverrideActionProperty(none={}),
                visibility_config=_visibility("AwsKnownBadInputs"),
            ),
        ]
        self.web_acl = Acl(
            self,
            "WebAcl",
            scope="REGIONAL",
            description="trialgw API: rate limits per IP and AWS managed rules",
            default_action=Acl.DefaultActionProperty(allow={}),
            visibility_config=_visibility("trialgw-api"),
            rules=rules,
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
