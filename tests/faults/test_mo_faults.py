"""Whitelisting by an inbound message (CM's MO webhook) when its AWS calls fail, each in turn, every way, and when
its invocation dies.

A message carrying a trial key makes five calls: the claim on the provider's message id (UpdateItem: a lease of the
function's timeout), the trial (GetItem), the whitelist transaction (entry, reverse index and the trial's `members`,
with the message record and the reply counted against the sender's reply limit), the reply to the end user
(SendMessage) and the claim's completion (UpdateItem). Already whitelisted, the record and the count are a
transaction of their own. What the code promises (docs/api.md "Whitelisting",
docs/design-decisions.md): a message whose processing failed answers 503, and its lease is released, so the
provider's retry is processed rather than dropped as a duplicate; the whitelist is never half written (all three
parts or none); the retry ends with the sender whitelisted and answered; and its reply is counted against the limit
once, and reaches the phone once, however the first attempt failed. An invocation that dies (a crash or a timeout:
nothing runs after it) leaves its claim to run out: until then the provider's retry is asked to retry (503), after
it the retry is processed, once. A completed message's redelivery changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.faults.conftest import (
    CM_SECRET,
    KINDS,
    Call,
    Kind,
    LambdaContext,
    World,
    attempts,
    key_of,
)
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import names
from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.join_codes import join_text
from trialgw.keys import hash_key
from trialgw.models import Channel, member_token
from trialgw.providers.sandbox.delivery import DELIVERIES
from trialgw.settings import MoWebhookSettings

pytestmark = pytest.mark.faults

SENDER = "+31687654321"


def _claim_call(value: str) -> Callable[[dict[str, Any]], bool]:
    """A write on a provider message id's claim, told apart by a value only it sets."""
    return lambda b: key_of(b)[0].startswith(names.SEEN_PK_PREFIX) and value in b.get("ExpressionAttributeValues", {})


CLAIM = Call("claim", "dynamodb", "UpdateItem", _claim_call(":lease"))
READ_TRIAL = Call("read-trial", "dynamodb", "GetItem", lambda b: key_of(b)[1] == names.TRIAL_SK)
WHITELIST = Call("whitelist", "dynamodb", "TransactWriteItems")
RECORD = Call("record", "dynamodb", "PutItem", lambda b: key_of(b)[1].startswith(names.MESSAGE_SK_PREFIX))


def _is_count(item: dict[str, Any]) -> bool:
    """A transaction's item that counts a reply against the sender's limit."""
    return str(item.get("Update", {}).get("Key", {}).get("pk", {}).get("S", "")).startswith(names.REPLY_LOG_PK_PREFIX)


def _is_entry(item: dict[str, Any]) -> bool:
    """A transaction's item that writes a whitelist entry."""
    return str(item.get("Put", {}).get("Item", {}).get("sk", {}).get("S", "")).startswith(names.RECIPIENT_SK_PREFIX)


def _transaction(has: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda b: any(has(item) for item in b.get("TransactItems", []))


# The reply's count, an item of the whitelist transaction (or of the record-and-count one); its CONDITION is the
# limit reached.
LIMIT = Call("limit", "dynamodb", "TransactWriteItems", _transaction(_is_count), condition_items=_is_count)
REPLY = Call("reply", "sqs", "SendMessage")
COMPLETE = Call("complete", "dynamodb", "UpdateItem", _claim_call(":done"))
# Only on the way back from a failure.
RELEASE = Call("release", "dynamodb", "UpdateItem", _claim_call(":ended"))
CATALOG = (CLAIM, READ_TRIAL, WHITELIST, RECORD, LIMIT, REPLY, COMPLETE, RELEASE)
# What a failure answers 503 for; a failed completion comes after the message was processed (its own test, below).
# The record and the reply's count are items of the whitelist transaction.
PROCESSING = (CLAIM, READ_TRIAL, WHITELIST, REPLY)
WHITELISTING = (*PROCESSING, COMPLETE)
# Already whitelisted: the record and the count, a transaction without a whitelist entry.
RECORD_COUNT = Call(
    "record-count", "dynamodb", "TransactWriteItems", lambda b: "TransactItems" in b and not _transaction(_is_entry)(b)
)
# The whitelist transaction's second round (its first one's count refused): the whitelist without the count.
SECOND_ROUND = Call(
    "second-round",
    "dynamodb",
    "TransactWriteItems",
    lambda b: _transaction(_is_entry)(b) and not _transaction(_is_count)(b),
)


def _cases() -> list[Any]:
    cases = []
    for call in PROCESSING:
        for kind in KINDS[call.service]:
            # No condition on a read; a transaction's refusal is a cancellation with reasons, tested elsewhere; the
            # limit's refusal is the limit reached (below); the record's is "recorded already" (first write wins).
            if kind is Kind.CONDITION and call in (READ_TRIAL, WHITELIST, RECORD, LIMIT):
                continue
            cases.append(pytest.param(call, kind, id=f"{call.label}-{kind}"))
    return cases


@pytest.fixture
def mo(world: World) -> ModuleType:
    return load_handler("mo_webhook")


def cm_mo_event(key: str, reference: str, *, text: str | None = None) -> dict[str, Any]:
    """An end user's WhatsApp message with the trial key (or `text`), as CM posts it to the MO webhook."""
    body = {
        "reference": reference,
        "messageContext": "",
        "from": {"number": SENDER, "name": "Sanne Tester"},
        "to": {"number": "0031850876714"},
        "message": {"text": text or f"Hi! My trial key is {key} thanks", "media": {}, "custom": {}},
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


def live_leases(world: World) -> list[dict[str, Any]]:
    """Claims still in progress whose lease has not run out: what holds a provider's retry off."""
    now = time.time()
    return [
        c
        for c in claims(world)
        if c["state"]["S"] == "in_progress" and int(c.get("lease_until", {"N": "0"})["N"]) >= now
    ]


def completed(world: World) -> bool:
    return [c["state"]["S"] for c in claims(world)] == ["done"]


def lease_seconds() -> int:
    return trial_settings.load(MoWebhookSettings).inbound_lease_seconds


def after_the_lease(monkeypatch: pytest.MonkeyPatch, mo: ModuleType) -> None:
    """The function's clock past the lease: the invocation that claimed the message is over, whatever became of it
    (a Lambda invocation never outlives its timeout, which is the lease)."""
    real = mo._deps()
    ahead = dataclasses.replace(real, clock=lambda: time.time() + lease_seconds() + 1)
    monkeypatch.setattr(mo, "_deps", lambda: ahead)


def inbound_records(world: World) -> list[dict[str, Any]]:
    return [r for r in world.message_records() if r["direction"]["S"] == "inbound"]


def replies_delivered(world: World) -> list[str]:
    """The replies that reached SENDER's phone (the sandbox) once the delivery queue is drained by the real delivery
    function."""
    world.drain(load_handler("delivery"))
    return [d.text for d in DELIVERIES.entries() if d.to == SENDER and d.kind == "reply"]


def replies(world: World) -> list[dict[str, Any]]:
    return [message for message in world.queued() if message["kind"] == "reply" and message["to"] == SENDER]


def counted_replies(world: World) -> int:
    """Replies counted in SENDER's reply log (the slots that hold one)."""
    logs = [i for i in world.items(names.WHITELIST.local_name) if i["pk"]["S"].startswith(names.REPLY_LOG_PK_PREFIX)]
    return sum(1 for log in logs for name, slot in log.items() if name[0] == "r" and slot["M"]["id"]["S"])


# A join code's message: its lookup item is read first, then everything is the key's path (docs/design-decisions.md).
READ_JOIN = Call("read-join", "dynamodb", "GetItem", lambda b: key_of(b)[1] == names.JOIN_SK)


def test_a_join_codes_message_makes_the_keys_calls_and_one_read_more(world: World, mo: ModuleType) -> None:
    key = world.make_trial()
    status, _, body = invoke(mo, cm_mo_event(key, uuid.uuid4().hex, text=join_text(key)))
    assert (status, body["outcomes"]) == (200, ["whitelisted"])
    labels = world.injector.labels((READ_JOIN, *CATALOG))
    assert labels == ["claim", "read-join", *[call.label for call in WHITELISTING][1:]]


@pytest.mark.parametrize("kind", [Kind.THROTTLED, Kind.UNREACHABLE])
def test_a_failing_join_code_read_answers_503_and_the_retry_whitelists(
    world: World, mo: ModuleType, kind: Kind
) -> None:
    key = world.make_trial()
    event = cm_mo_event(key, uuid.uuid4().hex, text=join_text(key))
    world.inject(READ_JOIN, kind)
    status, _, body = invoke(mo, event)
    assert (status, body["code"]) == (503, "unavailable")
    assert live_leases(world) == []
    world.injector.faults.clear()
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["whitelisted"])


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
        # The claim's condition is "not claimed, or its lease ran out": refused without saying by whom, it is taken
        # for a processed message (only a completed one refuses without a running lease), acknowledged and ignored.
        assert (status, body["outcomes"]) == (200, ["duplicate"])
    else:
        assert (status, body["code"]) == (503, "unavailable")
        assert int(headers["Retry-After"]) > 0
    # Released (or never made): the provider's retry will be processed at once.
    assert live_leases(world) == []
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
    assert completed(world)
    # One reply, whichever attempts queued it: they all carry the message's one reply id.
    assert len({reply["message_id"] for reply in replies(world)}) == 1
    # Counted once, also when the first attempt's count was written (a lost answer, or a failure after it).
    assert counted_replies(world) == 1
    # Recorded once: the retry writes the record under the first attempt's time, as the same item.
    assert len(inbound_records(world)) == 1
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


def test_reply_and_release_failing_answer_503_and_leave_the_retry_to_the_lease(
    world: World, mo: ModuleType, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = world.make_trial()
    event = cm_mo_event(key, uuid.uuid4().hex)
    world.inject(REPLY, Kind.SERVER_ERROR)
    world.inject(RELEASE, Kind.UNREACHABLE)

    status, _, body = invoke(mo, event)

    assert (status, body["code"]) == (503, "unavailable")
    # The double fault's leftover, announced: the lease runs on, and the whitelist stands whole.
    assert len(live_leases(world)) == 1
    assert whitelist_parts(world, key) == (True, True, True)
    messages = [record.getMessage() for record in caplog.records]
    assert "could not release a message claim; the provider's retry is processed once its lease ends" in messages
    world.heal()
    # Within the lease the retry is asked to come back; after it, processed.
    assert invoke(mo, event)[0] == 503
    after_the_lease(monkeypatch, mo)
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["already_whitelisted"])
    assert completed(world)
    assert len(replies_delivered(world)) == 1


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


@pytest.mark.parametrize("kind", [kind for kind in KINDS["dynamodb"] if kind is not Kind.CONDITION])
def test_a_failing_record_and_count_of_a_whitelisted_sender_releases_the_claim_and_the_retry_answers_once(
    world: World, mo: ModuleType, kind: Kind
) -> None:
    key = world.make_trial((Channel.WHATSAPP, SENDER))
    event = cm_mo_event(key, uuid.uuid4().hex)
    world.inject(RECORD_COUNT, kind)

    status, _, body = invoke(mo, event)

    assert (status, body["code"]) == (503, "unavailable")
    assert live_leases(world) == []
    assert replies(world) == []
    written = kind is Kind.LOST
    assert len(inbound_records(world)) == int(written)
    assert counted_replies(world) == int(written)
    world.heal()
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["already_whitelisted"])
    assert completed(world)
    assert len(inbound_records(world)) == 1
    assert counted_replies(world) == 1
    (delivered,) = replies_delivered(world)
    assert "already whitelisted" in delivered


@pytest.mark.parametrize("kind", [Kind.SERVER_ERROR, Kind.LOST])
def test_a_failing_second_round_of_the_whitelist_transaction_releases_the_claim_and_the_retry_whitelists(
    world: World, mo: ModuleType, kind: Kind
) -> None:
    key = world.make_trial()
    event = cm_mo_event(key, uuid.uuid4().hex)
    # The first round's count refused (the limit reached), then the second round, without it, fails.
    world.inject(LIMIT, Kind.CONDITION, times=1)
    world.inject(SECOND_ROUND, kind)

    status, _, body = invoke(mo, event)

    assert (status, body["code"]) == (503, "unavailable")
    assert live_leases(world) == []
    written = kind is Kind.LOST
    # All of the second round or none of it; never a half whitelist.
    assert whitelist_parts(world, key) == (written,) * 3
    assert len(inbound_records(world)) == int(written)
    assert counted_replies(world) == 0
    assert replies(world) == []
    world.heal()
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["already_whitelisted" if written else "whitelisted"])
    assert whitelist_parts(world, key) == (True, True, True)
    assert completed(world)
    assert len(inbound_records(world)) == 1
    assert counted_replies(world) == 1
    assert len(replies_delivered(world)) == 1


# --- an invocation that dies: its claim is a lease ---------------------------------------------------------------

WORKER = "FAULTS_INBOUND_WORKER"
KILLED = 75


def inbound_worker_main() -> None:
    """One invocation of the real mo_webhook function that dies where $FAULTS_INBOUND_WORKER says (JSON: `die_at`,
    `event`): `after-claim` (its claim written, nothing more) or `after-reply` (whitelisted, recorded and answered, the
    claim not completed). The process ends there (`os._exit`): no answer, no release, no clean-up, as a Lambda
    invocation that crashes or times out."""
    config = json.loads(os.environ[WORKER])
    handler = load_handler("mo_webhook")
    real_deps = handler._deps

    class Messages:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def claim(self, *args: Any, **kwargs: Any) -> Any:
            claimed = self.real.claim(*args, **kwargs)
            if config["die_at"] == "after-claim":
                os._exit(KILLED)
            return claimed

    class Outbound:
        def __init__(self, real: Any) -> None:
            self.real = real

        def enqueue(self, message: Any) -> None:
            self.real.enqueue(message)
            if config["die_at"] == "after-reply":
                os._exit(KILLED)

    @cache
    def deps() -> Any:
        real = real_deps()
        return dataclasses.replace(real, messages=Messages(real.messages), outbound=Outbound(real.outbound))

    setattr(handler, "_deps", deps)  # noqa: B010 - a module loaded from a path: mypy cannot see its names
    handler.handler(config["event"], LambdaContext())
    sys.exit(0)


def run_dying_invocation(event: dict[str, Any], die_at: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "core" / "python"), str(ROOT)])
    env[WORKER] = json.dumps({"die_at": die_at, "event": event})
    return subprocess.run(
        [sys.executable, "-c", "from tests.faults.test_mo_faults import inbound_worker_main; inbound_worker_main()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("die_at", ["after-claim", "after-reply"])
def test_an_invocation_that_dies_leaves_the_message_to_the_providers_retry_after_its_lease(
    world: World, mo: ModuleType, monkeypatch: pytest.MonkeyPatch, die_at: str
) -> None:
    key = world.make_trial()
    event = cm_mo_event(key, uuid.uuid4().hex)

    dead = run_dying_invocation(event, die_at)

    assert dead.returncode == KILLED, dead.stdout[-3000:] + dead.stderr[-3000:]
    processed = die_at == "after-reply"
    assert whitelist_parts(world, key) == (processed,) * 3
    assert len(replies(world)) == int(processed)
    # The provider got no answer and retries at once: the dead invocation's lease still runs, and a lease may be a
    # live invocation's, so the retry is asked to come back (not told "duplicate", which would lose the message).
    status, headers, body = invoke(mo, event)
    assert status == 503, body
    assert body["code"] == "unavailable"
    assert 0 < int(headers["Retry-After"]) <= lease_seconds()
    assert whitelist_parts(world, key) == (processed,) * 3

    # Past the lease the dead invocation is certainly over: the retry is processed, and whitelists once.
    after_the_lease(monkeypatch, mo)
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["already_whitelisted" if processed else "whitelisted"])
    assert whitelist_parts(world, key) == (True, True, True)
    trial = world.trial_item(key) or {}
    assert len(trial[names.MEMBERS_ATTRIBUTE]["SS"]) == 1
    assert completed(world)
    assert len(inbound_records(world)) == 1
    assert counted_replies(world) == 1
    # The phone gets one reply: the dead invocation's (if it queued one) and the retry's are one message.
    queued = replies(world)
    assert len(queued) == 1 + int(processed)
    assert len({reply["message_id"] for reply in queued}) == 1
    delivered = replies_delivered(world)
    assert len(delivered) == 1
    assert delivered[0] in {reply["text"] for reply in queued}
    if not processed:
        assert delivered[0].startswith("You are whitelisted")

    # A completed message's redelivery is a no-op.
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["duplicate"])
    assert replies(world) == []


def test_an_unexpected_error_after_the_claim_lets_the_retry_through_at_once(world: World, mo: ModuleType) -> None:
    key = world.make_trial()
    event = cm_mo_event(key, uuid.uuid4().hex)

    def bug(request: Any, event_name: str, **_kwargs: Any) -> None:
        # A bug, not an AWS error: nothing below the use case knows it (the trial's read raises it).
        if event_name.endswith(".GetItem") and READ_TRIAL.matches("dynamodb", "GetItem", json.loads(request.body)):
            raise RuntimeError("a bug after the claim")

    client = aws.dynamodb()
    client.meta.events.register("before-send", bug)
    try:
        status, _, body = invoke(mo, event)
    finally:
        client.meta.events.unregister("before-send", bug)
    # Answered 500 without internals: the provider retries.
    assert (status, body["code"]) == (500, "internal_error")
    # Released: the retry goes through at once.
    status, _, body = invoke(mo, event)
    assert (status, body["outcomes"]) == (200, ["whitelisted"])
    assert completed(world)
    assert len(replies_delivered(world)) == 1


@pytest.mark.parametrize("kind", [Kind.SERVER_ERROR, Kind.LOST])
def test_a_completion_that_fails_answers_processed_and_a_late_redelivery_repeats_nothing(
    world: World, mo: ModuleType, monkeypatch: pytest.MonkeyPatch, kind: Kind
) -> None:
    key = world.make_trial()
    event = cm_mo_event(key, uuid.uuid4().hex)
    fault = world.inject(COMPLETE, kind)

    status, _, body = invoke(mo, event)

    # Processed, and answered so: the provider has no reason to retry.
    assert (status, body["outcomes"]) == (200, ["whitelisted"])
    assert fault.attempts == attempts()
    # A lost answer wrote the completion all the same; a server error left the lease to run out.
    assert completed(world) == (kind is Kind.LOST)
    world.heal()
    # A provider that redelivers it anyway: within the lease asked to retry (unless completed), after it a no-op for
    # the end user: the same whitelist, record and reply.
    status, _, body = invoke(mo, event)
    if kind is Kind.LOST:
        assert (status, body["outcomes"]) == (200, ["duplicate"])
    else:
        assert status == 503, body
        after_the_lease(monkeypatch, mo)
        status, _, body = invoke(mo, event)
        assert (status, body["outcomes"]) == (200, ["already_whitelisted"])
    assert completed(world)
    assert whitelist_parts(world, key) == (True, True, True)
    assert len(inbound_records(world)) == 1
    assert counted_replies(world) == 1
    assert len(replies_delivered(world)) == 1
