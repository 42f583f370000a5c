"""The capacity breaker in the trials table: one flag item and one counter item per fixed window, and the trials' own
per-window counts of accepted sends (written by the quota's write) for ranking who sent most."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.errors import StoreError
from trialgw.ports import BreakerState, CapacityWindow, TopSender

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A window's counter outlives its window by this much, so `capacity status` can still show the last one.
WINDOW_RETENTION_SECONDS = 7 * 24 * 3600


def _key(sort_key: str) -> dict[str, Any]:
    return {names.PARTITION_KEY: {"S": names.CAPACITY_PK}, names.SORT_KEY: {"S": sort_key}}


def _window_sk(window_start: int) -> str:
    # Zero-padded, so the windows sort by time.
    return f"{names.CAPACITY_WINDOW_SK_PREFIX}{window_start:011d}"


def _failed(action: str, error: Exception) -> StoreError:
    return StoreError(f"could not {action}: {type(error).__name__}")


class DynamoCapacityStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def breaker(self) -> BreakerState:
        try:
            answer = self._client.get_item(
                TableName=self._table, Key=_key(names.CAPACITY_BREAKER_SK), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as error:
            raise _failed("read the capacity breaker", error) from error
        return _breaker(answer.get("Item"))

    def add(self, count: int, *, window_start: int, window_seconds: int, limit: int) -> int:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(_window_sk(window_start)),
                UpdateExpression="ADD #count :count SET #limit = :limit, #seconds = :seconds, #ttl = :ttl",
                ExpressionAttributeNames={
                    "#count": "count",
                    "#limit": "limit",
                    "#seconds": "window_seconds",
                    "#ttl": names.TTL_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":count": {"N": str(count)},
                    ":limit": {"N": str(limit)},
                    ":seconds": {"N": str(window_seconds)},
                    ":ttl": {"N": str(window_start + window_seconds + WINDOW_RETENTION_SECONDS)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except (ClientError, BotoCoreError) as error:
            raise _failed("count accepted messages", error) from error
        return int(answer["Attributes"]["count"]["N"])

    def trip(self, *, now: int, count: int) -> None:
        try:
            # The first trip's time and count stay: they are what the operator needs to see.
            self._client.update_item(
                TableName=self._table,
                Key=_key(names.CAPACITY_BREAKER_SK),
                UpdateExpression=(
                    "SET #tripped = :true, #at = if_not_exists(#at, :now), #count = if_not_exists(#count, :count)"
                ),
                ExpressionAttributeNames={"#tripped": "tripped", "#at": "tripped_at", "#count": "tripped_count"},
                ExpressionAttributeValues={
                    ":true": {"BOOL": True},
                    ":now": {"N": str(now)},
                    ":count": {"N": str(count)},
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise _failed("trip the capacity breaker", error) from error

    def reset(self, *, now: int) -> None:
        try:
            windows = self.windows()
            # Windows first: a flush between the two calls then counts from zero rather than re-tripping.
            for window in windows:
                self._client.delete_item(TableName=self._table, Key=_key(_window_sk(window.start)))
            self._client.put_item(
                TableName=self._table,
                Item={**_key(names.CAPACITY_BREAKER_SK), "tripped": {"BOOL": False}, "reset_at": {"N": str(now)}},
            )
        except (ClientError, BotoCoreError) as error:
            raise _failed("reset the capacity breaker", error) from error

    def windows(self) -> list[CapacityWindow]:
        try:
            answer = self._client.query(
                TableName=self._table,
                KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
                ExpressionAttributeNames={"#pk": names.PARTITION_KEY, "#sk": names.SORT_KEY},
                ExpressionAttributeValues={
                    ":pk": {"S": names.CAPACITY_PK},
                    ":prefix": {"S": names.CAPACITY_WINDOW_SK_PREFIX},
                },
                ScanIndexForward=False,
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as error:
            raise _failed("read the capacity windows", error) from error
        return [
            CapacityWindow(
                start=int(item[names.SORT_KEY]["S"].removeprefix(names.CAPACITY_WINDOW_SK_PREFIX)),
                accepted=int(item["count"]["N"]),
                limit=int(item["limit"]["N"]),
                window_seconds=int(item["window_seconds"]["N"]),
            )
            for item in answer.get("Items", [])
        ]

    def top_senders(self, window_start: int, *, limit: int) -> list[TopSender]:
        # A scan: an operator's question after a trip, over a table that holds about a day of trials; the send path
        # pays nothing for it (the per-window count rides on the quota's own write).
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(#pk, :trial) AND attribute_exists(#window)",
            "ProjectionExpression": "key_hash, email, signup_network, created_at, #window",
            "ExpressionAttributeNames": {
                "#pk": names.PARTITION_KEY,
                "#window": names.window_sent_attribute(window_start),
            },
            "ExpressionAttributeValues": {":trial": {"S": names.TRIAL_PK_PREFIX}},
        }
        senders: list[TopSender] = []
        try:
            while True:
                answer = self._client.scan(**request)
                senders.extend(_top_sender(item, window_start) for item in answer.get("Items", []))
                if "LastEvaluatedKey" not in answer:
                    break
                request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as error:
            raise _failed("read the trials' sends in the window", error) from error
        ranked = sorted((s for s in senders if s.accepted > 0), key=lambda s: (-s.accepted, s.created_at))
        return ranked[:limit]


def _top_sender(item: dict[str, Any], window_start: int) -> TopSender:
    return TopSender(
        key_hash=item["key_hash"]["S"],
        email=item["email"]["S"],
        signup_network=item["signup_network"]["S"] if "signup_network" in item else None,
        created_at=int(item["created_at"]["N"]),
        accepted=int(item[names.window_sent_attribute(window_start)]["N"]),
    )


def _breaker(item: dict[str, Any] | None) -> BreakerState:
    if item is None or not item.get("tripped", {}).get("BOOL", False):
        return BreakerState(tripped=False)
    return BreakerState(
        tripped=True,
        tripped_at=int(item["tripped_at"]["N"]) if "tripped_at" in item else None,
        tripped_count=int(item["tripped_count"]["N"]) if "tripped_count" in item else None,
    )
