"""Whitelisting by an inbound message (CM's MO webhook) when its AWS calls fail, each in turn, every way.

A message carrying a trial key makes six calls: the claim on the provider's message id (PutItem), the trial
(GetItem), the whitelist transaction (entry, reverse index and the trial's `members`), the message record (PutItem),
the reply counted against the sender's reply limit (UpdateItem) and the reply to the end user (SendMessage). What
the code promises (README "Whitelisting", design decisions): a message whose processing failed answers 503, and its
claim is released, so the provider's retry is processed rather than dropped as a duplicate; the whitelist is never
half written (all three parts or none); the retry ends with the sender whitelisted and answered; and its reply is
counted against the limit once, however the first attempt failed.
"""

from __future__ import annotations

import json
import uuid
from types import ModuleType
from typing import Any

import pytest

from tests.faults.conftest import (
    CM_SECRET,
    KINDS,
    Call,
    Kind,
    World,
    attempts,
    key_of,
)
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import names
from trialgw.keys import hash_key
from trialgw.models import Channel, member_token

pytestmark = pytest.mark.faults

SENDER = "+31687654321"
CLAIM = Call("claim", "dynamodb", "PutItem", lambda b: key_of(b)[0].startswith(names.SEEN_PK_PREFIX))
READ_TRIAL = Call("read-trial", "dynamodb", "GetItem", lambda b: key_of(b)[1] == names.TRIAL_SK)
WHITELIST = Call("whitelist", "dynamodb", "TransactWriteItems")
RECORD = Call("record", "dynamodb", "PutItem", lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX))
LIMIT = Call("limit", "dynamodb", "UpdateItem", lambda b: key_of(b)[0].startswith(names.REPLY_LOG_PK_PREFIX))
REPLY = Call("reply", "sqs", "SendMessage")
# Only on the way back from a failure.
RELEASE = Call("release", "dynamodb", "DeleteItem", lambda b: key_of(b)[0].startswith(names.SEEN_PK_PREFIX))
CATALOG = (CLAIM, READ_TRIAL, WHITELIST, RECORD, LIMIT, REPLY, RELEASE)
WHITELISTING = (CLAIM, READ_TRIAL, WHITELIST, RECORD, LIMIT, REPLY)


def _cases() -> list[Any]:
    cases = []
    for call in WHITELISTING:
        for kind in KINDS[call.service]:
            # No condition on a read; a transaction's refusal is a cancellation with reasons, tested elsewhere; the
            # limit's refusal is the limit reached (below).
            if kind is Kind.CONDITION and call in (READ_TRIAL, WHITELIST, LIMIT):
                continue
            cases.append(pytest.param(call, kind, id=f"{call.label}-{kind}"))
    return cases


@pytest.fixture
def mo(world: World) -> ModuleType:
    return load_handler("mo_webhook")


def cm_mo_event(key: str, reference: str) -> dict[str, Any]:
    """An end user's WhatsApp message with the trial key, as CM posts it to the MO webhook."""
    body = {
        "reference": reference,
        "messageContext": "",
        "from": {"number": SENDER, "name": "Sanne Tester"},
        "to": {"number": "0031850876714"},
        "message": {"text": f"Hi! My trial key is {key} thanks", "media": {}, "custom": {}},
        "groupings": ["", "", ""],
        "timeUtc": "2026-03-02T09:15:30",
        "channel": "WhatsApp",
    }
    path = f"/webhooks/cm/{CM_SECRET}"
    event = rest_event("apigw_rest_signup.json", body=json.dumps(body))
    event.update(resource="/webhooks/cm/{secret}", path=path, pathParameters={"secret": CM_SECRET})
    return event


def whitelist_parts(world: World, key: str) -> tuple[bool, bool, bool]:
    """(entry under the trial, reverse index under the address, member of the trial item) for SENDER on WhatsApp."""
    items = world.items(names.WHITELIST.local_name)
    entry = any(
        i["pk"]["S"] == f"{names.TRIAL_PK_PREFIX}{hash_key(key)}" and i["sk"]["S"].startswith(names.RECIPIENT_SK_PREFIX)
        for i in items
    )
    reverse = any(i["pk"]["S"] == f"{names.ADDRESS_PK_PREFIX}WhatsApp#{SENDER}" for i in items)
    trial = world.trial_item(key) or {}
    member = member_token(Channel.WHATSAPP, SENDER) in trial.get(names.MEMBERS_ATTRIBUTE, {}).get("SS", [])
    return entry, reverse, member


def claims(world: World) -> list[dict[str, Any]]:
    return [i for i in world.items(names.MESSAGES.local_name) if i["pk"]["S"].startswith(names.SEEN_PK_PREFIX)]


def replies(world: World) -> list[dict[str, Any]]:
    return [message for message in world.queued() if message["kind"] == "reply" and message["to"] == SENDER]


def counted_replies(world: World) -> int:
    """Replies counted in SENDER's reply log (the slots that hold one)."""
    logs = [i for i in world.items(names.WHITELIST.local_name) if i["pk"]["S"].startswith(names.REPLY_LOG_PK_PREFIX)]
    return sum(1 for log in logs for name, slot in log.items() if name[0] == "r" and slot["M"]["id"]["S"])


def test_the_calls_of_a_whitelisting_message_are_the_ones_this_module_fails(world: World, mo: ModuleType) -> None:
    key = world.make_trial()
    status, _, body = invoke(mo, cm_mo_event(key, uuid.uuid4().hex))
    assert (status, body["outcomes"]) == (200, ["whitelisted"])
    assert world.injector.labels(CATALOG) == [call.label for call in WHITELISTING]


@pytest.mark.parametrize(("call", "kind"), _cases())
def test_a_failing_call_releases_the_claim_writes_no_half_whitelist_and_the_retry_whitelists(
    world: World, mo: ModuleType, call: Call, kind: Kind
) -> None:
    key = world.make_trial()
    event = cm_mo_event(key, uuid.uuid4().hex)
    world.inject(call, kind)

    status, headers, body = invoke(mo, event)

    if (call, kind) == (CLAIM, Kind.CONDITION):
        # The claim's condition is "not seen yet": refused, it is a redelivery, acknowledged and ignored.
        assert (status, body["outcomes"]) == (200, ["duplicate"])
    else:
        assert (status, body["code"]) == (503, "unavailable")
        assert int(headers["Retry-After"]) > 0
    # Released (or never made): the provider's retry will be processed.
    assert claims(world) == []
    parts = whitelist_parts(world, key)
    # Never half: all three parts or none, whatever failed.
    assert parts in ((False, False, False), (True, True, True))
    written = call in (RECORD, LIMIT, REPLY) or (call, kind) == (WHITELIST, Kind.LOST)
    assert parts == (written,) * 3
    # SQS kept the reply of every attempt whose answer was lost: copies of one message id, delivered once.
    failed_replies = replies(world)
    assert len(failed_replies) == (attempts() if (call, kind) == (REPLY, Kind.LOST) else 0)
    assert len({reply["message_id"] for reply in failed_replies}) <= 1

    # The provider retries the same message: processed, not dropped.
    world.heal()
    status, _, body = invoke(mo, event)
    assert status == 200
    assert body["outcomes"] == (["already_whitelisted"] if written else ["whitelisted"])
    assert whitelist_parts(world, key) == (True, True, True)
    assert len(claims(world)) == 1
    assert len({reply["message_id"] for reply in replies(world)}) == len({r["message_id"] for r in failed_replies}) + 1
    # Counted once, also when the first attempt's count was written (a lost answer, or a failure after it).
    assert counted_replies(world) == 1
    # And a redelivery of it now changes nothing.
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["duplicate"])


def test_a_lost_answer_to_the_claim_is_the_calls_own_claim_not_a_duplicate(world: World, mo: ModuleType) -> None:
    key = world.make_trial()
    fault = world.inject(CLAIM, Kind.LOST, times=1)

    status, _, body = invoke(mo, cm_mo_event(key, uuid.uuid4().hex))

    # DynamoDB stored the claim at the first attempt; the SDK's retry found it, and it is this very call's.
    assert fault.attempts == 2
    assert (status, body["outcomes"]) == (200, ["whitelisted"])
    assert whitelist_parts(world, key) == (True, True, True)
    assert len(replies(world)) == 1


def test_reply_and_release_failing_answer_503_and_say_the_retry_will_be_dropped(
    world: World, mo: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    key = world.make_trial()
    world.inject(REPLY, Kind.SERVER_ERROR)
    world.inject(RELEASE, Kind.UNREACHABLE)

    status, _, body = invoke(mo, cm_mo_event(key, uuid.uuid4().hex))

    assert (status, body["code"]) == (503, "unavailable")
    # The double fault's leftover, announced: the claim stays, and the whitelist stands whole.
    assert len(claims(world)) == 1
    assert whitelist_parts(world, key) == (True, True, True)
    messages = [record.getMessage() for record in caplog.records]
    assert "could not release a message claim; the provider's retry will be dropped" in messages


def test_a_refused_limit_write_is_the_limit_reached_whitelisted_without_a_reply(world: World, mo: ModuleType) -> None:
    key = world.make_trial()
    event = cm_mo_event(key, uuid.uuid4().hex)
    world.inject(LIMIT, Kind.CONDITION)

    status, _, body = invoke(mo, event)

    # A refusal that names no reply of this message is the sender over the limit: processed, nothing sent back.
    assert (status, body["outcomes"]) == (200, ["whitelisted"])
    assert whitelist_parts(world, key) == (True, True, True)
    assert replies(world) == []
    assert counted_replies(world) == 0
    world.heal()
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["duplicate"])
