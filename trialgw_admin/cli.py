"""`trialgw-admin`: operator commands against a deployed stack or the local one (`make dev`).

    trialgw-admin capacity status [--local [--port N] | --stack NAME [--region R]] [--json]
    trialgw-admin capacity reset  [same options]
    trialgw-admin trials list [--limit N] | show TRIAL-ID | revoke TRIAL-ID  [same options]
    trialgw-admin whitelist list TRIAL-ID  [same options]
    trialgw-admin messages tail TRIAL-ID [--lines N] [--follow [--interval S]]  [same options]
    trialgw-admin providers set-credential KEY [--stack NAME [--region R]]  (value on stdin or a hidden prompt)

Each command first resolves a `Target` (the stack's table names and a DynamoDB client), then runs the
same stores, logic and views the functions use against it. A failure the operator can act on (no local
stack, no credentials, no such stack, DynamoDB refused) is one line on stderr and exit code 1; a usage
error is exit code 2. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from trialgw.errors import StoreError
from trialgw_admin.capacity import capacity_reset, capacity_status
from trialgw_admin.errors import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    AdminError,
    store_error,
)
from trialgw_admin.messages import messages_tail, tail_arguments
from trialgw_admin.output import Output
from trialgw_admin.providers import credential_arguments, providers_set_credential
from trialgw_admin.target import (
    DEFAULT_PORT,
    DEFAULT_STACK_NAME,
    Target,
    local_target,
    port_argument,
    port_from_environment,
    stack_target,
)
from trialgw_admin.trials import (
    limit_option,
    trial_id_positional,
    trials_list,
    trials_revoke,
    trials_show,
    whitelist_list,
)


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
    Command("trials", "list", "the trials, newest first", trials_list, limit_option),
    Command(
        "trials", "show", "one trial, its whitelisted recipients and latest messages", trials_show, trial_id_positional
    ),
    Command(
        "trials",
        "revoke",
        "revoke a trial: its key is refused at once, everywhere",
        trials_revoke,
        trial_id_positional,
    ),
    Command("whitelist", "list", "a trial's whitelisted recipients", whitelist_list, trial_id_positional),
    Command(
        "messages",
        "tail",
        "a trial's latest messages, oldest first; --follow keeps printing new ones and status changes",
        messages_tail,
        tail_arguments,
    ),
    Command(
        "providers",
        "set-credential",
        "set one provider credential in the stack's provider secret, keeping the others",
        providers_set_credential,
        credential_arguments,
    ),
)


def resolve_target(args: argparse.Namespace) -> Target:
    if args.local:
        return local_target(args.port if args.port is not None else port_from_environment())
    return stack_target(args.stack or DEFAULT_STACK_NAME, args.region)


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
        type=port_argument,
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
        _fail(store_error(error, target.description))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK


# The command line's surface: its registry, what a command takes and returns (a new command needs only these), the
# commands themselves, and the exit codes.
__all__ = [
    "COMMANDS",
    "DEFAULT_STACK_NAME",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "GROUPS",
    "AdminError",
    "Command",
    "Output",
    "Target",
    "build_parser",
    "capacity_reset",
    "capacity_status",
    "local_target",
    "main",
    "messages_tail",
    "providers_set_credential",
    "resolve_target",
    "stack_target",
    "trials_list",
    "trials_revoke",
    "trials_show",
    "whitelist_list",
]


if __name__ == "__main__":
    sys.exit(main())
