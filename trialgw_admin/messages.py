"""`trialgw-admin messages tail`: a trial's latest messages through the functions' message log, and, with --follow,
the new ones and status changes as they come."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from trialgw import names
from trialgw_admin.output import Output, clip, short
from trialgw_admin.target import Target
from trialgw_admin.trials import find_trial, message_data, positive, trial_id_positional

if TYPE_CHECKING:
    from trialgw.ports import MessageLog

# The columns of a message line, fixed so that lines printed later (--follow) line up.
# A send's id is 32 hex digits; a longer one (an inbound message's provider id) is shortened here, whole in JSON.
# AT holds a time with milliseconds (2026-12-02T09:06:00.125Z), or whole seconds for an older record.
TAIL_COLUMNS = (("AT", 24), ("ID", 32), ("DIRECTION", 9), ("CHANNEL", 18), ("COUNTERPART", 16), ("STATUS", 9))
DEFAULT_TAIL_LINES = 20
DEFAULT_FOLLOW_SECONDS = 2.0
MIN_FOLLOW_SECONDS = 0.5
# Messages read per poll while following: more than a trial's quotas let arrive between two polls.
FOLLOW_PAGE = 100


def tail_line(message: Mapping[str, Any]) -> str:
    """One message as a line under `tail_heading()`: the fixed columns, then the text (shortened)."""
    cells = (message["at"], message["id"], message["direction"], message["channel"], message["counterpart"])
    values = (*cells, message["status"] or "-")
    fixed = "  ".join(f"{clip(value, width):<{width}}" for value, (_, width) in zip(values, TAIL_COLUMNS, strict=True))
    text = short(message["text"])
    if message.get("errorCode") is not None:
        # A refused attempt: the gateway's answer after what was sent.
        text += f"  [errorCode {message['errorCode']}: {short(message.get('reason'))}]"
    return f"  {fixed}  {text}".rstrip()


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


def tail_arguments(parser: argparse.ArgumentParser) -> None:
    trial_id_positional(parser)
    parser.add_argument(
        "--lines",
        "-n",
        type=positive,
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
