"""The AWS resources of the stack, created in moto from the shared definitions.

Tables, queues and topics come from `trialgw.names` (the same module the CDK constructs read), so the
local tables have exactly the deployed key schema, indexes, billing mode and TTL attribute, each queue has
its dead-letter queue and redrive policy as in AWS, and each topic is subscribed to the queues that take its
notifications (SNS's envelope kept, as deployed). SES only sends from verified identities, in moto as in
AWS: each e-mailing function's sender is verified here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from infra.local.environment import table_names
from infra.topology import FunctionDef
from trialgw import names
from trialgw.settings import DeliverySettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# As `infra/constructs/queues.py` configures them in AWS (not imported: that module needs the CDK).
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# Receives before a message moves to the dead-letter queue when the environment does not say: the delivery
# function's default attempts (the CDK stack's default `queue_max_receive_count` is the same 5). `provision` reads
# `TRIALGW_DELIVERY_MAX_ATTEMPTS` through the settings model, so the queue and the function always agree.
MAX_RECEIVE_COUNT: int = DeliverySettings.model_fields["delivery_max_attempts"].default
DLQ_SUFFIX = "-dlq"


@dataclass(frozen=True, slots=True)
class DeadLetterResource:
    """A queue's dead-letter queue, as a function consuming it (`QueueDef.dead_letters`) reads it."""

    logical: str
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class QueueResource:
    logical: str
    name: str
    url: str
    env_var: str
    dead_letter_name: str
    dead_letter_url: str
    # Receives after which SQS moves a message to the dead-letter queue (the redrive policy).
    max_receive_count: int = MAX_RECEIVE_COUNT

    @property
    def dead_letters(self) -> DeadLetterResource:
        logical = names.queue_source(self.logical)[0].dead_letters
        return DeadLetterResource(logical=logical, name=self.dead_letter_name, url=self.dead_letter_url)


@dataclass(frozen=True, slots=True)
class TopicResource:
    logical: str
    name: str
    arn: str


@dataclass(frozen=True, slots=True)
class Resources:
    tables: tuple[str, ...]
    senders: tuple[str, ...]
    configuration_sets: tuple[str, ...]
    queues: tuple[QueueResource, ...] = ()
    topics: tuple[TopicResource, ...] = ()

    def environment(self) -> dict[str, str]:
        """The variables that carry the resources' addresses known only once they exist (queue URLs)."""
        return {queue.env_var: queue.url for queue in self.queues}

    def queue(self, logical: str) -> QueueResource:
        return next(q for q in self.queues if q.logical == logical)

    def source(self, logical: str) -> QueueResource | DeadLetterResource:
        """What a function consuming `logical` reads (see `names.queue_source`): a queue or its dead-letter queue."""
        definition, dead_letters = names.queue_source(logical)
        queue = self.queue(definition.logical)
        return queue.dead_letters if dead_letters else queue

    def topic(self, logical: str) -> TopicResource:
        return next(t for t in self.topics if t.logical == logical)


def create_tables(client: DynamoDBClient, environ: Mapping[str, str]) -> list[str]:
    """One on-demand table per `names.TABLES` entry, with its indexes, TTL on `names.TTL_ATTRIBUTE`."""
    created = []
    definitions = {table.logical: table for table in names.TABLES}
    for logical, table_name in table_names(environ).items():
        indexes = definitions[logical].indexes
        attributes = dict(names.KEY_ATTRIBUTES)
        for index in indexes:
            attributes.update(dict((index.partition_key, index.sort_key)))
        extra: dict[str, Any] = {}
        if indexes:
            extra["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key[0], "KeyType": "HASH"},
                        {"AttributeName": index.sort_key[0], "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
                for index in indexes
            ]
        client.create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": names.PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": names.SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": attribute, "AttributeType": kind}  # type: ignore[typeddict-item]
                for attribute, kind in attributes.items()
            ],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": names.TTL_ATTRIBUTE},
        )
        created.append(table_name)
    return created


def email_senders(functions: Iterable[FunctionDef], environ: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """(sender addresses, SES configuration sets) of the functions that send e-mail."""
    senders: set[str] = set()
    configuration_sets: set[str] = set()
    for function in functions:
        if not function.sends_email:
            continue
        settings = function.settings_model.from_env(environ)
        sender = str(getattr(settings, "sender_email", ""))
        if not sender:
            raise ValueError(f"function {function.name} sends e-mail but its settings have no sender_email")
        # A sender may carry a display name ("Trials <trials@example.com>"); SES verifies the address.
        senders.add(parseaddr(sender)[1] or sender)
        configuration_set = getattr(settings, "ses_configuration_set", None)
        if configuration_set:
            configuration_sets.add(str(configuration_set))
    return senders, configuration_sets


def verify_senders(client: SESV2Client, senders: Iterable[str], configuration_sets: Iterable[str]) -> None:
    for configuration_set in sorted(configuration_sets):
        client.create_configuration_set(ConfigurationSetName=configuration_set)
    for sender in sorted(senders):
        client.create_email_identity(EmailIdentity=sender)


def create_queues(
    client: SQSClient,
    definitions: Iterable[names.QueueDef] = names.QUEUES,
    *,
    max_receive_count: int = MAX_RECEIVE_COUNT,
) -> list[QueueResource]:
    """One standard queue per definition, each with a dead-letter queue and a redrive policy to it."""
    if max_receive_count < 1:
        raise ValueError("max_receive_count must be at least 1")
    created = []
    for definition in definitions:
        dead_letter_name = f"{definition.local_name}{DLQ_SUFFIX}"
        visibility = str(definition.visibility_timeout_seconds)
        dead_letter_url = client.create_queue(
            QueueName=dead_letter_name,
            Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "VisibilityTimeout": visibility},
        )["QueueUrl"]
        dead_letter_arn = client.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": str(max_receive_count)}
        url = client.create_queue(
            QueueName=definition.local_name,
            Attributes={
                "VisibilityTimeout": visibility,
                "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        created.append(
            QueueResource(
                logical=definition.logical,
                name=definition.local_name,
                url=url,
                env_var=definition.env_var,
                dead_letter_name=dead_letter_name,
                dead_letter_url=dead_letter_url,
                max_receive_count=max_receive_count,
            )
        )
    return created


def create_topics(client: SNSClient, definitions: Iterable[names.TopicDef] = names.TOPICS) -> list[TopicResource]:
    """One SNS topic per definition."""
    return [
        TopicResource(t.logical, t.local_name, client.create_topic(Name=t.local_name)["TopicArn"]) for t in definitions
    ]


def subscribe_queues(
    sns: SNSClient,
    sqs: SQSClient,
    queues: Iterable[QueueResource],
    topics: Iterable[TopicResource],
    definitions: Iterable[names.QueueDef] = names.QUEUES,
) -> None:
    """Subscribes each queue to the topics its definition names (`QueueDef.topics`): moto's SNS then delivers every
    notification to the queue in SNS's JSON envelope, as the deployed subscription (no raw delivery) does."""
    by_logical = {topic.logical: topic for topic in topics}
    built = {queue.logical: queue for queue in queues}
    for definition in definitions:
        if not definition.topics:
            continue
        queue = built[definition.logical]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for logical in definition.topics:
            sns.subscribe(
                TopicArn=by_logical[logical].arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "false"},
            )


def provision(functions: Iterable[FunctionDef], environ: Mapping[str, str]) -> Resources:
    """Creates every resource the functions need; boto3 must already point at moto."""
    import boto3

    functions = tuple(functions)
    tables = create_tables(boto3.client("dynamodb"), environ)
    senders, configuration_sets = email_senders(functions, environ)
    verify_senders(boto3.client("sesv2"), senders, configuration_sets)
    # The delivery function marks a message failed on its last attempt: the queue's last receive before the DLQ.
    max_receive_count = DeliverySettings.from_env(environ).delivery_max_attempts
    queues = create_queues(boto3.client("sqs"), max_receive_count=max_receive_count)
    topics = create_topics(boto3.client("sns"))
    subscribe_queues(boto3.client("sns"), boto3.client("sqs"), queues, topics)
    return Resources(
        tables=tuple(tables),
        senders=tuple(sorted(senders)),
        configuration_sets=tuple(sorted(configuration_sets)),
        queues=tuple(queues),
        topics=tuple(topics),
    )
