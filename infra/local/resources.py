"""The AWS resources of the stack, created in moto from the shared definitions.

Tables come from `trialgw.names` (the same module the CDK constructs read), so the local tables have
exactly the deployed key schema, billing mode and TTL attribute. SES only sends from verified
identities, in moto as in AWS: each e-mailing function's sender is verified here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import TYPE_CHECKING

from infra.local.environment import table_names
from infra.topology import FunctionDef
from trialgw import names

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sesv2 import SESV2Client


@dataclass(frozen=True, slots=True)
class Resources:
    tables: tuple[str, ...]
    senders: tuple[str, ...]
    configuration_sets: tuple[str, ...]


def create_tables(client: DynamoDBClient, environ: Mapping[str, str]) -> list[str]:
    """One on-demand table per `names.TABLES` entry, TTL on `names.TTL_ATTRIBUTE`."""
    created = []
    for table_name in table_names(environ).values():
        client.create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": names.PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": names.SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": attribute, "AttributeType": kind}  # type: ignore[typeddict-item]
                for attribute, kind in names.KEY_ATTRIBUTES
            ],
            BillingMode="PAY_PER_REQUEST",
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


def provision(functions: Iterable[FunctionDef], environ: Mapping[str, str]) -> Resources:
    """Creates every resource the functions need; boto3 must already point at moto."""
    import boto3

    functions = tuple(functions)
    tables = create_tables(boto3.client("dynamodb"), environ)
    senders, configuration_sets = email_senders(functions, environ)
    verify_senders(boto3.client("sesv2"), senders, configuration_sets)
    return Resources(tuple(tables), tuple(sorted(senders)), tuple(sorted(configuration_sets)))
