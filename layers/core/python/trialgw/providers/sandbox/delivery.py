"""The sandbox provider: delivers nowhere, but records each delivery so a local tester can see it.

It is the default for every channel locally, and carries a channel only when chosen for it (never in place of a
provider that lacks its credentials: that channel fails closed, see `registry`).
Settings can make it fail (`transient`: retried through SQS, then the record is marked failed; `permanent`:
failed at once; `crash`: an unexpected error on every attempt, as a bug or a timeout would be, so the message
reaches the dead-letter queue with its record still `queued` and the dead-letter consumer marks it failed) or slow
(`delay_seconds`), to exercise retries, the back-off and the dead-letter queue.

Deliveries go to `DELIVERIES`, a module-level, bounded, thread-safe log. It is module-level on purpose: the
local stack runs the delivery handler in its own process (the SQS pump calls it in a thread), so the
`GET /_local/deliveries` route and the phone page read the very same object without any storage of their own.
In AWS nothing reads it; it holds at most `SandboxLog.DEFAULT_LIMIT` entries per Lambda instance.

Statuses: the sandbox "reaches the phone" as it records, so its answer for an accepted send carries a `delivered`
status report (`Delivered.reports`), which the delivery applies through `apply_reports` right after `sent` is
recorded, found by provider and provider message id as a real provider's webhook report is. `read` comes from the
simulated phone page when it shows the message (`read_report`, the local stack's `POST /_local/read`). Replies have
no record, so they get no report.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import NamedTuple

from trialgw.models import Channel
from trialgw.ports import Clock, OutboundMessage
from trialgw.providers.port import Delivered, DeliveryFailed, ProviderName, SmsSenders, trial_sender
from trialgw.providers.status import StatusReport


class SandboxFault(StrEnum):
    """How the sandbox answers: delivers (`none`), or fails every message in one of three ways."""

    NONE = "none"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    CRASH = "crash"


class SandboxCrash(RuntimeError):
    """The sandbox's `crash` fault: not a `DeliveryFailed` (no provider answered), so nothing records why."""


class SandboxDelivery(NamedTuple):
    """One message as the end user would have received it; `sender` is the `from` the real provider would use."""

    channel: Channel
    to: str
    sender: str | None
    text: str
    at: int
    message_id: str
    kind: str
    rich_content: dict[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        """The entry `GET /_local/deliveries` lists: `channel`, `to`, `from`, `text`, `at` (and the ids that help
        a test correlate it with a send)."""
        entry: dict[str, object] = {
            "channel": self.channel.value,
            "to": self.to,
            "from": self.sender,
            "text": self.text,
            "at": self.at,
            "message_id": self.message_id,
            "kind": self.kind,
        }
        if self.rich_content is not None:
            entry["richContent"] = self.rich_content
        return entry


class SandboxLog:
    """The last `limit` sandbox deliveries, oldest first; safe to append and read from several threads."""

    DEFAULT_LIMIT = 1000

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        self._entries: deque[SandboxDelivery] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def append(self, delivery: SandboxDelivery) -> None:
        with self._lock:
            self._entries.append(delivery)

    def entries(self) -> list[SandboxDelivery]:
        """A snapshot: later deliveries do not change the returned list."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# Shared by the sandbox providers of this process (see the module docstring for why it is module-level).
DELIVERIES = SandboxLog()


class SandboxProvider:
    """A `Provider` that records instead of delivering (see the module docstring)."""

    name = ProviderName.SANDBOX

    def __init__(
        self,
        record: Callable[[SandboxDelivery], None] | None = None,
        *,
        fault: SandboxFault | str = SandboxFault.NONE,
        delay_seconds: float = 0.0,
        reports: bool = True,
        senders: Mapping[str, str] | None = None,
        sms_senders: SmsSenders,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = time.time,
    ) -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        # Raises ValueError for a fault that is none of the four, at start-up rather than at the first message.
        self._fault = SandboxFault(fault)
        self._record = DELIVERIES.append if record is None else record
        self._delay = delay_seconds
        self._reports = reports
        self._senders = dict(senders or {})
        self._sms_senders = sms_senders
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"SandboxProvider(fault={self._fault.value!r}, delay_seconds={self._delay!r})"

    def deliver(self, message: OutboundMessage) -> Delivered:
        """Records `message` (after the configured delay) or fails as configured; never records a failed one."""
        if self._delay:
            self._sleep(self._delay)
        if self._fault is SandboxFault.TRANSIENT:
            raise DeliveryFailed("Sandbox configured to fail (transient).", transient=True, code="sandbox-transient")
        if self._fault is SandboxFault.PERMANENT:
            raise DeliveryFailed("Sandbox configured to fail (permanent).", transient=False, code="sandbox-permanent")
        if self._fault is SandboxFault.CRASH:
            raise SandboxCrash("Sandbox configured to crash (TRIALGW_SANDBOX_FAULT=crash).")
        delivery = SandboxDelivery(
            channel=message.channel,
            to=message.to,
            sender=trial_sender(message, self._senders, self._sms_senders),
            text=message.text,
            at=int(self._clock()),
            message_id=message.message_id,
            kind=message.kind,
            rich_content=message.rich_content,
        )
        self._record(delivery)
        provider_message_id = sandbox_message_id(message.message_id)
        # Only a send has a record for a report to move; a reply's report would look up nothing.
        reports = (
            (_report(provider_message_id, "delivered", at=delivery.at),)
            if self._reports and message.kind == "send"
            else ()
        )
        return Delivered(provider=ProviderName.SANDBOX, provider_message_id=provider_message_id, reports=reports)


def sandbox_message_id(message_id: str) -> str:
    """The sandbox's id for our message: what its `sent` record and its status reports carry."""
    return f"sandbox-{message_id}"


def _report(provider_message_id: str, status: str, *, at: int | None) -> StatusReport:
    # By the provider's id only, as a real provider's report: `apply_reports` locates it by provider and that id.
    return StatusReport(message_id="", status=status, reason=None, at=at, provider_message_id=provider_message_id)


def read_report(delivery: SandboxDelivery, *, at: int) -> StatusReport | None:
    """The `read` report for a delivery the simulated phone showed; None for one without a record (a reply)."""
    if delivery.kind != "send":
        return None
    return _report(sandbox_message_id(delivery.message_id), "read", at=at)


__all__ = [
    "DELIVERIES",
    "SandboxCrash",
    "SandboxDelivery",
    "SandboxFault",
    "SandboxLog",
    "SandboxProvider",
    "read_report",
    "sandbox_message_id",
]
