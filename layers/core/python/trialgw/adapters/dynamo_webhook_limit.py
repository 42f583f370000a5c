"""The limit on events asked for by hand (the dashboard's test events and replays, issue 18), on the trial item.

One counter attribute per fixed window, `webhook_sends_<window start>`, counted by one conditional UpdateItem that
also removes the previous window's counter, so the item holds at most two of them and the take costs one write: no
read, no extra item, gone with the trial. The condition holds only while the trial item exists, is active and the
window's count is under the limit; DynamoDB applies it atomically, so concurrent presses never pass the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.adapters.dynamo_conditions import condition_failed
from trialgw.errors import StoreError
from trialgw.models import TrialStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNTER_PREFIX = "webhook_sends_"


def counter_attribute(window_start: int) -> str:
    return f"{COUNTER_PREFIX}{window_start}"


class DynamoWebhookSendLimit:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def take(self, key_hash: str, *, window_start: int, window_seconds: int, limit: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={
                    names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{key_hash}"},
                    names.SORT_KEY: {"S": names.TRIAL_SK},
                },
                UpdateExpression="ADD #count :one REMOVE #previous",
                ConditionExpression=(
                    "attribute_exists(#pk) AND #status = :active AND (attribute_not_exists(#count) OR #count < :limit)"
                ),
                ExpressionAttributeNames={
                    "#pk": names.PARTITION_KEY,
                    "#status": "status",
                    "#count": counter_attribute(window_start),
                    "#previous": counter_attribute(window_start - window_seconds),
                },
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":active": {"S": TrialStatus.ACTIVE.value},
                },
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise StoreError(f"could not count the webhook send: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not count the webhook send: {type(error).__name__}") from error
        return True


__all__ = ["COUNTER_PREFIX", "DynamoWebhookSendLimit", "counter_attribute"]
