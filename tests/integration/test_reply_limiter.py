"""The per-sender reply limit (`DynamoReplyLimiter`) on moto's real HTTP server, the local stack's backend.

Webhooks reach DynamoDB concurrently; the limit must hold exactly, roll with time, and count a repeated write once.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from trialgw import names
from trialgw.adapters.dynamo_replies import DynamoReplyLimiter, expressions, log_key, reply_digest
from trialgw.models import Channel
from trialgw.settings import REPLY_LIMIT_MAX, MoWebhookSettings

NOW = 1_800_000_000
PHONE = "+31612345678"
TABLE = names.WHITELIST.local_name


@pytest.fixture
def client(moto_dynamodb):
    return moto_dynamodb


def _limiter(client) -> DynamoReplyLimiter:
    return DynamoReplyLimiter(client, TABLE)


def _log(
    client, *, limit: int, window: int, channel: Channel = Channel.WHATSAPP, address: str = PHONE
) -> dict[str, Any]:
    key = log_key(channel, address, limit=limit, window_seconds=window)
    item: dict[str, Any] = client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item", {})
    return item


def _slots(item: dict[str, Any]) -> list[tuple[int, str]]:
    """The log's replies, oldest first, without the empty slots."""
    names_ = sorted((name for name in item if name[0] == "r" and name[1:].isdigit()), key=lambda n: int(n[1:]))
    slots = [(int(item[n]["M"]["at"]["N"]), item[n]["M"]["id"]["S"]) for n in names_]
    return [slot for slot in slots if slot[1]]


def test_the_window_rolls_and_the_log_keeps_only_the_last_replies(client):
    limiter = _limiter(client)

    def take(offset: int, reply_id: str) -> bool:
        return limiter.take(Channel.WHATSAPP, PHONE, now=NOW + offset, limit=2, window_seconds=100, reply_id=reply_id)

    # A fixed window starting at 100 would allow the reply at 120; the rolling one still holds 50 and 100.
    answers = [take(offset, f"cm:{offset}") for offset in (0, 50, 99, 100, 120, 150)]
    assert answers == [True, True, False, True, False, True]
    item = _log(client, limit=2, window=100)
    assert _slots(item) == [(NOW + 100, reply_digest("cm:100")), (NOW + 150, reply_digest("cm:150"))]
    # TTL only once every reply left the window; the condition compares times itself.
    assert int(item[names.TTL_ATTRIBUTE]["N"]) == NOW + 150 + 100


def test_the_item_holds_a_hash_of_the_address_and_a_bounded_log(client):
    limiter = _limiter(client)
    answers = [
        limiter.take(Channel.SMS, PHONE, now=NOW + i, limit=5, window_seconds=3600, reply_id=f"sns:{i}")
        for i in range(30)
    ]
    assert answers == [True] * 5 + [False] * 25
    [item] = [i for i in client.scan(TableName=TABLE)["Items"] if i["pk"]["S"].startswith(names.REPLY_LOG_PK_PREFIX)]
    assert PHONE not in str(item)
    assert PHONE.removeprefix("+") not in str(item)
    assert len(_slots(item)) == 5
    assert set(item) == {"pk", "sk", names.TTL_ATTRIBUTE, "r0", "r1", "r2", "r3", "r4"}


def test_twelve_concurrent_replies_to_one_sender_let_exactly_the_limit_through(client, moto_endpoint):
    def take(i: int) -> bool:
        # One client per webhook, as separate Lambda instances would have.
        limiter = _limiter(boto3.client("dynamodb", endpoint_url=moto_endpoint))
        return limiter.take(Channel.WHATSAPP, PHONE, now=NOW, limit=5, window_seconds=3600, reply_id=f"meta:{i}")

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = Counter(pool.map(take, range(12)))
    assert answers == {True: 5, False: 7}
    assert len(_slots(_log(client, limit=5, window=3600))) == 5


def test_a_repeated_write_counts_its_reply_once(client):
    limiter = _limiter(client)

    def take(reply_id: str, offset: int = 0) -> bool:
        return limiter.take(Channel.WHATSAPP, PHONE, now=NOW + offset, limit=2, window_seconds=3600, reply_id=reply_id)

    # botocore resending a write whose answer was lost sends the very same request.
    assert take("cm:a") is True
    assert take("cm:a") is True
    assert take("cm:b") is True
    # The limit is reached with two replies, yet both stay recognized (a provider's later retry of either).
    assert take("cm:c") is False
    assert take("cm:a", offset=60) is True
    assert take("cm:b", offset=60) is True
    assert _slots(_log(client, limit=2, window=3600)) == [(NOW, reply_digest("cm:a")), (NOW, reply_digest("cm:b"))]


def test_senders_channels_and_limit_shapes_have_logs_of_their_own(client):
    limiter = _limiter(client)
    kwargs = {"now": NOW, "window_seconds": 3600}
    assert limiter.take(Channel.WHATSAPP, PHONE, limit=1, reply_id="1", **kwargs) is True
    assert limiter.take(Channel.WHATSAPP, PHONE, limit=1, reply_id="2", **kwargs) is False
    assert limiter.take(Channel.SMS, PHONE, limit=1, reply_id="3", **kwargs) is True
    assert limiter.take(Channel.WHATSAPP, "+31687654321", limit=1, reply_id="4", **kwargs) is True
    assert limiter.take(Channel.INSTAGRAM, "17841400000000000", limit=1, reply_id="5", **kwargs) is True
    # New settings start a fresh log rather than reading one with a different number of slots.
    assert limiter.take(Channel.WHATSAPP, PHONE, limit=2, reply_id="6", **kwargs) is True


def test_the_largest_allowed_limit_fits_one_expression_and_works(client):
    assert MoWebhookSettings.model_fields["reply_limit_per_sender"].default == 5
    update, condition, _ = expressions(REPLY_LIMIT_MAX)
    # DynamoDB's limit per expression string (moto does not enforce it).
    assert len(update.encode()) < 4096
    assert len(condition.encode()) < 4096
    limiter = _limiter(client)
    answers = [
        limiter.take(Channel.SMS, PHONE, now=NOW, limit=REPLY_LIMIT_MAX, window_seconds=60, reply_id=str(i))
        for i in range(REPLY_LIMIT_MAX + 1)
    ]
    assert answers == [True] * REPLY_LIMIT_MAX + [False]
    with pytest.raises(ValueError, match="slots"):
        expressions(REPLY_LIMIT_MAX + 1)
