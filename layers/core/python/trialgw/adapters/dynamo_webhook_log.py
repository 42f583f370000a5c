"""The trial's webhook log in the messages table (issue 18): its attempts, newest first, and the events they were for.

Items under the trial's partition (`TRIAL#<key hash>`), beside its messages (`trialgw.names`): an attempt
`HOOK#<at ms>#<attempt id>` and its event `HOOKEVT#<event id>`, both with the event's TTL (the trial's messages'). An
attempt's HTTP status is `http_status`, never `status`: the status index's key is text (outbound messages only).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.adapters.dynamo_pages import TrialPages
from trialgw.errors import StoreError
from trialgw.ports import WebhookAttempt, WebhookAttemptPage
from trialgw.webhook_events import WebhookEvent, WebhookKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A cursor stays within the trial's partition (the query fixes it), so its shape is all there is to check.
MAX_CURSOR_CHARS = 200
_ATTEMPT_SORT_KEY = re.compile(rf"{re.escape(names.WEBHOOK_ATTEMPT_SK_PREFIX)}[0-9]{{13}}#[A-Za-z0-9_-]{{1,64}}")
_PAGES = TrialPages(
    prefix=names.WEBHOOK_ATTEMPT_SK_PREFIX,
    reading="the webhook log",
    max_cursor_chars=MAX_CURSOR_CHARS,
    accepts=lambda sort_key: _ATTEMPT_SORT_KEY.fullmatch(sort_key) is not None,
    refusal="cursor names no webhook attempt",
)


def _partition(key_hash: str) -> dict[str, str]:
    return {"S": f"{names.TRIAL_PK_PREFIX}{key_hash}"}


class DynamoWebhookLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def record_attempt(self, attempt: WebhookAttempt, event: WebhookEvent) -> None:
        pk = _partition(event.key_hash)
        ttl = {"N": str(event.ttl)}
        attempt_item: dict[str, Any] = {
            names.PARTITION_KEY: pk,
            names.SORT_KEY: {"S": names.webhook_attempt_sort_key(attempt.at_ms, attempt.attempt_id)},
            "attempt_id": {"S": attempt.attempt_id},
            "event_id": {"S": attempt.event_id},
            "kind": {"S": attempt.kind.value},
            "url": {"S": attempt.url},
            "at_ms": {"N": str(attempt.at_ms)},
            "latency_ms": {"N": str(attempt.latency_ms)},
            "answer": {"S": attempt.answer},
            "payload": {"S": attempt.payload},
            "will_retry": {"BOOL": attempt.will_retry},
            names.TTL_ATTRIBUTE: ttl,
        }
        if attempt.status is not None:
            attempt_item["http_status"] = {"N": str(attempt.status)}
        if attempt.error is not None:
            attempt_item["error"] = {"S": attempt.error}
        # The event as first made (a replay's attempts name the same event): rewritten unchanged by each attempt, so
        # one write stores both, and a log with an attempt always has its event.
        event_item = {
            names.PARTITION_KEY: pk,
            names.SORT_KEY: {"S": names.webhook_event_sort_key(event.event_id)},
            "event_id": {"S": event.event_id},
            "kind": {"S": event.kind.value},
            "payload": {"S": event.payload},
            "created_at_ms": {"N": str(event.created_at_ms)},
            names.TTL_ATTRIBUTE: ttl,
        }
        requests: list[Any] = [{"PutRequest": {"Item": attempt_item}}, {"PutRequest": {"Item": event_item}}]
        try:
            # BatchWriteItem may leave items unprocessed when throttled: one more try of those, then a StoreError.
            for _ in range(2):
                answer = self._client.batch_write_item(RequestItems={self._table: requests})
                requests = answer.get("UnprocessedItems", {}).get(self._table, [])
                if not requests:
                    return
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not log the webhook attempt: {type(error).__name__}") from error
        raise StoreError("could not log the webhook attempt: left unprocessed")

    def attempts(self, key_hash: str, *, limit: int, cursor: str | None) -> WebhookAttemptPage:
        items, next_cursor = _PAGES.newest_first(self._client, self._table, key_hash, limit=limit, cursor=cursor)
        return WebhookAttemptPage(attempts=[_attempt(item) for item in items], cursor=next_cursor)

    def event(self, key_hash: str, event_id: str) -> WebhookEvent | None:
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key={
                    names.PARTITION_KEY: _partition(key_hash),
                    names.SORT_KEY: {"S": names.webhook_event_sort_key(event_id)},
                },
                ConsistentRead=True,
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read the webhook event: {type(error).__name__}") from error
        if item is None:
            return None
        return WebhookEvent(
            event_id=item["event_id"]["S"],
            key_hash=key_hash,
            kind=WebhookKind(item["kind"]["S"]),
            payload=item["payload"]["S"],
            created_at_ms=int(item["created_at_ms"]["N"]),
            ttl=int(item[names.TTL_ATTRIBUTE]["N"]),
        )


def _attempt(item: dict[str, Any]) -> WebhookAttempt:
    status = item.get("http_status")
    error = item.get("error")
    return WebhookAttempt(
        attempt_id=item["attempt_id"]["S"],
        event_id=item["event_id"]["S"],
        kind=WebhookKind(item["kind"]["S"]),
        url=item["url"]["S"],
        at_ms=int(item["at_ms"]["N"]),
        status=None if status is None else int(status["N"]),
        latency_ms=int(item["latency_ms"]["N"]),
        error=None if error is None else error["S"],
        answer=item["answer"]["S"],
        payload=item["payload"]["S"],
        will_retry=bool(item.get("will_retry", {}).get("BOOL", False)),
    )


__all__ = ["DynamoWebhookLog"]
