"""The per-sender limit on automatic replies: a sliding log in the whitelist table, one conditional UpdateItem.

One item per sender (channel + SHA-256 of the address: the item needs no address, so it holds none) and limit
shape (`limit`/`window` in the sort key: changing the settings starts a fresh log instead of reading an old one
with the wrong number of slots). It holds the last `limit` replies, oldest first, in the slots `r0`…`r<limit-1>`,
each `{at, id}`. A reply may go when the oldest of those is outside the rolling window (`r0.at <= now - window`):
then at most `limit - 1` replies fall inside it. Taking one shifts every slot down by one (`r0 = r1`, …) and puts
the new reply in the last slot, in the same write, so the log never holds more than `limit` entries (a bounded
item: at most `REPLY_LIMIT_MAX` slots of ~50 bytes) and there is no fixed window whose boundary would let twice the
limit through.

DynamoDB evaluates every operand of an update expression against the item as it was before the write, so the
shift reads each slot's old value; moto applies the actions in order, which gives the same result because each
slot is read before it is overwritten.

Idempotent by reply id: the condition also requires that the id is in no slot, and a refusal returns the item as it
was (`ReturnValuesOnConditionCheckFailure`), so a write whose answer was lost and that botocore sent again, or the
provider's retry of a message whose reply was counted before a later step failed, finds its own id and is allowed
without a second count. TTL is the newest reply's time plus the window, when every slot has left the window: the
garbage collector only; the condition compares times itself.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.adapters.dynamo_conditions import condition_failed
from trialgw.errors import StoreError
from trialgw.models import Channel
from trialgw.ports import ReplyCount
from trialgw.settings import REPLY_LIMIT_MAX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SLOT_PREFIX = "r"
AT = "at"
ID = "id"
# A slot that holds no reply yet: outside every window, and no id matches it.
_EMPTY_SLOT = {"M": {AT: {"N": "0"}, ID: {"S": ""}}}


def _digest(value: str, length: int = 64) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def log_key(channel: Channel, address: str, *, limit: int, window_seconds: int) -> dict[str, Any]:
    """The key of a sender's reply log (also read by tests)."""
    return {
        names.PARTITION_KEY: {"S": f"{names.REPLY_LOG_PK_PREFIX}{channel.value}#{_digest(address)}"},
        names.SORT_KEY: {"S": f"{names.REPLY_LOG_SK_PREFIX}{limit}/{window_seconds}"},
    }


def reply_digest(reply_id: str) -> str:
    """What a slot stores of a reply id: 128 bits of its hash, a fixed size whatever the provider's id."""
    return _digest(reply_id, 32)


def expressions(limit: int) -> tuple[str, str, dict[str, str]]:
    """The update and condition expressions for a log of `limit` slots, and their attribute names."""
    if not 1 <= limit <= REPLY_LIMIT_MAX:
        raise ValueError(f"a reply log has 1 to {REPLY_LIMIT_MAX} slots, not {limit}")
    slots = [f"#{SLOT_PREFIX}{i}" for i in range(limit)]
    shifts = [f"{slot} = if_not_exists({newer}, :empty)" for slot, newer in itertools.pairwise(slots)]
    update = "SET " + ", ".join([*shifts, f"{slots[-1]} = :entry", "#ttl = :ttl"])
    has_room = f"(attribute_not_exists({slots[0]}) OR {slots[0]}.#at <= :cutoff)"
    not_counted = "NOT (" + " OR ".join(f"{slot}.#id = :id" for slot in slots) + ")"
    attribute_names = {slot: slot[1:] for slot in slots} | {"#at": AT, "#id": ID, "#ttl": names.TTL_ATTRIBUTE}
    return update, f"{has_room} AND {not_counted}", attribute_names


class DynamoReplyLimiter:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def take_update(self, reply: ReplyCount) -> dict[str, Any]:
        """The reply's conditional update, on its own (`take`) or in a transaction (`DynamoWhitelisting`); a
        condition that fails is read by `counted`."""
        now, limit, window_seconds = reply.now, reply.limit, reply.window_seconds
        update, condition, attribute_names = expressions(limit)
        digest = reply_digest(reply.reply_id)
        values: dict[str, Any] = {
            ":entry": {"M": {AT: {"N": str(now)}, ID: {"S": digest}}},
            ":cutoff": {"N": str(now - window_seconds)},
            ":id": {"S": digest},
            ":ttl": {"N": str(now + window_seconds)},
        }
        if limit > 1:
            # A single slot shifts nothing; DynamoDB refuses values an expression does not use.
            values[":empty"] = _EMPTY_SLOT
        return {
            "TableName": self._table,
            "Key": log_key(reply.channel, reply.address, limit=limit, window_seconds=window_seconds),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": attribute_names,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def take(self, channel: Channel, address: str, *, now: int, limit: int, window_seconds: int, reply_id: str) -> bool:
        update = self.take_update(ReplyCount(channel, address, now, limit, window_seconds, reply_id))
        try:
            self._client.update_item(**update)
        except ClientError as error:
            if condition_failed(error):
                return counted(error.response.get("Item") or {}, reply_id)  # type: ignore[arg-type]
            raise StoreError(f"could not count the reply: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not count the reply: {type(error).__name__}") from error
        return True


def counted(old: dict[str, Any], reply_id: str) -> bool:
    """Whether a refused take (`old`: the log as it was) is this very reply counted already, by an earlier attempt,
    rather than the limit reached."""
    digest = reply_digest(reply_id)
    return any(
        slot.get("M", {}).get(ID, {}).get("S") == digest
        for name, slot in old.items()
        if name.startswith(SLOT_PREFIX) and name[len(SLOT_PREFIX) :].isdigit()
    )
