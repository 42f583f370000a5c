"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized template; the CDK context knobs."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from infra.app import CDK_JSON, DEFAULT_STACK_NAME, cdk_json_context
from infra.stack import StackConfig, camel
from tests.infra.conftest import Synthesized

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
# Every AwsSolutions rule the stack accepts somewhere; adding one should be a reviewed decision.
EXPECTED_ACKNOWLEDGED_RULES = {
    "AwsSolutions-APIG2",  # bodies validated in the handlers (CM's error envelope)
    "AwsSolutions-APIG4",  # public API, keys checked in code
    "AwsSolutions-COG4",  # same, no Cognito
    "AwsSolutions-CFR1",  # no geo restriction for a worldwide trial
    "AwsSolutions-CFR2",  # no CloudFront WAF for static pages
    "AwsSolutions-CFR4",  # default CloudFront certificate
    "AwsSolutions-S1",  # the access-log bucket itself
    "AwsSolutions-IAM4",  # CDK machinery roles (BucketDeployment, API Gateway account role)
    "AwsSolutions-IAM5",  # X-Ray, CDK's BucketDeployment handler, SMS from this account's identities
    "AwsSolutions-L1",  # CDK's BucketDeployment handler runtime; ours: the tested Python (.python-version)
    "AwsSolutions-SMG4",  # webhook secrets and provider credentials: rotated with the provider, by the operator
    "AwsSolutions-SQS3",  # the sweeper's dead-letter queue (its failed scheduled runs) needs none of its own
}
LAZY_REASONS = re.compile(r"\b(not needed|n/?a|todo|tbd|ignore|suppress(ed)?|false positive)\b", re.IGNORECASE)
# W3005: CDK writes DependsOn next to the Fn::GetAtt that already implies it (Lambda → its role).
CFN_LINT_ACCEPTED = {"W3005"}


def _acknowledgments(metadata: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry["type"] == ACKNOWLEDGED:
                for rule, reason in entry["data"].items():
                    found.setdefault(path, {})[re.sub(r"^annotation::", "", rule, flags=re.I)] = reason
    return found


def test_cdk_nag_reports_nothing_unacknowledged(synthesized: Synthesized) -> None:
    # The synth itself fails on any finding (see conftest); the report confirms it ran clean.
    report = json.loads((synthesized.outdir / "validation-report.json").read_text(encoding="utf-8"))
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_every_acknowledgment_is_expected_and_says_why(synthesized: Synthesized) -> None:
    acknowledgments = _acknowledgments(synthesized.metadata)
    rules = {rule for by_rule in acknowledgments.values() for rule in by_rule}
    assert {rule.partition("[")[0] for rule in rules} == EXPECTED_ACKNOWLEDGED_RULES
    for path, by_rule in acknowledgments.items():
        for rule, reason in by_rule.items():
            assert rule.startswith("AwsSolutions-"), f"{path}: {rule}"
            assert len(reason.split()) >= 8, f"{path} {rule}: a reason must explain, got {reason!r}"
            assert not LAZY_REASONS.search(reason), f"{path} {rule}: {reason!r}"


@pytest.mark.parametrize("which", ["stack", "variant"])
def test_cfn_lint_finds_no_errors_or_unexplained_warnings(synthesized: Synthesized, which: str) -> None:
    built = synthesized.stack if which == "stack" else synthesized.variant
    template_path = synthesized.outdir / built.template_file
    matches = lint_file(template_path, config=ManualArgs(regions=["eu-west-1", "us-east-1"]))
    findings = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id not in CFN_LINT_ACCEPTED]
    assert findings == []


def test_cdk_json_runs_the_app_and_sets_only_known_knobs() -> None:
    cdk_json = json.loads(CDK_JSON.read_text(encoding="utf-8"))
    assert cdk_json["app"] == ".venv/bin/python -m infra.app"
    knobs = {key for key in cdk_json_context() if not key.startswith("@aws-cdk/")}
    assert knobs <= StackConfig.knobs() | {"stackName"}
    assert cdk_json_context()["stackName"] == DEFAULT_STACK_NAME


def test_every_documented_knob_exists() -> None:
    import infra.app

    documented = set(re.findall(r"^\| (\w+) ", infra.app.__doc__ or "", re.MULTILINE)) - {"knob"}
    assert documented
    assert documented <= StackConfig.knobs() | {"stackName"}


def test_every_stack_knob_is_documented() -> None:
    import infra.app

    documented = set(re.findall(r"^\| (\w+) ", infra.app.__doc__ or "", re.MULTILINE))
    own = {camel(f.name) for f in fields(StackConfig) if f.name != "settings_overrides"}
    assert own - documented == set()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("false", False), ("true", True), (False, False)],
)
def test_command_line_context_strings_are_parsed(raw: object, expected: bool) -> None:
    class Node:
        @staticmethod
        def try_get_context(key: str) -> object:
            return {"senderEmail": "a@example.com", "deletionProtection": raw, "logRetentionDays": "14"}.get(key)

    config = StackConfig.from_context(Node())  # type: ignore[arg-type]
    assert config.deletion_protection is expected
    assert config.log_retention_days == 14
