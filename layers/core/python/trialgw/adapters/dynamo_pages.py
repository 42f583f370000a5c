"""One page of a trial's items in the messages table, newest first, and the cursor that goes on from it.

The trial's messages (`dynamo_messages`) and its webhook log (`dynamo_webhook_log`, issue 18) are both paged this
way: one query of the trial's partition (`TRIAL#<key hash>`) for the sort keys that begin with a prefix. A cursor is
the last sort key read, URL-safe base64 without padding; a cursor stays within the trial's partition (the query fixes
it), so its length and its sort key's shape are all there is to check.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.errors import StoreError
from trialgw.ports import InvalidCursor

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class TrialPages(NamedTuple):
    """One kind of a trial's items, paged newest first: those whose sort key begins with `prefix` (`reading` names
    them in a StoreError). Its cursors are at most `max_cursor_chars` long and name a sort key `accepts` takes; any
    other is `InvalidCursor(refusal)`. A NamedTuple, as the other values the API functions load at their cold start."""

    prefix: str
    reading: str
    max_cursor_chars: int
    accepts: Callable[[str], bool]
    refusal: str

    def newest_first(
        self, client: DynamoDBClient, table: str, key_hash: str, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` of the trial's items, newest first, from after `cursor`, and the cursor for the next page
        (None after the last), in one query. InvalidCursor (before any call) for a cursor this kind refuses;
        StoreError when the query fails."""
        pk = {"S": f"{names.TRIAL_PK_PREFIX}{key_hash}"}
        query: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": names.PARTITION_KEY, "#sk": names.SORT_KEY},
            "ExpressionAttributeValues": {":pk": pk, ":prefix": {"S": self.prefix}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            query["ExclusiveStartKey"] = {names.PARTITION_KEY: pk, names.SORT_KEY: {"S": self.cursor_sort_key(cursor)}}
        try:
            answer = client.query(**query)
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read {self.reading}: {type(error).__name__}") from error
        last = answer.get("LastEvaluatedKey")
        return answer.get("Items", []), (to_cursor(last[names.SORT_KEY]["S"]) if last else None)

    def cursor_sort_key(self, cursor: str) -> str:
        """The sort key a cursor stands for; InvalidCursor for anything `to_cursor` did not make of this kind's."""
        if len(cursor) > self.max_cursor_chars:
            raise InvalidCursor("cursor too long")
        try:
            sort_key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            raise InvalidCursor("cursor is not base64") from None
        if not self.accepts(sort_key):
            raise InvalidCursor(self.refusal)
        return sort_key


def to_cursor(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


__all__ = ["TrialPages", "to_cursor"]
