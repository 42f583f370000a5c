"""The send gateway when its AWS calls fail: each call of an accepted send, in turn, failing every way AWS fails.

An accepted send makes five calls: the breaker's flag (GetItem), the quota (one conditional UpdateItem), the
message record (PutItem), the delivery queue (SendMessage) and the capacity count (UpdateItem ADD). The first and
the last serve the capacity breaker, which must never refuse a send on a store glitch; the other three are the
send itself: when one of them fails for good, the answer is 503 in CM's envelope with `Retry-After`, and nothing
stays behind: no quota unit, no record, no queued message that could be delivered. A blip that botocore's own
retry absorbs is invisible: one accepted message, one unit, one record, one delivery.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import pytest

from tests.cm_requests import cm_send_body
from tests.faults.conftest import (
    DEFINITE,
    KINDS,
    PHONE,
    Call,
    Kind,
    World,
    attempts,
    key_of,
)
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import names, settings
from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
from trialgw.gateway import answers
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import DELIVERIES

pytestmark = pytest.mark.faults

BREAKER_READ = Call(
    "breaker-read", "dynamodb", "GetItem", lambda b: key_of(b) == (names.CAPACITY_PK, names.CAPACITY_BREAKER_SK)
)
TAKE_QUOTA = Call(
    "take-quota",
    "dynamodb",
    "UpdateItem",
    lambda b: key_of(b)[1] == names.TRIAL_SK and "ReturnValuesOnConditionCheckFailure" in b,
)
RECORD = Call("record", "dynamodb", "PutItem", lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX))
ENQUEUE = Call("enqueue", "sqs", "SendMessage")
COUNT_CAPACITY = Call(
    "count-capacity",
    "dynamodb",
    "UpdateItem",
    lambda b: key_of(b)[0] == names.CAPACITY_PK and key_of(b)[1].startswith(names.CAPACITY_WINDOW_SK_PREFIX),
)
# Only on the way back from a failure.
GIVE_BACK = Call(
    "give-back",
    "dynamodb",
    "UpdateItem",
    lambda b: key_of(b)[1] == names.TRIAL_SK and "ReturnValuesOnConditionCheckFailure" not in b,
)
FORGET = Call("forget", "dynamodb", "DeleteItem", lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX))
CATALOG = (BREAKER_READ, TAKE_QUOTA, RECORD, ENQUEUE, COUNT_CAPACITY, GIVE_BACK, FORGET)

# The send itself, and the breaker around it.
REQUIRED = (TAKE_QUOTA, RECORD, ENQUEUE)
BREAKER = (BREAKER_READ, COUNT_CAPACITY)
UNAVAILABLE = {"details": answers.UNAVAILABLE, "errorCode": 999, "messages": []}
INVALID_TOKEN = {"details": answers.INVALID_TOKEN, "errorCode": 101, "messages": []}


def _cases(calls: tuple[Call, ...], kinds: tuple[Kind, ...] | None = None) -> list[Any]:
    """(call, kind) for every kind of fault the call's service has (of `kinds`); no condition on a read, nor on the
    record, whose only condition (the first write wins) fails only when the record is there."""
    return [
        pytest.param(call, kind, id=f"{call.label}-{kind}")
        for call in calls
        for kind in KINDS[call.service]
        if (kinds is None or kind in kinds)
        and not (kind is Kind.CONDITION and (call.operation == "GetItem" or call is RECORD))
    ]


@pytest.fixture
def gateway(world: World) -> ModuleType:
    """The send function: one instance for the test, as one warm Lambda instance (its breaker keeps its count)."""
    return load_handler("send")


def send(gateway: ModuleType, key: str, text: str = "Hello from the trial") -> tuple[int, dict[str, str], Any]:
    body = cm_send_body(key, channels=["WhatsApp"], to=(PHONE,), content=text, sender="TrialTest", reference="r-1")
    return invoke(gateway, rest_event("apigw_rest_send.json", body=body))


def accepted(status: int, body: Any) -> bool:
    return status == 200 and body["errorCode"] == 0 and body["messages"][0]["status"] == "Accepted"


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]


def capacity_count(world: World) -> int:
    return sum(window.accepted for window in DynamoCapacityStore(world.ddb, names.TRIALS.local_name).windows())


def test_the_calls_of_an_accepted_send_are_the_ones_this_module_fails(world: World, gateway: ModuleType) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    status, _, body = send(gateway, key)
    assert accepted(status, body), body
    # If the send path gains a call, it must join the parametrized cases below.
    assert world.injector.labels(CATALOG) == ["breaker-read", "take-quota", "record", "enqueue", "count-capacity"]
    assert {call.label for call in REQUIRED + BREAKER} == set(world.injector.labels(CATALOG))


@pytest.mark.parametrize(("call", "kind"), _cases(REQUIRED))
def test_a_send_call_failing_for_good_answers_503_and_leaves_nothing_behind(
    world: World, gateway: ModuleType, call: Call, kind: Kind
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    fault = world.inject(call, kind)

    status, headers, body = send(gateway, key)

    if call is TAKE_QUOTA and kind is Kind.CONDITION:
        # A refused condition without the item means there is no such trial: row 4.
        assert (status, body) == (401, INVALID_TOKEN)
    else:
        assert (status, body) == (503, UNAVAILABLE)
        assert int(headers["Retry-After"]) > 0
    # No trial state on a failure: the key's state is unknown here.
    assert not [name for name in headers if name.startswith("X-Trial")]
    # botocore retried what is worth retrying before the adapter saw the error.
    assert fault.injected == (1 if kind is Kind.CONDITION else attempts())
    assert world.sent(key) == {}
    assert world.message_records() == []
    queued = world.queued()
    if call is ENQUEUE and kind is Kind.LOST:
        # SQS stored every attempt whose answer was lost. Their record is gone, so delivery drops them all.
        assert len(queued) == attempts()
        assert len({message["message_id"] for message in queued}) == 1
        world.drain(load_handler("delivery"))
        assert DELIVERIES.entries() == []
        assert world.dead_letters() == []
    else:
        assert queued == []

    # The client's retry goes through as the trial's first message: nothing was used up.
    world.heal()
    status, headers, body = send(gateway, key)
    assert accepted(status, body), body
    assert headers["X-Trial-Remaining-WhatsApp"] == "9"
    assert world.sent(key) == {"sent_whatsapp": 1}
    assert len(world.message_records()) == 1


# A retried error and a lost answer: the two ways a blip can end (the other errors retry like the first).
@pytest.mark.parametrize(("call", "kind"), _cases(REQUIRED + BREAKER, (Kind.THROTTLED, Kind.LOST)))
def test_a_blip_absorbed_by_the_sdk_retry_is_one_message_one_unit_one_delivery(
    world: World, gateway: ModuleType, call: Call, kind: Kind
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    fault = world.inject(call, kind, times=1)

    status, headers, body = send(gateway, key)

    assert accepted(status, body), body
    assert fault.attempts == 2
    assert headers["X-Trial-Remaining-WhatsApp"] == "9"
    assert world.sent(key) == {"sent_whatsapp": 1}
    (record,) = world.message_records()
    assert record["status"]["S"] == "queued"
    queued = world.queued()
    assert {message["message_id"] for message in queued} == {record["message_id"]["S"]}
    # SQS keeps both copies when only the first answer was lost; delivery sends the message once all the same.
    assert len(queued) == (2 if (call, kind) == (ENQUEUE, Kind.LOST) else 1)
    world.drain(load_handler("delivery"))
    assert [entry.message_id for entry in DELIVERIES.entries()] == [record["message_id"]["S"]]
    (record,) = world.message_records()
    assert record["status"]["S"] == "delivered"


@pytest.mark.parametrize(
    ("call", "kind"), _cases(BREAKER, (Kind.THROTTLED, Kind.UNREACHABLE, Kind.LOST, Kind.CONDITION))
)
def test_the_capacity_breaker_failing_never_refuses_a_send_and_never_loses_a_count(
    world: World, gateway: ModuleType, call: Call, kind: Kind
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    world.inject(call, kind)

    status, _, body = send(gateway, key)

    assert accepted(status, body), body
    assert world.sent(key) == {"sent_whatsapp": 1}
    assert len(world.message_records()) == 1
    assert len(world.queued()) == 1
    if call is COUNT_CAPACITY and kind in (*DEFINITE, Kind.CONDITION):
        # Not counted yet: the instance keeps it pending for its next flush.
        assert capacity_count(world) == 0
    world.heal()
    status, _, body = send(gateway, key, "Second message")
    assert accepted(status, body), body
    if call is COUNT_CAPACITY and kind is Kind.LOST:
        # DynamoDB added the count at every attempt whose answer was lost, and the instance adds it again: the
        # breaker can trip early by that much (see the report), but a count is never lost.
        assert capacity_count(world) >= 2
    else:
        assert capacity_count(world) == 2


# Double faults: the way back fails too. Still 503; what cannot be undone is said in the log, never hidden.


def test_queue_and_give_back_failing_answers_503_and_logs_the_unit_it_could_not_return(
    world: World, gateway: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    world.inject(ENQUEUE, Kind.SERVER_ERROR)
    world.inject(GIVE_BACK, Kind.THROTTLED)

    status, _, body = send(gateway, key)

    assert (status, body) == (503, UNAVAILABLE)
    assert world.message_records() == []
    assert world.queued() == []
    assert world.sent(key) == {"sent_whatsapp": 1}
    assert "could not give back the quota of a send that failed" in errors(caplog)


def test_queue_and_forget_failing_answers_503_and_logs_the_record_left_queued(
    world: World, gateway: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    world.inject(ENQUEUE, Kind.UNREACHABLE)
    world.inject(FORGET, Kind.SERVER_ERROR)

    status, _, body = send(gateway, key)

    assert (status, body) == (503, UNAVAILABLE)
    assert world.sent(key) == {}
    assert world.queued() == []
    (record,) = world.message_records()
    assert record["status"]["S"] == "queued"
    assert "a send that was not queued is still recorded as queued" in errors(caplog)


# A client that retries after a lost answer (issue 14, path 6): the Idempotency-Key makes the retry the same send.

CLAIM_KEY = Call(
    "claim-idempotency-key",
    "dynamodb",
    "UpdateItem",
    lambda b: key_of(b)[1].startswith(names.SEND_KEY_SK_PREFIX) and "ConditionExpression" in b,
)
COMPLETE_KEY = Call(
    "complete-idempotency-key",
    "dynamodb",
    "UpdateItem",
    lambda b: key_of(b)[1].startswith(names.SEND_KEY_SK_PREFIX) and "ConditionExpression" not in b,
)


def send_with_key(gateway: ModuleType, key: str, idempotency_key: str) -> tuple[int, dict[str, str], Any]:
    body = cm_send_body(key, channels=["WhatsApp"], to=(PHONE,), content="Once", sender="TrialTest", reference="r-7")
    event = rest_event("apigw_rest_send.json", body=body, headers={"Idempotency-Key": idempotency_key})
    return invoke(gateway, event)


def test_a_client_retrying_after_a_lost_answer_with_its_idempotency_key_sends_once(
    world: World, gateway: ModuleType
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    # The gateway accepted it; the answer never reached the client, which sends the same request again.
    _, _, first = send_with_key(gateway, key, "order-7")
    status, headers, body = send_with_key(gateway, key, "order-7")

    assert (status, body) == (200, first)
    assert headers["Idempotent-Replayed"] == "true"
    assert world.sent(key) == {"sent_whatsapp": 1}
    assert len(world.message_records()) == 1
    world.drain(load_handler("delivery"))
    assert [entry.text for entry in DELIVERIES.entries()] == ["Once"]


LEASE_SECONDS = 4


def test_a_retry_after_the_gateway_died_before_keeping_its_answer_sends_that_same_message_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that a loaded machine still makes the second request within it.
    monkeypatch.setenv("TRIALGW_IDEMPOTENCY_LEASE_SECONDS", str(LEASE_SECONDS))
    settings.reload()
    gateway = load_handler("send")
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    # The send went out, but the answer could not be kept (as if the function died right after queueing).
    world.inject(COMPLETE_KEY, Kind.THROTTLED)
    assert send_with_key(gateway, key, "order-8")[0] == 200
    world.heal()
    [first] = world.queued()

    # While its lease runs, the key is the first request's: the client is told to wait.
    status, headers, _ = send_with_key(gateway, key, "order-8")
    assert status == 409
    assert int(headers["Retry-After"]) >= 1
    # Then the retry takes the key over and sends the very same message: counted, recorded and delivered once.
    time.sleep(LEASE_SECONDS + 0.1)
    status, headers, body = send_with_key(gateway, key, "order-8")
    assert accepted(status, body), body
    assert "Idempotent-Replayed" not in headers
    assert world.sent(key) == {"sent_whatsapp": 1}
    assert len(world.message_records()) == 1
    assert {message["message_id"] for message in world.queued()} == {first["message_id"]}
    world.drain(load_handler("delivery"))
    assert [entry.message_id for entry in DELIVERIES.entries()] == [first["message_id"]]
    # And the answer is now kept: a third try is the first answer again.
    assert send_with_key(gateway, key, "order-8")[1]["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("kind", KINDS["dynamodb"], ids=str)
def test_an_idempotency_key_that_cannot_be_claimed_is_503_and_sends_nothing(
    world: World, gateway: ModuleType, kind: Kind
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    world.inject(CLAIM_KEY, kind)
    status, _, body = send_with_key(gateway, key, "order-9")
    assert (status, body) == (503, UNAVAILABLE)
    assert world.sent(key) == {}
    assert world.queued() == []
    # Nothing holds the key: not even a claim whose every answer was lost (it is given back), so the retry goes on.
    world.heal()
    assert accepted(*send_with_key(gateway, key, "order-9")[::2])
    assert world.sent(key) == {"sent_whatsapp": 1}


def test_a_claim_whose_first_answer_was_lost_is_recognized_by_the_sdks_retry(world: World, gateway: ModuleType) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    world.inject(CLAIM_KEY, Kind.LOST, times=1)
    status, _, body = send_with_key(gateway, key, "order-10")
    assert accepted(status, body), body
    assert world.sent(key) == {"sent_whatsapp": 1}


# A refused send's record of itself (issue 17): one best-effort write after the decision, whose failure changes nothing
# the developer gets.
REFUSAL_RECORD = Call(
    "refusal-record",
    "dynamodb",
    "PutItem",
    lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX) and "outcome" in b.get("Item", {}),
)


def send_to_a_stranger(gateway: ModuleType, key: str) -> tuple[int, dict[str, str], Any]:
    body = cm_send_body(
        key, channels=["WhatsApp"], to=("+31699999999",), content="Hi", sender="TrialTest", reference=None
    )
    return invoke(gateway, rest_event("apigw_rest_send.json", body=body))


@pytest.mark.parametrize(("call", "kind"), _cases((REFUSAL_RECORD,)))
def test_a_refusal_record_failing_never_changes_the_answer(
    world: World, gateway: ModuleType, call: Call, kind: Kind, caplog: pytest.LogCaptureFixture
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    expected = send_to_a_stranger(gateway, key)
    assert expected[0] == 403
    assert world.injector.labels((REFUSAL_RECORD,)).count("refusal-record") == 1
    world.inject(call, kind)

    status, headers, body = send_to_a_stranger(gateway, key)

    assert (status, body) == (expected[0], expected[2])
    assert headers["X-Trial-Remaining-WhatsApp"] == "10"
    assert world.sent(key) == {}
    assert world.queued() == []
    logged = caplog.text
    if kind in DEFINITE:
        assert "could not record a refused send" in logged
    assert key not in logged
    assert key.upper() not in logged
