"""Operations: alarms that reach the operator (an SNS topic, optionally e-mailed) and a dashboard.

The topic is encrypted with its own customer-managed key, as the other topics: CloudWatch alarms
cannot publish to a topic under the AWS-managed key (alias/aws/sns), whose policy cannot name them.
Its key and topic policies let CloudWatch alarms of this account alone in. Every alarm treats missing
data as not breaching: no traffic is no trouble.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.queues import DeliveryQueue
from trialgw.logic.dead_letters import DEAD_LETTERED_METRIC, STALE_METRIC
from trialgw.logic.delivery import CHANNEL_NOT_CONFIGURED_METRIC

# Where the functions' EMF metrics land (POWERTOOLS_METRICS_NAMESPACE); each has a `service`
# dimension, the emitting function's POWERTOOLS_SERVICE_NAME.
METRICS_NAMESPACE = "trialgw"
BREAKER_METRIC = "CapacityBreakerTripped"
# Server errors of the API stage per 5 minutes before the operator hears of it.
API_5XX_THRESHOLD = 5
# SES reviews an account at a 5% bounce rate (and may pause sending at 10%).
SES_BOUNCE_RATE_THRESHOLD = 0.05
# AWS asks senders to keep complaints under 0.1% (and may pause sending at 0.5%). Sign-up mails only the
# address that asked, so a complaint means someone signed up a stranger: worth hearing of at once.
SES_COMPLAINT_RATE_THRESHOLD = 0.001
PERIOD = Duration.minutes(5)
# Messages through the gateway, by the EMF metric each step emits (summed over services).
MESSAGE_METRICS = ("SendAccepted", "SendRefused", "MessageSent", "MessageFailed", DEAD_LETTERED_METRIC, STALE_METRIC)
CLOUDWATCH_ALARMS = "cloudwatch.amazonaws.com"


class Operations(Construct):
    """The operator alerts topic, every alarm's action on it, and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_email: str | None,
        queues: Mapping[str, DeliveryQueue],
        functions: Mapping[str, lambda_.IFunction],
        failed_runs: Mapping[str, sqs.IQueue],
        stage: apigateway.Stage,
        breaker_services: Sequence[str],
        channel_services: Sequence[str],
        dead_letters_service: str,
        sweeper_service: str,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "AlertsKey",
            description="trialgw operator alerts topic (SNS) encryption",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=Duration.days(7),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH_ALARMS)],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "OperatorAlerts",
            display_name="trialgw operator alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        alarm_arns = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
        # The topic policy CDK writes (TLS only) replaces SNS's default one, so the alarms of this
        # account are let in explicitly.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH_ALARMS)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarm_arns},
                },
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        # Queues: their own alarms (dead letters, oldest message's age), given the topic as action.
        for built in queues.values():
            self._notify(built.dead_letters_alarm)
            self._notify(built.age_alarm)

        self._alarm(
            "Api5xx",
            description=f"The API answered over {API_5XX_THRESHOLD} server errors (5XX) in 5 minutes",
            metric=stage.metric_server_error(period=PERIOD, statistic="Sum"),
            threshold=API_5XX_THRESHOLD,
        )
        for name, function in functions.items():
            construct_name = _pascal(name)
            self._alarm(
                f"{construct_name}Errors",
                description=f"The {name} function failed (Lambda Errors)",
                metric=function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=0,
            )
            self._alarm(
                f"{construct_name}Throttles",
                description=f"The {name} function was throttled (Lambda Throttles)",
                metric=function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=0,
            )
        # An asynchronously invoked function's dead-letter queue (the sweeper's failed scheduled runs): nothing
        # consumes it, so any event in it waits for an operator, as in any other such dead-letter queue.
        for name, queue in failed_runs.items():
            self._alarm(
                f"{_pascal(name)}FailedRuns",
                description=(
                    f"Runs of the {name} function failed and their events wait in its dead-letter queue (see its "
                    "logs; the next scheduled run does the same work, then purge the queue)"
                ),
                metric=queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                threshold=0,
            )
        for service in breaker_services:
            self._alarm(
                f"{_pascal(service)}CapacityBreaker",
                description=breaker_description(stack.stack_name, stack.region),
                metric=_service_metric(BREAKER_METRIC, service, statistic="Sum"),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )
        # Each dead-lettered message: a send that never completed (now `failed` on its dashboard) or a reply an end
        # user never got. Something failed on every attempt: the consumer's and the delivery function's logs say what.
        self._alarm(
            "DeadLettered",
            description=(
                "Messages reached the delivery queue's dead-letter queue: every attempt failed (a timeout, a crash, "
                "a store error). Sends are marked failed on their dashboards; see the delivery function's logs"
            ),
            metric=_service_metric(DEAD_LETTERED_METRIC, dead_letters_service, statistic="Sum"),
            threshold=0,
        )
        # The invariant: no send stays `queued` longer than the longest a delivery can take. Above 0, a path lost a
        # message without recording why (the sweeper has marked it failed since).
        self._alarm(
            "StaleQueued",
            description=(
                "Sends were still queued after the longest a delivery can take: a path lost them without recording "
                "why (the sweeper marked them failed). See the sweeper's log for their message ids"
            ),
            metric=_service_metric(STALE_METRIC, sweeper_service, statistic="Maximum"),
            threshold=0,
        )
        # A channel set to a provider without its credential or account id: its messages fail at once, closed.
        for service in channel_services:
            self._alarm(
                f"{_pascal(service)}ChannelNotConfigured",
                description=channel_not_configured_description(stack.stack_name, stack.region),
                metric=_service_metric(CHANNEL_NOT_CONFIGURED_METRIC, service, statistic="Sum"),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )
        ses_rates = (
            (
                "SesBounceRate",
                "Reputation.BounceRate",
                SES_BOUNCE_RATE_THRESHOLD,
                f"The SES bounce rate is over {SES_BOUNCE_RATE_THRESHOLD:.0%}: SES may pause sending",
            ),
            (
                "SesComplaintRate",
                "Reputation.ComplaintRate",
                SES_COMPLAINT_RATE_THRESHOLD,
                f"The SES complaint rate is over {SES_COMPLAINT_RATE_THRESHOLD:.1%}: recipients report trial "
                "e-mails as spam (someone signs up strangers?); SES may pause sending at 0.5%",
            ),
        )
        for name, metric_name, threshold, description in ses_rates:
            self._alarm(
                name,
                description=description,
                metric=cloudwatch.Metric(
                    namespace="AWS/SES", metric_name=metric_name, period=Duration.hours(1), statistic="Maximum"
                ),
                threshold=threshold,
            )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and server errors",
                left=[
                    stage.metric_count(period=PERIOD, statistic="Sum"),
                    stage.metric_server_error(period=PERIOD, statistic="Sum"),
                    stage.metric_client_error(period=PERIOD, statistic="Sum"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API latency",
                left=[
                    stage.metric_latency(period=PERIOD, statistic="p50"),
                    stage.metric_latency(period=PERIOD, statistic="p99"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function invocations",
                left=[function.metric_invocations(period=PERIOD, label=name) for name, function in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[function.metric_errors(period=PERIOD, label=name) for name, function in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function duration (p99)",
                left=[
                    function.metric_duration(period=PERIOD, statistic="p99", label=name)
                    for name, function in functions.items()
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                left=[
                    built.queue.metric_approximate_number_of_messages_visible(period=PERIOD, label=logical)
                    for logical, built in queues.items()
                ],
                right=[
                    built.queue.metric_approximate_age_of_oldest_message(period=PERIOD, label=f"{logical} age (s)")
                    for logical, built in queues.items()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    built.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, label=f"{logical} dead letters"
                    )
                    for logical, built in queues.items()
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Messages accepted, refused, sent and failed",
                left=[
                    cloudwatch.MathExpression(
                        expression=(
                            f"SUM(SEARCH('{{{METRICS_NAMESPACE},service}} MetricName=\"{metric}\"', 'Sum', 300))"
                        ),
                        label=metric,
                        period=PERIOD,
                    )
                    for metric in MESSAGE_METRICS
                ],
                width=24,
            ),
        )

    def _alarm(
        self,
        construct_id: str,
        *,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison_operator: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{construct_id}Alarm",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison_operator,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self._notify(alarm)
        return alarm

    def _notify(self, alarm: cloudwatch.Alarm) -> None:
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def _service_metric(name: str, service: str, *, statistic: str) -> cloudwatch.Metric:
    """One of the functions' EMF metrics (POWERTOOLS_SERVICE_NAME is the function's name)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        period=PERIOD,
        statistic=statistic,
    )


def channel_not_configured_description(stack_name: str, region: str) -> str:
    """What the operator reads when messages fail "channel not configured": what happened, and the fix."""
    return (
        'Messages failed "channel not configured": a channel is set to a provider (cm or meta) whose credential '
        "is not in the provider secret, or whose account id the deployment lacks; nothing was sent on it. The "
        'delivery function\'s log ("delivery failed", code not_configured) names the channel and what is missing. '
        f"Set a credential: trialgw-admin providers set-credential <key> --stack {stack_name} --region {region} "
        "(keys: cm_product_token, whatsapp_access_token, messenger_page_token, instagram_access_token); an account "
        "id is a context knob (e.g. -c whatsappPhoneNumberId=<id>) and a deploy. Or set the channel to the sandbox."
    )


def breaker_description(stack_name: str, region: str) -> str:
    """What the operator reads in the breaker alarm's notification: what happened, how to look, how to act."""
    where = f"--stack {stack_name} --region {region}"
    return (
        "The capacity breaker tripped: the gateway refuses every send until an operator resets it. "
        f"See which trials sent most in this window: trialgw-admin capacity status {where}. "
        f"Revoke an abusive one: trialgw-admin trials revoke <trial id> {where}. "
        f"Then reopen sending: trialgw-admin capacity reset {where}."
    )


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))
