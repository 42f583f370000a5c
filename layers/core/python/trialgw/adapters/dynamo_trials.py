"""The trials table: trials (by key hash), their join codes' lookup items and the per-address signup counters.

A join code's item (`JOIN#<code hash>`) names its trial's key hash and expires with the trial; it is written with the
trial in one transaction, each conditioned on not existing, so a sign-up still makes one call to store its trial.

A trial's item also holds what its sends depend on: `members`, the whitelisted recipients (a string set
the whitelist's transaction maintains), and `sent_<channel>` counters. So one conditional UpdateItem
checks the key, expiry, whitelist and quota of a send and counts it, and returns the trial as it now is
(or, when it refuses, as it was) for the answer and its headers.

The message ids the counters count are kept in the `counted` set (at most the trial's quotas, about 80 ids), so
counting is idempotent: a write whose answer was lost and that the SDK sent again counts its message once, and a
give-back undoes exactly its own message, once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.adapters.dynamo_conditions import (
    CONDITION_FAILED_REASON,
    TRANSACTION_CANCELED,
    ConditionalWrite,
    cancellation_codes,
    condition_failed,
    error_code,
)
from trialgw.adapters.dynamo_webhooks import STATUS_URL
from trialgw.channels import channels
from trialgw.errors import JoinCodeTaken, StoreError
from trialgw.keys import trial_id
from trialgw.models import Channel, Trial, TrialState, TrialStatus, member_token
from trialgw.ports import ListedTrial, QuotaTake, SignupCount

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# A transaction's cancellation reasons: the condition of that item failed, another transaction held it, none.
_CANCEL_CODES = frozenset({CONDITION_FAILED_REASON, "TransactionConflict", "None"})
# A sign-up's counting transaction is tried again this often when other sign-ups' transactions hold its counters.
_TRANSACTION_ATTEMPTS = 3
# The trial item's set of the message ids its `sent_<channel>` counters count.
COUNTED_ATTRIBUTE = "counted"


def _trial_key(key_hash: str) -> dict[str, Any]:
    return {
        names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{key_hash}"},
        names.SORT_KEY: {"S": names.TRIAL_SK},
    }


def _join_key(code_hash: str) -> dict[str, Any]:
    return {names.PARTITION_KEY: {"S": f"{names.JOIN_PK_PREFIX}{code_hash}"}, names.SORT_KEY: {"S": names.JOIN_SK}}


def _decrement(client: DynamoDBClient, table: str, key: dict[str, Any], attribute: str, *, what: str) -> None:
    """Gives one counted unit back; a counter already at zero (or absent) stays as it is."""
    with ConditionalWrite(f"give back {what}"):
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD #count :minus_one",
            ConditionExpression="#count > :zero",
            ExpressionAttributeNames={"#count": attribute},
            ExpressionAttributeValues={":minus_one": {"N": "-1"}, ":zero": {"N": "0"}},
        )


def sent_attribute(channel: Channel) -> str:
    return f"sent_{channel.short_name.lower()}"


def _trial(item: dict[str, Any]) -> Trial:
    return Trial(
        key_hash=item["key_hash"]["S"],
        name=item["name"]["S"],
        email=item["email"]["S"],
        company=item["company"]["S"] if "company" in item else None,
        created_at=int(item["created_at"]["N"]),
        expires_at=int(item["expires_at"]["N"]),
        status=TrialStatus(item["status"]["S"]),
        signup_network=item["signup_network"]["S"] if "signup_network" in item else None,
    )


def _state(item: dict[str, Any]) -> TrialState:
    return TrialState(
        trial=_trial(item),
        members=frozenset(item.get(names.MEMBERS_ATTRIBUTE, {}).get("SS", [])),
        sent={channel: int(item.get(sent_attribute(channel), {}).get("N", "0")) for channel in channels()},
    )


class DynamoTrialStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def create(self, trial: Trial, *, ttl: int, join_hash: str | None = None) -> None:
        item: dict[str, Any] = {
            **_trial_key(trial.key_hash),
            "key_hash": {"S": trial.key_hash},
            "trial_id": {"S": trial_id(trial.key_hash)},
            "name": {"S": trial.name},
            "email": {"S": trial.email},
            "created_at": {"N": str(trial.created_at)},
            "expires_at": {"N": str(trial.expires_at)},
            "status": {"S": trial.status.value},
            names.TTL_ATTRIBUTE: {"N": str(ttl)},
        }
        if trial.company:
            item["company"] = {"S": trial.company}
        if trial.signup_network:
            item["signup_network"] = {"S": trial.signup_network}
        new = {
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": names.PARTITION_KEY},
        }
        try:
            if join_hash is None:
                self._client.put_item(TableName=self._table, Item=item, **new)  # type: ignore[arg-type]
                return
            join = {**_join_key(join_hash), "key_hash": {"S": trial.key_hash}, names.TTL_ATTRIBUTE: {"N": str(ttl)}}
            self._client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": item, **new}},  # type: ignore[typeddict-item]
                    {"Put": {"TableName": self._table, "Item": join, **new}},  # type: ignore[typeddict-item]
                ]
            )
        except ClientError as error:
            codes = cancellation_codes(error)
            if len(codes) == 2 and codes[1] == CONDITION_FAILED_REASON and codes[0] != CONDITION_FAILED_REASON:
                raise JoinCodeTaken("the join code belongs to another trial") from error
            raise StoreError(f"could not store the trial: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not store the trial: {type(error).__name__}") from error

    def joined(self, code_hash: str) -> str | None:
        """The key hash of the trial whose join code hashes to `code_hash`, or None."""
        try:
            answer = self._client.get_item(TableName=self._table, Key=_join_key(code_hash), ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read the join code: {type(error).__name__}") from error
        item = answer.get("Item")
        return None if item is None else str(item["key_hash"]["S"])

    def _item(self, key_hash: str) -> dict[str, Any] | None:
        try:
            answer = self._client.get_item(TableName=self._table, Key=_trial_key(key_hash), ConsistentRead=True)
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read the trial: {type(error).__name__}") from error
        return answer.get("Item")

    def get(self, key_hash: str) -> Trial | None:
        item = self._item(key_hash)
        return None if item is None else _trial(item)

    def state(self, key_hash: str) -> TrialState | None:
        item = self._item(key_hash)
        return None if item is None else _state(item)

    def listed(self, *, trial_id: str | None = None) -> list[ListedTrial]:
        """Every trial item (or those with the public id `trial_id`): a Scan of the table, page by page, that
        reads only the key hash and the creation time. For the operator CLI only: no function scans."""
        condition = "begins_with(#pk, :prefix) AND #sk = :sk"
        attribute_names = {
            "#pk": names.PARTITION_KEY,
            "#sk": names.SORT_KEY,
            "#hash": "key_hash",
            "#created": "created_at",
        }
        values: dict[str, Any] = {":prefix": {"S": names.TRIAL_PK_PREFIX}, ":sk": {"S": names.TRIAL_SK}}
        if trial_id is not None:
            condition += " AND #tid = :tid"
            attribute_names["#tid"] = "trial_id"
            values[":tid"] = {"S": trial_id}
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": condition,
            "ProjectionExpression": "#hash, #created",
            "ExpressionAttributeNames": attribute_names,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        found: list[ListedTrial] = []
        while True:
            try:
                answer = self._client.scan(**request)
            except (ClientError, BotoCoreError) as error:
                raise StoreError(f"could not scan the trials: {type(error).__name__}") from error
            found += [
                ListedTrial(item["key_hash"]["S"], int(item["created_at"]["N"])) for item in answer.get("Items", [])
            ]
            last = answer.get("LastEvaluatedKey")
            if not last:
                return found
            request["ExclusiveStartKey"] = last

    def take_quota(
        self,
        key_hash: str,
        channel: Channel,
        address: str,
        *,
        now: int,
        limit: int,
        message_id: str,
        capacity_window: int,
    ) -> QuotaTake:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_trial_key(key_hash),
                UpdateExpression="ADD #sent :one, #counted :message, #window :one",
                ConditionExpression=(
                    "attribute_exists(#pk) AND #status = :active AND #expires > :now "
                    "AND contains(#members, :member) AND (attribute_not_exists(#sent) OR #sent < :limit) "
                    "AND NOT contains(#counted, :message_id)"
                ),
                ExpressionAttributeNames={
                    "#pk": names.PARTITION_KEY,
                    "#status": "status",
                    "#expires": "expires_at",
                    "#members": names.MEMBERS_ATTRIBUTE,
                    "#sent": sent_attribute(channel),
                    "#counted": COUNTED_ATTRIBUTE,
                    "#window": names.window_sent_attribute(capacity_window),
                },
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":active": {"S": TrialStatus.ACTIVE.value},
                    ":now": {"N": str(now)},
                    ":member": {"S": member_token(channel, address)},
                    ":limit": {"N": str(limit)},
                    ":message": {"SS": [message_id]},
                    ":message_id": {"S": message_id},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if condition_failed(error):
                # ReturnValuesOnConditionCheckFailure puts the item as it was here (none: no such trial).
                old: dict[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
                if old is not None and message_id in old.get(COUNTED_ATTRIBUTE, {}).get("SS", []):
                    # An earlier attempt of this very write counted the message; only its answer was lost.
                    return QuotaTake(taken=True, state=_state(old), status_webhook=STATUS_URL in old)
                return QuotaTake(taken=False, state=_state(old) if old else None)
            raise StoreError(f"could not count the message: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not count the message: {type(error).__name__}") from error
        attributes = answer["Attributes"]
        # The trial item as written holds its webhook URLs too: whether it has a status URL costs no call more.
        return QuotaTake(taken=True, state=_state(attributes), status_webhook=STATUS_URL in attributes)

    def give_back_quota(self, key_hash: str, channel: Channel, message_id: str, *, capacity_window: int) -> None:
        with ConditionalWrite("give back the message"):
            self._client.update_item(
                TableName=self._table,
                Key=_trial_key(key_hash),
                UpdateExpression="ADD #sent :minus_one, #window :minus_one DELETE #counted :message",
                # Only a message still counted: a repeated give-back, or one of a message never counted, is a no-op.
                ConditionExpression="contains(#counted, :message_id) AND #sent > :zero",
                ExpressionAttributeNames={
                    "#sent": sent_attribute(channel),
                    "#counted": COUNTED_ATTRIBUTE,
                    "#window": names.window_sent_attribute(capacity_window),
                },
                ExpressionAttributeValues={
                    ":minus_one": {"N": "-1"},
                    ":zero": {"N": "0"},
                    ":message": {"SS": [message_id]},
                    ":message_id": {"S": message_id},
                },
            )

    def revoke(self, key_hash: str) -> bool:
        with ConditionalWrite("revoke the trial") as write:
            self._client.update_item(
                TableName=self._table,
                Key=_trial_key(key_hash),
                UpdateExpression="SET #status = :revoked",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": names.PARTITION_KEY, "#status": "status"},
                ExpressionAttributeValues={":revoked": {"S": TrialStatus.REVOKED.value}},
            )
        return write.held

    def delete(self, key_hash: str, *, join_hash: str | None = None) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key=_trial_key(key_hash))
            if join_hash is not None:
                self._client.delete_item(TableName=self._table, Key=_join_key(join_hash))
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not delete the trial: {type(error).__name__}") from error


def _counted_tokens(item: object) -> list[str]:
    if not isinstance(item, dict):
        return []
    tokens: list[str] = item.get(COUNTED_ATTRIBUTE, {}).get("SS", [])
    return tokens


class DynamoSignupCounter:
    """Fixed-window sign-up counters (per mailbox, client network, domain and overall), taken together in one
    `TransactWriteItems`: a sign-up is counted in every counter or in none, exactly under concurrent sign-ups."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def _key(count: SignupCount) -> dict[str, Any]:
        return {
            names.PARTITION_KEY: {"S": f"{names.SIGNUP_COUNTER_PK_PREFIX}{count.kind}#{count.subject}"},
            names.SORT_KEY: {"S": f"{names.SIGNUP_COUNTER_SK_PREFIX}{count.window_start}"},
        }

    def _update(self, count: SignupCount, token: str) -> TransactWriteItemTypeDef:
        return {
            "Update": {
                "TableName": self._table,
                "Key": self._key(count),
                "UpdateExpression": "ADD #count :one, #counted :token SET #ttl = :ttl",
                "ConditionExpression": (
                    "(attribute_not_exists(#count) OR #count < :limit) AND NOT contains(#counted, :token_value)"
                ),
                "ExpressionAttributeNames": {
                    "#count": "count",
                    "#counted": COUNTED_ATTRIBUTE,
                    "#ttl": names.TTL_ATTRIBUTE,
                },
                "ExpressionAttributeValues": {
                    ":one": {"N": "1"},
                    ":token": {"SS": [token]},
                    ":token_value": {"S": token},
                    ":limit": {"N": str(count.limit)},
                    ":ttl": {"N": str(count.window_start + count.window_seconds)},
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def acquire(self, counts: Sequence[SignupCount]) -> list[SignupCount]:
        # This sign-up's mark in each counter: a retry of a transaction whose answer was lost (DynamoDB honours the
        # SDK's ClientRequestToken for ten minutes; a plain replay is refused by the mark) is recognized as its own.
        token = uuid.uuid4().hex[:16]
        for _attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=[self._update(count, token) for count in counts])
            except ClientError as error:
                if error_code(error) != TRANSACTION_CANCELED:
                    raise StoreError(f"could not count the signup: {type(error).__name__}") from error
                reasons = error.response.get("CancellationReasons") or []
                codes = cancellation_codes(error)
                if len(codes) != len(counts) or any(code not in _CANCEL_CODES for code in codes):
                    raise StoreError("could not count the signup: the transaction was cancelled") from error
                if "TransactionConflict" in codes and CONDITION_FAILED_REASON not in codes:
                    # Another sign-up's transaction held one of the counters (the overall one is shared): try again.
                    continue
                # A refusal carrying this sign-up's mark is its own earlier attempt's count, not a full counter.
                return [
                    count
                    for count, reason in zip(counts, reasons, strict=True)
                    if reason.get("Code") == CONDITION_FAILED_REASON
                    and token not in _counted_tokens(reason.get("Item"))
                ]
            except BotoCoreError as error:
                raise StoreError(f"could not count the signup: {type(error).__name__}") from error
            return []
        raise StoreError("could not count the signup: the counters stayed busy")

    def release(self, counts: Sequence[SignupCount]) -> None:
        # One by one: a give-back is best effort (each counter expires with its window anyway), and one counter
        # that cannot be given back must not keep the others.
        failed: StoreError | None = None
        for count in counts:
            try:
                _decrement(self._client, self._table, self._key(count), "count", what="the signup")
            except StoreError as error:
                failed = error
        if failed is not None:
            raise failed
