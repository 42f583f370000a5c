"""`trialgw-admin capacity` against the running local stack, run as an operator runs it: a separate process.

The shared stack's breaker is tripped through the capacity adapter (its limit is far away) and always
closed again; a stack of its own, with a limit of one message, trips it through real sends.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from tests.conftest import ROOT, LocalStack, free_port, start_local_stack
from trialgw import names
from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
from trialgw.keys import KEY_PLACEHOLDER, hash_key, trial_id

pytestmark = pytest.mark.e2e

CONSOLE_SCRIPT = Path(sys.executable).with_name("trialgw-admin")


def admin(stack_url: str, *argv: str, program: tuple[str, ...] | None = None) -> subprocess.CompletedProcess[str]:
    """`trialgw-admin <argv> --local --port <the stack's port>`, with no PORT in its environment."""
    port = urlsplit(stack_url).port
    env = {k: v for k, v in os.environ.items() if k != "PORT" and not k.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "core" / "python"), str(ROOT)])
    command = program or (sys.executable, "-m", "trialgw_admin.cli")
    return subprocess.run(
        [*command, *argv, "--local", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def capacity_store(stack: LocalStack) -> DynamoCapacityStore:
    """The stack's breaker, straight through moto, as `/_local/aws` names it."""
    aws = stack.get("/_local/aws").json()
    client = boto3.client(
        "dynamodb",
        endpoint_url=aws["endpoint"],
        region_name=aws["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return DynamoCapacityStore(client, aws["tables"]["trials"])


def wait_past_the_hour_if_near_it(margin_seconds: int = 20) -> None:
    """Sleeps into the next capacity window when this one (an hour) ends within `margin_seconds`."""
    left = 3600 - time.time() % 3600
    if left < margin_seconds:
        time.sleep(left + 0.5)


@pytest.fixture
def breaker(local_stack: LocalStack) -> Iterator[DynamoCapacityStore]:
    store = capacity_store(local_stack)
    try:
        yield store
    finally:
        # Other tests share this stack: its breaker is closed whatever happened here.
        store.reset(now=int(time.time()))


def test_local_aws_names_the_stacks_tables(local_stack: LocalStack) -> None:
    aws = local_stack.get("/_local/aws").json()
    assert aws["endpoint"].startswith("http://127.0.0.1:")
    assert aws["region"] == "eu-west-1"
    assert aws["tables"] == {t.logical: t.local_name for t in names.TABLES}


def test_status_and_reset_of_the_local_stack(local_stack: LocalStack, breaker: DynamoCapacityStore) -> None:
    closed = ok_json(admin(local_stack.url, "capacity", "status", "--json"))
    assert closed["target"] == f"the local stack at {local_stack.url}"
    assert closed["breaker"] == {"tripped": False, "trippedAt": None, "trippedCount": None}

    # The stack's clock is its own: trip, then read, inside one hour's window.
    wait_past_the_hour_if_near_it()
    start = int(time.time()) // 3600 * 3600
    breaker.add(1_500, window_start=start, window_seconds=3600, limit=1_000)
    breaker.trip(now=start + 5, count=1_500)

    tripped = ok_json(admin(local_stack.url, "capacity", "status", "--json"))
    assert tripped["breaker"]["tripped"] is True
    assert tripped["breaker"]["trippedCount"] == 1_500
    assert tripped["window"]["limit"] == 1_000
    assert tripped["window"]["count"] >= 1_500
    table = admin(local_stack.url, "capacity", "status")
    assert table.returncode == 0, table.stderr
    assert re.search(r"^  breaker +OPEN", table.stdout, re.MULTILINE)
    assert re.search(r"^  tripped +yes$", table.stdout, re.MULTILINE)

    reset = ok_json(admin(local_stack.url, "capacity", "reset", "--json"))
    assert reset["reset"] is True
    assert reset["breaker"]["tripped"] is False
    assert reset["window"] is None
    assert not breaker.breaker().tripped


def test_a_trip_by_real_sends_is_shown_and_reset_by_the_console_script() -> None:
    if not CONSOLE_SCRIPT.exists():
        pytest.fail(f"{CONSOLE_SCRIPT} is missing: install the project (pip install -e '.[dev]')")
    script = (str(CONSOLE_SCRIPT),)
    settings = {
        "TRIALGW_CAPACITY_LIMIT": "1",
        "TRIALGW_CAPACITY_FLUSH_SECONDS": "0",
        "TRIALGW_CAPACITY_CACHE_SECONDS": "0",
    }
    with start_local_stack(settings) as stack:
        key = stack.sign_up()
        recipient = whitelist(stack, key)
        # The second accepted message makes two, over the limit of one: the third is refused.
        assert [send(stack, key, recipient)[0] for _ in range(3)] == [200, 200, 503]
        assert send(stack, key, recipient)[1]["errorCode"] == 999

        status = ok_json(admin(stack.url, "capacity", "status", "--json", program=script))
        assert status["breaker"]["tripped"] is True
        assert status["breaker"]["trippedCount"] == 2
        assert (status["window"]["count"], status["window"]["limit"]) == (2, 1)
        # Who tripped it: the trial, its e-mail and sign-up network masked, with the two messages it sent.
        [culprit] = status["topSenders"]["trials"]
        assert culprit["id"] == trial_id(hash_key(key))
        assert (culprit["sent"], culprit["signupNetwork"]) == (2, "127.0.0.0/24")
        assert re.fullmatch(r"e\*\*\*@e\*\*\*\.com", culprit["email"])
        table = admin(stack.url, "capacity", "status", program=script)
        assert "Trials that sent most in the window the breaker tripped in" in table.stdout
        assert f"trialgw-admin trials revoke <ID> --local --port {urlsplit(stack.url).port}" in table.stdout

        reset = admin(stack.url, "capacity", "reset", program=script)
        assert reset.returncode == 0, reset.stderr
        assert reset.stdout.startswith("Capacity breaker reset")
        assert send(stack, key, recipient)[0] == 200


def test_no_local_stack_on_the_port_is_one_line_and_exit_1() -> None:
    result = admin(f"http://127.0.0.1:{free_port()}", "capacity", "status")
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("trialgw-admin: error: no local stack is running at http://127.0.0.1:")


# --- the send path ---------------------------------------------------------------------------------


def whitelist(stack: LocalStack, key: str) -> str:
    recipient = "+31612345678"
    answer = stack.post_json("/_local/mo", {"channel": "WhatsApp", "from": recipient, "text": key})
    assert answer.status == 200, answer.text
    assert answer.json()["answer"]["outcomes"] == ["whitelisted"]
    return recipient


def send(stack: LocalStack, key: str, recipient: str) -> tuple[int, dict[str, Any]]:
    message = {
        "allowedChannels": ["WhatsApp"],
        "from": "TrialTest",
        "to": [{"number": recipient}],
        "body": {"type": "auto", "content": "Hello"},
    }
    body = {"messages": {"authentication": {"producttoken": key}, "msg": [message]}}
    response = stack.post_json("/messaging/messagingtrial/gw/", body)
    answer: dict[str, Any] = response.json()
    return response.status, answer


def test_messages_tail_shows_a_trials_inbound_and_outbound_messages(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    recipient = whitelist(local_stack, key)
    assert send(local_stack, key, recipient)[0] == 200
    trial = trial_id(hash_key(key))

    tail = ok_json(admin(local_stack.url, "messages", "tail", trial, "--json"))
    assert tail["id"] == trial
    # Both recorded within a second or so: messages of the same second are in id order, not arrival order.
    messages = sorted(tail["messages"], key=lambda m: m["direction"])
    assert [(m["direction"], m["channel"], m["counterpart"], m["text"]) for m in messages] == [
        # The joining message as recorded: the key blanked out.
        ("inbound", "WhatsApp", recipient, KEY_PLACEHOLDER),
        ("outbound", "WhatsApp", recipient, "Hello"),
    ]
    assert key not in json.dumps(tail)

    table = admin(local_stack.url, "messages", "tail", trial)
    assert table.returncode == 0, table.stderr
    assert re.search(rf"^  \S+Z +\S+ +outbound +WhatsApp +\{recipient} +\w+ +Hello$", table.stdout, re.MULTILINE)
    assert re.search(rf"^  \S+Z +\S+ +inbound +WhatsApp +\{recipient} +- +\[trial key\]$", table.stdout, re.MULTILINE)
