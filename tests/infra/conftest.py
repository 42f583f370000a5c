"""Synthesizes the CDK app once per test session (it costs seconds), with the cdk-nag checks on.

Two stacks in one app and one synth: `trialgw` as cdk.json configures it, and a variant with the
other branches of the knobs (no deletion protection, a domain identity, a settings override, another
queueMaxReceiveCount, an alarmEmail, no reserved concurrency, another delivery concurrency, a custom API
domain, a custom domain and web ACL for the pages, no sign-up human check, channels on providers other than the
sandbox, tracing on).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stack import TrialGatewayStack

VARIANT_STACK = "trialgw-variant"
VARIANT_DOMAIN = "trials.example.org"
VARIANT_MAX_RECEIVE_COUNT = 3
VARIANT_ALARM_EMAIL = "ops@trials.example.org"
VARIANT_API_DOMAIN = "api.trials.example.org"
VARIANT_CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
VARIANT_DELIVERY_MAX_CONCURRENCY = 7
VARIANT_SITE_DOMAIN = "try.trials.example.org"
VARIANT_SITE_CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/1c2d3e4f-5061-7283-94a5-b6c7d8e9f0a1"
VARIANT_SITE_WEB_ACL_ARN = (
    "arn:aws:wafv2:us-east-1:123456789012:global/webacl/trialgw-pages/2d3e4f50-6172-8394-a5b6-c7d8e9f0a1b2"
)
# Channels on real providers (with the account ids the deploy checks), whose credentials the deploy reminds of.
VARIANT_PROVIDERS = {
    "provider_sms": "cm",
    "provider_whatsapp": "meta",
    "whatsapp_phone_number_id": "106540352242922",
    "provider_messenger": "cm",
}


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    stack: TrialGatewayStack
    template_path: Path
    template_json: dict[str, Any]
    template: Template
    variant: TrialGatewayStack
    variant_json: dict[str, Any]
    variant_path: Path
    metadata: dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(outdir=str(outdir))
    variant = TrialGatewayStack(
        app,
        VARIANT_STACK,
        config=replace(
            stack.config,
            deletion_protection=False,
            queue_max_receive_count=VARIANT_MAX_RECEIVE_COUNT,
            alarm_email=VARIANT_ALARM_EMAIL,
            send_reserved_concurrency=0,
            delivery_max_concurrency=VARIANT_DELIVERY_MAX_CONCURRENCY,
            api_domain_name=VARIANT_API_DOMAIN,
            api_certificate_arn=VARIANT_CERTIFICATE_ARN,
            site_domain_name=VARIANT_SITE_DOMAIN,
            site_certificate_arn=VARIANT_SITE_CERTIFICATE_ARN,
            site_web_acl_arn=VARIANT_SITE_WEB_ACL_ARN,
            signup_human_check="off",
            tracing=True,
            ses_domain=VARIANT_DOMAIN,
            sender_email=f"trials@{VARIANT_DOMAIN}",
            settings_overrides={
                **stack.config.settings_overrides,
                "trial_lifetime_seconds": "600",
                **VARIANT_PROVIDERS,
            },
        ),
    )
    try:
        assembly = app.synth()
    except RuntimeError as error:  # cdk-nag (or another validation) stopped the synth
        pytest.fail(f"synth failed:\n{error}", pytrace=False)
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    template_path = Path(artifact.template_full_path)
    template_json = json.loads(template_path.read_text(encoding="utf-8"))
    variant_path = Path(assembly.get_stack_artifact(variant.artifact_id).template_full_path)
    metadata = json.loads((outdir / f"{stack.artifact_id}.metadata.json").read_text(encoding="utf-8"))
    return Synthesized(
        outdir=outdir,
        stack=stack,
        template_path=template_path,
        template_json=template_json,
        template=Template.from_json(template_json),
        variant=variant,
        variant_json=json.loads(variant_path.read_text(encoding="utf-8")),
        variant_path=variant_path,
        metadata=metadata,
    )


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


@pytest.fixture(scope="session")
def template_json(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.template_json


@pytest.fixture(scope="session")
def template_path(synthesized: Synthesized) -> Path:
    return synthesized.template_path
