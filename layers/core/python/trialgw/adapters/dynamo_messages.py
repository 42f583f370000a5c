"""The messages table: each trial's messages (newest last by sort key), and provider ids already seen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.errors import StoreError
from trialgw.ports import LoggedMessage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoMessageLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _seen_key(self, provider: str, provider_message_id: str) -> dict[str, dict[str, str]]:
        return {
            names.PARTITION_KEY: {"S": f"{names.SEEN_PK_PREFIX}{provider}#{provider_message_id}"},
            names.SORT_KEY: {"S": names.SEEN_SK},
        }

    def claim(self, provider: str, provider_message_id: str, *, ttl: int) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**self._seen_key(provider, provider_message_id), names.TTL_ATTRIBUTE: {"N": str(ttl)}},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": names.PARTITION_KEY},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                return False
            raise StoreError(f"could not claim the message: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not claim the message: {type(error).__name__}") from error
        return True

    def release(self, provider: str, provider_message_id: str) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key=self._seen_key(provider, provider_message_id))
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not release the message: {type(error).__name__}") from error

    @staticmethod
    def _message_key(message: LoggedMessage) -> dict[str, dict[str, str]]:
        return {
            names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{message.key_hash}"},
            # Zero-padded time first, so a query in sort-key order is a timeline.
            names.SORT_KEY: {"S": f"{names.MESSAGE_SK_PREFIX}{message.at:011d}#{message.message_id}"},
        }

    def record(self, message: LoggedMessage) -> None:
        item = {
            **self._message_key(message),
            "direction": {"S": message.direction},
            "channel": {"S": message.channel.value},
            "counterpart": {"S": message.counterpart},
            "at": {"N": str(message.at)},
            "message_id": {"S": message.message_id},
            "payload": {"S": message.payload},
            names.TTL_ATTRIBUTE: {"N": str(message.ttl)},
        }
        if message.text is not None:
            item["text"] = {"S": message.text}
        if message.status is not None:
            item["status"] = {"S": message.status}
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not record the message: {type(error).__name__}") from error

    def forget(self, message: LoggedMessage) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key=self._message_key(message))
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not remove the message: {type(error).__name__}") from error
