"""`trialgw-admin trials list|show|revoke` and `whitelist list`: the trials table through the functions' stores
(`trialgw.adapters`) and the dashboard's views of a trial (`trialgw.logic.dashboard`)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trialgw import names
from trialgw_admin.errors import AdminError
from trialgw_admin.output import Output, iso_utc, listing, short, table
from trialgw_admin.target import Target

if TYPE_CHECKING:
    from trialgw.adapters.dynamo_trials import DynamoTrialStore
    from trialgw.models import TrialState
    from trialgw.ports import StoredMessage, WhitelistEntry

# `trials list` without --limit; `trials show` prints this many of the latest messages.
DEFAULT_TRIALS_LIMIT = 50
SHOWN_MESSAGES = 10
TRIAL_ID_LENGTH = 16


def trial_data(state: TrialState, now: float) -> dict[str, Any]:
    """What `trials list` prints of a trial; the e-mail address masked."""
    from trialgw.keys import trial_id
    from trialgw.logic.dashboard import trial_status
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
    headers = ("ID", "E-MAIL", "NAME", "COMPANY", "CREATED", "EXPIRES", "STATUS", "WHITELISTED", "SENT")
    # The columns are the rows of `trials show`, in the same order.
    rows = [[value for _, value in _trial_rows(t)] for t in trials]
    return Output(data=data, text=listing(heading, headers, rows))


def message_data(message: StoredMessage) -> dict[str, Any]:
    """A message as `trials show` prints it; a trial key in its text (an end user joining) is blanked out."""
    from trialgw.keys import redact_keys
    from trialgw.logic.dashboard import message_fields

    # Messages recorded before keys were blanked out on the way in may still hold one.
    return message_fields(message, ("text", None if message.text is None else redact_keys(message.text)))


def trial_show_output(state: TrialState, messages: Sequence[StoredMessage], *, target: Target, now: float) -> Output:
    """One trial: what `trials list` prints, its whitelisted recipients and its latest messages (newest first)."""
    data = {
        "target": target.description,
        **trial_data(state, now),
        "recipients": [{"channel": channel.value, "recipient": address} for channel, address in state.whitelist()],
        "messages": [message_data(message) for message in messages],
    }
    recipients = [(r["channel"], r["recipient"]) for r in data["recipients"]]
    rows = [
        (m["at"], m["direction"], m["channel"], m["counterpart"], m["status"] or "-", short(m["text"]))
        for m in data["messages"]
    ]
    parts = (
        f"Trial {data['id']} of {target.description}",
        table(_trial_rows(data)),
        listing(f"Whitelisted recipients ({len(recipients)})", ("CHANNEL", "RECIPIENT"), recipients),
        listing(
            f"Latest messages ({len(messages)}, newest first)",
            ("AT", "DIRECTION", "CHANNEL", "COUNTERPART", "STATUS", "TEXT"),
            rows,
        ),
    )
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
    rows = [(r["channel"] or "", r["recipient"] or "", r["whitelistedAt"] or "-") for r in recipients]
    return Output(data=data, text=listing(heading, ("CHANNEL", "RECIPIENT", "WHITELISTED AT"), rows))


def trial_store(target: Target) -> DynamoTrialStore:
    from trialgw.adapters.dynamo_trials import DynamoTrialStore

    return DynamoTrialStore(target.dynamodb, target.table(names.TRIALS))


def find_trial(target: Target, trial_id: str) -> TrialState:
    """The trial whose public id is `trial_id`; AdminError when there is none."""
    store = trial_store(target)
    matches = store.listed(trial_id=trial_id)
    if len(matches) > 1:
        raise AdminError(f"{len(matches)} trials have the id {trial_id} on {target.description}")
    state = store.state(matches[0].key_hash) if matches else None
    if state is None:
        raise AdminError(f"no trial {trial_id} on {target.description}")
    return state


def trials_list(target: Target, args: argparse.Namespace) -> Output:
    store = trial_store(target)
    found = sorted(store.listed(), key=lambda listed: listed.created_at, reverse=True)
    states = [state for listed in found[: args.limit] if (state := store.state(listed.key_hash)) is not None]
    return trials_output(states, target=target, now=time.time(), total=len(found))


def trials_show(target: Target, args: argparse.Namespace) -> Output:
    from trialgw.adapters.dynamo_messages import DynamoMessageLog

    state = find_trial(target, args.trial_id)
    log = DynamoMessageLog(target.dynamodb, target.table(names.MESSAGES))
    page = log.page(state.trial.key_hash, limit=SHOWN_MESSAGES, cursor=None)
    return trial_show_output(state, page.messages, target=target, now=time.time())


def trials_revoke(target: Target, args: argparse.Namespace) -> Output:
    from trialgw.logic.dashboard import trial_status
    from trialgw.models import TrialStatus

    state = find_trial(target, args.trial_id)
    store = trial_store(target)
    after = store.state(state.trial.key_hash) if store.revoke(state.trial.key_hash) else None
    if after is None:
        raise AdminError(f"no trial {args.trial_id} on {target.description}")
    now = time.time()
    was = "already revoked" if state.trial.status is TrialStatus.REVOKED else trial_status(state, now)
    data = {"revoked": True, "previousStatus": trial_status(state, now), "target": target.description}
    data.update(trial_data(after, now))
    text = f"Trial {data['id']} revoked (it was {was}): its key is refused from now on, everywhere."
    return Output(data=data, text=f"{text}\n{table(_trial_rows(data))}")


def whitelist_list(target: Target, args: argparse.Namespace) -> Output:
    from trialgw.adapters.dynamo_whitelist import DynamoWhitelistStore
    from trialgw.logic.dashboard import current_whitelist

    state = find_trial(target, args.trial_id)
    store = DynamoWhitelistStore(target.dynamodb, target.table(names.WHITELIST), target.table(names.TRIALS))
    return whitelist_output(state, current_whitelist(state, store.entries(state.trial.key_hash)), target=target)


def trial_id_argument(raw: str) -> str:
    """argparse's type for TRIAL-ID: 16 hex digits, any case."""
    candidate = raw.strip().lower()
    if len(candidate) != TRIAL_ID_LENGTH or any(c not in "0123456789abcdef" for c in candidate):
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not a trial id ({TRIAL_ID_LENGTH} hex digits, as trials list shows)"
        )
    return candidate


def positive(raw: str) -> int:
    """argparse's type for a count: a whole number above zero."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def trial_id_positional(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trial_id", metavar="TRIAL-ID", type=trial_id_argument, help="the trial's id (trials list)")


def limit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit",
        type=positive,
        default=DEFAULT_TRIALS_LIMIT,
        metavar="N",
        help=f"show the newest N trials (default: {DEFAULT_TRIALS_LIMIT})",
    )
