"""The messages table: each trial's messages (newest last by sort key), and the claims on providers' message ids."""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.adapters.dynamo_conditions import ConditionalWrite, condition_failed, first_condition_failed
from trialgw.adapters.dynamo_pages import TrialPages
from trialgw.errors import StoreError
from trialgw.models import Channel
from trialgw.ports import (
    REFUSED,
    STATUS_MOVES_FROM,
    AttemptClaim,
    AttemptState,
    InboundClaim,
    InboundClaimState,
    LoggedMessage,
    MessagePage,
    MessageRef,
    MessageStatus,
    StatusHook,
    StatusMove,
    StoredMessage,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# On a provider message id's claim: which call holds it, whether its message is in progress or done, until when the
# holder's lease runs (epoch seconds), and when the message was first claimed.
CLAIM_ATTRIBUTE = "claim"
CLAIM_STATE_ATTRIBUTE = "state"
LEASE_ATTRIBUTE = "lease_until"
RECEIVED_ATTRIBUTE = "received_at"
RECEIVED_MS_ATTRIBUTE = "received_at_ms"
IN_PROGRESS = "in_progress"
DONE = "done"
# On a send's record, while delivery runs: its attempts so far, and the lease of the attempt in progress (until when,
# epoch milliseconds as Lambda's deadline is, and which call holds it).
ATTEMPTS_ATTRIBUTE = "attempts"
ATTEMPT_LEASE_ATTRIBUTE = "lease_until_ms"
LEASE_HOLDER_ATTRIBUTE = "lease_token"
# A message's time in epoch milliseconds (its key has them too; `at` stays whole seconds for the status index), and a
# refused attempt's CM errorCode.
AT_MS_ATTRIBUTE = "at_ms"
ERROR_CODE_ATTRIBUTE = "error_code"
# A refused send attempt's record says so here, not in `status`.
OUTCOME_ATTRIBUTE = "outcome"
# On a send of a trial with a status webhook URL (issue 18): the flag, and the developer's `reference` its status
# events carry.
STATUS_WEBHOOK_ATTRIBUTE = "status_webhook"
REFERENCE_ATTRIBUTE = "reference"


class DynamoMessageLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _seen_key(self, provider: str, provider_message_id: str) -> dict[str, dict[str, str]]:
        return {
            names.PARTITION_KEY: {"S": f"{names.SEEN_PK_PREFIX}{provider}#{provider_message_id}"},
            names.SORT_KEY: {"S": names.SEEN_SK},
        }

    def claim(
        self,
        provider: str,
        provider_message_id: str,
        *,
        received_at: int,
        now: int,
        lease_seconds: int,
        ttl: int,
        received_at_ms: int | None = None,
    ) -> InboundClaim:
        key = self._seen_key(provider, provider_message_id)
        # This call's own mark: an SDK retry of a write whose answer was lost finds it, and knows the claim is its own.
        token = uuid.uuid4().hex
        lease_until = now + lease_seconds
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=(
                    "SET #state = :in_progress, #claim = :token, #lease = :lease, #ttl = :ttl, "
                    "#received = if_not_exists(#received, :received), "
                    "#received_ms = if_not_exists(#received_ms, :received_ms)"
                ),
                # Never claimed, or claimed by an invocation that neither completed nor released it within its lease
                # (it crashed or timed out). The lease is compared here, not left to TTL, which deletes only
                # eventually.
                ConditionExpression="attribute_not_exists(#pk) OR (#state = :in_progress AND #lease < :now)",
                ExpressionAttributeNames={
                    "#pk": names.PARTITION_KEY,
                    "#state": CLAIM_STATE_ATTRIBUTE,
                    "#claim": CLAIM_ATTRIBUTE,
                    "#lease": LEASE_ATTRIBUTE,
                    "#ttl": names.TTL_ATTRIBUTE,
                    "#received": RECEIVED_ATTRIBUTE,
                    "#received_ms": RECEIVED_MS_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":in_progress": {"S": IN_PROGRESS},
                    ":token": {"S": token},
                    ":lease": {"N": str(lease_until)},
                    ":ttl": {"N": str(ttl)},
                    ":received": {"N": str(received_at)},
                    ":received_ms": {"N": str(received_at * 1000 if received_at_ms is None else received_at_ms)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if condition_failed(error):
                old: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
                return _found(old, provider, provider_message_id, token)
            self._unclaim(key, token)
            raise StoreError(f"could not claim the message: {type(error).__name__}") from error
        except BotoCoreError as error:
            self._unclaim(key, token)
            raise StoreError(f"could not claim the message: {type(error).__name__}") from error
        item = answer.get("Attributes", {})
        return InboundClaim(
            InboundClaimState.OWNED,
            provider,
            provider_message_id,
            token=token,
            received_at=_number(item, RECEIVED_ATTRIBUTE, received_at),
            lease_until=lease_until,
            received_at_ms=_received_ms(item),
        )

    def _unclaim(self, key: dict[str, dict[str, str]], token: str) -> None:
        """Ends this call's lease if its write happened although no answer said so: the provider's retry of the
        message, after the 503, must not wait for it. Best effort: the store is failing already."""
        with contextlib.suppress(ClientError, BotoCoreError, StoreError):
            self._end_lease(key, token)

    def _end_lease(self, key: dict[str, dict[str, str]], token: str) -> None:
        # A failed condition: the lease is not this call's any more (completed, or taken over), nothing of ours to end.
        with ConditionalWrite("release the message"):
            self._client.update_item(
                TableName=self._table,
                Key=key,
                # An ended lease rather than a deleted item: the retry takes it over at once and keeps the first
                # `received_at`, so a record the failed attempt wrote is written again as the same item.
                UpdateExpression="SET #lease = :ended",
                ConditionExpression="#claim = :token AND #state = :in_progress",
                ExpressionAttributeNames={
                    "#lease": LEASE_ATTRIBUTE,
                    "#claim": CLAIM_ATTRIBUTE,
                    "#state": CLAIM_STATE_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":ended": {"N": "0"},
                    ":token": {"S": token},
                    ":in_progress": {"S": IN_PROGRESS},
                },
            )

    def release(self, claim: InboundClaim) -> None:
        self._end_lease(self._seen_key(claim.provider, claim.provider_message_id), claim.token)

    def complete(self, claim: InboundClaim, *, ttl: int) -> None:
        try:
            # Unconditional: the message was processed, by this call, whoever holds the claim now; a retry of this
            # write (a lost answer) writes the same again.
            self._client.update_item(
                TableName=self._table,
                Key=self._seen_key(claim.provider, claim.provider_message_id),
                UpdateExpression="SET #state = :done, #ttl = :ttl REMOVE #lease",
                ExpressionAttributeNames={
                    "#state": CLAIM_STATE_ATTRIBUTE,
                    "#ttl": names.TTL_ATTRIBUTE,
                    "#lease": LEASE_ATTRIBUTE,
                },
                ExpressionAttributeValues={":done": {"S": DONE}, ":ttl": {"N": str(ttl)}},
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not complete the message: {type(error).__name__}") from error

    @staticmethod
    def _message_key(message: LoggedMessage) -> dict[str, dict[str, str]]:
        return {
            names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{message.key_hash}"},
            # Zero-padded time first (milliseconds when known), so a query in sort-key order is a timeline.
            names.SORT_KEY: {"S": names.message_sort_key(message.at, message.message_id, at_ms=message.at_ms)},
        }

    def record_put(self, message: LoggedMessage) -> dict[str, Any]:
        """The record's conditional put, on its own (`record`) or in a transaction (`DynamoWhitelisting`): the
        first write wins, so a condition that fails means "recorded already"."""
        item: dict[str, Any] = {
            **self._message_key(message),
            "direction": {"S": message.direction},
            "channel": {"S": str(message.channel)},
            "counterpart": {"S": message.counterpart},
            "at": {"N": str(message.at)},
            "message_id": {"S": message.message_id},
            "payload": {"S": message.payload},
            names.TTL_ATTRIBUTE: {"N": str(message.ttl)},
        }
        if message.text is not None:
            item["text"] = {"S": message.text}
        if message.status == REFUSED:
            # Not under `status`: a refusal stays out of the status index (the sweeper's), and no status write ever
            # matches it.
            item[OUTCOME_ATTRIBUTE] = {"S": REFUSED}
        elif message.status is not None:
            item["status"] = {"S": message.status}
        if message.at_ms is not None:
            item[AT_MS_ATTRIBUTE] = {"N": str(message.at_ms)}
        if message.reason is not None:
            item["reason"] = {"S": message.reason}
        if message.error_code is not None:
            item[ERROR_CODE_ATTRIBUTE] = {"N": str(message.error_code)}
        if message.status_webhook:
            item[STATUS_WEBHOOK_ATTRIBUTE] = {"BOOL": True}
        if message.reference is not None:
            item[REFERENCE_ATTRIBUTE] = {"S": message.reference}
        return {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": names.PARTITION_KEY},
        }

    def record(self, message: LoggedMessage) -> None:
        with ConditionalWrite("record the message"):
            # The first write wins: a send retried under its Idempotency-Key (same message id and time) finds its
            # record perhaps already `sent`, which a second write must not set back to `queued`.
            self._client.put_item(**self.record_put(message))

    def forget(self, message: LoggedMessage) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key=self._message_key(message))
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not remove the message: {type(error).__name__}") from error

    def page(self, key_hash: str, *, limit: int, cursor: str | None) -> MessagePage:
        items, next_cursor = _PAGES.newest_first(self._client, self._table, key_hash, limit=limit, cursor=cursor)
        return MessagePage(messages=[_stored(item) for item in items], cursor=next_cursor)

    # Delivery: attempts and status on an accepted send's record.

    @staticmethod
    def _ref_key(ref: MessageRef) -> dict[str, dict[str, str]]:
        return {
            names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{ref.key_hash}"},
            names.SORT_KEY: {"S": names.message_sort_key(ref.at, ref.message_id, at_ms=ref.at_ms)},
        }

    def begin_attempt(self, ref: MessageRef, *, now_ms: int, lease_until_ms: int) -> AttemptClaim:
        key = self._ref_key(ref)
        # This call's own mark: an SDK retry of a write whose answer was lost finds it, and knows the lease is its own.
        token = uuid.uuid4().hex
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET #lease = :lease, #token = :token ADD #attempts :one",
                # Only while queued (a message sent or failed is never handed to a provider again), and only when no
                # other invocation's lease runs: a lease that ran out (its holder crashed or timed out) is taken over.
                ConditionExpression=(
                    "attribute_exists(#pk) AND #status = :queued AND (attribute_not_exists(#lease) OR #lease < :now)"
                ),
                ExpressionAttributeNames={
                    "#pk": names.PARTITION_KEY,
                    "#status": "status",
                    "#attempts": ATTEMPTS_ATTRIBUTE,
                    "#lease": ATTEMPT_LEASE_ATTRIBUTE,
                    "#token": LEASE_HOLDER_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":queued": {"S": MessageStatus.QUEUED.value},
                    ":lease": {"N": str(lease_until_ms)},
                    ":token": {"S": token},
                    ":now": {"N": str(now_ms)},
                },
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if condition_failed(error):
                old: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
                return _attempt_found(old, token)
            self._release_quietly(key, token)
            raise StoreError(f"could not count the delivery attempt: {type(error).__name__}") from error
        except BotoCoreError as error:
            self._release_quietly(key, token)
            raise StoreError(f"could not count the delivery attempt: {type(error).__name__}") from error
        attempts = _number(answer.get("Attributes", {}), ATTEMPTS_ATTRIBUTE, 1)
        return AttemptClaim(AttemptState.OWNED, attempts, token=token, lease_until_ms=lease_until_ms)

    def _release_quietly(self, key: dict[str, dict[str, str]], token: str) -> None:
        """Ends this call's lease if its write happened although no answer said so: the retry after the back-off must
        not find it in flight. Best effort: the store is failing already."""
        with contextlib.suppress(ClientError, BotoCoreError, StoreError):
            self._end_attempt_lease(key, token)

    def release_attempt(self, ref: MessageRef, *, token: str) -> None:
        self._end_attempt_lease(self._ref_key(ref), token)

    def _end_attempt_lease(self, key: dict[str, dict[str, str]], token: str) -> None:
        # A failed condition: the lease is not this call's any more (the record moved on, or a later holder took it
        # over), nothing of ours to end.
        with ConditionalWrite("release the delivery attempt"):
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="REMOVE #lease, #token",
                ConditionExpression="#token = :token",
                ExpressionAttributeNames={"#lease": ATTEMPT_LEASE_ATTRIBUTE, "#token": LEASE_HOLDER_ATTRIBUTE},
                ExpressionAttributeValues={":token": {"S": token}},
            )

    def set_status(
        self,
        ref: MessageRef,
        status: MessageStatus,
        *,
        at: int,
        reason: str | None = None,
        provider: str | None = None,
        provider_message_id: str | None = None,
        only_from: frozenset[MessageStatus] | None = None,
        lease_token: str | None = None,
    ) -> StatusMove | None:
        sets = ["#status = :status", "#status_at = :at"]
        values: dict[str, dict[str, str]] = {":status": {"S": status.value}, ":at": {"N": str(at)}}
        extra = {"reason": reason, "provider": provider, "provider_message_id": provider_message_id}
        for attribute, value in extra.items():
            if value is not None:
                sets.append(f"{attribute} = :{attribute}")
                values[f":{attribute}"] = {"S": value}
        allowed = sorted(STATUS_MOVES_FROM[status] if only_from is None else STATUS_MOVES_FROM[status] & only_from)
        if not allowed:
            return None
        values.update({f":from{index}": {"S": previous.value} for index, previous in enumerate(allowed)})
        condition = f"#status IN ({', '.join(f':from{index}' for index in range(len(allowed)))})"
        attribute_names = {"#status": "status", "#status_at": "status_at"}
        expression = "SET " + ", ".join(sets)
        if status in (MessageStatus.SENT, MessageStatus.FAILED):
            # Delivery is over: no lease outlives it.
            expression += " REMOVE #lease, #token"
            attribute_names |= {"#lease": ATTEMPT_LEASE_ATTRIBUTE, "#token": LEASE_HOLDER_ATTRIBUTE}
        if lease_token is not None:
            condition += " AND #token = :token"
            attribute_names["#token"] = LEASE_HOLDER_ATTRIBUTE
            values[":token"] = {"S": lease_token}
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": self._ref_key(ref),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": attribute_names,
            "ExpressionAttributeValues": values,
        }
        pointers = self._pointers(ref, at, provider, provider_message_id) if status is MessageStatus.SENT else []
        try:
            if pointers:
                # One transaction: a report can find the message exactly when the message is recorded as sent.
                items: list[Any] = [{"Update": update}]
                items += [{"Put": {"TableName": self._table, "Item": pointer}} for pointer in pointers]
                self._client.transact_write_items(TransactItems=items)
                return StatusMove()
            # The record as moved, in the same call: a flagged send's status event is made of it (issue 18).
            answer = self._client.update_item(**update, ReturnValues="ALL_NEW")
        except ClientError as error:
            if condition_failed(error) or first_condition_failed(error):
                return None
            raise StoreError(f"could not update the message status: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not update the message status: {type(error).__name__}") from error
        return StatusMove(hook=_status_hook(answer.get("Attributes", {})))

    @staticmethod
    def _pointers(
        ref: MessageRef, at: int, provider: str | None, provider_message_id: str | None
    ) -> list[dict[str, dict[str, str]]]:
        target = {
            "key_hash": {"S": ref.key_hash},
            "at": {"N": str(ref.at)},
            "message_id": {"S": ref.message_id},
            names.TTL_ATTRIBUTE: {"N": str(at + POINTER_TTL_SECONDS)},
        }
        if ref.at_ms is not None:
            target[AT_MS_ATTRIBUTE] = {"N": str(ref.at_ms)}
        pointers = [_pointer_key(names.MESSAGE_ID_PK_PREFIX + ref.message_id) | target]
        if provider and provider_message_id:
            pointers.append(_pointer_key(f"{names.PROVIDER_ID_PK_PREFIX}{provider}#{provider_message_id}") | target)
        return pointers

    def queued_before(self, cutoff: int, *, limit: int) -> list[MessageRef]:
        index = names.STATUS_INDEX
        (status_attribute, _), (at_attribute, _) = index.partition_key, index.sort_key
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index.name,
            "KeyConditionExpression": "#status = :queued AND #at < :cutoff",
            "ExpressionAttributeNames": {"#status": status_attribute, "#at": at_attribute},
            "ExpressionAttributeValues": {":queued": {"S": MessageStatus.QUEUED.value}, ":cutoff": {"N": str(cutoff)}},
        }
        found: list[MessageRef] = []
        try:
            while len(found) < limit:
                answer = self._client.query(**query, Limit=limit - len(found))
                # Only a message's record has both a status and a time; the guard keeps any other item out.
                items = answer.get("Items", [])
                found += [_ref_of(i) for i in items if i[names.SORT_KEY]["S"].startswith(names.MESSAGE_SK_PREFIX)]
                if "LastEvaluatedKey" not in answer:
                    break
                query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read the queued messages: {type(error).__name__}") from error
        return found

    def status_of(self, ref: MessageRef) -> MessageStatus | None:
        """The record's status; None when it has none (expired). Only the local phone page asks (the functions know a
        record's status from the write that moved it). Raises StoreError."""
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key=self._ref_key(ref),
                ConsistentRead=True,
                ProjectionExpression="#status",
                ExpressionAttributeNames={"#status": "status"},
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read the message status: {type(error).__name__}") from error
        return None if item is None else MessageStatus(item["status"]["S"])

    def locate(
        self, *, message_id: str | None = None, provider: str | None = None, provider_message_id: str | None = None
    ) -> MessageRef | None:
        if message_id:
            key = _pointer_key(names.MESSAGE_ID_PK_PREFIX + message_id)
        elif provider and provider_message_id:
            key = _pointer_key(f"{names.PROVIDER_ID_PK_PREFIX}{provider}#{provider_message_id}")
        else:
            return None
        try:
            item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not find the message: {type(error).__name__}") from error
        if item is None:
            return None
        return MessageRef(
            key_hash=item["key_hash"]["S"],
            at=int(item["at"]["N"]),
            message_id=item["message_id"]["S"],
            at_ms=_optional_number(item, AT_MS_ATTRIBUTE),
        )


# Status reports arrive within days (SMS delivery receipts: up to 72 hours); the trial lives one.
POINTER_TTL_SECONDS = 7 * 24 * 3600


def _status_hook(item: dict[str, Any]) -> StatusHook | None:
    """What a flagged send's status event is made of, from its record; None for any other record."""
    if item.get(STATUS_WEBHOOK_ATTRIBUTE, {}).get("BOOL") is not True:
        return None
    reference = item.get(REFERENCE_ATTRIBUTE, {}).get("S")
    return StatusHook(
        to=item["counterpart"]["S"],
        reference=reference if isinstance(reference, str) else None,
        ttl=int(item[names.TTL_ATTRIBUTE]["N"]),
    )


def _number(item: dict[str, Any], name: str, default: int) -> int:
    value = item.get(name, {}).get("N")
    return int(value) if isinstance(value, str) else default


def _optional_number(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return int(value) if isinstance(value, str) else None


def _found(old: dict[str, Any], provider: str, provider_message_id: str, token: str) -> InboundClaim:
    """What a refused claim found: this very call's claim (its write went through, the answer was lost), another
    holder's running lease, or a message processed already (also a claim written before claims had a state)."""
    lease_until = _number(old, LEASE_ATTRIBUTE, 0)
    received_at = _number(old, RECEIVED_ATTRIBUTE, 0)
    if old.get(CLAIM_ATTRIBUTE, {}).get("S") == token:
        state = InboundClaimState.OWNED
    elif old.get(CLAIM_STATE_ATTRIBUTE, {}).get("S") == IN_PROGRESS:
        state = InboundClaimState.BUSY
        token = ""
    else:
        state = InboundClaimState.DONE
        token = ""
    return InboundClaim(
        state,
        provider,
        provider_message_id,
        token=token,
        received_at=received_at,
        lease_until=lease_until,
        received_at_ms=_received_ms(old),
    )


def _received_ms(item: dict[str, Any]) -> int | None:
    """The claim's first time in milliseconds; None for a claim from before claims kept them (taken over since, its
    `received_at` is the older holder's, which the milliseconds must agree with)."""
    received, received_ms = _optional_number(item, RECEIVED_ATTRIBUTE), _optional_number(item, RECEIVED_MS_ATTRIBUTE)
    return received_ms if received is not None and received_ms is not None and received_ms // 1000 == received else None


def _attempt_found(old: dict[str, Any], token: str) -> AttemptClaim:
    """What a refused attempt found: this very call's lease (its write went through, the answer was lost), no record,
    a record sent or failed already, or another holder's running lease."""
    attempts = _number(old, ATTEMPTS_ATTRIBUTE, 0)
    lease_until_ms = _number(old, ATTEMPT_LEASE_ATTRIBUTE, 0)
    if not old:
        return AttemptClaim(AttemptState.NO_RECORD)
    if old.get(LEASE_HOLDER_ATTRIBUTE, {}).get("S") == token:
        return AttemptClaim(AttemptState.OWNED, attempts, token=token, lease_until_ms=lease_until_ms)
    if old.get("status", {}).get("S") != MessageStatus.QUEUED.value:
        return AttemptClaim(AttemptState.FINISHED, attempts)
    return AttemptClaim(AttemptState.IN_FLIGHT, attempts, lease_until_ms=lease_until_ms)


def _ref_of(item: dict[str, Any]) -> MessageRef:
    """The record a key of the messages table names: `TRIAL#<key hash>` / `names.message_sort_key`."""
    key_hash = item[names.PARTITION_KEY]["S"].removeprefix(names.TRIAL_PK_PREFIX)
    at, at_ms, message_id = names.parse_message_sort_key(item[names.SORT_KEY]["S"])
    return MessageRef(key_hash=key_hash, at=at, message_id=message_id, at_ms=at_ms)


def _pointer_key(partition: str) -> dict[str, dict[str, str]]:
    return {names.PARTITION_KEY: {"S": partition}, names.SORT_KEY: {"S": names.POINTER_SK}}


def _names_message(sort_key: str) -> bool:
    try:
        names.parse_message_sort_key(sort_key)
    except ValueError:
        return False
    return True


# A cursor can only move within the trial's own partition (the query fixes it), so checking its shape is enough.
MAX_CURSOR_CHARS = 600
_PAGES = TrialPages(
    prefix=names.MESSAGE_SK_PREFIX,
    reading="the messages",
    max_cursor_chars=MAX_CURSOR_CHARS,
    accepts=_names_message,
    refusal="cursor names no message",
)


def _stored(item: dict[str, Any]) -> StoredMessage:
    def text(name: str) -> str | None:
        value = item.get(name, {}).get("S")
        return value if isinstance(value, str) else None

    channel = item["channel"]["S"]
    return StoredMessage(
        message_id=item["message_id"]["S"],
        direction=item["direction"]["S"],
        # A refused attempt's channel may be none of the trial's: shown as the request named it.
        channel=Channel(channel) if channel in _CHANNELS else channel,
        counterpart=item["counterpart"]["S"],
        text=text("text"),
        at=int(item["at"]["N"]),
        payload=text("payload") or "{}",
        status=REFUSED if text(OUTCOME_ATTRIBUTE) == REFUSED else text("status"),
        reason=text("reason"),
        provider=text("provider"),
        at_ms=_optional_number(item, AT_MS_ATTRIBUTE),
        error_code=_optional_number(item, ERROR_CODE_ATTRIBUTE),
    )


_CHANNELS = frozenset(channel.value for channel in Channel)
