"""The pages: private buckets, CloudFront with OAC, HTTPS only, the CSP headers, URL rewrites, config.json."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.site_rules import TRIAL_JSON, trial_rules
from infra.web_security import WAF_SDK_SOURCE, content_security_policy, security_headers
from tests.infra.cfn import outputs, props, referenced_id, references, render, resources
from tests.infra.conftest import VARIANT_API_DOMAIN, Synthesized
from trialgw.channels import CHANNELS
from trialgw.settings import TrialSettings


def _distribution(template_json: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((logical_id, distribution),) = resources(template_json, "AWS::CloudFront::Distribution")
    return logical_id, props(distribution)["DistributionConfig"]


def test_every_bucket_blocks_public_access_encrypts_and_enforces_tls(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2  # the pages and their access logs
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        },
    )
    for logical_id in buckets:
        template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": logical_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                },
            },
        )


def test_the_pages_bucket_is_read_only_by_this_distribution_and_logs_its_access(
    template_json: dict[str, Any],
) -> None:
    distribution_id, config = _distribution(template_json)
    (origin,) = config["Origins"]
    pages_id = referenced_id(origin["DomainName"])
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac = template_json["Resources"][referenced_id(origin["OriginAccessControlId"])]
    assert props(oac)["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    pages = props(template_json["Resources"][pages_id])
    assert "LoggingConfiguration" in pages
    (policy,) = [
        p for _, p in resources(template_json, "AWS::S3::BucketPolicy") if references(props(p)["Bucket"], pages_id)
    ]
    allows = [s for s in props(policy)["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allows
    for statement in allows:
        assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
        assert statement["Action"] == "s3:GetObject"
        assert references(statement["Condition"]["StringEquals"]["AWS:SourceArn"], distribution_id)


def test_viewers_are_redirected_to_https_and_get_the_security_headers(template_json: dict[str, Any]) -> None:
    _, config = _distribution(template_json)
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert "Logging" in config
    policy = props(template_json["Resources"][referenced_id(behavior["ResponseHeadersPolicyId"])])
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    api_origin = render(outputs(template_json)["ApiUrl"]).removesuffix("/v1")
    # The sign-up Challenge is on: the pages may load AWS WAF's SDK and let it call AWS WAF.
    expected = security_headers(api_origin, waf_challenge_sdk=True)
    assert render(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]) == expected["Content-Security-Policy"]
    assert f"connect-src 'self' {api_origin} https://*.awswaf.com;" in expected["Content-Security-Policy"]
    assert "script-src 'self' https://*.awswaf.com;" in expected["Content-Security-Policy"]
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == expected["Referrer-Policy"]
    assert headers["FrameOptions"]["FrameOption"] == expected["X-Frame-Options"]
    assert expected["X-Content-Type-Options"] == "nosniff"
    assert headers["ContentTypeOptions"] == {"Override": True}
    hsts = headers["StrictTransportSecurity"]
    assert f"max-age={hsts['AccessControlMaxAgeSec']}; includeSubDomains" == expected["Strict-Transport-Security"]
    assert all(header["Override"] is True for header in headers.values())


def _csp(template_json: dict[str, Any]) -> dict[str, list[str]]:
    _, config = _distribution(template_json)
    policy = props(template_json["Resources"][referenced_id(config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"])])
    text = render(
        policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    )
    directives = (part.split() for part in text.split(";"))
    return {name: sources for name, *sources in directives}


def test_only_the_waf_sdk_is_added_to_the_csp_and_only_with_the_human_check(synthesized: Synthesized) -> None:
    with_check, without = _csp(synthesized.template_json), _csp(synthesized.variant_json)
    assert WAF_SDK_SOURCE == "https://*.awswaf.com"
    assert {name for name, sources in with_check.items() if WAF_SDK_SOURCE in sources} == {"script-src", "connect-src"}
    assert not any(WAF_SDK_SOURCE in sources for sources in without.values())
    # Otherwise the same policy; connect-src names each stack's API origin (the variant's custom domain).
    without_sdk = {name: [s for s in sources if s != WAF_SDK_SOURCE] for name, sources in with_check.items()}
    assert without_sdk["connect-src"][0] == without["connect-src"][0] == "'self'"
    assert without["connect-src"][1:] == [f"https://{VARIANT_API_DOMAIN}"]
    assert {**without_sdk, "connect-src": []} == {**without, "connect-src": []}
    # The local stack passes no flag: its pages keep the strict policy without the SDK.
    assert "awswaf" not in content_security_policy("http://127.0.0.1:8080")


REWRITES = {
    "/": "/signup/index.html",
    "/signup/": "/signup/index.html",
    "/dashboard/": "/dashboard/index.html",
    "/signup/signup.js": "/signup/signup.js",
    "/config.json": "/config.json",
}


def test_the_url_rewrite_function_maps_directories_to_their_index(template_json: dict[str, Any]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    _, config = _distribution(template_json)
    (association,) = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function = props(template_json["Resources"][referenced_id(association["FunctionARN"])])
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    uris = [*REWRITES, "/dashboard"]
    harness = (
        function["FunctionCode"]
        + f"\nconsole.log(JSON.stringify({json.dumps(uris)}.map(u => handler({{request: {{uri: u}}}}))));\n"
    )
    result = subprocess.run([node, "-e", harness], capture_output=True, text=True, check=True, timeout=30)
    answers = dict(zip(uris, json.loads(result.stdout), strict=True))
    for uri, rewritten in REWRITES.items():
        assert answers[uri] == {"uri": rewritten}
    redirect = answers["/dashboard"]
    assert redirect["statusCode"] == 301
    assert redirect["headers"]["location"]["value"] == "/dashboard/"


def test_config_json_names_the_api_without_a_trailing_slash(synthesized: Synthesized) -> None:
    template_json = synthesized.template_json
    ((_, deployment),) = resources(template_json, "Custom::CDKBucketDeployment")
    properties = props(deployment)
    assert properties["Prune"] is True
    # The deployment's own sources (the variant stack stages another config.json).
    sources = {f"asset.{key.removesuffix('.zip')}" for key in properties["SourceObjectKeys"]}
    (staged,) = [
        path
        for path in synthesized.outdir.glob("asset.*/config.json")
        if path.parent.is_dir() and path.parent.name in sources
    ]
    text = staged.read_text(encoding="utf-8")
    for markers in properties["SourceMarkers"]:
        for marker, value in markers.items():
            text = text.replace(marker, render(value))
    config = json.loads(text)
    ((lookup_id, _),) = resources(template_json, "Custom::AWS")
    assert config == {
        "apiUrl": render(outputs(template_json)["ApiUrl"]),
        # The web ACL's application integration URL (it ends in "/") and the SDK script under it.
        "wafChallengeScriptUrl": f"{lookup_id.lower()}-applicationintegrationurlchallenge.js",
    }
    assert not config["apiUrl"].endswith("/")


def test_without_the_human_check_config_json_names_only_the_api(synthesized: Synthesized) -> None:
    variant = synthesized.variant_json
    ((_, deployment),) = resources(variant, "Custom::CDKBucketDeployment")
    markers = [value for source in props(deployment)["SourceMarkers"] for value in source.values()]
    # One deploy-time value in config.json: the API's URL (the custom domain's, a literal, needs none).
    assert all("ApplicationIntegrationURL" not in json.dumps(value) for value in markers)
    sources = {f"asset.{key.removesuffix('.zip')}" for key in props(deployment)["SourceObjectKeys"]}
    (staged,) = [p for p in synthesized.outdir.glob("asset.*/config.json") if p.parent.name in sources]
    assert json.loads(staged.read_text(encoding="utf-8")) == {"apiUrl": f"https://{VARIANT_API_DOMAIN}"}


def test_trial_json_carries_the_configured_rules_and_the_channel_registry(synthesized: Synthesized) -> None:
    variant = synthesized.variant_json
    ((_, deployment),) = resources(variant, "Custom::CDKBucketDeployment")
    sources = {f"asset.{key.removesuffix('.zip')}" for key in props(deployment)["SourceObjectKeys"]}
    (staged,) = [p for p in synthesized.outdir.glob(f"asset.*/{TRIAL_JSON}") if p.parent.name in sources]
    rules = json.loads(staged.read_text(encoding="utf-8"))
    # The variant's trialLifetimeSeconds (600); the rest are the defaults, as the stack's settings give them.
    assert rules == trial_rules(TrialSettings(trial_lifetime_seconds=600))
    assert rules["lifetime"] == "10 minutes"
    assert [channel["name"] for channel in rules["channels"]] == [channel.value for channel in CHANNELS]
