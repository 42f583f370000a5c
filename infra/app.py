"""The CDK app: `make synth` (`python -m infra.app`, writes cdk.out/) and `make deploy` (the CDK CLI).

Both read the context of cdk.json; `-c key=value` on the CLI overrides it. cdk-nag's AwsSolutions
checks run on every synth: an unacknowledged finding stops it, so nothing unreviewed is deployed.

Context knobs (all optional except senderEmail):

| knob                       | default | meaning                                                          |
|----------------------------|---------|------------------------------------------------------------------|
| stackName                  | trialgw | CloudFormation stack name                                        |
| senderEmail                | —       | From address of trial e-mails; SES verifies it (an e-mail arrives) |
| sesDomain                  | —       | verify this domain instead (DKIM records are stack outputs)      |
| deletionProtection         | true    | tables protected and retained, stack termination protection     |
| logRetentionDays           | 30      | Lambda, API and access logs (a CloudWatch retention value)       |
| logLevel                   | INFO    | DEBUG, INFO, WARNING or ERROR                                    |
| tracing                    | false   | X-Ray active tracing and Powertools Tracer in every function     |
| apiStageName               | v1      | first path segment of every API URL                              |
| apiThrottleRateLimit       | 20      | requests per second of each method without a route group (CORS preflights) |
| apiThrottleBurstLimit      | 40      | their burst                                                      |
| signupThrottleRateLimit    | 2       | POST /signup: requests per second (API Gateway, then HTTP 429)   |
| signupThrottleBurstLimit   | 5       | POST /signup: burst                                              |
| gatewayThrottleRateLimit   | 10      | send, status, openapi.json: requests per second, each method     |
| gatewayThrottleBurstLimit  | 20      | send, status, openapi.json: burst, each method                   |
| webhooksThrottleRateLimit  | 50      | CM, CM status, Meta GET/POST webhooks: requests per second, each |
| webhooksThrottleBurstLimit | 100     | those webhooks: burst, each method                               |
| dashboardThrottleRateLimit | 10      | dashboard API: requests per second, each method                  |
| dashboardThrottleBurstLimit | 20     | dashboard API: burst, each method                                |
| wafSignupLimitPerIp        | 20      | signups per client IP per 5 minutes (then HTTP 429)              |
| wafRequestLimitPerIp       | 1000    | API requests per client IP per 5 minutes (then HTTP 429)         |
| signupHumanCheck           | challenge | AWS WAF Challenge on each sign-up POST (the page's SDK answers it); off |
| queueMaxReceiveCount       | 5       | deliveries of an SQS message before it moves to its dead-letter queue |
| alarmEmail                 | —       | e-mails every alarm (the operator alerts topic); confirm the subscription |
| sendReservedConcurrency    | 10      | instances reserved for, and capping, send (0: none reserved)     |
| deliveryMaxConcurrency     | 5       | concurrent delivery invocations the queue drives (2 to 1000)     |
| apiDomainName              | —       | custom domain of the API; the API URL becomes https://<it>       |
| apiCertificateArn          | —       | ACM certificate of apiDomainName, in the stack's region          |
| siteDomainName             | —       | custom domain of the pages (TLS 1.2+); the site URL becomes it  |
| siteCertificateArn         | —       | ACM certificate of siteDomainName, in us-east-1 (CloudFront's)   |
| siteWebAclArn              | —       | a CloudFront-scoped AWS WAF web ACL (made in us-east-1) for the pages |
| capacityLimit              | 1000    | messages accepted across all trials per window before the breaker trips |
| capacityWindowSeconds      | 3600    | the capacity breaker's counting window                           |
| providerSms                | sandbox | who carries SMS: sandbox, cm or aws-sms (End User Messaging)     |
| providerWhatsapp           | sandbox | who carries WhatsApp: sandbox, cm or meta (WhatsApp Cloud API)   |
| providerMessenger          | sandbox | who carries Messenger: sandbox, cm or meta                       |
| providerInstagram          | sandbox | who carries Instagram: sandbox, cm or meta                       |
| smsOriginationIdentity     | —       | aws-sms: phone number, sender ID or pool (id or ARN) to send from |
| smsConfigurationSet        | —       | aws-sms: End User Messaging configuration set of every send      |
| whatsappPhoneNumberId      | —       | meta: the WhatsApp Business phone number id                      |
| messengerPageId            | —       | meta: the Facebook page id Messenger sends as                    |
| instagramAccountId         | —       | meta: the Instagram professional account id                      |
| cmSenders                  | {}      | cm: `from` per channel, JSON (`{"SMS": "ACME", "WhatsApp": "31…"}`) |
| whatsappNumber             | +31850876714 | the trial company's WhatsApp number developers send their key to |
| smsNumbers                 | UK, US, NL | its SMS numbers by region, JSON (`{"the UK": "+44…"}`)      |
| messengerUrl, instagramUrl | m.me / ig.me links | its Messenger page and Instagram DM links                |
| offeredChannels            | all four | channels the gateway accepts, JSON (`["SMS", "WhatsApp"]`)     |
| trialLifetimeSeconds       | 86400   | how long a trial key works                                       |
| maxRecipients              | 10      | whitelisted recipients per trial                                 |
| quotaSms, quotaWhatsapp, quotaOther | 10, 10, 30 | messages per trial per channel (other: each of the rest) |
| brand, … any other field   | settings defaults | any field of `trialgw.settings`, camelCase (docs/configuration.md) |

An empty value ("" in cdk.json) leaves a knob at its default. deliveryMaxAttempts is no knob: the
delivery function's attempts are always queueMaxReceiveCount, so its last attempt is the one before the
dead-letter queue.

Route throttling: API Gateway keeps one token bucket per method of the stage; each route of
`topology.ROUTES` gets its group's figures (the `<group>Throttle*` knobs), so a flood on one route is
answered 429 while the others keep their own capacity. The reasoning behind each default is next to
its field in infra/stack.py (StackConfig).

Channel providers: the sandbox carries a channel only when chosen for it. A channel set to meta without
its account id (whatsappPhoneNumberId, messengerPageId, instagramAccountId) stops the synth; one whose
credential is missing fails closed: its messages are marked failed "channel not configured" and the
ChannelNotConfigured alarm fires (the synth warns of every credential the chosen providers need). The
credentials never go in the context (synth refuses cmProductToken, whatsappAccessToken,
messengerPageToken and instagramAccessToken): they live in the Secrets Manager secret named by the
`ProviderSecretsName` output, which the stack creates with no value and no deploy ever writes. After
the first deploy, set each credential you use with `trialgw-admin providers set-credential KEY --stack
<stack name>` (it reads the value from stdin or a prompt that does not echo), or put the whole JSON
from a file, never on the command line (`aws secretsmanager put-secret-value --secret-id
<ProviderSecretsName> --secret-string file://provider-secrets.json`, with the keys cm_product_token,
whatsapp_access_token, messenger_page_token, instagram_access_token); the delivery function picks it up
within five minutes. aws-sms needs no credential (IAM allows it): it sends through the End User
Messaging phone numbers, sender IDs, pools and configuration sets of this account in the stack's
region, any of them and no other account's.

Webhook secrets never go in the context (synth refuses cmWebhookSecret, metaAppSecret and
metaVerifyToken): they live in the Secrets Manager secret named by the `WebhookSecretsName` output.
The stack generates `cm_webhook_secret`; after the first deploy:

- CM: read it (`aws secretsmanager get-secret-value --secret-id <WebhookSecretsName>`) and give CM the
  `CmWebhookUrlTemplate` output with the placeholder replaced by it, as the MO webhook URL.
- Meta: put your app's secret and a verify token of your choice into the secret (`aws secretsmanager
  put-secret-value` with the whole JSON: cm_webhook_secret, meta_app_secret, meta_verify_token), then
  enter the `MetaWebhookUrl` output and that verify token as the app's webhook callback.
- Rotating a value means changing it here and at the provider at once; functions pick it up within
  five minutes.

Two-way SMS (AWS End User Messaging): the stack creates the SNS topic of the `TwoWaySmsTopicArn`
output, subscribed by the inbound function. Its topic policy and its KMS key's policy already let
End User Messaging of this account publish (`sms-voice.amazonaws.com`, scoped by aws:SourceAccount
and aws:SourceArn), so no TwoWayChannelRole is needed. Link each number that should receive texts:

    aws pinpoint-sms-voice-v2 update-phone-number --phone-number-id <id or ARN> \
        --two-way-enabled --two-way-channel-arn <TwoWaySmsTopicArn>

(or, in the console: the phone number's two-way SMS settings, destination "Amazon SNS", existing
topic, "SNS topic policies" as the publishing role). Numbers in a pool are linked on the pool.

SMS delivery status (with providerSms=aws-sms): give the configuration set named by `smsConfigurationSet`
an SNS event destination on the `SmsEventsTopicArn` output for the TEXT_SUCCESSFUL, TEXT_DELIVERED and
failure events; the inbound function moves each message's status by them:

    aws pinpoint-sms-voice-v2 create-event-destination --configuration-set-name <smsConfigurationSet> \
        --event-destination-name trialgw --matching-event-types TEXT_ALL \
        --sns-destination TopicArn=<SmsEventsTopicArn>

CM status reports (with a provider set to cm): in CM's portal, set the status report webhook to the
`CmStatusWebhookUrlTemplate` output, its placeholder replaced by the same cm_webhook_secret as the MO webhook.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.stack import StackConfig, TrialGatewayStack
from infra.topology import ROOT

CDK_JSON = ROOT / "cdk.json"
DEFAULT_OUTDIR = ROOT / "cdk.out"
DEFAULT_STACK_NAME = "trialgw"


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {})
    return context


def build_app(
    *, outdir: str | None = None, context: Mapping[str, Any] | None = None
) -> tuple[cdk.App, TrialGatewayStack]:
    """The app with its one stack and the cdk-nag checks; `context` adds to (and beats) cdk.json's.

    Run by the CDK CLI, the CLI's context (cdk.json plus `-c`) wins over both, and CDK_OUTDIR names
    the output directory.
    """
    if outdir is None and "CDK_OUTDIR" not in os.environ:
        outdir = str(DEFAULT_OUTDIR)
    app = cdk.App(outdir=outdir, context={**cdk_json_context(), **(context or {})})
    stack_name = app.node.try_get_context("stackName") or DEFAULT_STACK_NAME
    stack = TrialGatewayStack(app, stack_name, config=StackConfig.from_context(app.node))
    cdk.Tags.of(app).add("project", "trialgw")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = build_app()
    try:
        app.synth()
    except RuntimeError as error:
        # cdk-nag's report (which rule, which construct, how to acknowledge) is the useful part.
        sys.exit(f"synth failed: {error}")


if __name__ == "__main__":
    main()
