"""Sign-up when its AWS calls fail: the rate-limit count (UpdateItem), the trial and its join code (one
TransactWriteItems), the e-mail (SES v2).

What the code promises (docs/api.md "Sign-up API", docs/design-decisions.md): a failure answers 503 `unavailable` with
`Retry-After`; no usable trial is left behind (a stored trial's key reaches no one unless its e-mail was sent); the
failed attempt gives its rate-limit count back; and the developer's retry then gets a trial like any other.
"""

from __future__ import annotations

import json
import uuid
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import TRIAL_KEY
from tests.faults.conftest import KINDS, Call, Kind, World, key_of
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import names
from trialgw.keys import hash_key

pytestmark = pytest.mark.faults

COUNT = Call(
    "count-signup",
    "dynamodb",
    "TransactWriteItems",
    lambda b: all(
        "Update" in item and item["Update"]["Key"]["pk"]["S"].startswith(names.SIGNUP_COUNTER_PK_PREFIX)
        for item in b["TransactItems"]
    ),
)
# The trial and its join code's lookup item, in one transaction.
STORE = Call(
    "store-trial",
    "dynamodb",
    "TransactWriteItems",
    lambda b: (
        [key_of(item["Put"])[1] for item in b["TransactItems"] if "Put" in item] == [names.TRIAL_SK, names.JOIN_SK]
    ),
)
MAIL = Call("send-mail", "sesv2", "SendEmail")
# Only on the way back from a failure.
DISCARD = Call("discard-trial", "dynamodb", "DeleteItem", lambda b: key_of(b)[1] == names.TRIAL_SK)
RELEASE = Call(
    "release-count",
    "dynamodb",
    "UpdateItem",
    lambda b: (
        key_of(b)[0].startswith(names.SIGNUP_COUNTER_PK_PREFIX) and ":minus_one" in b["ExpressionAttributeValues"]
    ),
)
CATALOG = (COUNT, STORE, MAIL, DISCARD, RELEASE)
SIGNUP = (COUNT, STORE, MAIL)
UNAVAILABLE = {"message": "Sign-up is temporarily unavailable. Please try again shortly.", "code": "unavailable"}
MAIL_UNAVAILABLE = {
    "message": "We could not send your e-mail right now, so no trial was created. Please try again shortly.",
    "code": "unavailable",
}


@pytest.fixture
def signup(world: World) -> ModuleType:
    return load_handler("signup")


def sign_up(signup: ModuleType, email: str) -> tuple[int, dict[str, str], Any]:
    body = json.dumps({"name": "Jane Doe", "email": email})
    return invoke(signup, rest_event("apigw_rest_signup.json", body=body))


def fresh_address() -> str:
    return f"jane-{uuid.uuid4().hex[:10]}@example.com"


def trials(world: World) -> list[dict[str, Any]]:
    return [i for i in world.items(names.TRIALS.local_name) if i["pk"]["S"].startswith(names.TRIAL_PK_PREFIX)]


def count(world: World) -> int:
    """The mailbox's rate-limit count in the window (one address per test; the other counters move with it)."""
    prefix = f"{names.SIGNUP_COUNTER_PK_PREFIX}mailbox#"
    items = [i for i in world.items(names.TRIALS.local_name) if i["pk"]["S"].startswith(prefix)]
    return sum(int(item["count"]["N"]) for item in items)


def mailed_keys(world: World, email: str) -> set[str]:
    return {key for mail in world.moto.outbox.sent(to=email) for key in TRIAL_KEY.findall(mail.text)}


def test_the_calls_of_a_sign_up_are_the_ones_this_module_fails(world: World, signup: ModuleType) -> None:
    status, _, _ = sign_up(signup, fresh_address())
    assert status == 202
    assert world.injector.labels(CATALOG) == ["count-signup", "store-trial", "send-mail"]
    assert [call.label for call in SIGNUP] == world.injector.labels(CATALOG)


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        pytest.param(call, kind, id=f"{call.label}-{kind}")
        for call in SIGNUP
        for kind in KINDS[call.service]
        # A transaction's refusal is a cancellation with reasons (tests/integration/test_signup_counter.py), never
        # a plain ConditionalCheckFailedException.
        if not (call is COUNT and kind is Kind.CONDITION)
    ],
)
def test_a_sign_up_call_failing_for_good_leaves_no_usable_trial_and_gives_its_count_back(
    world: World, signup: ModuleType, call: Call, kind: Kind
) -> None:
    email = fresh_address()
    world.inject(call, kind)

    status, headers, body = sign_up(signup, email)

    assert (status, body) == (503, MAIL_UNAVAILABLE if call is MAIL else UNAVAILABLE)
    assert int(headers["Retry-After"]) > 0
    stored = trials(world)
    if (call, kind) == (STORE, Kind.LOST):
        # DynamoDB stored the trial, but no answer said so: a trial whose key was sent nowhere, unusable (TTL
        # removes it). It is the documented leftover of a failed sign-up.
        assert len(stored) == 1
        assert mailed_keys(world, email) == set()
    elif call is MAIL and kind is Kind.LOST:
        # SES sent the e-mail although no answer said so; the trial was discarded all the same (see the report).
        assert stored == []
    else:
        assert stored == []
        assert world.moto.outbox.sent(to=email) == []
    # The failed attempt used up none of the address's sign-ups; a count whose answer was lost counts once.
    assert count(world) == (1 if (call, kind) == (COUNT, Kind.LOST) else 0)

    world.heal()
    status, _, body = sign_up(signup, email)
    assert status == 202, body
    # The retry's e-mail carries the key of a stored trial.
    (key,) = set(TRIAL_KEY.findall(world.moto.outbox.sent(to=email)[-1].text))
    assert hash_key(key) in {item["key_hash"]["S"] for item in trials(world)}


@pytest.mark.parametrize("call", [COUNT, STORE, MAIL], ids=lambda call: call.label)
def test_a_blip_absorbed_by_the_sdk_retry_is_one_trial_one_count(world: World, signup: ModuleType, call: Call) -> None:
    email = fresh_address()
    fault = world.inject(call, Kind.THROTTLED, times=1)

    status, _, _ = sign_up(signup, email)

    assert status == 202
    assert fault.attempts == 2
    assert [hash_key(key) for key in mailed_keys(world, email)] == [item["key_hash"]["S"] for item in trials(world)]
    assert count(world) == 1


def test_a_lost_answer_to_the_count_counts_the_sign_up_once(world: World, signup: ModuleType) -> None:
    email = fresh_address()
    world.inject(COUNT, Kind.LOST, times=1)

    assert sign_up(signup, email)[0] == 202
    # DynamoDB added the counts at the first attempt and refused the SDK's retry as this very call's: one sign-up,
    # one count, so the address keeps its other two sign-ups of the window.
    assert count(world) == 1
    assert [sign_up(signup, email)[0] for _ in range(3)] == [202, 202, 429]


def test_mail_and_discard_failing_leave_a_trial_no_one_has_the_key_of(
    world: World, signup: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    email = fresh_address()
    world.inject(MAIL, Kind.SERVER_ERROR)
    world.inject(DISCARD, Kind.THROTTLED)

    status, _, body = sign_up(signup, email)

    assert (status, body) == (503, MAIL_UNAVAILABLE)
    assert world.moto.outbox.sent(to=email) == []
    # The documented leftover: stored, but its key was never sent anywhere; TTL removes it.
    assert len(trials(world)) == 1
    assert count(world) == 0
    assert "could not discard an unsent trial; TTL will remove it" in [r.getMessage() for r in caplog.records]
