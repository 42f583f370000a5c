"""The static pages of `web/`: a private S3 bucket behind CloudFront (origin access control), HTTPS only,
with the strict security headers of `infra.web_security`, a generated `/config.json` naming the API
(and, with the sign-up Challenge on, the AWS WAF SDK script the sign-up page loads), and `/trial.json`
with the trial's rules and channels (`infra.site_rules`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from aws_cdk import CfnElement, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constructs import acknowledge, acknowledge_scan
from infra.site_rules import TRIAL_JSON
from infra.web_security import security_headers

# Pretty URLs for a bucket that has no index documents: `/` is the signup page, `/dashboard/` is
# `/dashboard/index.html`, and `/dashboard` (no slash) redirects so its relative URLs resolve; the
# browser keeps the `#<trial key>` fragment across the redirect, and never sends it to us.
URL_REWRITE_FUNCTION = """\
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === "/") {
    request.uri = "/signup/index.html";
  } else if (uri.endsWith("/")) {
    request.uri = uri + "index.html";
  } else if (uri.lastIndexOf(".") < uri.lastIndexOf("/")) {
    return {
      statusCode: 301,
      statusDescription: "Moved Permanently",
      headers: { location: { value: uri + "/" } },
    };
  }
  return request;
}
"""


def cloudfront_security_headers(headers: Mapping[str, str]) -> cloudfront.ResponseSecurityHeadersBehavior:
    """`infra.web_security.security_headers` as CloudFront wants them: it accepts these headers only
    as typed security headers, not as custom ones. A header without a mapping fails the synth."""
    remaining = dict(headers)
    hsts = _strict_transport_security(remaining.pop("Strict-Transport-Security"))
    referrer = remaining.pop("Referrer-Policy")
    frame = remaining.pop("X-Frame-Options")
    if remaining.pop("X-Content-Type-Options") != "nosniff":
        raise ValueError("X-Content-Type-Options: CloudFront can only send 'nosniff'")
    behavior = cloudfront.ResponseSecurityHeadersBehavior(
        content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
            content_security_policy=remaining.pop("Content-Security-Policy"), override=True
        ),
        content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
        frame_options=cloudfront.ResponseHeadersFrameOptions(
            frame_option=cloudfront.HeadersFrameOption[frame.upper()], override=True
        ),
        referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
            referrer_policy=cloudfront.HeadersReferrerPolicy[referrer.upper().replace("-", "_")],
            override=True,
        ),
        strict_transport_security=hsts,
    )
    if remaining:
        raise ValueError(f"no CloudFront mapping for security headers {sorted(remaining)}")
    return behavior


def _strict_transport_security(value: str) -> cloudfront.ResponseHeadersStrictTransportSecurity:
    directives = [part.strip() for part in value.split(";") if part.strip()]
    max_age = next(int(d.partition("=")[2]) for d in directives if d.lower().startswith("max-age="))
    flags = {d.lower() for d in directives if not d.lower().startswith("max-age=")}
    if unknown := flags - {"includesubdomains", "preload"}:
        raise ValueError(f"Strict-Transport-Security: unknown directives {sorted(unknown)}")
    return cloudfront.ResponseHeadersStrictTransportSecurity(
        access_control_max_age=Duration.seconds(max_age),
        include_subdomains="includesubdomains" in flags,
        preload="preload" in flags,
        override=True,
    )


# Superseded objects (a deploy replaces or prunes pages; log objects are never overwritten) are kept this long, then
# expire: versioning is for recovering from a bad deploy or a deletion, not an archive.
NONCURRENT_VERSION_DAYS = 30

# Why the pages go without a web ACL or a custom certificate when the operator gives none (cdk-nag and checkov).
NO_WEB_ACL = (
    "The distribution serves static pages only: the sign-up form posts to the API, which has its own regional web "
    "ACL (per-IP rate rules, the sign-up Challenge). A web ACL for CloudFront must be created in us-east-1, which a "
    "stack in another region cannot do: an operator who has one passes it as siteWebAclArn (docs/deploy.md)."
)
DEFAULT_CERTIFICATE = (
    "Without a custom domain the distribution serves CloudFront's default *.cloudfront.net certificate, whose viewer "
    "policy (TLS 1.0 and up) CloudFront fixes; modern browsers negotiate TLS 1.3 with it. An operator with a domain "
    "sets siteDomainName and siteCertificateArn, and the viewers then get TLSv1.2_2021 (docs/deploy.md)."
)

# The keys of `/config.json` the pages read.
CONFIG_API_URL = "apiUrl"
CONFIG_WAF_CHALLENGE_SCRIPT_URL = "wafChallengeScriptUrl"


class Site(Construct):
    """`url` is the site's origin (`https://<distribution domain>`), the API's only CORS origin.

    `waf_challenge_script_url` (the sign-up Challenge's SDK, known at deploy time) goes into
    `/config.json` as `wafChallengeScriptUrl`, and the pages' CSP then lets that SDK load and call AWS
    WAF; without it, neither.

    `domain_name` with `certificate_arn` (ACM, us-east-1) serves the pages on that domain with TLS 1.2 at least,
    and `url` is then `https://<domain_name>`; `web_acl_arn` puts a CloudFront-scoped web ACL in front of them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        web_dir: Path,
        api_origin: str,
        api_url: str,
        waf_challenge_script_url: str | None,
        trial_rules: Mapping[str, Any],
        log_retention: logs.RetentionDays,
        access_log_days: int,
        removal_policy: RemovalPolicy,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
        web_acl_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (domain_name is None) != (certificate_arn is None):
            raise ValueError("a custom domain for the pages needs both its name and its certificate's ARN")
        # Buckets are always retained: the log bucket is evidence, and CloudFormation cannot delete
        # a bucket that still holds objects without an extra custom-resource Lambda.
        self.log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            # CloudFront's standard logs are delivered by a grant in the bucket ACL.
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(access_log_days),
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.log_bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket of the site bucket and the distribution; logging its own "
            "access would log the log deliveries, recursively.",
        )
        acknowledge_scan(
            self.log_bucket,
            "CKV_AWS_18",
            "This is the access-log bucket of the pages bucket and the distribution; logging its own access would "
            "log the log deliveries, recursively. It is private, TLS-only and versioned.",
        )
        self.bucket = s3.Bucket(
            self,
            "Pages",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/pages/",
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="trialgw pages: strict CSP, API calls only to the trialgw API",
            security_headers_behavior=cloudfront_security_headers(
                security_headers(api_origin, waf_challenge_sdk=waf_challenge_script_url is not None)
            ),
        )
        self.url_rewrite = cloudfront.Function(
            self,
            "UrlRewrite",
            comment="/ to the signup page, directory URLs to their index.html",
            code=cloudfront.FunctionCode.from_inline(URL_REWRITE_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="trialgw signup and dashboard pages",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers_policy,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=self.url_rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            # A few small pages: the cheapest edge set serves them fast enough everywhere.
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
            domain_names=[domain_name] if domain_name is not None else None,
            certificate=(
                acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
                if certificate_arn is not None
                else None
            ),
            # With a custom certificate only: CloudFront's default one has a policy of its own.
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate_arn is not None else None
            ),
            web_acl_id=web_acl_arn,
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "Trying developers sign up from anywhere; where messages may go is decided per SMS "
            "destination country in code, not by where the page is viewed from.",
        )
        # What the operator did not give: the same finding of both scanners, with one reason.
        for given, nag_rule, check_id, reason in (
            (web_acl_arn, "AwsSolutions-CFR2", "CKV_AWS_68", NO_WEB_ACL),
            (certificate_arn, "AwsSolutions-CFR4", "CKV_AWS_174", DEFAULT_CERTIFICATE),
        ):
            if given is None:
                acknowledge(self.distribution, nag_rule, reason)
                acknowledge_scan(self.distribution, check_id, reason)
        self.url = (
            f"https://{domain_name}"
            if domain_name is not None
            else f"https://{self.distribution.distribution_domain_name}"
        )
        deployment_logs = logs.LogGroup(self, "DeploymentLogs", retention=log_retention, removal_policy=removal_policy)
        # The pages read the API's URL (and the SDK's) at run time, so they need no build step per stack;
        # json_data writes deploy-time values (the API id, the web ACL's integration URL) when deploying.
        config = {CONFIG_API_URL: api_url}
        if waf_challenge_script_url is not None:
            config[CONFIG_WAF_CHALLENGE_SCRIPT_URL] = waf_challenge_script_url
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(web_dir), exclude=["**/.*", "**/__pycache__"]),
                s3deploy.Source.json_data("config.json", config),
                # The trial's rules and channels (settings and the channel registry): known at synth, no markers.
                s3deploy.Source.json_data(TRIAL_JSON, dict(trial_rules)),
            ],
            prune=True,
            distribution=self.distribution,
            distribution_paths=["/*"],
            memory_limit=256,
            log_group=deployment_logs,
        )
        self._acknowledge_deployment_handler()

    def _acknowledge_deployment_handler(self) -> None:
        """Findings on CDK's own BucketDeployment Lambda (a singleton at stack level, the parent of
        its role), whose code, runtime and policy aws-cdk-lib chooses; each one is listed."""
        handler = self.deployment.handler_role.node.scope
        if handler is None:
            raise RuntimeError("BucketDeployment's handler role has no parent construct")
        stack = Stack.of(self)
        pages_arn = f"<{stack.get_logical_id(cast(CfnElement, self.bucket.node.default_child))}.Arn>"
        assets_bucket = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>"
        findings = {
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]": "CDK's BucketDeployment handler logs through the AWS managed "
            "basic execution policy; CDK creates its role, we cannot hand it a narrower one.",
            f"AwsSolutions-IAM5[Resource::{assets_bucket}/*]": "The handler reads the zipped web/ "
            "asset from CDK's bootstrap asset bucket, whose object keys are content hashes.",
            f"AwsSolutions-IAM5[Resource::{pages_arn}/*]": "The handler writes and prunes every object "
            "of the pages bucket: that is its job, and the bucket holds nothing else.",
            "AwsSolutions-IAM5[Action::s3:GetBucket*]": "CDK's grant for reading the asset and pages "
            "buckets (location, versioning) during the copy; scoped to those two buckets.",
            "AwsSolutions-IAM5[Action::s3:GetObject*]": "CDK's read grant on the asset object and the "
            "pages bucket's objects; scoped to those two buckets.",
            "AwsSolutions-IAM5[Action::s3:List*]": "aws s3 sync lists source and destination to "
            "compute what to copy and prune; scoped to those two buckets.",
            "AwsSolutions-IAM5[Action::s3:Abort*]": "Aborting its own multipart uploads of large pages; "
            "scoped to the pages bucket.",
            "AwsSolutions-IAM5[Action::s3:DeleteObject*]": "prune=True deletes pages removed from web/; "
            "scoped to the pages bucket.",
            "AwsSolutions-IAM5[Resource::*]": "CDK grants cloudfront:CreateInvalidation and "
            "GetInvalidation on *; the handler invalidates only this distribution after each deploy.",
            "AwsSolutions-L1": "The handler's runtime is pinned by aws-cdk-lib and moves with it; "
            "our own functions run the Python the project tests (.python-version).",
        }
        for rule_id, reason in findings.items():
            acknowledge(handler, rule_id, reason)
        policy = self.deployment.handler_role.node.try_find_child("DefaultPolicy")
        if policy is None:
            raise RuntimeError("BucketDeployment's handler role has no default policy")
        acknowledge_scan(
            policy,
            "CKV_AWS_111",
            "CDK's BucketDeployment grants cloudfront:CreateInvalidation and GetInvalidation on *; the handler "
            "invalidates only this distribution's paths after a deploy, and invalidating a cache writes no data. "
            "Its S3 writes are scoped to the pages bucket.",
        )
