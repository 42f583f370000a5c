"""The synthesized stack's resource inventory (types and counts), reviewed here line by line.

A change that adds, drops or multiplies resources fails this test loudly; update the snapshot only after
reading why the template changed. Properties are asserted by the other infra tests.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.infra.conftest import Synthesized

INVENTORY = {
    # The REST API: one account-level CloudWatch role setting, one deployment and stage, a validator for path
    # parameters, CORS-aware JSON gateway responses (4XX, 5XX, and the unknown route's 404: infra/api_errors.py), and
    # the 18 routes of infra/topology.py (a resource per path segment, a method per route plus 16 CORS preflights;
    # the send route's `…/gw/v1.0/message` twin adds two segments). Issue 18's webhook configuration added three
    # routes on two new paths (`/dashboard-api/webhooks` GET and PUT, `…/webhooks/secret` POST): 2 resources,
    # 3 methods and 2 preflights. Its test event, log and replay added three more routes
    # (`…/webhooks/test` POST, `/dashboard-api/webhook-log` GET, `…/webhook-log/{eventId}/replay` POST): 4 resources,
    # 3 methods and 3 preflights.
    "AWS::ApiGateway::Account": 1,
    "AWS::ApiGateway::Deployment": 1,
    "AWS::ApiGateway::GatewayResponse": 3,
    "AWS::ApiGateway::Method": 34,
    "AWS::ApiGateway::RequestValidator": 1,
    "AWS::ApiGateway::Resource": 24,
    "AWS::ApiGateway::RestApi": 1,
    "AWS::ApiGateway::Stage": 1,
    # The pages: one distribution with origin access control, a viewer-request function (clean URLs) and the
    # security headers policy; a site bucket and its access-log bucket, each with a TLS-only policy; CDK's
    # bucket deployment (its handler is the sixth Lambda function, with its own role, policy and logs).
    "AWS::CloudFront::Distribution": 1,
    "AWS::CloudFront::Function": 1,
    "AWS::CloudFront::OriginAccessControl": 1,
    "AWS::CloudFront::ResponseHeadersPolicy": 1,
    "AWS::S3::Bucket": 2,
    "AWS::S3::BucketPolicy": 2,
    "Custom::CDKBucketDeployment": 1,
    # Operations: per queue (outbound, SMS inbound, webhook events) its dead letters (their number; for the consumed
    # outbound dead-letter queue, its oldest one's age) and its oldest message's age (6); API 5XX, capacity breaker,
    # channel not configured, dead-lettered messages, stale queued sends, SES bounces, SES complaints (7); Errors and
    # Throttles of each of the nine functions (18, webhook_delivery's added by issue 18); the sweeper's failed runs
    # waiting in its dead-letter queue (1); one dashboard.
    "AWS::CloudWatch::Alarm": 32,
    "AWS::CloudWatch::Dashboard": 1,
    # trials, whitelist, messages, idempotency.
    "AWS::DynamoDB::Table": 4,
    # A role per function (9), the bucket deployment's, the integration URL lookup's and API Gateway's CloudWatch
    # role; a policy for each role that is granted something beyond its managed policy.
    "AWS::IAM::Policy": 11,
    "AWS::IAM::Role": 12,
    # Customer keys of the three SNS topics (SNS's AWS managed key cannot be shared with other services).
    "AWS::KMS::Key": 3,
    # delivery consumes the outbound queue, dead_letters its dead-letter queue, sms_inbound the SMS inbound queue,
    # webhook_delivery the webhook events queue.
    "AWS::Lambda::EventSourceMapping": 4,
    # The sweeper's schedule, and its asynchronous invocations' config (no retry: the next run does the same work).
    "AWS::Events::Rule": 1,
    "AWS::Lambda::EventInvokeConfig": 1,
    # send, signup, mo_webhook, sms_inbound, dashboard, delivery, dead_letters, webhook_delivery, sweeper, the bucket
    # deployment's handler and CDK's AwsCustomResource provider (the web ACL's integration URL).
    "AWS::Lambda::Function": 11,
    # core and deps (Powertools is AWS's public layer, referenced, not created), and the bucket deployment's
    # AWS CLI layer.
    "AWS::Lambda::LayerVersion": 3,
    # API Gateway may invoke the function of each of the 18 routes; the sweeper's schedule rule may invoke it.
    "AWS::Lambda::Permission": 19,
    # A log group per function (9), API access and execution logs (2), the bucket deployment's (1), the
    # integration URL lookup's (1).
    "AWS::Logs::LogGroup": 13,
    # The SES v2 identity and its configuration set.
    "AWS::SES::ConfigurationSet": 1,
    "AWS::SES::EmailIdentity": 1,
    # Two-way SMS and SMS delivery events feed the SMS inbound queue; the operator alerts topic has no subscriber
    # unless alarmEmail is set.
    "AWS::SNS::Subscription": 2,
    "AWS::SNS::Topic": 3,
    "AWS::SNS::TopicPolicy": 3,
    # The outbound, SMS inbound and webhook events queues and their dead-letter queues, and the sweeper's dead-letter
    # queue (its failed scheduled runs), each with a TLS-only policy (the SMS inbound queue's also lets its two topics
    # send to it).
    "AWS::SQS::Queue": 7,
    "AWS::SQS::QueuePolicy": 7,
    # Webhook secrets and provider credentials.
    "AWS::SecretsManager::Secret": 2,
    # The regional web ACL and its association with the stage; the deploy-time lookup of its application
    # integration URL (where the sign-up Challenge's SDK is), which CloudFormation does not expose.
    "AWS::WAFv2::WebACL": 1,
    "AWS::WAFv2::WebACLAssociation": 1,
    "Custom::AWS": 1,
}
# What the variant's knobs add: alarmEmail subscribes an address to the alerts topic; apiDomainName adds the
# custom domain and the mapping of the stage at its root.
VARIANT_ADDS = {
    "AWS::SNS::Subscription": 1,
    "AWS::ApiGateway::DomainName": 1,
    "AWS::ApiGateway::BasePathMapping": 1,
}
# What they remove: signupHumanCheck=off needs no integration URL, so no lookup, its function, role, policy
# and logs.
VARIANT_REMOVES = {
    "Custom::AWS": 1,
    "AWS::Lambda::Function": 1,
    "AWS::IAM::Role": 1,
    "AWS::IAM::Policy": 1,
    "AWS::Logs::LogGroup": 1,
}


def inventory(template: dict[str, Any]) -> dict[str, int]:
    return dict(Counter(resource["Type"] for resource in template["Resources"].values()))


def test_the_resource_inventory_is_the_reviewed_one(synthesized: Synthesized) -> None:
    assert inventory(synthesized.template_json) == INVENTORY


def test_the_variant_knobs_add_only_what_they_name(synthesized: Synthesized) -> None:
    expected = Counter(INVENTORY)
    expected.update(VARIANT_ADDS)
    expected.subtract(VARIANT_REMOVES)
    assert inventory(synthesized.variant_json) == {kind: count for kind, count in expected.items() if count}
