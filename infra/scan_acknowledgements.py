"""checkov's findings that hold for every resource of a type, acknowledged where they hold (`ScanAcknowledgements`).

An operator's security team runs checkov on the template (tests/infra/test_checkov.py does on every test run, and
fails on any finding neither fixed nor acknowledged). A finding particular to one resource is acknowledged by the
construct that owns it (`infra.constructs.acknowledge_scan`); the ones below are design choices of the whole
serverless stack, written once, each applied only to the resources it is true of (a function with reserved
concurrency needs no reason for having none).
"""

from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from infra.constructs import acknowledge_scan

NO_VPC = (
    "CKV_AWS_117",
    "The functions reach only AWS service endpoints and the providers' public HTTPS APIs; there is nothing in a VPC "
    "to reach. A VPC would add NAT gateways (cost, and a fixed egress to run) and ENI cold starts for no isolation "
    "the functions' IAM roles do not already give.",
)
NO_ENVIRONMENT_KEY = (
    "CKV_AWS_173",
    "No secret is in any function's environment (a test asserts it): table and queue names, settings and the "
    "names of the Secrets Manager secrets, whose values are read at run time. Lambda encrypts the environment at rest "
    "with its AWS managed key.",
)
CONCURRENCY_CAPPED_BY_CALLER = (
    "CKV_AWS_115",
    "Capped where the function is invoked instead of by reserving account concurrency (which new accounts, with a "
    "limit of 10, cannot spare): API Gateway's per-route throttling and the WAF's per-IP rate rules for the API "
    "functions, the event source mapping's maximum concurrency for the queue consumers, one schedule for the sweeper, "
    "CloudFormation's deployments for CDK's custom resources. The send function, the one an abuser gains most from, "
    "also has reserved concurrency (sendReservedConcurrency).",
)
INVOKED_SYNCHRONOUSLY = (
    "CKV_AWS_116",
    "Invoked synchronously (API Gateway, CloudFormation's custom resources) or by an SQS event source mapping, never "
    "asynchronously: a Lambda dead-letter queue only ever receives failed asynchronous events. A failed request "
    "is answered to its caller; a failed record returns to its queue, whose own dead-letter queue keeps it. "
    "Every asynchronously invoked function has a dead-letter queue (a test asserts it).",
)
LOG_GROUPS_AWS_KEY = (
    "CKV_AWS_158",
    "CloudWatch Logs encrypts every log group at rest. The logs hold no secret or message text (masked numbers and "
    "e-mails, tested), so a customer-managed key would add a key policy to keep right and a cost per request without "
    "protecting anything the log groups' IAM does not.",
)
TABLES_AWS_KEY = (
    "CKV_AWS_119",
    "Every table is encrypted at rest with DynamoDB's AWS managed KMS key (SSEEnabled). The tables are read and "
    "written only by this stack's function roles, each granted its own tables; a customer-managed key would be "
    "granted to the same roles, adding a key policy and its cost without separating anyone.",
)
SECRETS_AWS_KEY = (
    "CKV_AWS_149",
    "Encrypted with Secrets Manager's AWS managed key. Only the functions that need a secret may read it (resource "
    "and role policies); a customer-managed key would be granted to the same roles, separating no one.",
)
QUEUES_SQS_MANAGED = (
    "CKV_AWS_27",
    "Encrypted at rest with SQS-managed server-side encryption (SqsManagedSseEnabled), which this check does not "
    "read; KMS instead would need the SNS topics' publisher (End User Messaging) in a key policy and a KMS call per "
    "message, for messages that live minutes.",
)
API_AUTHENTICATES_IN_CODE = (
    "CKV_AWS_59",
    "The API is public by design and authenticates in code, as CM's API does: the gateway checks the trial key in "
    "CM's body or X-CM-PRODUCTTOKEN header, the dashboard API the Bearer trial key, the webhooks a signature or a "
    "secret path; sign-up and the CORS preflights are anonymous. An IAM or Cognito authorizer would break CM's SDKs. "
    "Every route is throttled, and the WAF limits each client IP.",
)


@jsii.implements(IAspect)
class ScanAcknowledgements:
    """Adds the stack-wide acknowledgements above to each resource they are true of."""

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, CfnResource):
            return
        for check_id, reason in self._findings(node):
            acknowledge_scan(node, check_id, reason)

    @staticmethod
    def _findings(node: CfnResource) -> list[tuple[str, str]]:
        findings: list[tuple[str, str]] = []
        if isinstance(node, lambda_.CfnFunction):
            findings += [NO_VPC, NO_ENVIRONMENT_KEY]
            if node.reserved_concurrent_executions is None:
                findings.append(CONCURRENCY_CAPPED_BY_CALLER)
            if node.dead_letter_config is None:
                findings.append(INVOKED_SYNCHRONOUSLY)
        elif isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            findings.append(LOG_GROUPS_AWS_KEY)
        elif isinstance(node, dynamodb.CfnTable) and _sse_enabled(node):
            findings.append(TABLES_AWS_KEY)
        elif isinstance(node, secretsmanager.CfnSecret) and node.kms_key_id is None:
            findings.append(SECRETS_AWS_KEY)
        elif isinstance(node, sqs.CfnQueue) and node.sqs_managed_sse_enabled is True:
            findings.append(QUEUES_SQS_MANAGED)
        elif (
            isinstance(node, apigateway.CfnMethod)
            and node.authorization_type in (None, "NONE")
            and node.http_method != "OPTIONS"  # CORS preflights: never authenticated, and checkov knows it
        ):
            findings.append(API_AUTHENTICATES_IN_CODE)
        return findings


def _sse_enabled(table: dynamodb.CfnTable) -> bool:
    specification = table.sse_specification
    return isinstance(specification, dynamodb.CfnTable.SSESpecificationProperty) and specification.sse_enabled is True
