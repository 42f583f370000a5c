"""CDK constructs, one per capability; the stack composes them and does the cross-construct grants."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accepts one cdk-nag finding on `scope` (and its children), with the reason a reviewer reads."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
