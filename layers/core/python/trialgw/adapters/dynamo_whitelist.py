"""The whitelist table: entries under the trial, the reverse index under the address.

Adding is one transaction across two tables (entry if absent + reverse index + the recipient added to
the trial item's `members` while it has fewer than the limit), so the 10-recipient limit is exact under
concurrent webhooks, a repeated key never takes a second slot, and a send checks the whitelist in the
same conditional write that takes its quota (see dynamo_trials).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.adapters.dynamo_conditions import (
    CONDITION_FAILED_REASON,
    ConditionalWrite,
    cancellation_codes,
)
from trialgw.errors import StoreError
from trialgw.models import Channel, Trial, member_token
from trialgw.ports import Membership, WhitelistEntry, WhitelistOutcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _trial_pk(key_hash: str) -> dict[str, str]:
    return _s(f"{names.TRIAL_PK_PREFIX}{key_hash}")


def _address_pk(channel: Channel, address: str) -> dict[str, str]:
    return _s(f"{names.ADDRESS_PK_PREFIX}{channel.value}#{address}")


def _entry_key(key_hash: str, channel: Channel, address: str) -> dict[str, Any]:
    return {
        names.PARTITION_KEY: _trial_pk(key_hash),
        names.SORT_KEY: _s(f"{names.RECIPIENT_SK_PREFIX}{channel.value}#{address}"),
    }


def _reverse_key(key_hash: str, channel: Channel, address: str) -> dict[str, Any]:
    return {
        names.PARTITION_KEY: _address_pk(channel, address),
        names.SORT_KEY: _s(f"{names.TRIAL_PK_PREFIX}{key_hash}"),
    }


def _trial_key(key_hash: str) -> dict[str, Any]:
    return {names.PARTITION_KEY: _trial_pk(key_hash), names.SORT_KEY: _s(names.TRIAL_SK)}


_MEMBER_NAMES = {"#pk": names.PARTITION_KEY, "#members": names.MEMBERS_ATTRIBUTE}


def _member(channel: Channel, address: str) -> dict[str, list[str]]:
    return {"SS": [member_token(channel, address)]}


def refused(codes: list[str]) -> WhitelistOutcome | None:
    """What a cancelled whitelisting transaction (`add_items` first) says: ALREADY when the entry exists (whatever
    else failed: a repeated key never takes a slot), FULL when the trial has no room (or no longer exists), None when
    neither failed."""
    if codes and codes[0] == CONDITION_FAILED_REASON:
        return WhitelistOutcome.ALREADY
    if len(codes) > 2 and codes[2] == CONDITION_FAILED_REASON:
        return WhitelistOutcome.FULL
    return None


class DynamoWhitelistStore:
    def __init__(self, client: DynamoDBClient, table: str, trials_table: str) -> None:
        self._client = client
        self._table = table
        self._trials_table = trials_table

    def add_items(
        self, trial: Trial, channel: Channel, address: str, *, now: int, limit: int, ttl: int
    ) -> list[dict[str, Any]]:
        """The whitelisting transaction's items, in the order `refused` reads: the entry if absent, the reverse
        index, the recipient added to the trial's `members` while it has fewer than `limit` (also
        `DynamoWhitelisting`'s first items)."""
        entry = {
            **_entry_key(trial.key_hash, channel, address),
            "channel": _s(channel.value),
            "address": _s(address),
            "whitelisted_at": _n(now),
            "expires_at": _n(trial.expires_at),
            names.TTL_ATTRIBUTE: _n(ttl),
        }
        reverse = {
            **_reverse_key(trial.key_hash, channel, address),
            "key_hash": _s(trial.key_hash),
            "expires_at": _n(trial.expires_at),
            names.TTL_ATTRIBUTE: _n(ttl),
        }
        return [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": entry,
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": names.PARTITION_KEY},
                }
            },
            {"Put": {"TableName": self._table, "Item": reverse}},
            {
                "Update": {
                    "TableName": self._trials_table,
                    "Key": _trial_key(trial.key_hash),
                    "UpdateExpression": "ADD #members :member",
                    "ConditionExpression": (
                        "attribute_exists(#pk) AND (attribute_not_exists(#members) OR size(#members) < :limit)"
                    ),
                    "ExpressionAttributeNames": _MEMBER_NAMES,
                    "ExpressionAttributeValues": {":member": _member(channel, address), ":limit": _n(limit)},
                }
            },
        ]

    def add(self, trial: Trial, channel: Channel, address: str, *, now: int, limit: int, ttl: int) -> WhitelistOutcome:
        try:
            self._client.transact_write_items(
                TransactItems=self.add_items(trial, channel, address, now=now, limit=limit, ttl=ttl)  # type: ignore[arg-type]
            )
        except ClientError as error:
            outcome = refused(cancellation_codes(error))
            if outcome is not None:
                return outcome
            raise StoreError(f"could not whitelist: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not whitelist: {type(error).__name__}") from error
        return WhitelistOutcome.ADDED

    def memberships(self, channel: Channel, address: str) -> list[Membership]:
        try:
            answer = self._client.query(
                TableName=self._table,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": names.PARTITION_KEY},
                ExpressionAttributeValues={":pk": _address_pk(channel, address)},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read the whitelist: {type(error).__name__}") from error
        return [
            Membership(key_hash=item["key_hash"]["S"], expires_at=int(item["expires_at"]["N"]))
            for item in answer.get("Items", [])
        ]

    def remove(self, key_hash: str, channel: Channel, address: str) -> None:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": _entry_key(key_hash, channel, address),
                            "ConditionExpression": "attribute_exists(#pk)",
                            "ExpressionAttributeNames": {"#pk": names.PARTITION_KEY},
                        }
                    },
                    {"Delete": {"TableName": self._table, "Key": _reverse_key(key_hash, channel, address)}},
                    {
                        "Update": {
                            "TableName": self._trials_table,
                            "Key": _trial_key(key_hash),
                            "UpdateExpression": "DELETE #members :member",
                            "ConditionExpression": "attribute_exists(#pk)",
                            "ExpressionAttributeNames": _MEMBER_NAMES,
                            "ExpressionAttributeValues": {":member": _member(channel, address)},
                        }
                    },
                ]
            )
        except ClientError as error:
            if CONDITION_FAILED_REASON in cancellation_codes(error):
                # Already removed (a repeated STOP): the slot was freed the first time.
                return
            raise StoreError(f"could not remove from the whitelist: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not remove from the whitelist: {type(error).__name__}") from error

    def claim_join_hint(self, channel: Channel, address: str, *, day: str, ttl: int) -> bool:
        with ConditionalWrite("claim the join hint") as write:
            self._client.put_item(
                TableName=self._table,
                Item={
                    names.PARTITION_KEY: _s(f"{names.JOIN_HINT_PK_PREFIX}{channel.value}#{address}"),
                    names.SORT_KEY: _s(day),
                    names.TTL_ATTRIBUTE: _n(ttl),
                },
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": names.PARTITION_KEY},
            )
        return write.held

    def entries(self, key_hash: str) -> list[WhitelistEntry]:
        try:
            answer = self._client.query(
                TableName=self._table,
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
                ExpressionAttributeNames={"#pk": names.PARTITION_KEY, "#sk": names.SORT_KEY},
                ExpressionAttributeValues={":pk": _trial_pk(key_hash), ":prefix": _s(names.RECIPIENT_SK_PREFIX)},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read the whitelist: {type(error).__name__}") from error
        entries = [
            WhitelistEntry(
                channel=Channel(item["channel"]["S"]),
                address=item["address"]["S"],
                whitelisted_at=int(item["whitelisted_at"]["N"]),
            )
            for item in answer.get("Items", [])
        ]
        # Oldest first; ties (one second) in a stable order.
        return sorted(entries, key=lambda entry: (entry.whitelisted_at, entry.channel.value, entry.address))
