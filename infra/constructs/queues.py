"""SQS queues: one per `trialgw.names.QUEUES`, each with a dead-letter queue and alarms on it.

A dead-letter queue nothing consumes alarms on its depth: every message in it waits for an operator. One that a
function consumes (the delivery queue's: the dead-letter consumer marks each send `failed`) is empty within seconds
and reports its dead letters through the consumer's own metric; its alarm is on the age of its oldest message
instead, which grows only when the consumer is failing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from trialgw import names

# Accepted work waits up to 4 days for a consumer; what failed waits 14 days (SQS's maximum) in the
# dead-letter queue for an operator to inspect and redrive.
RETENTION = Duration.days(4)
DLQ_RETENTION = Duration.days(14)
# An alarm when the oldest message has waited this long: the consumer is down or far behind.
MAX_AGE_SECONDS = 5 * 60
# An alarm when a consumed dead-letter queue's oldest message has waited this long: its consumer has failed on it
# for several of its visibility timeouts.
DEAD_LETTER_MAX_AGE_SECONDS = 15 * 60


class DeliveryQueue(Construct):
    """A queue and its dead-letter queue: SQS-managed encryption, TLS only, alarms on both."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: names.QueueDef,
        max_receive_count: int,
        dead_letters_consumed: bool,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # Long enough for its consumer to finish an invocation before the message becomes visible again (a test
        # checks it against the consumer's timeout); the dead-letter queue's too, when a function consumes it.
        visibility_timeout = Duration.seconds(definition.visibility_timeout_seconds)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=DLQ_RETENTION,
            removal_policy=removal_policy,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receive_count, queue=self.dead_letter_queue),
            removal_policy=removal_policy,
        )
        if dead_letters_consumed:
            self.dead_letters_alarm = cloudwatch.Alarm(
                self,
                "DeadLettersAgeAlarm",
                alarm_description=(
                    f"A dead letter of the {definition.logical} queue has waited over "
                    f"{DEAD_LETTER_MAX_AGE_SECONDS // 60} minutes: its consumer fails on it (see its logs)"
                ),
                metric=self.dead_letter_queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=DEAD_LETTER_MAX_AGE_SECONDS,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        else:
            # Any dead letter failed for good and waits for an operator to inspect and redrive it.
            self.dead_letters_alarm = cloudwatch.Alarm(
                self,
                "DeadLettersAlarm",
                alarm_description=(
                    f"Messages of the {definition.logical} queue failed for good and wait in its dead-letter queue "
                    "(inspect, then redrive them to the queue)"
                ),
                metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
        max_age = MAX_AGE_SECONDS + definition.longest_delay_seconds
        self.age_alarm = cloudwatch.Alarm(
            self,
            "AgeAlarm",
            alarm_description=(
                f"A message of the {definition.logical} queue has waited over {max_age // 60} minutes for "
                "its consumer" + (" (its delay included)" if definition.longest_delay_seconds else "")
            ),
            metric=self.queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(5), statistic="Maximum"),
            threshold=max_age,
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
        consumed_dead_letters: Collection[str] = (),
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
                definition=definition,
                max_receive_count=max_receive_count,
                dead_letters_consumed=definition.dead_letters in consumed_dead_letters,
                removal_policy=removal_policy,
            )
            for definition in definitions
        }

    def __getitem__(self, logical: str) -> DeliveryQueue:
        return self.by_logical[logical]

    def source(self, logical: str) -> sqs.Queue:
        """The queue a function consuming `logical` reads: a queue, or a queue's dead-letter queue."""
        definition, dead_letters = names.queue_source(logical)
        built = self.by_logical[definition.logical]
        return built.dead_letter_queue if dead_letters else built.queue


def _pascal(logical: str) -> str:
    return logical[:1].upper() + logical[1:]
