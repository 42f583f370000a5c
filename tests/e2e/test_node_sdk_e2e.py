"""CM's Node SDK (`@cmdotcom/text-sdk`, pinned in package.json) sends through the trial unchanged, with only its base
path set to the gateway's URL: it appends production's `/v1.0/message`, which is the send route too.

The SDK runs in `node` against the running local stack, as a developer's script would. `npm ci` (the Makefile's
`make test` does it) installs it from package-lock.json into node_modules/; NODE_PATH may name another copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT, LocalStack, random_phone
from tests.e2e.test_send_e2e import whitelist
from trialgw.gateway.answers import MULTIPLE_RECIPIENTS

pytestmark = pytest.mark.e2e

# The developer's script: the SDK's own builder and `send()`, its base path set to the trial gateway. Prints the
# HTTP status and JSON body of the answer, whether axios resolved or rejected it.
_SEND = """
const cm = require("@cmdotcom/text-sdk");
const [basePath, key, to, from, text] = JSON.parse(process.argv[1]);
const message = new cm.MessageApiClient(key).createMessage().setMessage(to, from, text, "nodesdk1");
message.api.basePath = basePath;
message.send().then(
  (response) => ({ status: response.status, body: response.data }),
  (error) => {
    if (!error.response) throw error;
    return { status: error.response.status, body: error.response.data };
  },
).then((answer) => process.stdout.write(JSON.stringify(answer)));
"""


def node_sdk_send(stack: LocalStack, key: str, to: list[str], text: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    # The gateway URL exactly as the e-mail and the docs give it, less its trailing slash (the SDK adds `/v1.0/…`).
    base_path = f"{stack.url}/messaging/messagingtrial/gw"
    run = subprocess.run(
        [node, "-e", _SEND, json.dumps([base_path, key, to, "TrialTest", text])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
        check=False,
    )
    assert run.returncode == 0, f"node failed (run `npm ci` for the pinned SDK):\n{run.stderr}"
    answer: dict[str, Any] = json.loads(run.stdout)
    return answer


def test_the_node_sdk_sends_one_sms_and_gets_the_trials_refusal_for_two_recipients(local_stack: LocalStack) -> None:
    key = local_stack.sign_up()
    recipient = random_phone()
    # The SDK names no channel: SMS.
    whitelist(local_stack, "SMS", recipient, key)

    accepted = node_sdk_send(local_stack, key, [recipient], "Hello from CM's Node SDK")

    assert accepted["status"] == 200, accepted
    [message] = accepted["body"]["messages"]
    assert (message["status"], message["to"], message["reference"], message["parts"]) == (
        "Accepted",
        recipient,
        "nodesdk1",
        1,
    )

    refused = node_sdk_send(local_stack, key, [recipient, random_phone()], "Hello to two")

    assert refused["status"] == 400, refused
    assert refused["body"]["details"] == MULTIPLE_RECIPIENTS
    assert refused["body"]["errorCode"] == 302
