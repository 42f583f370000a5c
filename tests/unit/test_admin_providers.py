"""`trialgw-admin providers set-credential`: the value comes from stdin or a hidden prompt, is merged into the
provider secret the stack created without a value, and is never printed.

A deployed stack is moto's CloudFormation and Secrets Manager (`mock_aws`); failures come from botocore's
Stubber.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from infra.local.environment import REGION
from tests.unit.test_admin_cli import STACK, assert_one_line_error, deploy, run
from trialgw import names
from trialgw.providers.registry import PROVIDER_SECRET_KEYS
from trialgw_admin import cli, providers

TOKEN = "c0ffee00-1234-4abc-8def-0123456789ab"
SECRET = "trialgw-providers-AbCdEf"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture
def empty_secret(aws: None) -> str:
    """A deployed stack whose provider secret exists with no value, as the stack creates it."""
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name=SECRET)
    deploy({names.PROVIDER_SECRETS_OUTPUT: SECRET})
    return SECRET


def stored(secret: str) -> dict[str, Any]:
    value = boto3.client("secretsmanager", region_name=REGION).get_secret_value(SecretId=secret)
    parsed: dict[str, Any] = json.loads(value["SecretString"])
    return parsed


def piped(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# --- the command line ------------------------------------------------------------------------------


def test_the_command_takes_a_known_key_and_no_value() -> None:
    args = cli.build_parser().parse_args(["providers", "set-credential", "cm_product_token", "--stack", "prod"])
    assert (args.group, args.command, args.key, args.stack) == (
        "providers",
        "set-credential",
        "cm_product_token",
        "prod",
    )
    assert args.handler.run is cli.providers_set_credential
    assert "providers" in cli.GROUPS


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["providers", "set-credential", "cm_webhook_secret"], "invalid choice: 'cm_webhook_secret'"),
        (["providers", "set-credential", "CM_PRODUCT_TOKEN"], "invalid choice"),
        (["providers", "set-credential"], "required: KEY"),
        # The value never rides on the command line (shell history, ps).
        (["providers", "set-credential", "cm_product_token", TOKEN], "unrecognized arguments"),
        (["providers", "set-credential", "cm_product_token", "--local"], "the local stack has no Secrets Manager"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert says in err
    if "invalid choice" in says:
        for key in PROVIDER_SECRET_KEYS:
            assert key in err


def test_local_is_refused_before_looking_for_a_local_stack(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def local(port: int) -> cli.Target:
        raise AssertionError("no local stack is needed to refuse")

    monkeypatch.setattr(cli, "local_target", local)
    code, _, err = run(capsys, "providers", "set-credential", "whatsapp_access_token", "--local")
    assert code == cli.EXIT_USAGE
    assert "TRIALGW_CM_PRODUCT_TOKEN" in err


# --- a deployed stack (moto) -----------------------------------------------------------------------


def test_the_first_credential_goes_into_the_secret_without_a_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, empty_secret: str
) -> None:
    piped(monkeypatch, f"{TOKEN}\n")
    code, out, err = run(capsys, "providers", "set-credential", "cm_product_token", "--stack", STACK)
    assert (code, err) == (0, "")
    assert stored(empty_secret) == {"cm_product_token": TOKEN}
    assert TOKEN not in out
    lines = out.splitlines()
    assert lines[0] == (
        f"Set cm_product_token in secret {empty_secret} of stack '{STACK}' in {REGION}; "
        "the delivery function uses it within five minutes."
    )
    assert lines[1].split() == ["with", "a", "value", "cm_product_token"]
    assert lines[2].split() == ["empty", "whatsapp_access_token,", "messenger_page_token,", "instagram_access_token"]


def test_a_credential_is_merged_keeping_the_others(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, empty_secret: str
) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.put_secret_value(
        SecretId=empty_secret, SecretString=json.dumps({"cm_product_token": TOKEN, "operator_note": "kept"})
    )
    piped(monkeypatch, "EAAG-wa-token")
    code, out, err = run(capsys, "providers", "set-credential", "whatsapp_access_token", "--stack", STACK, "--json")
    assert (code, err) == (0, "")
    assert stored(empty_secret) == {
        "cm_product_token": TOKEN,
        "operator_note": "kept",
        "whatsapp_access_token": "EAAG-wa-token",
    }
    assert json.loads(out) == {
        "target": f"stack '{STACK}' in {REGION}",
        "secret": empty_secret,
        "set": "whatsapp_access_token",
        "withValue": ["cm_product_token", "whatsapp_access_token"],
        "empty": ["messenger_page_token", "instagram_access_token"],
    }
    assert TOKEN not in out
    assert "EAAG-wa-token" not in out


def test_from_a_terminal_the_value_is_read_from_a_prompt_that_does_not_echo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, empty_secret: str
) -> None:
    prompts: list[str] = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "page-token"

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", getpass)
    code, out, _ = run(capsys, "providers", "set-credential", "messenger_page_token", "--stack", STACK)
    assert code == 0
    assert prompts == ["messenger_page_token (not shown): "]
    assert stored(empty_secret) == {"messenger_page_token": "page-token"}
    assert "page-token" not in out


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "no value for cm_product_token"),
        ("  \n", "no value for cm_product_token"),
        ('{"cm_product_token": "x"}\n', "has spaces or line breaks"),
        ("two\nlines", "has spaces or line breaks"),
    ],
)
def test_an_empty_or_malformed_value_sets_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, empty_secret: str, value: str, says: str
) -> None:
    piped(monkeypatch, value)
    code, out, err = run(capsys, "providers", "set-credential", "cm_product_token", "--stack", STACK)
    assert_one_line_error(code, out, err, says, "nothing was set")
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        stored(empty_secret)


def test_a_stack_without_the_secret_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, aws: None
) -> None:
    deploy({"TrialsTableName": "t"})
    piped(monkeypatch, TOKEN)
    code, out, err = run(capsys, "providers", "set-credential", "cm_product_token", "--stack", STACK)
    assert_one_line_error(code, out, err, f"stack '{STACK}' in {REGION} has no output ProviderSecretsName")


def test_an_output_naming_a_missing_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, aws: None
) -> None:
    deploy({names.PROVIDER_SECRETS_OUTPUT: "gone"})
    piped(monkeypatch, TOKEN)
    code, out, err = run(capsys, "providers", "set-credential", "cm_product_token", "--stack", STACK)
    assert_one_line_error(code, out, err, f"secret gone of stack '{STACK}' in {REGION} does not exist")
    assert TOKEN not in err


# --- Secrets Manager failures (Stubber) ------------------------------------------------------------


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    def client(service: Literal["cloudformation", "secretsmanager", "dynamodb"]) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )

    cloudformation, secrets = client("cloudformation"), client("secretsmanager")
    target = cli.Target(kind="stack", name="prod", region=REGION, tables={}, dynamodb=client("dynamodb"))
    monkeypatch.setattr(cli, "resolve_target", lambda _args: target)
    monkeypatch.setattr(providers, "_session_clients", lambda _target: (cloudformation, secrets))
    with Stubber(cloudformation) as stacks:
        stacks.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "prod",
                        "CreationTime": "2026-03-02T09:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": names.PROVIDER_SECRETS_OUTPUT, "OutputValue": SECRET}],
                    }
                ]
            },
            {"StackName": "prod"},
        )
        with Stubber(secrets) as stubber:
            yield stubber
            stubber.assert_no_pending_responses()


def test_a_denied_write_is_one_line_without_the_value(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stubbed: Stubber
) -> None:
    stubbed.add_client_error(
        "get_secret_value",
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
        expected_params={"SecretId": SECRET},
    )
    stubbed.add_client_error(
        "put_secret_value",
        "AccessDeniedException",
        "not authorized to perform: secretsmanager:PutSecretValue",
        expected_params={"SecretId": SECRET, "SecretString": json.dumps({"instagram_access_token": TOKEN})},
    )
    piped(monkeypatch, TOKEN)
    code, out, err = run(capsys, "providers", "set-credential", "instagram_access_token")
    assert_one_line_error(code, out, err, f"could not write secret {SECRET}", "AccessDeniedException")
    assert TOKEN not in err


def test_a_secret_that_is_not_a_json_object_is_never_overwritten(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stubbed: Stubber
) -> None:
    # Someone put the bare token there by hand: it may be the only copy, so nothing is written.
    stubbed.add_response("get_secret_value", {"Name": SECRET, "SecretString": "bare-token"}, {"SecretId": SECRET})
    piped(monkeypatch, TOKEN)
    code, out, err = run(capsys, "providers", "set-credential", "cm_product_token")
    assert_one_line_error(code, out, err, f"secret {SECRET} does not hold a JSON object", "nothing was set")
    assert "bare-token" not in err


def test_a_denied_read_is_not_taken_for_an_empty_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stubbed: Stubber
) -> None:
    # Writing `{KEY: value}` over a secret we may not read would drop the other credentials.
    stubbed.add_client_error("get_secret_value", "AccessDeniedException", "not authorized")
    piped(monkeypatch, TOKEN)
    code, out, err = run(capsys, "providers", "set-credential", "cm_product_token")
    assert_one_line_error(code, out, err, f"could not read secret {SECRET}", "AccessDeniedException")
