"""`trialgw-admin`: operator commands against a deployed stack or the local one (`make dev`).

    trialgw-admin capacity status [--local [--port N] | --stack NAME [--region R]] [--json]
    trialgw-admin capacity reset  [same options]
    trialgw-admin trials list [--limit N] | show TRIAL-ID | revoke TRIAL-ID  [same options]
    trialgw-admin whitelist list TRIAL-ID  [same options]
    trialgw-admin messages tail TRIAL-ID [--lines N] [--follow [--interval S]]  [same options]
    trialgw-admin providers set-credential KEY [--stack NAME [--region R]]  (value on stdin or a hidden prompt)

Each command first resolves a `Target` (the stack's table names and a DynamoDB client), then runs the
same adapters and logic the functions use against it. A failure the operator can act on (no local
stack, no credentials, no such stack, DynamoDB refused) is one line on stderr and exit code 1; a usage
error is exit code 2. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trialgw import names
from trialgw.errors import StoreError

if TYPE_CHECKING:
    from boto3.session import Session
    from botocore.config import Config
    from mypy_boto3_dynamodb import DynamoDBClient

    from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
    from trialgw.adapters.dynamo_trials import DynamoTrialStore
    from trialgw.logic.capacity import CapacityReport
    from trialgw.models import TrialState
    from trialgw.ports import MessageLog, StoredMessage, WhitelistEntry

PROG = "trialgw-admin"
# infra/app.py's DEFAULT_STACK_NAME and cdk.json's stackName (a test keeps them equal).
DEFAULT_STACK_NAME = "trialgw"
LOCAL_HOST = "127.0.0.1"
# infra/local/stack.py's default port; PORT overrides it there and here.
DEFAULT_PORT = 8080
LOCAL_AWS_PATH = "/_local/aws"
# moto accepts any credentials; these keep a real profile out of it.
LOCAL_CREDENTIAL = "testing"
LOCAL_TIMEOUT_SECONDS = 5

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# `trials list` without --limit; `trials show` prints this many of the latest messages.
DEFAULT_TRIALS_LIMIT = 50
SHOWN_MESSAGES = 10
# A message's text in a human table is cut to this many characters (--json has all of it).
TEXT_WIDTH = 60
TRIAL_ID_LENGTH = 16

NO_CREDENTIALS = (
    "no AWS credentials found: configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY), or use --local for the stack of `make dev`"
)


class AdminError(Exception):
    """A failure the operator can act on: printed as one line, exit code `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def stack_output_key(table: names.TableDef) -> str:
    """The CloudFormation output naming a table (infra/stack.py `_outputs`), e.g. `TrialsTableName`."""
    return f"{table.logical.capitalize()}TableName"


# --- where a command runs --------------------------------------------------------------------------


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


def _boto_config() -> Config:
    from botocore.config import Config

    return Config(connect_timeout=5, read_timeout=15, retries={"mode": "standard", "max_attempts": 3})


def _error_detail(error: Exception) -> str:
    """`Code: message` of an AWS error answer; botocore's own text for anything else."""
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "") or type(error).__name__
        message = details.get("Message", "")
        return f"{code}: {message}" if message else code
    return str(error) or type(error).__name__


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
        dynamodb = session.client("dynamodb", endpoint_url=aws["endpoint"], config=_boto_config())
    except BotoCoreError as error:
        raise AdminError(f"could not set up a DynamoDB client for {url}: {_error_detail(error)}") from error
    return Target(kind="local", name=url, region=aws["region"], tables=aws["tables"], dynamodb=dynamodb)


def _local_aws(url: str) -> dict[str, Any]:
    import urllib.error
    import urllib.request

    not_ours = f"{url} does not look like a trialgw local stack (no usable {LOCAL_AWS_PATH})"
    try:
        with urllib.request.urlopen(url + LOCAL_AWS_PATH, timeout=LOCAL_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read()
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
    try:
        aws = json.loads(body)
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


def stack_target(stack_name: str, region: str | None) -> Target:
    """A deployed stack: its table names from its CloudFormation outputs, in `region` or the configured one."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        session: Session = boto3.session.Session(region_name=region)
        region_name = session.region_name
        if not region_name:
            raise NoRegionError
        cloudformation = session.client("cloudformation", config=_boto_config())
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        dynamodb = session.client("dynamodb", config=_boto_config())
    except NoRegionError:
        raise AdminError(
            "no AWS region configured: give --region, or set AWS_REGION or a region in your AWS profile"
        ) from None
    except NoCredentialsError:
        raise AdminError(NO_CREDENTIALS) from None
    except ClientError as error:
        detail = _error_detail(error)
        if "does not exist" in detail:
            raise AdminError(f"stack {stack_name!r} does not exist in {region_name}") from None
        raise AdminError(f"could not read stack {stack_name!r} in {region_name}: {detail}") from None
    except BotoCoreError as error:
        raise AdminError(f"could not read stack {stack_name!r}: {_error_detail(error)}") from None
    if not stacks:
        raise AdminError(f"stack {stack_name!r} does not exist in {region_name}")
    outputs = {o.get("OutputKey", ""): o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
    tables = {t.logical: outputs[stack_output_key(t)] for t in names.TABLES if outputs.get(stack_output_key(t))}
    return Target(kind="stack", name=stack_name, region=region_name, tables=tables, dynamodb=dynamodb)


def resolve_target(args: argparse.Namespace) -> Target:
    if args.local:
        return local_target(args.port if args.port is not None else _port_from_environment())
    return stack_target(args.stack or DEFAULT_STACK_NAME, args.region)


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"{port} is not a port number (1-65535)")
    return port


def _port_argument(raw: str) -> int:
    try:
        return _port(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _port_from_environment() -> int:
    raw = os.environ.get("PORT", "").strip()
    if not raw:
        return DEFAULT_PORT
    try:
        return _port(raw)
    except ValueError as error:
        raise AdminError(f"PORT: {error}; give --port", EXIT_USAGE) from None


# --- output ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Output:
    """What a command prints: `data` as JSON with --json, `text` otherwise.

    `follow` is more output as it happens (`messages tail --follow`), each printed the moment it comes; such a
    stream is JSON Lines with --json, so `compact` puts each JSON object on one line.
    """

    data: Mapping[str, Any]
    text: str
    follow: Iterator[Output] | None = None
    compact: bool = False

    def render(self, as_json: bool) -> str:
        if not as_json:
            return self.text
        return json.dumps(self.data) if self.compact else json.dumps(self.data, indent=2)


def iso_utc(epoch: float | None) -> str | None:
    from trialgw.quotas import iso_utc as iso

    return None if epoch is None else iso(epoch)


def _table(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def _columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under their column headers, each column as wide as its widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  " + "  ".join(f"{c:<{w}}" for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def capacity_output(report: CapacityReport, *, target: Target, now: float, reset: bool = False) -> Output:
    """The breaker and the current window, as JSON and as a small table."""
    breaker, window = report.breaker, report.current
    data: dict[str, Any] = {
        "target": target.description,
        "checkedAt": iso_utc(now),
        "breaker": {
            "tripped": breaker.tripped,
            "trippedAt": iso_utc(breaker.tripped_at),
            "trippedCount": breaker.tripped_count,
        },
        "window": None
        if window is None
        else {
            "start": iso_utc(window.start),
            "end": iso_utc(window.start + window.window_seconds),
            "seconds": window.window_seconds,
            "count": window.count,
            "limit": window.limit,
        },
    }
    if reset:
        data = {"reset": True, **data}
    rows = [
        ("breaker", "OPEN: every send is refused until reset" if breaker.tripped else "closed"),
        ("tripped", "yes" if breaker.tripped else "no"),
        ("tripped at", iso_utc(breaker.tripped_at) or "-"),
        ("count at trip", "-" if breaker.tripped_count is None else str(breaker.tripped_count)),
    ]
    if window is None:
        rows += [("current window", "- (no message accepted in it yet)"), ("count / limit", "0 / -")]
    else:
        span = f"{iso_utc(window.start)} to {iso_utc(window.start + window.window_seconds)}"
        rows += [("current window", span), ("count / limit", f"{window.count} / {window.limit}")]
    heading = f"Capacity breaker of {target.description}"
    if reset:
        heading = f"Capacity breaker reset: counting starts afresh.\n{heading}"
        return Output(data=data, text=f"{heading}\n{_table(rows)}")
    data["topSenders"] = top_senders_data(report)
    return Output(data=data, text=f"{heading}\n{_table(rows)}\n\n{_top_senders_text(report, target)}")


def top_senders_data(report: CapacityReport) -> dict[str, Any] | None:
    """The trials that sent most in the ranked window: e-mail and sign-up network masked."""
    from trialgw.keys import trial_id
    from trialgw.observability import mask_email

    window = report.ranked_window
    if window is None:
        return None
    return {
        "windowStart": iso_utc(window.start),
        "windowEnd": iso_utc(window.start + window.window_seconds),
        "trials": [
            {
                "id": trial_id(sender.key_hash),
                "email": mask_email(sender.email),
                "signupNetwork": sender.signup_network,
                "sent": sender.count,
                "created": iso_utc(sender.created_at),
            }
            for sender in report.top_senders
        ],
    }


def _top_senders_text(report: CapacityReport, target: Target) -> str:
    data = top_senders_data(report)
    if data is None:
        return "No message accepted in the current window: no senders to rank."
    window, tripped_at = report.ranked_window, report.breaker.tripped_at
    tripped_in_it = (
        window is not None
        and tripped_at is not None
        and window.start <= tripped_at < window.start + window.window_seconds
    )
    which = "the window the breaker tripped in" if tripped_in_it else "the current window"
    heading = f"Trials that sent most in {which} ({data['windowStart']} to {data['windowEnd']}):"
    if not data["trials"]:
        return f"{heading}\n  (none)"
    headers = ("ID", "E-MAIL", "SIGN-UP NETWORK", "SENT", "CREATED")
    rows = [(t["id"], t["email"], t["signupNetwork"] or "-", str(t["sent"]), t["created"]) for t in data["trials"]]
    hints = (
        f"  look closer   {PROG} trials show <ID> {target.options}\n"
        f"  revoke        {PROG} trials revoke <ID> {target.options}   (its sends get 401 at once)\n"
        f"  then reopen   {PROG} capacity reset {target.options}"
    )
    return f"{heading}\n{_columns(headers, rows)}\n\n{hints}"


# --- commands --------------------------------------------------------------------------------------


def _capacity_store(target: Target) -> DynamoCapacityStore:
    from trialgw.adapters.dynamo_capacity import DynamoCapacityStore

    return DynamoCapacityStore(target.dynamodb, target.table(names.TRIALS))


def capacity_status(target: Target, _args: argparse.Namespace) -> Output:
    from trialgw.logic import capacity

    store = _capacity_store(target)
    now = time.time()
    return capacity_output(capacity.report(store, now), target=target, now=now)


def capacity_reset(target: Target, _args: argparse.Namespace) -> Output:
    from trialgw.logic import capacity

    store = _capacity_store(target)
    capacity.reset(store, time.time())
    now = time.time()
    return capacity_output(capacity.report(store, now), target=target, now=now, reset=True)


# --- trials ----------------------------------------------------------------------------------------


def trial_status(state: TrialState, now: float) -> str:
    """`revoked`, `expired` (past its expiry, not revoked) or `active`."""
    from trialgw.models import TrialStatus

    if state.trial.status is TrialStatus.REVOKED:
        return "revoked"
    return "active" if now < state.trial.expires_at else "expired"


def trial_data(state: TrialState, now: float) -> dict[str, Any]:
    """What `trials list` prints of a trial; the e-mail address masked."""
    from trialgw.keys import trial_id
    from trialgw.observability import mask_email

    trial = state.trial
    return {
        "id": trial_id(trial.key_hash),
        "email": mask_email(trial.email),
        "name": trial.name,
        "company": trial.company,
        "created": iso_utc(trial.created_at),
        "expires": iso_utc(trial.expires_at),
        "status": trial_status(state, now),
        "whitelisted": len(state.members),
        "sent": {channel.value: count for channel, count in state.sent.items()},
    }


def _sent_text(sent: Mapping[str, int]) -> str:
    from trialgw.models import Channel

    return " ".join(f"{Channel(channel).short_name} {count}" for channel, count in sent.items())


def _trial_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("id", data["id"]),
        ("e-mail", data["email"]),
        ("name", data["name"]),
        ("company", data["company"] or "-"),
        ("created", data["created"]),
        ("expires", data["expires"]),
        ("status", data["status"]),
        ("whitelisted", str(data["whitelisted"])),
        ("sent", _sent_text(data["sent"])),
    ]


def trials_output(states: Sequence[TrialState], *, target: Target, now: float, total: int) -> Output:
    """Trials, newest first, as JSON and as one row each; `total` is how many the stack holds."""
    trials = [trial_data(state, now) for state in states]
    data = {"target": target.description, "total": total, "trials": trials}
    heading = f"{len(trials)} of {total} trial(s) of {target.description}, newest first"
    if not trials:
        return Output(data=data, text=f"{heading}\n  (none)")
    headers = ("ID", "E-MAIL", "NAME", "COMPANY", "CREATED", "EXPIRES", "STATUS", "WHITELISTED", "SENT")
    rows = [
        (
            t["id"],
            t["email"],
            t["name"],
            t["company"] or "-",
            t["created"],
            t["expires"],
            t["status"],
            str(t["whitelisted"]),
            _sent_text(t["sent"]),
        )
        for t in trials
    ]
    return Output(data=data, text=f"{heading}\n{_columns(headers, rows)}")


def _short(text: str | None) -> str:
    if text is None:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= TEXT_WIDTH else flat[: TEXT_WIDTH - 1] + "…"


def message_data(message: StoredMessage) -> dict[str, Any]:
    """A message as `trials show` prints it; a trial key in its text (an end user joining) is blanked out."""
    from trialgw.keys import redact_keys

    # Messages recorded before keys were blanked out on the way in may still hold one.
    text = None if message.text is None else redact_keys(message.text)
    return {
        "id": message.message_id,
        "at": iso_utc(message.at),
        "direction": message.direction,
        "channel": message.channel.value,
        "counterpart": message.counterpart,
        "text": text,
        "status": message.status,
        "reason": message.reason,
    }


def trial_show_output(state: TrialState, messages: Sequence[StoredMessage], *, target: Target, now: float) -> Output:
    """One trial: what `trials list` prints, its whitelisted recipients and its latest messages (newest first)."""
    data = {
        "target": target.description,
        **trial_data(state, now),
        "recipients": [{"channel": channel.value, "recipient": address} for channel, address in state.whitelist()],
        "messages": [message_data(message) for message in messages],
    }
    parts = [f"Trial {data['id']} of {target.description}", _table(_trial_rows(data))]
    parts.append(f"Whitelisted recipients ({len(data['recipients'])})")
    if data["recipients"]:
        parts.append(_columns(("CHANNEL", "RECIPIENT"), [(r["channel"], r["recipient"]) for r in data["recipients"]]))
    else:
        parts.append("  (none)")
    parts.append(f"Latest messages ({len(messages)}, newest first)")
    if messages:
        rows = [
            (
                m["at"],
                m["direction"],
                m["channel"],
                m["counterpart"],
                m["status"] or "-",
                _short(m["text"]),
            )
            for m in data["messages"]
        ]
        parts.append(_columns(("AT", "DIRECTION", "CHANNEL", "COUNTERPART", "STATUS", "TEXT"), rows))
    else:
        parts.append("  (none)")
    return Output(data=data, text="\n".join(parts))


def whitelist_output(state: TrialState, entries: Sequence[WhitelistEntry], *, target: Target) -> Output:
    from trialgw.keys import trial_id

    tid = trial_id(state.trial.key_hash)
    recipients = [
        {"channel": e.channel.value, "recipient": e.address, "whitelistedAt": iso_utc(e.whitelisted_at)}
        for e in entries
    ]
    data = {"target": target.description, "id": tid, "recipients": recipients}
    heading = f"{len(recipients)} whitelisted recipient(s) of trial {tid} on {target.description}"
    if not recipients:
        return Output(data=data, text=f"{heading}\n  (none)")
    rows = [(r["channel"] or "", r["recipient"] or "", r["whitelistedAt"] or "-") for r in recipients]
    return Output(data=data, text=f"{heading}\n{_columns(('CHANNEL', 'RECIPIENT', 'WHITELISTED AT'), rows)}")


def _trial_store(target: Target) -> DynamoTrialStore:
    from trialgw.adapters.dynamo_trials import DynamoTrialStore

    return DynamoTrialStore(target.dynamodb, target.table(names.TRIALS))


def scan_trials(target: Target, *, trial_id: str | None = None) -> list[tuple[str, int]]:
    """(key hash, created at) of every trial item (or of those with the public id `trial_id`): a Scan of the
    trials table, page by page, that reads only those two attributes."""
    from botocore.exceptions import BotoCoreError, ClientError

    condition = "begins_with(#pk, :prefix) AND #sk = :sk"
    attribute_names = {"#pk": names.PARTITION_KEY, "#sk": names.SORT_KEY, "#hash": "key_hash", "#created": "created_at"}
    values: dict[str, Any] = {":prefix": {"S": names.TRIAL_PK_PREFIX}, ":sk": {"S": names.TRIAL_SK}}
    if trial_id is not None:
        condition += " AND #tid = :tid"
        attribute_names["#tid"] = "trial_id"
        values[":tid"] = {"S": trial_id}
    request: dict[str, Any] = {
        "TableName": target.table(names.TRIALS),
        "FilterExpression": condition,
        "ProjectionExpression": "#hash, #created",
        "ExpressionAttributeNames": attribute_names,
        "ExpressionAttributeValues": values,
        "ConsistentRead": True,
    }
    found: list[tuple[str, int]] = []
    while True:
        try:
            answer = target.dynamodb.scan(**request)
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not scan the trials: {type(error).__name__}") from error
        found += [(item["key_hash"]["S"], int(item["created_at"]["N"])) for item in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        if not last:
            return found
        request["ExclusiveStartKey"] = last


def _trial_id_argument(raw: str) -> str:
    candidate = raw.strip().lower()
    if len(candidate) != TRIAL_ID_LENGTH or any(c not in "0123456789abcdef" for c in candidate):
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not a trial id ({TRIAL_ID_LENGTH} hex digits, as trials list shows)"
        )
    return candidate


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def find_trial(target: Target, trial_id: str) -> TrialState:
    """The trial whose public id is `trial_id`; AdminError when there is none."""
    matches = scan_trials(target, trial_id=trial_id)
    if len(matches) > 1:
        raise AdminError(f"{len(matches)} trials have the id {trial_id} on {target.description}")
    state = _trial_store(target).state(matches[0][0]) if matches else None
    if state is None:
        raise AdminError(f"no trial {trial_id} on {target.description}")
    return state


def trials_list(target: Target, args: argparse.Namespace) -> Output:
    store = _trial_store(target)
    found = sorted(scan_trials(target), key=lambda pair: pair[1], reverse=True)
    states = [state for key_hash, _ in found[: args.limit] if (state := store.state(key_hash)) is not None]
    return trials_output(states, target=target, now=time.time(), total=len(found))


def trials_show(target: Target, args: argparse.Namespace) -> Output:
    from trialgw.adapters.dynamo_messages import DynamoMessageLog

    state = find_trial(target, args.trial_id)
    log = DynamoMessageLog(target.dynamodb, target.table(names.MESSAGES))
    page = log.page(state.trial.key_hash, limit=SHOWN_MESSAGES, cursor=None)
    return trial_show_output(state, page.messages, target=target, now=time.time())


def trials_revoke(target: Target, args: argparse.Namespace) -> Output:
    from trialgw.models import TrialStatus

    state = find_trial(target, args.trial_id)
    store = _trial_store(target)
    if not store.revoke(state.trial.key_hash):
        raise AdminError(f"no trial {args.trial_id} on {target.description}")
    after = store.state(state.trial.key_hash)
    if after is None:
        raise AdminError(f"no trial {args.trial_id} on {target.description}")
    now = time.time()
    was = (
        "it was already revoked" if state.trial.status is TrialStatus.REVOKED else "it was " + trial_status(state, now)
    )
    data = {"revoked": True, "previousStatus": trial_status(state, now), "target": target.description}
    data.update(trial_data(after, now))
    text = (
        f"Trial {data['id']} revoked ({was}): its key is refused from now on, everywhere.\n{_table(_trial_rows(data))}"
    )
    return Output(data=data, text=text)


def whitelist_list(target: Target, args: argparse.Namespace) -> Output:
    from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
    from trialgw.models import member_token

    state = find_trial(target, args.trial_id)
    store = DynamoWhitelistStore(target.dynamodb, target.table(names.WHITELIST), target.table(names.TRIALS))
    # The trial item's members are what sends check; an entry without one is a removal's leftover.
    entries = [
        entry
        for entry in store.entries(state.trial.key_hash)
        if member_token(entry.channel, entry.address) in state.members
    ]
    return whitelist_output(state, entries, target=target)


# `messages tail`: the columns of a message line, fixed so that lines printed later (--follow) line up.
# A send's id is 32 hex digits; a longer one (an inbound message's provider id) is shortened here, whole in JSON.
TAIL_COLUMNS = (("AT", 20), ("ID", 32), ("DIRECTION", 9), ("CHANNEL", 18), ("COUNTERPART", 16), ("STATUS", 9))
DEFAULT_TAIL_LINES = 20
DEFAULT_FOLLOW_SECONDS = 2.0
MIN_FOLLOW_SECONDS = 0.5
# Messages read per poll while following: more than a trial's quotas let arrive between two polls.
FOLLOW_PAGE = 100


def tail_line(message: Mapping[str, Any]) -> str:
    """One message as a line under `tail_heading()`: the fixed columns, then the text (shortened)."""
    cells = (message["at"], message["id"], message["direction"], message["channel"], message["counterpart"])
    values = (*cells, message["status"] or "-")
    fixed = "  ".join(f"{_clip(value, width):<{width}}" for value, (_, width) in zip(values, TAIL_COLUMNS, strict=True))
    return f"  {fixed}  {_short(message['text'])}".rstrip()


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def tail_heading() -> str:
    return "  " + "  ".join(f"{name:<{width}}" for name, width in TAIL_COLUMNS) + "  TEXT"


def follow_messages(
    log: MessageLog, key_hash: str, seen: dict[str, str | None], *, interval: float
) -> Iterator[Output]:
    """Forever: every `interval` seconds, each message not seen yet (oldest first), and each seen one whose status
    changed (printed again, with `"event": "status"` in JSON)."""
    while True:
        time.sleep(interval)
        page = log.page(key_hash, limit=FOLLOW_PAGE, cursor=None)
        for message in reversed(page.messages):
            if message.message_id in seen and seen[message.message_id] == message.status:
                continue
            event = "status" if message.message_id in seen else "message"
            seen[message.message_id] = message.status
            data = {"event": event, **message_data(message)}
            yield Output(data=data, text=tail_line(data), compact=True)


def messages_tail(target: Target, args: argparse.Namespace) -> Output:
    from trialgw.adapters.dynamo_messages import DynamoMessageLog
    from trialgw.keys import trial_id

    state = find_trial(target, args.trial_id)
    key_hash = state.trial.key_hash
    log = DynamoMessageLog(target.dynamodb, target.table(names.MESSAGES))
    # Following starts from everything a poll reads, so older messages than those shown never count as new.
    read = max(args.lines, FOLLOW_PAGE) if args.follow else args.lines
    known = log.page(key_hash, limit=read, cursor=None).messages
    messages = [message_data(message) for message in reversed(known[: args.lines])]
    tid = trial_id(key_hash)
    heading = f"Last {len(messages)} message(s) of trial {tid} on {target.description}, oldest first"
    interval = args.interval or DEFAULT_FOLLOW_SECONDS
    if args.follow:
        heading += f"; following (every {interval:g} s, Ctrl-C to stop)"
    lines = [heading, tail_heading(), *(tail_line(m) for m in messages)]
    data = {"target": target.description, "id": tid, "messages": messages}
    follow = None
    if args.follow:
        seen = {message.message_id: message.status for message in known}
        follow = follow_messages(log, key_hash, seen, interval=interval)
    return Output(data=data, text="\n".join(lines), follow=follow, compact=args.follow)


def _interval(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if not value >= MIN_FOLLOW_SECONDS or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{raw!r}: poll at most every {MIN_FOLLOW_SECONDS:g} s")
    return value


def _tail_arguments(parser: argparse.ArgumentParser) -> None:
    _trial_id_positional(parser)
    parser.add_argument(
        "--lines",
        "-n",
        type=_positive,
        default=DEFAULT_TAIL_LINES,
        metavar="N",
        help=f"start with the latest N messages (default: {DEFAULT_TAIL_LINES})",
    )
    parser.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new messages and status changes until Ctrl-C"
    )
    parser.add_argument(
        "--interval",
        type=_interval,
        metavar="S",
        help=f"with --follow: seconds between reads (default: {DEFAULT_FOLLOW_SECONDS:g})",
    )


def _trial_id_positional(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trial_id", metavar="TRIAL-ID", type=_trial_id_argument, help="the trial's id (trials list)")


def _limit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit",
        type=_positive,
        default=DEFAULT_TRIALS_LIMIT,
        metavar="N",
        help=f"show the newest N trials (default: {DEFAULT_TRIALS_LIMIT})",
    )


# --- providers -------------------------------------------------------------------------------------

LOCAL_HAS_NO_SECRETS = (
    "the local stack has no Secrets Manager: there, provider credentials are settings "
    "(TRIALGW_CM_PRODUCT_TOKEN, TRIALGW_WHATSAPP_ACCESS_TOKEN, ... in the environment of `make dev`)"
)


def providers_set_credential(target: Target, args: argparse.Namespace) -> Output:
    from trialgw.admin import providers

    return providers.set_credential(target, args)


def _credential_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "key",
        metavar="KEY",
        choices=names.PROVIDER_SECRET_KEYS,
        help=f"the credential: {', '.join(names.PROVIDER_SECRET_KEYS)}; its value is read from stdin or a "
        "prompt that does not show it, never from the command line",
    )
    # Checked with the other options, before anything is resolved (see _check_options).
    parser.set_defaults(deployed_only=LOCAL_HAS_NO_SECRETS)


def _no_arguments(_parser: argparse.ArgumentParser) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Command:
    """`trialgw-admin <group> <name>`: `arguments` adds the command's own arguments, `run` does it."""

    group: str
    name: str
    help: str
    run: Callable[[Target, argparse.Namespace], Output]
    arguments: Callable[[argparse.ArgumentParser], object] = _no_arguments


# Each group's one-line help; its commands are in COMMANDS.
GROUPS: dict[str, str] = {
    "capacity": "the capacity breaker: while it is tripped, every send is refused",
    "trials": "trials: list them, show one with its recipients and latest messages, revoke one's key",
    "whitelist": "a trial's whitelisted recipients",
    "messages": "a trial's messages, as they come",
    "providers": "channel provider credentials, in the deployed stack's secret (values are never printed)",
}

COMMANDS: tuple[Command, ...] = (
    Command("capacity", "status", "show the breaker and the current window", capacity_status),
    Command("capacity", "reset", "close the breaker and start counting afresh", capacity_reset),
    Command("trials", "list", "the trials, newest first", trials_list, _limit_option),
    Command(
        "trials", "show", "one trial, its whitelisted recipients and latest messages", trials_show, _trial_id_positional
    ),
    Command(
        "trials",
        "revoke",
        "revoke a trial: its key is refused at once, everywhere",
        trials_revoke,
        _trial_id_positional,
    ),
    Command("whitelist", "list", "a trial's whitelisted recipients", whitelist_list, _trial_id_positional),
    Command(
        "messages",
        "tail",
        "a trial's latest messages, oldest first; --follow keeps printing new ones and status changes",
        messages_tail,
        _tail_arguments,
    ),
    Command(
        "providers",
        "set-credential",
        "set one provider credential in the stack's provider secret, keeping the others",
        providers_set_credential,
        _credential_arguments,
    ),
)


# --- the command line ------------------------------------------------------------------------------


def _target_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    where = options.add_argument_group("where")
    which = where.add_mutually_exclusive_group()
    which.add_argument("--local", action="store_true", help="the local stack of `make dev`, on 127.0.0.1")
    which.add_argument(
        "--stack", metavar="NAME", help=f"a deployed stack, by its CloudFormation name (default: {DEFAULT_STACK_NAME})"
    )
    where.add_argument(
        "--port",
        type=_port_argument,
        help=f"with --local: the local stack's port (default: $PORT, else {DEFAULT_PORT})",
    )
    where.add_argument("--region", help="with --stack: the stack's AWS region (default: your AWS configuration's)")
    options.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return options


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Operator commands for trialgw, against a deployed stack (--stack) or the local one (--local).",
    )
    groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
    options = _target_options()
    group_parsers: dict[str, Any] = {}
    for command in commands:
        if command.group not in group_parsers:
            help_text = GROUPS.get(command.group, "")
            group = groups.add_parser(command.group, help=help_text, description=help_text)
            group_parsers[command.group] = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
        leaf = group_parsers[command.group].add_parser(
            command.name, help=command.help, description=command.help, parents=[options]
        )
        command.arguments(leaf)
        # The leaf parser reports option errors found after parsing, with its own usage line.
        leaf.set_defaults(handler=command, leaf_parser=leaf)
    return parser


def _check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.port is not None and not args.local:
        parser.error("--port applies only with --local")
    if args.region is not None and args.local:
        parser.error("--region applies only to a deployed stack (--stack)")
    if getattr(args, "interval", None) is not None and not args.follow:
        parser.error("--interval applies only with --follow")
    if args.local and getattr(args, "deployed_only", None):
        parser.error(args.deployed_only)


@contextlib.contextmanager
def _function_logs_to_stderr() -> Iterator[None]:
    """The logic logs JSON lines for CloudWatch on stdout; here stdout is the command's output, so only
    warnings are shown, on stderr."""
    from trialgw.observability import logger

    handler = logger.registered_handler
    level = logger.log_level
    stream = handler.setStream(sys.stderr) if isinstance(handler, logging.StreamHandler) else None
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
        if stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def _fail(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _store_error(error: StoreError, target: Target) -> str:
    """The adapter's `could not <action>: <error type>`, with what AWS said in place of the type."""
    from botocore.exceptions import NoCredentialsError

    cause = error.__cause__
    if isinstance(cause, NoCredentialsError):
        return NO_CREDENTIALS
    text = str(error)
    if isinstance(cause, Exception):
        text = f"{text.removesuffix(f': {type(cause).__name__}')}: {_error_detail(cause)}"
    return f"{target.description}: {text}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_options(args.leaf_parser, args)
    except SystemExit as exit_:
        # argparse has printed the usage or the help.
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    command: Command = args.handler
    try:
        target = resolve_target(args)
        with _function_logs_to_stderr():
            output = command.run(target, args)
            print(output.render(args.json), flush=True)
            for more in output.follow or ():
                print(more.render(args.json), flush=True)
    except AdminError as error:
        _fail(error.message)
        return error.exit_code
    except StoreError as error:
        _fail(_store_error(error, target))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
