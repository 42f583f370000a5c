"""`trialgw-admin capacity status|reset`: the capacity breaker, through the send function's own capacity logic."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from trialgw import names
from trialgw_admin.errors import PROG
from trialgw_admin.output import Output, columns, iso_utc, table
from trialgw_admin.target import Target

if TYPE_CHECKING:
    from trialgw.adapters.dynamo_capacity import DynamoCapacityStore
    from trialgw.logic.capacity import CapacityReport


def capacity_output(report: CapacityReport, *, target: Target, now: float, reset: bool = False) -> Output:
    """The breaker and the current window, as JSON and as a small table."""
    data: dict[str, Any] = {"target": target.description, "checkedAt": iso_utc(now), **_breaker_data(report)}
    if reset:
        data = {"reset": True, **data}
    rows = _breaker_rows(report)
    heading = f"Capacity breaker of {target.description}"
    if reset:
        heading = f"Capacity breaker reset: counting starts afresh.\n{heading}"
        return Output(data=data, text=f"{heading}\n{table(rows)}")
    data["topSenders"] = top_senders_data(report)
    return Output(data=data, text=f"{heading}\n{table(rows)}\n\n{_top_senders_text(report, target)}")


def _breaker_data(report: CapacityReport) -> dict[str, Any]:
    breaker, window = report.breaker, report.current
    return {
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
            "count": window.accepted,
            "limit": window.limit,
        },
    }


def _breaker_rows(report: CapacityReport) -> list[tuple[str, str]]:
    breaker, window = report.breaker, report.current
    rows = [
        ("breaker", "OPEN: every send is refused until reset" if breaker.tripped else "closed"),
        ("tripped", "yes" if breaker.tripped else "no"),
        ("tripped at", iso_utc(breaker.tripped_at) or "-"),
        ("count at trip", "-" if breaker.tripped_count is None else str(breaker.tripped_count)),
    ]
    if window is None:
        return [*rows, ("current window", "- (no message accepted in it yet)"), ("count / limit", "0 / -")]
    span = f"{iso_utc(window.start)} to {iso_utc(window.start + window.window_seconds)}"
    return [*rows, ("current window", span), ("count / limit", f"{window.accepted} / {window.limit}")]


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
                "sent": sender.accepted,
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
    return f"{heading}\n{columns(headers, rows)}\n\n{hints}"


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
