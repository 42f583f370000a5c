"""CDK constructs, one per capability; the stack composes them and does the cross-construct grants."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

# Where checkov reads a resource's acknowledged findings: the template's `Metadata: {checkov: {skip: [...]}}`.
CHECKOV_METADATA = "checkov"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accepts one cdk-nag finding on `scope` (and its children), with the reason a reviewer reads."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledge_scan(scope: IConstruct, check_id: str, reason: str) -> None:
    """Accepts one checkov finding on `scope`'s CloudFormation resource (an L2 construct's default child), as the
    template's checkov metadata, with the reason an auditor reads; every acknowledged check of a resource is kept."""
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource of its own to acknowledge {check_id} on")
    metadata: dict[str, Any] = resource.get_metadata(CHECKOV_METADATA) or {}
    skips = [skip for skip in metadata.get("skip", []) if skip["id"] != check_id]
    resource.add_metadata(CHECKOV_METADATA, {"skip": [*skips, {"id": check_id, "comment": reason}]})
