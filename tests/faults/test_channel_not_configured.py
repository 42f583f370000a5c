"""A channel set to a provider that lacks its credentials fails closed: the real gateway accepts a WhatsApp send, the
real delivery function (fed by the real queue on moto) finds the channel on `cm` without a product token, and the
message ends `failed` "channel not configured" at once, counted by the `ChannelNotConfigured` metric its alarm
watches. Nothing reaches CM (the fake gateway on 127.0.0.1 counts requests) and nothing is recorded `sent` by the
sandbox, whose "sent" would tell the developer a message reached a phone that never did.

Two ways to lack the token: locally, no `TRIALGW_CM_PRODUCT_TOKEN`; in AWS, the provider secret as the stack creates
it, with no value (Secrets Manager on moto answers ResourceNotFoundException, as AWS does).
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests.cm_requests import cm_send_body
from tests.faults.conftest import PHONE, FakeProvider, World, provider_settings
from tests.integration.conftest import invoke, load_handler, rest_event
from trialgw.models import Channel
from trialgw.providers.sandbox.delivery import DELIVERIES

pytestmark = pytest.mark.faults


def emitted(stdout: str, name: str) -> int:
    """How much of metric `name` the functions emitted as CloudWatch EMF lines on stdout."""
    total = 0
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" in document and name in document:
            total += int(sum(document[name]) if isinstance(document[name], list) else document[name])
    return total


@pytest.mark.parametrize("where", ["local", "aws"])
def test_a_channel_on_cm_without_its_product_token_fails_at_once_and_is_counted(
    world: World, provider: FakeProvider, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    settings = {name: value for name, value in provider_settings(provider, "cm").items() if name != "cm_product_token"}
    if where == "aws":
        # As the stack creates it: a secret with no value, until the operator runs providers set-credential.
        secret = boto3.client("secretsmanager").create_secret(Name="trialgw-providers")["Name"]
        settings["provider_secrets_name"] = secret
    world.configure(**settings)
    world.monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    key = world.make_trial((Channel.WHATSAPP, PHONE))
    body = cm_send_body(key, channels=["WhatsApp"], to=(PHONE,), content="Hello", sender="TrialTest", reference="r-1")
    status, _, answer = invoke(load_handler("send"), rest_event("apigw_rest_send.json", body=body))
    assert status == 200, answer

    rounds = world.drain(load_handler("delivery"))

    # One receive: a permanent failure, neither retried nor dead-lettered.
    assert rounds == 1
    assert world.dead_letters() == []
    (record,) = world.message_records()
    assert record["status"]["S"] == "failed"
    reason = record["reason"]["S"]
    assert reason.startswith("channel not configured: WhatsApp is set to the cm provider, whose cm_product_token is ")
    assert reason.endswith(
        "(operator: trialgw-admin providers set-credential cm_product_token --stack <stack>)"
        if where == "aws"
        else "(operator: set TRIALGW_CM_PRODUCT_TOKEN)"
    )
    assert record["attempts"]["N"] == "1"
    assert "provider" not in record
    # Nothing went anywhere: not to CM, not to the sandbox.
    assert provider.requests == {}
    assert provider.unauthorized == 0
    assert DELIVERIES.entries() == []
    assert emitted(capsys.readouterr().out, "ChannelNotConfigured") == 1


def test_the_sandbox_chosen_for_a_channel_still_delivers_there(
    world: World, provider: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same deployment's other channels: SMS left on the sandbox by choice is no misconfiguration.
    world.configure(**{n: v for n, v in provider_settings(provider, "cm").items() if n != "cm_product_token"})
    world.monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    key = world.make_trial((Channel.SMS, PHONE))
    body = cm_send_body(key, channels=["SMS"], to=(PHONE,), content="Hello", sender="TrialTest", reference="r-2")
    assert invoke(load_handler("send"), rest_event("apigw_rest_send.json", body=body))[0] == 200

    world.drain(load_handler("delivery"))

    (record,) = world.message_records()
    assert (record["status"]["S"], record["provider"]["S"]) == ("delivered", "sandbox")
    assert [d.to for d in DELIVERIES.entries()] == [PHONE]
    assert emitted(capsys.readouterr().out, "ChannelNotConfigured") == 0
