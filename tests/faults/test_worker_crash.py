"""A delivery worker killed mid-batch: the process exits (`os._exit`, no clean-up) after k deliveries of a batch of
10; after the visibility timeout a fresh worker receives the batch again, and every message ends delivered.

Each worker is its own Python process running the real delivery function behind the local stack's SQS event
source mapping (`infra.local.pump`), against moto's server and the fake CM gateway of the parent, as a Lambda
instance that dies would be replaced by a new one. Where the first worker dies decides what is guaranteed:

- before handing the (k+1)-th message to the provider, or after the k-th was recorded `sent`: every message reaches
  the provider exactly once. The record is the claim: `begin_attempt` refuses a message no longer `queued`, and the
  dead worker's lease on the message it had started ended with its invocation's deadline, so the next worker takes
  it over.
- after the provider accepted the k-th message but before its record said `sent`: that one message reaches the
  provider twice. Nothing on our side knows the provider took it, and the delivery function retries rather than
  loses (docs/design-decisions.md: "a rare duplicate is better than a loss"). This is the window, and the only
  one; the other nine messages are still delivered exactly once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections import Counter
from functools import cache
from typing import Any

import boto3
import pytest

from tests.cm_requests import cm_send_body
from tests.conftest import ROOT
from tests.faults.conftest import (
    PHONE,
    FakeProvider,
    LambdaContext,
    World,
    provider_settings,
)
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw import budgets
from trialgw.models import Channel
from trialgw.ports import MessageStatus

pytestmark = pytest.mark.faults

BATCH = 10
KILLED_AFTER = 4
KILLED = 75
WORKER = "FAULTS_DELIVERY_WORKER"
# A dead worker's lease on a record runs this long (Lambda's remaining time at the invocation: its deadline).
REMAINING_MS = 1000


# --- the worker process ------------------------------------------------------------------------------------------


def worker_main() -> None:
    """A delivery worker: feeds the queue to the delivery function until it is empty, or dies where told to.

    Configured by the JSON in $FAULTS_DELIVERY_WORKER: `kill_at` (None, `before-send`, `after-send`, `after-mark`),
    `after` (k) and the queue (a `QueueResource` as a dict)."""
    from infra.local.pump import QueuePump
    from infra.local.resources import QueueResource

    config = json.loads(os.environ[WORKER])
    kill_at: str | None = config["kill_at"]
    after: int = config["after"]
    queue = QueueResource(**config["queue"])
    # About a crash, not about time: a budget that admits the whole batch within REMAINING_MS (each record at most
    # 1/1000 of the production worst case), so the batch is cut short by the kill and nothing else.
    budgets.DELIVERY = budgets.BUDGETS["delivery"].scaled(0.001)
    handler = load_handler("delivery")
    counts = Counter[str]()
    real_deps = getattr(handler, "_deps")  # noqa: B009 - a module loaded from a path: mypy cannot see its names

    def die_if(point: str, count: int) -> None:
        if kill_at == point and count == after:
            # The process ends here: no batch response, no clean-up, no flush.
            os._exit(KILLED)

    class Provider:
        def __init__(self, real: Any) -> None:
            self.real = real
            self.name = real.name

        def deliver(self, message: Any) -> Any:
            die_if("before-send", counts["sent"])
            delivered = self.real.deliver(message)
            counts["sent"] += 1
            die_if("after-send", counts["sent"])
            return delivered

    class Statuses:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def set_status(self, ref: Any, status: MessageStatus, **kwargs: Any) -> Any:
            moved = self.real.set_status(ref, status, **kwargs)
            if status is MessageStatus.SENT:
                counts["marked"] += 1
                die_if("after-mark", counts["marked"])
            return moved

    @cache
    def deps() -> Any:
        real = real_deps()
        return real._replace(
            providers=lambda channel: Provider(real.providers(channel)), statuses=Statuses(real.statuses)
        )

    setattr(handler, "_deps", deps)  # noqa: B010 - as above

    def invoke_function(_name: str, event: dict[str, Any]) -> Any:
        print(json.dumps({"batch": len(event["Records"])}), flush=True)
        return handler.handler(event, LambdaContext(REMAINING_MS))

    sqs = boto3.client("sqs")
    pump = QueuePump(
        function="delivery",
        queue=queue,
        invoke=invoke_function,
        sqs=sqs,
        batching_window_seconds=0.5,
        idle_seconds=0.1,
        log=lambda line: print(line, flush=True),
    )

    def left() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    deadline = time.monotonic() + 30
    while left() and time.monotonic() < deadline:
        if not pump.poll_once().received:
            time.sleep(0.1)
    sys.exit(1 if left() else 0)


# --- the test's side -----------------------------------------------------------------------------------------------


def run_worker(world: World, provider: FakeProvider, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update({f"TRIALGW_{name.upper()}": value for name, value in provider_settings(provider, "cm").items()})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "core" / "python"), str(ROOT)])
    env[WORKER] = json.dumps({"kill_at": kill_at, "after": KILLED_AFTER, "queue": dataclasses.asdict(world.queue)})
    return subprocess.run(
        [sys.executable, "-c", "from tests.faults.test_worker_crash import worker_main; worker_main()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def batches(worker: subprocess.CompletedProcess[str]) -> list[int]:
    return [json.loads(line)["batch"] for line in worker.stdout.splitlines() if line.startswith('{"batch"')]


def statuses(world: World, message_ids: list[str]) -> dict[str, str]:
    records = {r["message_id"]["S"]: r for r in world.message_records()}
    return {message_id: records[message_id]["status"]["S"] for message_id in message_ids}


@pytest.mark.parametrize("kill_at", ["before-send", "after-send", "after-mark"])
def test_a_worker_killed_mid_batch_leaves_every_message_delivered_by_the_next(
    world: World, provider: FakeProvider, kill_at: str
) -> None:
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    gateway = load_handler("send")
    for number in range(BATCH):
        body = cm_send_body(
            key, channels=["WhatsApp"], to=(PHONE,), content=f"Message {number}", sender="TrialTest", reference=None
        )
        assert invoke(gateway, rest_event("apigw_rest_send.json", body=body))[0] == 200
    message_ids = [message["message_id"] for message in world.queued()]
    assert len(set(message_ids)) == BATCH

    first = run_worker(world, provider, kill_at)

    assert first.returncode == KILLED, first.stdout[-3000:] + first.stderr[-3000:]
    # It died inside its first batch, which held all ten.
    assert batches(first) == [BATCH]
    delivered = Counter(provider.accepted)
    assert len(delivered) == KILLED_AFTER
    assert set(delivered.values()) == {1}
    after_first = statuses(world, message_ids)
    sent_first = {message_id for message_id, status in after_first.items() if status == "sent"}
    # Where it died: `before-send` and `after-mark` with k messages recorded sent, `after-send` with the k-th
    # delivered but still `queued`.
    assert len(sent_first) == (KILLED_AFTER - 1 if kill_at == "after-send" else KILLED_AFTER)
    assert sent_first <= set(delivered)
    # Nothing was acknowledged: the whole batch comes back after the visibility timeout.
    assert world.in_queue() == BATCH

    second = run_worker(world, provider)

    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert world.in_queue() == 0
    assert world.dead_letters() == []
    assert statuses(world, message_ids) == dict.fromkeys(message_ids, "sent")
    window = set(delivered) - sent_first
    expected = {message_id: 2 if message_id in window else 1 for message_id in message_ids}
    assert dict(provider.accepted) == expected
    assert len(window) == (1 if kill_at == "after-send" else 0)
    # Every request the provider got was an acceptance: no other request, no retry of a taken message.
    assert sum(len(requests) for requests in provider.requests.values()) == sum(expected.values())
