"""The simulated phone's side of the sandbox's statuses: what became of each message it shows, and `read` once it
showed it.

`read` goes through `apply_reports`, the one path real providers' status reports take, found by provider and the
sandbox's id as a webhook's report is. Only a message the sandbox delivered can be reported: the id must be in this
process's sandbox log (`DELIVERIES`), and the report names the sandbox's own id, which only a send the sandbox took
has; no other record can be reached from here. A flagged send's `read` makes its trial's status event (issue 18) on the
webhook queue, as a provider's report does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from trialgw.adapters import aws
from trialgw.adapters.dynamo_messages import DynamoMessageLog
from trialgw.adapters.sqs_webhook_events import SqsWebhookEventQueue
from trialgw.errors import StoreError
from trialgw.logic.status_reports import apply_reports
from trialgw.providers.port import ProviderName
from trialgw.providers.sandbox.delivery import SandboxDelivery, read_report, sandbox_message_id


class SandboxStatuses:
    """Reads and reports the statuses of the sandbox's deliveries (local stack only)."""

    def __init__(
        self,
        deliveries: Callable[[], Sequence[SandboxDelivery]],
        messages_table: str,
        *,
        webhook_events_queue_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._deliveries = deliveries
        self._table = messages_table
        self._webhook_events_queue_url = webhook_events_queue_url
        self._clock = clock

    def _store(self) -> DynamoMessageLog:
        # Built per call: moto's endpoint is in the environment only once the stack has started.
        return DynamoMessageLog(aws.dynamodb(), self._table)

    def status(self, delivery: SandboxDelivery) -> str | None:
        """The record's status (`sent`, `delivered`, `read`, ...); None for a reply (no record), an unknown one, or
        when the table cannot be read (the page then shows none rather than a guess)."""
        if delivery.kind != "send":
            return None
        store = self._store()
        try:
            ref = store.locate(
                provider=ProviderName.SANDBOX.value, provider_message_id=sandbox_message_id(delivery.message_id)
            )
            found = None if ref is None else store.status_of(ref)
        except StoreError:
            return None
        return None if found is None else found.value

    def read(self, message_ids: Iterable[str]) -> int:
        """Reports `read` for each of `message_ids` the sandbox delivered as a send; returns how many moved. Raises
        DependencyUnavailable when the table cannot be written."""
        wanted = set(message_ids)
        now = int(self._clock())
        reports = [
            report
            for delivery in self._deliveries()
            if delivery.message_id in wanted and (report := read_report(delivery, at=now)) is not None
        ]
        if not reports:
            return 0
        events = SqsWebhookEventQueue(aws.sqs(), self._webhook_events_queue_url)
        return apply_reports(self._store(), reports, now=now, provider=ProviderName.SANDBOX.value, events=events)


__all__ = ["SandboxStatuses"]
