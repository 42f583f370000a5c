"""SQS queues: one per `trialgw.names.QUEUES`, each with a dead-letter queue and alarms on it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from trialgw import names

# Long enough for a delivery function to call a channel provider (with its retries) before the
# message becomes visible again; its consumer's timeout must stay below this.
VISIBILITY_TIMEOUT = Duration.seconds(60)
# Accepted work waits up to 4 days for a consumer; what failed waits 14 days (SQS's maximum) in the
# dead-letter queue for an operator to inspect and redrive.
RETENTION = Duration.days(4)
DLQ_RETENTION = Duration.days(14)
# An alarm when the oldest message has waited this long: the consumer is down or far behind.
MAX_AGE_SECONDS = 5 * 60


class DeliveryQueue(Construct):
    """A queue and its dead-letter queue: SQS-managed encryption, TLS only, alarms on both."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        max_receive_count: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
            removal_policy=removal_policy,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT,
            retention_period=RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receive_count, queue=self.dead_letter_queue),
            removal_policy=removal_policy,
        )
        # Any dead letter is a send that failed for good (its failure is on the dashboard too).
        self.dead_letters_alarm = cloudwatch.Alarm(
            self,
            "DeadLettersAlarm",
            alarm_description="Messages failed for good and wait in the dead-letter queue",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.age_alarm = cloudwatch.Alarm(
            self,
            "AgeAlarm",
            alarm_description=f"A message has waited over {MAX_AGE_SECONDS // 60} minutes for delivery",
            metric=self.queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(5), statistic="Maximum"),
            threshold=MAX_AGE_SECONDS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


class Queues(Construct):
    """The queues, by their logical name (`queues["outbound"].queue`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definitions: Sequence[names.QueueDef] = names.QUEUES,
        max_receive_count: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        if max_receive_count < 1:
            raise ValueError("a queue's maxReceiveCount must be at least 1")
        # Receives of one message before it moves to the dead-letter queue (its consumer's last attempt).
        self.max_receive_count = max_receive_count
        self.by_logical: dict[str, DeliveryQueue] = {
            definition.logical: DeliveryQueue(
                self,
                _pascal(definition.logical),
                max_receive_count=max_receive_count,
                removal_policy=removal_policy,
            )
            for definition in definitions
        }

    def __getitem__(self, logical: str) -> DeliveryQueue:
        return self.by_logical[logical]


def _pascal(logical: str) -> str:
    return logical[:1].upper() + logical[1:]
