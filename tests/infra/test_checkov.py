"""checkov, the scanner an operator's security team most often runs on a CloudFormation template, finds nothing
neither fixed nor acknowledged with a reason, on the stack as cdk.json configures it and on the variant with the
knobs' other branches; and the fixes it asked for hold by behaviour.

checkov lives in a venv of its own (`.venv-checkov`, made by `make test` from tools/checkov/requirements.txt): its
pins would downgrade the project's boto3.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.topology import ROOT
from tests.infra.conftest import (
    VARIANT_SITE_CERTIFICATE_ARN,
    VARIANT_SITE_DOMAIN,
    VARIANT_SITE_WEB_ACL_ARN,
    Synthesized,
)

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
# A reason an auditor can weigh says what the resource does and why the check does not fit: a sentence at least.
MIN_REASON_CHARS = 80


def _scan(template: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: `make test` installs it (tools/checkov/requirements.txt)", pytrace=False)
    run = subprocess.run(
        [
            str(CHECKOV),
            "-f",
            str(template),
            "--framework",
            "cloudformation",
            "--compact",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # checkov exits 1 when a check fails; its JSON report says which.
    if run.returncode not in (0, 1) or not run.stdout.strip():
        pytest.fail(f"checkov did not run:\n{run.stderr[-3000:]}", pytrace=False)
    report: dict[str, Any] = json.loads(run.stdout)
    return report


@pytest.fixture(scope="module")
def scans(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {"default": _scan(synthesized.template_path), "variant": _scan(synthesized.variant_path)}


def _findings(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = report["results"][kind]
    return findings


@pytest.mark.parametrize("which", ["default", "variant"])
def test_checkov_finds_nothing_neither_fixed_nor_acknowledged(scans: dict[str, dict[str, Any]], which: str) -> None:
    report = scans[which]
    failed = [f"{f['check_id']} {f['resource']}: {f['check_name']}" for f in _findings(report, "failed_checks")]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0


@pytest.mark.parametrize("which", ["default", "variant"])
def test_every_acknowledged_finding_carries_a_reason(scans: dict[str, dict[str, Any]], which: str) -> None:
    skipped = _findings(scans[which], "skipped_checks")
    assert skipped
    thin = [
        f"{f['check_id']} {f['resource']}"
        for f in skipped
        if len(f["check_result"].get("suppress_comment") or "") < MIN_REASON_CHARS
    ]
    assert thin == []


def test_the_pages_get_tls_1_2_and_a_web_acl_where_the_operator_gives_a_domain_and_one(
    scans: dict[str, dict[str, Any]], synthesized: Synthesized
) -> None:
    # The default stack acknowledges both (CloudFront's default certificate, no web ACL in another region); the
    # variant passes them.
    default_skipped = {f["check_id"] for f in _findings(scans["default"], "skipped_checks")}
    assert {"CKV_AWS_174", "CKV_AWS_68"} <= default_skipped
    variant_passed = {f["check_id"] for f in _findings(scans["variant"], "passed_checks")}
    assert {"CKV_AWS_174", "CKV_AWS_68"} <= variant_passed
    (distribution,) = [
        r["Properties"]["DistributionConfig"]
        for r in synthesized.variant_json["Resources"].values()
        if r["Type"] == "AWS::CloudFront::Distribution"
    ]
    assert distribution["Aliases"] == [VARIANT_SITE_DOMAIN]
    assert distribution["ViewerCertificate"]["AcmCertificateArn"] == VARIANT_SITE_CERTIFICATE_ARN
    assert distribution["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert distribution["WebACLId"] == VARIANT_SITE_WEB_ACL_ARN
    # The site's URL, the API's only CORS origin and the e-mails' links, is the custom domain's.
    assert synthesized.variant.site.url == f"https://{VARIANT_SITE_DOMAIN}"
    target = synthesized.variant_json["Outputs"]["SiteDomainTarget"]["Value"]
    assert target == {"Fn::GetAtt": [next(iter(_ids(synthesized.variant_json, "AWS::CloudFront::Distribution"))),
                                     "DomainName"]}  # fmt: skip
    assert "SiteDomainTarget" not in synthesized.template_json["Outputs"]


def _ids(template: dict[str, Any], kind: str) -> list[str]:
    return [logical_id for logical_id, r in template["Resources"].items() if r["Type"] == kind]


def _function_arn_refs(target: Any) -> set[str]:
    """Logical ids of functions a target's `Arn` or `FunctionName` points at."""
    if isinstance(target, dict) and "Fn::GetAtt" in target:
        return {target["Fn::GetAtt"][0]}
    if isinstance(target, dict) and "Ref" in target:
        return {target["Ref"]}
    return set()


def test_every_asynchronously_invoked_function_keeps_its_failed_events(template_json: dict[str, Any]) -> None:
    resources = template_json["Resources"]
    # Who invokes a function asynchronously: an EventBridge rule, an SNS subscription, S3 (Lambda permissions name
    # the service principals that may invoke it).
    asynchronous = {"events.amazonaws.com", "sns.amazonaws.com", "s3.amazonaws.com"}
    invoked: set[str] = set()
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Permission" and properties.get("Principal") in asynchronous:
            invoked |= _function_arn_refs(properties["FunctionName"])
    assert invoked, "no asynchronously invoked function found: the sweeper's schedule should be one"
    for logical_id in invoked:
        function = resources[logical_id]["Properties"]
        assert "DeadLetterConfig" in function, logical_id
        (queue_id,) = _function_arn_refs(function["DeadLetterConfig"]["TargetArn"])
        assert resources[queue_id]["Type"] == "AWS::SQS::Queue"
        assert resources[queue_id]["Properties"]["SqsManagedSseEnabled"] is True
    # A failed run is not retried: the next scheduled one does the same work.
    configs = {
        next(iter(_function_arn_refs(r["Properties"]["FunctionName"])), None): r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    assert all(configs.get(logical_id, {}).get("MaximumRetryAttempts") == 0 for logical_id in invoked)


def test_the_site_buckets_keep_superseded_objects_for_a_while(template_json: dict[str, Any]) -> None:
    buckets = [r["Properties"] for r in template_json["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    assert len(buckets) == 2
    for bucket in buckets:
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
        rules = bucket["LifecycleConfiguration"]["Rules"]
        assert any(rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") for rule in rules)


def test_the_readme_lists_every_acknowledged_check(scans: dict[str, dict[str, Any]]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Security scanners", 1)[1].split("\n## ", 1)[0]
    acknowledged = {f["check_id"] for report in scans.values() for f in _findings(report, "skipped_checks")}
    assert {check for check in acknowledged if f"| {check} |" not in section} == set()
