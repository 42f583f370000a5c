"""The sign-up counters on moto's server: all counters or none, exact under concurrent sign-ups, and a replayed
transaction (an answer lost after DynamoDB counted) recognized as its own."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

from trialgw import names
from trialgw.adapters.dynamo_trials import DynamoSignupCounter
from trialgw.errors import StoreError
from trialgw.ports import SignupCount

DAY = 86400


def _count(kind: str, subject: str, limit: int, start: int = 0) -> SignupCount:
    return SignupCount(kind, subject, start, DAY, limit)


@pytest.fixture
def counter(moto_dynamodb) -> DynamoSignupCounter:
    return DynamoSignupCounter(moto_dynamodb, names.TRIALS.local_name)


def _stored(client, count: SignupCount) -> int:
    item = client.get_item(TableName=names.TRIALS.local_name, Key=DynamoSignupCounter._key(count)).get("Item")
    return 0 if item is None else int(item["count"]["N"])


def test_a_sign_up_is_counted_in_every_counter_or_in_none(counter, moto_dynamodb):
    mailbox, network = _count("mailbox", "m", 3), _count("ip", "n", 1)
    assert counter.acquire([mailbox, network]) == []
    # The network is full: the mailbox, which had room, is not counted either.
    assert counter.acquire([mailbox, network]) == [network]
    assert (_stored(moto_dynamodb, mailbox), _stored(moto_dynamodb, network)) == (1, 1)
    assert counter.acquire([mailbox, _count("ip", "other", 1)]) == []
    assert _stored(moto_dynamodb, mailbox) == 2


def test_every_full_counter_is_named(counter):
    first, second = _count("mailbox", "m", 1), _count("global", "all", 1)
    assert counter.acquire([first, second]) == []
    assert counter.acquire([first, second]) == [first, second]


def test_a_new_window_starts_from_zero_and_expires_with_ttl(counter, moto_dynamodb):
    today, tomorrow = _count("mailbox", "m", 1), _count("mailbox", "m", 1, start=DAY)
    assert counter.acquire([today]) == []
    assert counter.acquire([today]) == [today]
    assert counter.acquire([tomorrow]) == []
    item = moto_dynamodb.get_item(TableName=names.TRIALS.local_name, Key=DynamoSignupCounter._key(tomorrow))["Item"]
    assert int(item[names.TTL_ATTRIBUTE]["N"]) == 2 * DAY


def test_release_gives_back_exactly_one_and_never_goes_below_zero(counter, moto_dynamodb):
    counts = [_count("mailbox", "m", 2), _count("global", "all", 5)]
    assert counter.acquire(counts) == []
    counter.release(counts)
    counter.release(counts)
    assert [_stored(moto_dynamodb, count) for count in counts] == [0, 0]


def test_a_lost_answer_is_retried_by_the_sdk_and_counts_once(counter, moto_dynamodb):
    # DynamoDB counted, the answer was lost, botocore sends the same request again. moto, unlike DynamoDB, does not
    # honour the ClientRequestToken, so the retry is refused by the counters' mark, which the adapter recognizes.
    http = URLLib3Session()
    lost: list[str] = []

    def lose_the_first_answer(request, **_kwargs):
        if not lost:
            lost.append(request.url)
            http.send(request)
            raise ReadTimeoutError(endpoint_url=request.url)

    moto_dynamodb.meta.events.register_first("before-send.dynamodb.TransactWriteItems", lose_the_first_answer)
    counts = [_count("mailbox", "m", 3), _count("global", "all", 10)]
    assert counter.acquire(counts) == []
    assert lost
    assert [_stored(moto_dynamodb, count) for count in counts] == [1, 1]


def test_concurrent_sign_ups_never_pass_a_limit(counter, moto_dynamodb):
    shared = _count("global", "all", 7)

    def one(i: int) -> bool:
        full: list[SignupCount] = counter.acquire([_count("mailbox", f"m{i}", 3), shared])
        return not full

    with ThreadPoolExecutor(max_workers=8) as pool:
        admitted = list(pool.map(one, range(20)))
    assert sum(admitted) == 7
    assert _stored(moto_dynamodb, shared) == 7


def test_an_unreadable_store_is_a_store_error(counter, moto_dynamodb):
    moto_dynamodb.delete_table(TableName=names.TRIALS.local_name)
    with pytest.raises(StoreError):
        counter.acquire([_count("mailbox", "m", 3)])
