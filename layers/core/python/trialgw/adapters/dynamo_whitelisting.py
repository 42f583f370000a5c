"""Whitelisting by an end user's message in one transaction across three tables: the whitelist's three items
(`DynamoWhitelistStore.add_items`), the message's record (`DynamoMessageLog.record_put`) and the reply counted against
the sender's limit (`DynamoReplyLimiter.take_update`). One call where there were three, and all of it or none.

Each table's items stay in their own module; this one only puts them in one request and reads the cancellation.
A condition that fails cancels the whole transaction, so the reasons (one per item, in request order) decide:

- the entry exists or the trial has no room: ALREADY or FULL, nothing written; the caller records and counts what
  that outcome needs, in calls of their own (those are not the "whitelists" path);
- the record exists (the first write wins: an earlier attempt of the message recorded it, and the sender was taken
  off again since) or the reply's count is refused (the limit reached, or this very reply counted by an earlier
  attempt, told apart by the log as it was): those items are left out and the rest written in one more round
  (ATTEMPTS).

`record_counted` is the same without the whitelist's items, for a sender whitelisted already: the record and the
count in one call, each left out as above when its condition fails.

A write whose answer was lost and that botocore sent again finds the entry and is ALREADY, as a lost `add` always
was; the record and the count it wrote are the same item and the same reply id when the caller writes them again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw.adapters.dynamo_conditions import CONDITION_FAILED_REASON, cancellation_codes
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_replies import DynamoReplyLimiter, counted
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore, refused
from trialgw.errors import StoreError
from trialgw.models import Channel, Trial
from trialgw.ports import LoggedMessage, ReplyCount, Whitelisted, WhitelistOutcome

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RECORD = "record"
REPLY = "reply"
# The first cancellation names every condition that failed, so one more round writes the rest; a second cancellation
# means the items changed in between (another message of the sender's, at the same moment): the message fails (503,
# its claim released) and the provider's retry starts afresh. So the path stays within its budget of calls.
ATTEMPTS = 2


class DynamoWhitelisting:
    def __init__(
        self,
        client: DynamoDBClient,
        whitelist: DynamoWhitelistStore,
        messages: DynamoMessageLog,
        replies: DynamoReplyLimiter,
    ) -> None:
        self._client = client
        self._whitelist = whitelist
        self._messages = messages
        self._replies = replies

    def add_recorded(
        self,
        trial: Trial,
        channel: Channel,
        address: str,
        *,
        now: int,
        limit: int,
        ttl: int,
        record: LoggedMessage,
        reply: ReplyCount,
    ) -> Whitelisted:
        whitelist = self._whitelist.add_items(trial, channel, address, now=now, limit=limit, ttl=ttl)
        return self._transact(whitelist, record, reply)

    def record_counted(self, record: LoggedMessage, reply: ReplyCount) -> bool:
        return self._transact([], record, reply).reply_allowed

    def _transact(self, whitelist: list[Any], record: LoggedMessage, reply: ReplyCount) -> Whitelisted:
        """`whitelist`'s items (all or none of them), the record and the count in one transaction; the record and the
        count are left out when their conditions fail (see the module docstring). ADDED when `whitelist` was written
        (or was empty)."""
        optional: dict[str, Any] = {
            RECORD: {"Put": self._messages.record_put(record)},
            REPLY: {"Update": self._replies.take_update(reply)},
        }
        reply_allowed = True
        what = "whitelist" if whitelist else "record the message and count its reply"
        for attempt in range(ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=[*whitelist, *optional.values()])
            except ClientError as error:
                codes = cancellation_codes(error)
                outcome = refused(codes) if whitelist else None
                if outcome is not None and attempt == 0:
                    return Whitelisted(outcome)
                reasons: list[Any] = list(error.response.get("CancellationReasons") or [])
                failed = [
                    (name, reasons[index])
                    for index, name in enumerate(optional, start=len(whitelist))
                    if index < len(codes) and codes[index] == CONDITION_FAILED_REASON
                ]
                if attempt > 0 or not failed:
                    raise StoreError(f"could not {what}: {type(error).__name__}") from error
                for name, reason in failed:
                    if name == REPLY:
                        reply_allowed = counted(reason.get("Item") or {}, reply.reply_id)
                    del optional[name]
                if not whitelist and not optional:
                    break
            except BotoCoreError as error:
                raise StoreError(f"could not {what}: {type(error).__name__}") from error
            else:
                break
        return Whitelisted(WhitelistOutcome.ADDED, reply_allowed=reply_allowed)


__all__ = ["DynamoWhitelisting"]
