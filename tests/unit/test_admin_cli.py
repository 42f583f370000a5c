"""`trialgw-admin`: its command line, its output, and the one-line errors an operator can act on.

Deployed stacks are moto's CloudFormation and DynamoDB (`mock_aws`); the local stack is the real
`LocalGateway` behind `LocalHttpServer` on 127.0.0.1, pointing at a moto server; DynamoDB failures
come from botocore's Stubber.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from infra.local.environment import REGION
from infra.local.invoke import FunctionHost
from infra.local.mail import MailOutbox
from infra.local.moto_backend import MotoBackend
from infra.local.server import LocalAws, LocalGateway, LocalHttpServer
from infra.local.static import StaticSite
from tests.conftest import free_port
from trialgw import names
from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.dynamo_trials import DynamoSignupCounter, DynamoTrialStore
from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
from trialgw.keys import KEY_PLACEHOLDER, hash_key, new_key, trial_id
from trialgw.logic.capacity import CapacityReport
from trialgw.models import Channel, Trial, TrialStatus
from trialgw.observability import logger
from trialgw.ports import (
    BreakerState,
    CapacityWindow,
    LoggedMessage,
    MessageRef,
    MessageStatus,
    SignupCount,
    StoredMessage,
    TopSender,
)
from trialgw_admin import cli
from trialgw_admin.capacity import capacity_output
from trialgw_admin.messages import DEFAULT_TAIL_LINES
from trialgw_admin.target import stack_output_key
from trialgw_admin.trials import DEFAULT_TRIALS_LIMIT, message_data

ROOT = Path(__file__).resolve().parents[2]
STACK = "trialgw-test"
# 2026-03-02T09:15:30Z, inside the window 09:00-10:00.
NOW = 1_772_442_930
WINDOW_START = 1_772_442_000


# The access log of the in-process local server (`GET /_local/aws → 200 (0 ms)`), which shares stderr here.
SERVER_LOG = re.compile(r"^[A-Z]+ /\S* → \d{3} \(\d+ ms\)$")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`trialgw-admin argv`: exit code, stdout, and stderr without the server's access log."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, "".join(line for line in err.splitlines(keepends=True) if not SERVER_LOG.match(line.strip()))


def assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == cli.EXIT_ERROR
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("trialgw-admin: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def key_schema() -> dict[str, Any]:
    return {
        "KeySchema": [
            {"AttributeName": names.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": names.SORT_KEY, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in names.KEY_ATTRIBUTES],
        "BillingMode": "PAY_PER_REQUEST",
    }


def trip(store: DynamoCapacityStore, *, count: int = 12, limit: int = 10, start: int | None = None) -> None:
    if start is None:
        start = int(time.time()) // 3600 * 3600
    store.add(count, window_start=start, window_seconds=3600, limit=limit)
    store.trip(now=start + 60, count=count)


# --- the command line ------------------------------------------------------------------------------


def test_options_come_after_the_command() -> None:
    args = cli.build_parser().parse_args(["capacity", "status", "--local", "--port", "9000", "--json"])
    assert (args.group, args.command, args.local, args.port, args.json) == ("capacity", "status", True, 9000, True)
    assert args.handler.run is cli.capacity_status
    args = cli.build_parser().parse_args(["capacity", "reset", "--stack", "prod", "--region", "us-east-1"])
    assert (args.stack, args.region, args.local, args.json) == ("prod", "us-east-1", False, False)
    assert args.handler.run is cli.capacity_reset


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        ([], "required"),
        (["capacity"], "required"),
        (["capacity", "trip"], "invalid choice"),
        (["capacity", "status", "--local", "--stack", "x"], "not allowed with"),
        (["capacity", "status", "--port", "9000"], "--port applies only with --local"),
        (["capacity", "status", "--local", "--region", "eu-west-1"], "--region applies only"),
        (["capacity", "status", "--local", "--port", "http"], "'http' is not a port number"),
        (["capacity", "status", "--local", "--port", "70000"], "70000 is not a port number"),
    ],
)
def test_usage_errors_exit_2_with_the_usage_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert err.startswith("usage: trialgw-admin")
    assert says in err


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "capacity", "--help")
    assert code == 0
    assert "status" in out
    assert "reset" in out
    code, out, _ = run(capsys, "capacity", "status", "--help")
    assert code == 0
    for option in ("--local", "--stack", "--port", "--region", "--json"):
        assert option in out


def test_a_later_command_group_needs_only_a_registry_entry() -> None:
    def listing(target: cli.Target, args: Any) -> cli.Output:
        return cli.Output(data={}, text="")

    extra = cli.Command("keys", "show", "show one key", listing, lambda p: p.add_argument("key"))
    parser = cli.build_parser((*cli.COMMANDS, extra))
    args = parser.parse_args(["keys", "show", "k-1", "--local"])
    assert (args.handler, args.key, args.local) == (extra, "k-1", True)
    assert parser.parse_args(["capacity", "status"]).handler.run is cli.capacity_status


def test_every_command_has_a_documented_group() -> None:
    assert {command.group for command in cli.COMMANDS} <= set(cli.GROUPS)


def test_the_default_stack_is_the_one_cdk_deploys() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert context["stackName"] == cli.DEFAULT_STACK_NAME
    app = (ROOT / "infra" / "app.py").read_text()
    assert re.search(rf'^DEFAULT_STACK_NAME = "{cli.DEFAULT_STACK_NAME}"$', app, re.MULTILINE)


def test_table_outputs_are_named_as_the_stack_names_them() -> None:
    assert [stack_output_key(t) for t in names.TABLES] == [
        "TrialsTableName",
        "WhitelistTableName",
        "MessagesTableName",
        "IdempotencyTableName",
    ]


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object, object]]:
    """Records which target `main` resolves, and fails the command right after."""
    calls: list[tuple[str, object, object]] = []

    def local(port: int) -> cli.Target:
        calls.append(("local", port, None))
        raise cli.AdminError("stop here")

    def stack(name: str, region: str | None) -> cli.Target:
        calls.append(("stack", name, region))
        raise cli.AdminError("stop here")

    monkeypatch.setattr(cli, "local_target", local)
    monkeypatch.setattr(cli, "stack_target", stack)
    return calls


def test_without_a_target_it_is_the_default_stack_in_the_configured_region(
    capsys: pytest.CaptureFixture[str], resolved: list[tuple[str, object, object]]
) -> None:
    run(capsys, "capacity", "status")
    run(capsys, "capacity", "status", "--stack", "other", "--region", "us-east-1")
    assert resolved == [("stack", "trialgw", None), ("stack", "other", "us-east-1")]


def test_the_local_port_is_the_option_else_port_else_8080(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, resolved: list[tuple[str, object, object]]
) -> None:
    monkeypatch.delenv("PORT", raising=False)
    run(capsys, "capacity", "status", "--local")
    monkeypatch.setenv("PORT", "9100")
    run(capsys, "capacity", "status", "--local")
    run(capsys, "capacity", "status", "--local", "--port", "9200")
    assert [port for _, port, _ in resolved] == [8080, 9100, 9200]


def test_a_bad_port_variable_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "eighty")
    code, out, err = run(capsys, "capacity", "status", "--local")
    assert code == cli.EXIT_USAGE
    assert out == ""
    assert err.strip() == "trialgw-admin: error: PORT: 'eighty' is not a port number; give --port"


# --- output ----------------------------------------------------------------------------------------


def stub_target() -> cli.Target:
    client = boto3.client(
        "dynamodb", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x", config=Config()
    )
    return cli.Target(kind="stack", name="prod", region=REGION, tables={"trials": "t"}, dynamodb=client)


WINDOW = CapacityWindow(start=WINDOW_START, accepted=1003, limit=1000, window_seconds=3600)
TRIPPED = CapacityReport(
    breaker=BreakerState(tripped=True, tripped_at=WINDOW_START + 600, tripped_count=1001),
    current=WINDOW,
    ranked_window=WINDOW,
    top_senders=(
        TopSender("ab" * 32, "mallory@example.com", "203.0.113.0/24", WINDOW_START - 3600, 80),
        TopSender("cd" * 32, "eve@example.org", None, WINDOW_START - 60, 42),
    ),
)
CLOSED = CapacityReport(breaker=BreakerState(tripped=False), current=None)


def test_a_tripped_breaker_as_json() -> None:
    assert capacity_output(TRIPPED, target=stub_target(), now=NOW).data == {
        "target": "stack 'prod' in eu-west-1",
        "checkedAt": "2026-03-02T09:15:30Z",
        "breaker": {"tripped": True, "trippedAt": "2026-03-02T09:10:00Z", "trippedCount": 1001},
        "window": {
            "start": "2026-03-02T09:00:00Z",
            "end": "2026-03-02T10:00:00Z",
            "seconds": 3600,
            "count": 1003,
            "limit": 1000,
        },
        "topSenders": {
            "windowStart": "2026-03-02T09:00:00Z",
            "windowEnd": "2026-03-02T10:00:00Z",
            "trials": [
                {
                    "id": "abababababababab",
                    "email": "m***@e***.com",
                    "signupNetwork": "203.0.113.0/24",
                    "sent": 80,
                    "created": "2026-03-02T08:00:00Z",
                },
                {
                    "id": "cdcdcdcdcdcdcdcd",
                    "email": "e***@e***.org",
                    "signupNetwork": None,
                    "sent": 42,
                    "created": "2026-03-02T08:59:00Z",
                },
            ],
        },
    }


def test_a_tripped_breaker_as_a_table() -> None:
    assert capacity_output(TRIPPED, target=stub_target(), now=NOW).text == (
        "Capacity breaker of stack 'prod' in eu-west-1\n"
        "  breaker         OPEN: every send is refused until reset\n"
        "  tripped         yes\n"
        "  tripped at      2026-03-02T09:10:00Z\n"
        "  count at trip   1001\n"
        "  current window  2026-03-02T09:00:00Z to 2026-03-02T10:00:00Z\n"
        "  count / limit   1003 / 1000\n"
        "\n"
        "Trials that sent most in the window the breaker tripped in (2026-03-02T09:00:00Z to 2026-03-02T10:00:00Z):\n"
        "  ID                E-MAIL         SIGN-UP NETWORK  SENT  CREATED\n"
        "  abababababababab  m***@e***.com  203.0.113.0/24   80    2026-03-02T08:00:00Z\n"
        "  cdcdcdcdcdcdcdcd  e***@e***.org  -                42    2026-03-02T08:59:00Z\n"
        "\n"
        "  look closer   trialgw-admin trials show <ID> --stack prod --region eu-west-1\n"
        "  revoke        trialgw-admin trials revoke <ID> --stack prod --region eu-west-1"
        "   (its sends get 401 at once)\n"
        "  then reopen   trialgw-admin capacity reset --stack prod --region eu-west-1"
    )


def test_a_closed_breaker_without_sends_has_no_senders_to_rank() -> None:
    output = capacity_output(CLOSED, target=stub_target(), now=NOW)
    assert output.data["topSenders"] is None
    assert output.text.endswith("\n\nNo message accepted in the current window: no senders to rank.")


def test_a_reset_breaker_without_a_window() -> None:
    output = capacity_output(CLOSED, target=stub_target(), now=NOW, reset=True)
    assert output.data == {
        "reset": True,
        "target": "stack 'prod' in eu-west-1",
        "checkedAt": "2026-03-02T09:15:30Z",
        "breaker": {"tripped": False, "trippedAt": None, "trippedCount": None},
        "window": None,
    }
    assert output.text.splitlines() == [
        "Capacity breaker reset: counting starts afresh.",
        "Capacity breaker of stack 'prod' in eu-west-1",
        "  breaker         closed",
        "  tripped         no",
        "  tripped at      -",
        "  count at trip   -",
        "  current window  - (no message accepted in it yet)",
        "  count / limit   0 / -",
    ]


# --- a deployed stack (moto's CloudFormation) ------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def deploy(outputs: dict[str, Any], resources: dict[str, Any] | None = None, name: str = STACK) -> None:
    template = {
        "Resources": resources or {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def stack(aws: None) -> DynamoCapacityStore:
    """A deployed stack with the three tables; the trials table's capacity store."""
    resources = {
        f"{t.logical.capitalize()}Table": {"Type": "AWS::DynamoDB::Table", "Properties": key_schema()}
        for t in names.TABLES
    }
    deploy({stack_output_key(t): {"Ref": f"{t.logical.capitalize()}Table"} for t in names.TABLES}, resources)
    outputs = boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName=STACK)["Stacks"][0]
    trials = next(o["OutputValue"] for o in outputs["Outputs"] if o["OutputKey"] == "TrialsTableName")
    return DynamoCapacityStore(boto3.client("dynamodb", region_name=REGION), trials)


@pytest.fixture
def hour_start(monkeypatch: pytest.MonkeyPatch) -> int:
    """The start of this hour's capacity window; the command's clock stays two minutes into it, so a
    test that trips the breaker in this window still reads it as current when the run crosses the hour."""
    start = int(time.time()) // 3600 * 3600
    monkeypatch.setattr("trialgw_admin.capacity.time", SimpleNamespace(time=lambda: start + 120.0))
    return start


def test_status_of_a_deployed_stack(
    capsys: pytest.CaptureFixture[str], stack: DynamoCapacityStore, hour_start: int
) -> None:
    code, out, err = run(capsys, "capacity", "status", "--stack", STACK, "--region", REGION, "--json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert answer["target"] == f"stack '{STACK}' in {REGION}"
    assert answer["breaker"] == {"tripped": False, "trippedAt": None, "trippedCount": None}
    assert answer["window"] is None

    trip(stack, start=hour_start)
    code, out, err = run(capsys, "capacity", "status", "--stack", STACK)
    assert (code, err) == (0, "")
    assert re.search(r"^  breaker +OPEN", out, re.MULTILINE)
    assert re.search(r"^  count at trip +12$", out, re.MULTILINE)
    assert re.search(r"^  count / limit +12 / 10$", out, re.MULTILINE)


def test_reset_of_a_deployed_stack_closes_the_breaker_and_prints_only_json(
    capsys: pytest.CaptureFixture[str], stack: DynamoCapacityStore
) -> None:
    trip(stack)
    level = logger.log_level
    code, out, err = run(capsys, "capacity", "reset", "--stack", STACK, "--json")
    assert (code, err) == (0, "")
    # The logic's own log line (JSON for CloudWatch) does not mix into the command's JSON.
    answer = json.loads(out)
    assert answer["reset"] is True
    assert answer["breaker"]["tripped"] is False
    assert answer["window"] is None
    assert not stack.breaker().tripped
    assert stack.windows() == []
    assert logger.log_level == level


def test_a_stack_that_does_not_exist(capsys: pytest.CaptureFixture[str], aws: None) -> None:
    code, out, err = run(capsys, "capacity", "status", "--stack", "nope")
    assert_one_line_error(code, out, err, "stack 'nope' does not exist in eu-west-1")


def test_a_stack_without_the_table_output(capsys: pytest.CaptureFixture[str], aws: None) -> None:
    deploy({"WhitelistTableName": "w"})
    code, out, err = run(capsys, "capacity", "status", "--stack", STACK)
    assert_one_line_error(code, out, err, f"stack '{STACK}' in eu-west-1 has no output TrialsTableName")


def test_an_output_naming_a_missing_table_is_a_dynamodb_error(capsys: pytest.CaptureFixture[str], aws: None) -> None:
    deploy({"TrialsTableName": "gone"})
    code, out, err = run(capsys, "capacity", "reset", "--stack", STACK)
    assert_one_line_error(code, out, err)
    assert err.strip() == (
        f"trialgw-admin: error: stack '{STACK}' in eu-west-1: could not read the capacity windows: "
        "ResourceNotFoundException: Requested resource not found"
    )


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_without_credentials(capsys: pytest.CaptureFixture[str], no_aws_config: None) -> None:
    code, out, err = run(capsys, "capacity", "status", "--region", REGION)
    assert_one_line_error(code, out, err, "no AWS credentials found")


def test_without_a_region(capsys: pytest.CaptureFixture[str], no_aws_config: None) -> None:
    code, out, err = run(capsys, "capacity", "status")
    assert_one_line_error(code, out, err, "no AWS region configured", "--region")


def test_a_missing_profile(
    capsys: pytest.CaptureFixture[str], no_aws_config: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nobody")
    code, out, err = run(capsys, "capacity", "status", "--region", REGION)
    assert_one_line_error(code, out, err, "nobody")


# --- DynamoDB failures (Stubber) -------------------------------------------------------------------


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    target = cli.Target(kind="stack", name="prod", region=REGION, tables={"trials": "t"}, dynamodb=client)
    monkeypatch.setattr(cli, "resolve_target", lambda _args: target)
    with Stubber(client) as stubber:
        yield stubber


def test_a_throttled_status(capsys: pytest.CaptureFixture[str], stubbed: Stubber) -> None:
    stubbed.add_client_error("query", "ProvisionedThroughputExceededException", "Rate of requests exceeds")
    code, out, err = run(capsys, "capacity", "status")
    assert_one_line_error(
        code,
        out,
        err,
        "could not read the capacity windows",
        "ProvisionedThroughputExceededException: Rate of requests exceeds",
    )


def test_a_denied_reset(capsys: pytest.CaptureFixture[str], stubbed: Stubber) -> None:
    stubbed.add_response("query", {"Items": []})
    stubbed.add_client_error("put_item", "AccessDeniedException", "not authorized to perform dynamodb:PutItem")
    code, out, err = run(capsys, "capacity", "reset", "--json")
    assert_one_line_error(code, out, err, "could not reset the capacity breaker", "AccessDeniedException")


def test_credentials_missing_at_dynamodb(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_aws_config: None
) -> None:
    # A session of its own: boto3's default session keeps credentials other tests' environments gave it.
    client = boto3.session.Session(region_name=REGION).client("dynamodb")
    target = cli.Target(kind="stack", name="prod", region=REGION, tables={"trials": "t"}, dynamodb=client)
    monkeypatch.setattr(cli, "resolve_target", lambda _args: target)
    code, out, err = run(capsys, "capacity", "status")
    assert_one_line_error(code, out, err, "no AWS credentials found")


# --- the local stack -------------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[int, DynamoCapacityStore]]:
    """A gateway answering `/_local/aws` on a free port, for a moto server with a trials table of its own."""
    moto = MotoBackend(MailOutbox())
    endpoint = moto.start()
    client = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
    )
    # moto's memory is per process: a name of its own keeps other tests' tables apart.
    table = f"test-trials-{uuid.uuid4().hex[:8]}"
    client.create_table(TableName=table, **key_schema())
    # The operator's AWS settings (here: a profile that does not exist) must not matter to --local. Set only
    # now: moto itself reads the AWS configuration when it first builds its DynamoDB backend (above).
    monkeypatch.setenv("AWS_PROFILE", "an-operator-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    http = LocalHttpServer("127.0.0.1", 0)
    http.gateway = LocalGateway(
        routes=[],
        functions=FunctionHost([]),
        site=StaticSite(tmp_path),
        outbox=MailOutbox(),
        base_url=f"http://127.0.0.1:{http.port}",
        aws=LocalAws(endpoint=endpoint, region=REGION, tables={"trials": table, "whitelist": "w", "messages": "m"}),
        log=lambda _line: None,
    )
    serving = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    try:
        yield http.port, DynamoCapacityStore(client, table)
    finally:
        http.shutdown()
        http.server_close()
        client.delete_table(TableName=table)
        moto.stop()


def test_status_and_reset_of_the_local_stack(
    capsys: pytest.CaptureFixture[str], local: tuple[int, DynamoCapacityStore], hour_start: int
) -> None:
    port, store = local
    trip(store, start=hour_start)
    code, out, err = run(capsys, "capacity", "status", "--local", "--port", str(port), "--json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert answer["target"] == f"the local stack at http://127.0.0.1:{port}"
    assert answer["breaker"]["tripped"] is True
    assert answer["breaker"]["trippedCount"] == 12
    assert (answer["window"]["count"], answer["window"]["limit"], answer["window"]["seconds"]) == (12, 10, 3600)

    code, out, err = run(capsys, "capacity", "reset", "--local", "--port", str(port))
    assert (code, err) == (0, "")
    assert out.startswith("Capacity breaker reset")
    assert re.search(r"^  tripped +no$", out, re.MULTILINE)
    assert not store.breaker().tripped


def test_no_local_stack_running(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code, out, err = run(capsys, "capacity", "status", "--local", "--port", str(port))
    assert_one_line_error(code, out, err, f"no local stack is running at http://127.0.0.1:{port}", "make dev")


def test_something_else_on_the_port(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    http = LocalHttpServer("127.0.0.1", 0)
    # A local stack from before `/_local/aws` existed answers it with 503.
    http.gateway = LocalGateway(
        routes=[],
        functions=FunctionHost([]),
        site=StaticSite(tmp_path),
        outbox=MailOutbox(),
        base_url="http://127.0.0.1",
        log=lambda _line: None,
    )
    serving = threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    try:
        code, out, err = run(capsys, "capacity", "status", "--local", "--port", str(http.port))
    finally:
        http.shutdown()
        http.server_close()
    assert_one_line_error(code, out, err, "does not look like a trialgw local stack", "HTTP 503")


# --- trials and whitelist (a deployed stack on moto) -----------------------------------------------

JANE_PHONE = "+31612345678"
JOHN_PHONE = "+31687654321"
PSID = "1234567890"


@dataclass(frozen=True)
class Seeded:
    """The stack's tables and the trials put in them: key hashes by name."""

    tables: dict[str, str]
    trials: dict[str, str]

    @property
    def client(self) -> Any:
        return boto3.client("dynamodb", region_name=REGION)

    def trial_store(self) -> DynamoTrialStore:
        return DynamoTrialStore(self.client, self.tables["trials"])

    def whitelist_store(self) -> DynamoWhitelistStore:
        return DynamoWhitelistStore(self.client, self.tables["whitelist"], self.tables["trials"])


def _stack_tables() -> dict[str, str]:
    outputs = boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName=STACK)["Stacks"][0]
    by_key = {o["OutputKey"]: o["OutputValue"] for o in outputs["Outputs"]}
    return {t.logical: by_key[stack_output_key(t)] for t in names.TABLES}


def _trial(name: str, email: str, company: str | None, created: int, expires: int) -> Trial:
    return Trial(hash_key(new_key()), name, email, company, created, expires)


@pytest.fixture
def seeded(stack: DynamoCapacityStore) -> Seeded:
    """Three trials (jane active with recipients, sends and messages; john expired; mary revoked), a tripped
    capacity breaker and a signup counter in the same table."""
    now = int(time.time())
    seeded = Seeded(tables=_stack_tables(), trials={})
    trials = seeded.trial_store()
    jane = _trial("Jane Doe", "jane.doe@example.com", "Acme", now - 600, now + 86400)
    john = _trial("John Roe", "john@example.org", None, now - 3 * 86400, now - 60)
    mary = _trial("Mary Major", "mary@example.net", "Initech", now - 86400, now + 3600)
    for trial in (jane, john, mary):
        trials.create(trial, ttl=trial.expires_at + 86400)
        seeded.trials[trial.name.split()[0].lower()] = trial.key_hash
    assert trials.revoke(mary.key_hash)
    whitelist = seeded.whitelist_store()
    for at, (channel, address) in enumerate([(Channel.WHATSAPP, JANE_PHONE), (Channel.MESSENGER, PSID)]):
        whitelist.add(jane, channel, address, now=now - 500 + at, limit=10, ttl=jane.expires_at)
    for _ in range(2):
        assert trials.take_quota(
            jane.key_hash,
            Channel.WHATSAPP,
            JANE_PHONE,
            now=now,
            limit=10,
            message_id=uuid.uuid4().hex,
            capacity_window=now - now % 3600,
        ).taken
    log = DynamoMessageLog(seeded.client, seeded.tables["messages"])
    for i in range(12):
        log.record(
            LoggedMessage(
                key_hash=jane.key_hash,
                direction="outbound",
                channel=Channel.WHATSAPP,
                counterpart=JANE_PHONE,
                text=f"message {i}",
                at=now - 100 + i,
                message_id=f"m-{i:02d}",
                payload="{}",
                ttl=now + 86400,
                status="queued",
            )
        )
    trip(stack)
    DynamoSignupCounter(seeded.client, seeded.tables["trials"]).acquire(
        [SignupCount("mailbox", "subject", now // 3600 * 3600, 3600, 5)]
    )
    return seeded


def test_capacity_status_names_the_trials_that_sent_most_in_the_window_it_tripped_in(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    code, out, err = run(capsys, "capacity", "status", "--stack", STACK, "--json")
    assert (code, err) == (0, "")
    senders = json.loads(out)["topSenders"]
    assert senders["trials"] == [
        {
            "id": tid(seeded, "jane"),
            "email": "j***@e***.com",
            "signupNetwork": None,
            "sent": 2,
            "created": senders["trials"][0]["created"],
        }
    ]
    code, out, err = run(capsys, "capacity", "status", "--stack", STACK)
    assert "Trials that sent most in the window the breaker tripped in" in out
    assert f"trialgw-admin trials revoke <ID> --stack {STACK} --region {REGION}" in out


def tid(seeded: Seeded, who: str) -> str:
    return trial_id(seeded.trials[who])


def test_trial_commands_parse_their_arguments() -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["trials", "list", "--limit", "5", "--local"])
    assert (args.handler.run, args.limit) == (cli.trials_list, 5)
    assert parser.parse_args(["trials", "list"]).limit == DEFAULT_TRIALS_LIMIT
    args = parser.parse_args(["trials", "show", "0123456789ABCDEF"])
    assert (args.handler.run, args.trial_id) == (cli.trials_show, "0123456789abcdef")
    assert parser.parse_args(["trials", "revoke", "0123456789abcdef"]).handler.run is cli.trials_revoke
    assert parser.parse_args(["whitelist", "list", "0123456789abcdef"]).handler.run is cli.whitelist_list


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["trials", "show"], "required: TRIAL-ID"),
        (["trials", "show", "jane"], "'jane' is not a trial id (16 hex digits"),
        (["trials", "revoke", "0123456789abcdeg"], "is not a trial id"),
        (["whitelist", "list", "0123456789abcdef0"], "is not a trial id"),
        (["trials", "list", "--limit", "0"], "0 is not a positive number"),
        (["trials", "list", "--limit", "many"], "'many' is not a number"),
    ],
)
def test_trial_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (cli.EXIT_USAGE, "")
    assert err.startswith("usage: trialgw-admin")
    assert says in err


def test_trials_list_newest_first_as_json(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "trials", "list", "--stack", STACK, "--json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert answer["target"] == f"stack '{STACK}' in {REGION}"
    assert answer["total"] == 3
    assert [t["id"] for t in answer["trials"]] == [tid(seeded, "jane"), tid(seeded, "mary"), tid(seeded, "john")]
    jane, mary, john = answer["trials"]
    assert jane["email"] == "j***@e***.com"
    assert (jane["name"], jane["company"], jane["status"], jane["whitelisted"]) == ("Jane Doe", "Acme", "active", 2)
    assert jane["sent"] == {"SMS": 0, "WhatsApp": 2, "Facebook Messenger": 0, "Instagram": 0}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", jane["created"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", jane["expires"])
    assert (mary["status"], mary["company"]) == ("revoked", "Initech")
    assert (john["status"], john["company"], john["whitelisted"]) == ("expired", None, 0)
    assert "jane.doe" not in out


def test_trials_list_as_a_table_with_a_limit(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "trials", "list", "--stack", STACK, "--limit", "2")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"2 of 3 trial(s) of stack '{STACK}' in {REGION}, newest first"
    assert lines[1].split() == [
        "ID",
        "E-MAIL",
        "NAME",
        "COMPANY",
        "CREATED",
        "EXPIRES",
        "STATUS",
        "WHITELISTED",
        "SENT",
    ]
    assert len(lines) == 4
    assert lines[2].startswith(f"  {tid(seeded, 'jane')}  j***@e***.com  Jane Doe")
    assert re.search(r"Acme +\S+Z +\S+Z +active +2 +SMS 0 WhatsApp 2 Messenger 0 Instagram 0$", lines[2])
    assert " Mary Major " in lines[3]
    assert " revoked " in lines[3]


def test_trials_list_of_an_empty_stack(capsys: pytest.CaptureFixture[str], stack: DynamoCapacityStore) -> None:
    trip(stack)
    code, out, err = run(capsys, "trials", "list", "--stack", STACK)
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == ["  (none)"]
    code, out, _ = run(capsys, "trials", "list", "--stack", STACK, "--json")
    assert json.loads(out) == {"target": f"stack '{STACK}' in {REGION}", "total": 0, "trials": []}


def test_trials_show_as_json(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "trials", "show", tid(seeded, "jane"), "--stack", STACK, "--json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert (answer["id"], answer["email"], answer["status"], answer["whitelisted"]) == (
        tid(seeded, "jane"),
        "j***@e***.com",
        "active",
        2,
    )
    assert answer["recipients"] == [
        {"channel": "Facebook Messenger", "recipient": PSID},
        {"channel": "WhatsApp", "recipient": JANE_PHONE},
    ]
    # The latest 10 of 12, newest first.
    assert [m["id"] for m in answer["messages"]] == [f"m-{i:02d}" for i in range(11, 1, -1)]
    first = answer["messages"][0]
    assert (first["direction"], first["channel"], first["counterpart"], first["text"], first["status"]) == (
        "outbound",
        "WhatsApp",
        JANE_PHONE,
        "message 11",
        "queued",
    )


def test_trials_show_as_a_table(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    code, out, err = run(capsys, "trials", "show", tid(seeded, "john"), "--stack", STACK)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"Trial {tid(seeded, 'john')} of stack '{STACK}' in {REGION}"
    assert re.search(r"^  status +expired$", out, re.MULTILINE)
    assert re.search(r"^  company +-$", out, re.MULTILINE)
    assert "Whitelisted recipients (0)\n  (none)\nLatest messages (0, newest first)\n  (none)" in out

    code, out, _ = run(capsys, "trials", "show", tid(seeded, "jane"), "--stack", STACK)
    assert re.search(r"^  Facebook Messenger +1234567890$", out, re.MULTILINE)
    assert re.search(r"^  \S+Z +outbound +WhatsApp +\+31612345678 +queued +message 11$", out, re.MULTILINE)


@pytest.mark.parametrize("argv", [("trials", "show"), ("trials", "revoke"), ("whitelist", "list")])
def test_an_unknown_trial_id(capsys: pytest.CaptureFixture[str], seeded: Seeded, argv: tuple[str, str]) -> None:
    code, out, err = run(capsys, *argv, "0123456789abcdef", "--stack", STACK)
    assert_one_line_error(code, out, err, f"no trial 0123456789abcdef on stack '{STACK}' in {REGION}")


def test_trials_revoke(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    jane = seeded.trials["jane"]
    code, out, err = run(capsys, "trials", "revoke", tid(seeded, "jane"), "--stack", STACK, "--json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert (answer["revoked"], answer["previousStatus"], answer["status"]) == (True, "active", "revoked")
    trial = seeded.trial_store().get(jane)
    assert trial is not None
    assert trial.status is TrialStatus.REVOKED
    assert not (
        seeded.trial_store()
        .take_quota(
            jane,
            Channel.WHATSAPP,
            JANE_PHONE,
            now=int(time.time()),
            limit=10,
            message_id="m-after-revoke",
            capacity_window=0,
        )
        .taken
    )

    code, out, err = run(capsys, "trials", "revoke", tid(seeded, "jane"), "--stack", STACK)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == (
        f"Trial {tid(seeded, 'jane')} revoked (it was already revoked): its key is refused from now on, everywhere."
    )
    assert re.search(r"^  status +revoked$", out, re.MULTILINE)


def test_revoke_of_a_trial_that_is_gone_is_false(seeded: Seeded) -> None:
    store = seeded.trial_store()
    store.delete(seeded.trials["john"])
    assert store.revoke(seeded.trials["john"]) is False
    assert store.get(seeded.trials["john"]) is None


def test_whitelist_list(capsys: pytest.CaptureFixture[str], seeded: Seeded) -> None:
    jane = seeded.trials["jane"]
    # An entry whose member is no longer on the trial item is not whitelisted.
    seeded.client.update_item(
        TableName=seeded.tables["trials"],
        Key={"pk": {"S": f"{names.TRIAL_PK_PREFIX}{jane}"}, "sk": {"S": names.TRIAL_SK}},
        UpdateExpression="DELETE #m :gone",
        ExpressionAttributeNames={"#m": names.MEMBERS_ATTRIBUTE},
        ExpressionAttributeValues={":gone": {"SS": [f"Facebook Messenger#{PSID}"]}},
    )
    code, out, err = run(capsys, "whitelist", "list", tid(seeded, "jane"), "--stack", STACK, "--json")
    assert (code, err) == (0, "")
    answer = json.loads(out)
    assert answer["id"] == tid(seeded, "jane")
    assert [(r["channel"], r["recipient"]) for r in answer["recipients"]] == [("WhatsApp", JANE_PHONE)]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", answer["recipients"][0]["whitelistedAt"])

    code, out, err = run(capsys, "whitelist", "list", tid(seeded, "jane"), "--stack", STACK)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"1 whitelisted recipient(s) of trial {tid(seeded, 'jane')} on stack '{STACK}' in {REGION}"
    assert lines[1].split() == ["CHANNEL", "RECIPIENT", "WHITELISTED", "AT"]
    assert re.fullmatch(r"  WhatsApp +\+31612345678 +\S+Z", lines[2])

    code, out, _ = run(capsys, "whitelist", "list", tid(seeded, "john"), "--stack", STACK)
    assert out.splitlines()[1:] == ["  (none)"]


def test_the_trials_scan_pages_through_the_table(capsys: pytest.CaptureFixture[str], stubbed: Stubber) -> None:
    now = int(time.time())
    hashes = [hash_key(new_key()) for _ in range(2)]

    def item(key_hash: str, created: int, **extra: Any) -> dict[str, Any]:
        return {
            "key_hash": {"S": key_hash},
            "trial_id": {"S": trial_id(key_hash)},
            "name": {"S": "N"},
            "email": {"S": "n@example.com"},
            "created_at": {"N": str(created)},
            "expires_at": {"N": str(now + 60)},
            "status": {"S": "active"},
            **extra,
        }

    last = {"pk": {"S": f"TRIAL#{hashes[0]}"}, "sk": {"S": "TRIAL"}}
    stubbed.add_response(
        "scan",
        {"Items": [{"key_hash": {"S": hashes[0]}, "created_at": {"N": str(now - 10)}}], "LastEvaluatedKey": last},
    )
    stubbed.add_response(
        "scan",
        {"Items": [{"key_hash": {"S": hashes[1]}, "created_at": {"N": str(now)}}]},
        {
            "TableName": "t",
            "FilterExpression": "begins_with(#pk, :prefix) AND #sk = :sk",
            "ProjectionExpression": "#hash, #created",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk", "#hash": "key_hash", "#created": "created_at"},
            "ExpressionAttributeValues": {":prefix": {"S": "TRIAL#"}, ":sk": {"S": "TRIAL"}},
            "ConsistentRead": True,
            "ExclusiveStartKey": last,
        },
    )
    stubbed.add_response("get_item", {"Item": item(hashes[1], now)})
    stubbed.add_response("get_item", {"Item": item(hashes[0], now - 10)})
    code, out, err = run(capsys, "trials", "list", "--json")
    assert (code, err) == (0, "")
    assert [t["id"] for t in json.loads(out)["trials"]] == [trial_id(hashes[1]), trial_id(hashes[0])]


def test_a_denied_scan(capsys: pytest.CaptureFixture[str], stubbed: Stubber) -> None:
    stubbed.add_client_error("scan", "AccessDeniedException", "not authorized to perform dynamodb:Scan")
    code, out, err = run(capsys, "trials", "show", "0123456789abcdef")
    assert_one_line_error(code, out, err, "stack 'prod' in eu-west-1: could not scan the trials: AccessDeniedException")


def test_a_trial_key_in_a_message_is_not_printed() -> None:
    key = new_key()
    message = StoredMessage(
        message_id="m-1",
        direction="inbound",
        channel=Channel.WHATSAPP,
        counterpart=JANE_PHONE,
        text=f"join {key.upper()} please",
        at=NOW,
        payload="{}",
        status=None,
        reason=None,
    )
    data = message_data(message)
    assert data["text"] == f"join {KEY_PLACEHOLDER} please"
    assert data["at"] == "2026-03-02T09:15:30Z"


# --- messages tail ---------------------------------------------------------------------------------


def test_messages_tail_parses_its_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["messages", "tail", "0123456789ABCDEF", "-n", "5", "-f", "--interval", "0.5"])
    assert (args.handler.run, args.trial_id, args.lines, args.follow, args.interval) == (
        cli.messages_tail,
        "0123456789abcdef",
        5,
        True,
        0.5,
    )
    args = parser.parse_args(["messages", "tail", "0123456789abcdef"])
    assert (args.lines, args.follow, args.interval) == (DEFAULT_TAIL_LINES, False, None)
    for argv, says in [
        (["--interval", "3"], "--interval applies only with --follow"),
        (["-f", "--interval", "0.1"], "'0.1': poll at most every 0.5 s"),
        (["-f", "--interval", "nan"], "'nan': poll at most every 0.5 s"),
        (["-n", "0"], "0 is not a positive number"),
    ]:
        code, out, err = run(capsys, "messages", "tail", "0123456789abcdef", *argv)
        assert (code, out) == (cli.EXIT_USAGE, "")
        assert says in err


def test_messages_tail_prints_the_latest_messages_oldest_first(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    code, out, err = run(capsys, "messages", "tail", tid(seeded, "jane"), "--stack", STACK, "-n", "3")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"Last 3 message(s) of trial {tid(seeded, 'jane')} on stack '{STACK}' in {REGION}, oldest first"
    assert lines[1].split() == ["AT", "ID", "DIRECTION", "CHANNEL", "COUNTERPART", "STATUS", "TEXT"]
    assert [line.split()[1] for line in lines[2:]] == ["m-09", "m-10", "m-11"]
    assert re.fullmatch(r"  \S+Z +m-11 +outbound +WhatsApp +\+31612345678 +queued +message 11", lines[-1])
    # The columns line up under the heading.
    assert {line.index("outbound") for line in lines[2:]} == {lines[1].index("DIRECTION")}

    code, out, err = run(capsys, "messages", "tail", tid(seeded, "jane"), "--stack", STACK, "--json")
    answer = json.loads(out)
    assert (answer["id"], len(answer["messages"])) == (tid(seeded, "jane"), 12)
    assert answer["messages"][0]["id"] == "m-00"

    code, out, _ = run(capsys, "messages", "tail", tid(seeded, "john"), "--stack", STACK)
    assert (code, out.splitlines()[2:]) == (0, [])


def test_messages_tail_shows_a_refused_send_with_its_answer_in_arrival_order(
    capsys: pytest.CaptureFixture[str], seeded: Seeded
) -> None:
    jane = seeded.trials["jane"]
    log = DynamoMessageLog(seeded.client, seeded.tables["messages"])
    now = int(time.time())
    # Two in one second, the later one refused: milliseconds order them whatever their ids.
    for at_ms, message_id, status, reason, code in (
        (now * 1000 + 5, "z-first", "queued", None, None),
        (now * 1000 + 6, "a-refused", "refused", "You have reached the maximum amount", 102),
    ):
        log.record(
            LoggedMessage(
                key_hash=jane,
                direction="outbound",
                channel=Channel.WHATSAPP,
                counterpart=JANE_PHONE,
                text=f"text of {message_id}",
                at=now,
                at_ms=at_ms,
                message_id=message_id,
                payload="{}",
                ttl=now + 86400,
                status=status,
                reason=reason,
                error_code=code,
            )
        )
    code, out, err = run(capsys, "messages", "tail", tid(seeded, "jane"), "--stack", STACK, "-n", "2")
    assert (code, err) == (0, "")
    first, refused = out.splitlines()[2:]
    assert first.split()[1:3] == ["z-first", "outbound"]
    assert refused.split()[1] == "a-refused"
    assert refused.split()[5] == "refused"
    assert refused.endswith("text of a-refused  [errorCode 102: You have reached the maximum amount]")
    assert re.fullmatch(r"  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.006Z .*", refused)

    code, out, _ = run(capsys, "messages", "tail", tid(seeded, "jane"), "--stack", STACK, "-n", "1", "--json")
    (shown,) = json.loads(out)["messages"]
    assert (shown["status"], shown["errorCode"], shown["reason"]) == (
        "refused",
        102,
        "You have reached the maximum amount",
    )


def test_messages_tail_follows_new_messages_and_status_changes(monkeypatch: pytest.MonkeyPatch, seeded: Seeded) -> None:
    jane = seeded.trials["jane"]
    log = DynamoMessageLog(seeded.client, seeded.tables["messages"])
    now = int(time.time())
    sleeps: list[float] = []

    # Between the first and the second read: one new message, and m-11 goes from queued to sent.
    def first_changes() -> None:
        log.record(
            LoggedMessage(
                key_hash=jane,
                direction="inbound",
                channel=Channel.WHATSAPP,
                counterpart=JANE_PHONE,
                text="hello back",
                at=now,
                message_id="m-new",
                payload="{}",
                ttl=now + 86400,
                status=None,
            )
        )
        # m-11 as the fixture recorded it (its clock may have read another second than this test's).
        (m11,) = [m for m in log.page(jane, limit=20, cursor=None).messages if m.message_id == "m-11"]
        assert log.set_status(MessageRef(jane, m11.at, "m-11"), MessageStatus.SENT, at=now)

    changes = iter([first_changes, lambda: None, lambda: None])

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        next(changes)()

    monkeypatch.setattr("trialgw_admin.messages.time", SimpleNamespace(time=time.time, sleep=sleep))
    args = cli.build_parser().parse_args(
        ["messages", "tail", tid(seeded, "jane"), "--stack", STACK, "-n", "2", "--follow", "--interval", "1.5"]
    )
    output = cli.messages_tail(cli.resolve_target(args), args)
    assert output.text.splitlines()[0].endswith("oldest first; following (every 1.5 s, Ctrl-C to stop)")
    assert output.compact
    assert output.follow is not None
    # In the messages' order (m-11 is older than the new one), each once.
    first, second = next(output.follow), next(output.follow)
    assert (first.data["event"], first.data["id"], first.data["status"]) == ("status", "m-11", "sent")
    assert " m-11 " in first.text
    assert " sent " in first.text
    assert (second.data["event"], second.data["id"], second.data["text"]) == ("message", "m-new", "hello back")
    assert second.render(as_json=True) == json.dumps(second.data)
    assert sleeps == [1.5]


def test_messages_tail_follow_is_json_lines_and_ctrl_c_ends_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, seeded: Seeded
) -> None:
    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("trialgw_admin.messages.time", SimpleNamespace(time=time.time, sleep=interrupt))
    code, out, err = run(capsys, "messages", "tail", tid(seeded, "jane"), "--stack", STACK, "-f", "--json")
    assert (code, err) == (cli.EXIT_INTERRUPTED, "")
    (line,) = out.splitlines()
    assert [m["id"] for m in json.loads(line)["messages"]][-1] == "m-11"
