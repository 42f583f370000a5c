"""Where a command runs: a deployed stack (its table names from its CloudFormation outputs) or the local stack of
`make dev` (from its `/_local/aws`), with a DynamoDB client for it. Nothing heavy is imported until one is resolved.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trialgw import names
from trialgw_admin.errors import EXIT_USAGE, NO_CREDENTIALS, AdminError, error_detail

if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.config import Config
    from mypy_boto3_cloudformation.type_defs import StackTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient

# infra/app.py's DEFAULT_STACK_NAME and cdk.json's stackName (a test keeps them equal).
DEFAULT_STACK_NAME = "trialgw"
LOCAL_HOST = "127.0.0.1"
# infra/local/stack.py's default port; PORT overrides it there and here.
DEFAULT_PORT = 8080
LOCAL_AWS_PATH = "/_local/aws"
# moto accepts any credentials; these keep a real profile out of it.
LOCAL_CREDENTIAL = "testing"
LOCAL_TIMEOUT_SECONDS = 5


def stack_output_key(table: names.TableDef) -> str:
    """The CloudFormation output naming a table (infra/stack.py `_outputs`), e.g. `TrialsTableName`."""
    return f"{table.logical.capitalize()}TableName"


@dataclass(frozen=True, slots=True)
class Target:
    """A stack to run commands against: its tables (logical name → physical name) and a DynamoDB client."""

    kind: Literal["local", "stack"]
    # The local stack's URL, or the CloudFormation stack's name.
    name: str
    region: str
    tables: Mapping[str, str]
    dynamodb: DynamoDBClient

    @property
    def description(self) -> str:
        if self.kind == "local":
            return f"the local stack at {self.name}"
        return f"stack {self.name!r} in {self.region}"

    @property
    def options(self) -> str:
        """The options that run another command against this target, for the hints commands print."""
        if self.kind == "local":
            from urllib.parse import urlsplit

            return f"--local --port {urlsplit(self.name).port or DEFAULT_PORT}"
        return f"--stack {self.name} --region {self.region}"

    def table(self, table: names.TableDef) -> str:
        """The physical name of `table`; AdminError when the stack does not name it."""
        found = self.tables.get(table.logical)
        if found:
            return found
        if self.kind == "stack":
            raise AdminError(
                f"{self.description} has no output {stack_output_key(table)}: is it a trialgw stack, fully deployed?"
            )
        raise AdminError(f"{self.description} names no {table.logical} table on {LOCAL_AWS_PATH}")


def boto_config() -> Config:
    from botocore.config import Config

    return Config(connect_timeout=5, read_timeout=15, retries={"mode": "standard", "max_attempts": 3})


def local_target(port: int) -> Target:
    """The local stack on 127.0.0.1:`port`: where its moto runs and its table names, from `/_local/aws`."""
    url = f"http://{LOCAL_HOST}:{port}"
    aws = _local_aws(url)
    import boto3
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        # The operator's AWS profile and files have no say here: moto needs none of them.
        core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        core.set_config_variable("config_file", os.devnull)
        core.set_config_variable("credentials_file", os.devnull)
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIAL,
            aws_secret_access_key=LOCAL_CREDENTIAL,
            aws_session_token=LOCAL_CREDENTIAL,
            region_name=aws["region"],
            botocore_session=core,
        )
        dynamodb = session.client("dynamodb", endpoint_url=aws["endpoint"], config=boto_config())
    except BotoCoreError as error:
        raise AdminError(f"could not set up a DynamoDB client for {url}: {error_detail(error)}") from error
    return Target(kind="local", name=url, region=aws["region"], tables=aws["tables"], dynamodb=dynamodb)


def _local_aws(url: str) -> dict[str, Any]:
    not_ours = f"{url} does not look like a trialgw local stack (no usable {LOCAL_AWS_PATH})"
    try:
        aws = json.loads(_read_local_aws(url, not_ours))
    except ValueError:
        raise AdminError(f"{not_ours}: its answer is not JSON") from None
    if not (
        isinstance(aws, dict)
        and isinstance(aws.get("endpoint"), str)
        and isinstance(aws.get("region"), str)
        and isinstance(aws.get("tables"), dict)
        and all(isinstance(v, str) for v in aws["tables"].values())
    ):
        raise AdminError(f"{not_ours}: unexpected answer")
    return aws


def _read_local_aws(url: str, not_ours: str) -> bytes:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url + LOCAL_AWS_PATH, timeout=LOCAL_TIMEOUT_SECONDS) as response:  # noqa: S310
            body: bytes = response.read()
    except urllib.error.HTTPError as error:
        error.close()
        raise AdminError(f"{not_ours}: HTTP {error.code}") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, ConnectionRefusedError):
            raise AdminError(
                f"no local stack is running at {url}: start it with `make dev`, or give its port (--port or PORT)"
            ) from None
        raise AdminError(f"could not reach the local stack at {url}: {error.reason}") from None
    except OSError as error:
        # A timeout, or the connection dropped mid-answer.
        raise AdminError(f"could not reach the local stack at {url}: {error}") from None
    return body


def stack_target(stack_name: str, region: str | None) -> Target:
    """A deployed stack: its table names from its CloudFormation outputs, in `region` or the configured one."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        session: Session = boto3.session.Session(region_name=region)
        region_name = session.region_name
        if not region_name:
            raise NoRegionError
        cloudformation = session.client("cloudformation", config=boto_config())
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        dynamodb = session.client("dynamodb", config=boto_config())
    except NoRegionError:
        raise AdminError(
            "no AWS region configured: give --region, or set AWS_REGION or a region in your AWS profile"
        ) from None
    except NoCredentialsError:
        raise AdminError(NO_CREDENTIALS) from None
    except ClientError as error:
        detail = error_detail(error)
        if "does not exist" in detail:
            raise AdminError(f"stack {stack_name!r} does not exist in {region_name}") from None
        raise AdminError(f"could not read stack {stack_name!r} in {region_name}: {detail}") from None
    except BotoCoreError as error:
        raise AdminError(f"could not read stack {stack_name!r}: {error_detail(error)}") from None
    if not stacks:
        raise AdminError(f"stack {stack_name!r} does not exist in {region_name}")
    outputs = stack_outputs(stacks[0])
    tables = {t.logical: outputs[stack_output_key(t)] for t in names.TABLES if outputs.get(stack_output_key(t))}
    return Target(kind="stack", name=stack_name, region=region_name, tables=tables, dynamodb=dynamodb)


def stack_outputs(stack: StackTypeDef) -> dict[str, str]:
    """A CloudFormation stack's outputs, by key."""
    return {o.get("OutputKey", ""): o.get("OutputValue", "") for o in stack.get("Outputs", [])}


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{port} is not a port number (1-65535)")
    return port


def port_argument(raw: str) -> int:
    """argparse's type for --port."""
    try:
        return _port(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def port_from_environment() -> int:
    """The local stack's port when --port is not given: PORT, as `make dev` reads it, else the default."""
    raw = os.environ.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        return _port(raw)
    except ValueError as error:
        raise AdminError(f"PORT: {error}; give --port", EXIT_USAGE) from None
