"""Idempotency-Keys of sends, in the messages table under their trial (`IDEMKEY#<sha256 of the key>`).

One item per key: the request's fingerprint (a hash of its body), the message id and time the send goes out with,
and either a lease (`in_progress` until `lease_until`: the function's timeout) or the first accepted answer (`done`).
A claim is one conditional UpdateItem: it takes a new key, or one whose holder's lease ran out (that request died
before answering; its retry goes on with the same message id and time, so the quota write, the record and the
delivery all recognize the message as the one already counted). Each claim carries a token, so a claim whose answer
was lost and that botocore sent again recognizes its own.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.adapters.dynamo_conditions import ConditionalWrite, condition_failed
from trialgw.errors import StoreError
from trialgw.ports import SendKeyClaim, SendKeyState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IN_PROGRESS = "in_progress"
DONE = "done"
# An abandoned claim (its holder died, nobody retried) is garbage-collected this long after its lease.
ABANDONED_TTL_SECONDS = 24 * 3600


def _key(key_hash: str, idempotency_key: str) -> dict[str, Any]:
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()
    return {
        names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{key_hash}"},
        names.SORT_KEY: {"S": f"{names.SEND_KEY_SK_PREFIX}{digest}"},
    }


def _failed(action: str, error: Exception) -> StoreError:
    return StoreError(f"could not {action} the Idempotency-Key: {type(error).__name__}")


def _text(item: dict[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def _number(item: dict[str, Any], name: str) -> int:
    return int(item.get(name, {}).get("N", "0"))


class DynamoSendKeys:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def claim(
        self,
        key_hash: str,
        idempotency_key: str,
        *,
        fingerprint: str,
        message_id: str,
        now: int,
        lease_seconds: int,
        now_ms: int | None = None,
    ) -> SendKeyClaim:
        token = uuid.uuid4().hex
        lease_until = now + lease_seconds
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(key_hash, idempotency_key),
                # A holder whose lease ran out keeps its message id and time: the retry sends that same message.
                UpdateExpression=(
                    "SET #state = :in_progress, #lease = :lease, #token = :token, #fp = :fp, #ttl = :ttl, "
                    "#mid = if_not_exists(#mid, :mid), #at = if_not_exists(#at, :now), "
                    "#at_ms = if_not_exists(#at_ms, :now_ms)"
                ),
                ConditionExpression=(
                    "attribute_not_exists(#state) OR (#state = :in_progress AND #lease <= :now AND #fp = :fp)"
                ),
                ExpressionAttributeNames={
                    "#state": "state",
                    "#lease": "lease_until",
                    "#token": "token",
                    "#fp": "fingerprint",
                    "#ttl": names.TTL_ATTRIBUTE,
                    "#mid": "message_id",
                    "#at": "at",
                    "#at_ms": "at_ms",
                },
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS},
                    ":lease": {"N": str(lease_until)},
                    ":token": {"S": token},
                    ":fp": {"S": fingerprint},
                    ":ttl": {"N": str(lease_until + ABANDONED_TTL_SECONDS)},
                    ":mid": {"S": message_id},
                    ":now": {"N": str(now)},
                    ":now_ms": {"N": str(now * 1000 if now_ms is None else now_ms)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            old: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
            if not condition_failed(error) or not old:
                # (A refusal names the item it found; without one there is no state to act on.)
                raise _failed("claim", error) from error
            return _found(old, token, fingerprint)
        except BotoCoreError as error:
            # No answer: the claim may have been made. Give it back if so, or the key would wait out the lease.
            self._release_quietly(key_hash, idempotency_key, token)
            raise _failed("claim", error) from error
        return _owned(answer["Attributes"])

    def _release_quietly(self, key_hash: str, idempotency_key: str, token: str) -> None:
        try:
            self.release(key_hash, idempotency_key, token=token)
        except StoreError:
            # The store is down: the claim (if any) waits out its lease, then a retry takes it over.
            return

    def complete(self, key_hash: str, idempotency_key: str, *, answer: str, ttl: int) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(key_hash, idempotency_key),
                UpdateExpression="SET #state = :done, #answer = :answer, #ttl = :ttl REMOVE #lease, #token",
                ExpressionAttributeNames={
                    "#state": "state",
                    "#answer": "answer",
                    "#ttl": names.TTL_ATTRIBUTE,
                    "#lease": "lease_until",
                    "#token": "token",
                },
                ExpressionAttributeValues={":done": {"S": DONE}, ":answer": {"S": answer}, ":ttl": {"N": str(ttl)}},
            )
        except (ClientError, BotoCoreError) as error:
            raise _failed("complete", error) from error

    def release(self, key_hash: str, idempotency_key: str, *, token: str) -> None:
        with ConditionalWrite("release the Idempotency-Key"):
            self._client.delete_item(
                TableName=self._table,
                Key=_key(key_hash, idempotency_key),
                # Only this request's claim: after its lease ran out, another request may hold the key.
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": {"S": token}},
            )


def _owned(item: dict[str, Any]) -> SendKeyClaim:
    at, at_ms = _number(item, "at"), _number(item, "at_ms")
    return SendKeyClaim(
        SendKeyState.OWNED,
        message_id=_text(item, "message_id"),
        at=at,
        # A claim from before claims kept milliseconds, taken over since: its message keeps its whole second.
        at_ms=at_ms if at_ms // 1000 == at else None,
        lease_until=_number(item, "lease_until"),
        token=_text(item, "token"),
    )


def _found(old: dict[str, Any], token: str, fingerprint: str) -> SendKeyClaim:
    """What a refused claim found: its own earlier attempt (an answer lost, the SDK's retry), the first answer,
    another request with the same key, or the key used for another body."""
    if _text(old, "token") == token:
        return _owned(old)
    if _text(old, "fingerprint") != fingerprint:
        return SendKeyClaim(SendKeyState.REUSED)
    if _text(old, "state") == DONE:
        return SendKeyClaim(SendKeyState.ANSWERED, answer=_text(old, "answer"))
    return SendKeyClaim(SendKeyState.BUSY, lease_until=_number(old, "lease_until"))
