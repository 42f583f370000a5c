"""moto's server in-process on 127.0.0.1, answering one request at a time.

moto's conditional writes are not atomic under concurrent requests, and quotas must stay exact, so
every request runs under one lock (the server itself stays threaded so that keep-alive connections
never block each other). moto is imported only in `start()`: importing it is slow.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from infra.local.environment import REGION
from infra.local.events import ACCOUNT_ID
from infra.local.mail import MailCapture, MailOutbox, StartResponse, WsgiApp
from infra.local.outbound import QueuedMessage

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer


class Serialized:
    """WSGI middleware: one request at a time, the response body read inside the lock."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self.lock:
            result = self._app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]


def lighten_transaction_backups() -> None:
    """Makes moto's `TransactWriteItems` back up only the items it names, not every table it touches.

    moto 5.2.5 deep-copies each table a transaction names (once per item) so it can roll back: a cost that grows
    with everything stored, paid behind the lock above by every whitelisting and every delivered send. After a few
    thousand messages a transaction took hundreds of milliseconds and the process grew by gigabytes. Here the named
    items are copied instead and put back on any failure; moto's own code still decides everything else. Idempotent.
    """
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    if getattr(original, "_trialgw_item_backups", False):
        return

    class _TablesNotCopied:
        """Stands in for `copy` inside moto's DynamoDB models: a table "backup" is the table itself."""

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def named_items(backend: DynamoDBBackend, items: list[dict[str, Any]]) -> list[tuple[Table, Any, Any]]:
        """(table, hash key, range key) of every item the transaction names, in a table that exists."""
        named = []
        for entry in items:
            op = next(iter(entry.values()), None)
            if not isinstance(op, dict) or op.get("TableName") not in backend.tables:
                continue
            table = backend.tables[op["TableName"]]
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
                # moto refuses such an item itself, before changing anything.
                continue
            range_key = key.get(table.range_key_attr) if table.range_key_attr else None
            named.append(
                (table, DynamoType(key[table.hash_key_attr]), DynamoType(range_key) if range_key is not None else None)
            )
        return named

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        backups = [
            (table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key)))
            for table, hash_key, range_key in named_items(self, transact_items)
        ]
        try:
            original(self, transact_items)
        except BaseException:
            # Newest first: an item named twice ends as it was before the transaction.
            for table, hash_key, range_key, item in reversed(backups):
                table.delete_item(hash_key, range_key)
                if item is not None and range_key is not None:
                    table.items[hash_key][range_key] = item
                elif item is not None:
                    table.items[hash_key] = item
            raise

    transact_write_items._trialgw_item_backups = True  # type: ignore[attr-defined]
    # The module's own name for `copy` (not exported by moto); anything but a table is copied as before.
    vars(models)["copy"] = _TablesNotCopied()
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class MotoBackend:
    """DynamoDB, SQS, SES (v1 and v2) and SNS as moto serves them, at `endpoint_url`."""

    def __init__(self, outbox: MailOutbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self._outbox = outbox
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._app: Serialized | None = None

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the moto backend is not started")
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        lighten_transaction_backups()

        class QuietHandler(MotoRequestHandler):
            # One access-log line per AWS call would drown the gateway's own log.
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass

        self._app = app = Serialized(MailCapture(DomainDispatcherApplication(create_backend_app), self._outbox))
        self._server = make_server(self._host, self._port, app, threaded=True, request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        return self.endpoint_url

    def peek(self, queue_name: str) -> list[QueuedMessage]:
        """The messages on a queue now, oldest first, without receiving them (see `infra.local.outbound`)."""
        if self._app is None:
            raise RuntimeError("the moto backend is not started")
        from moto.sqs.models import sqs_backends

        # The same lock as every SQS call: moto's list is never read half-updated.
        with self._app.lock:
            queue = sqs_backends[ACCOUNT_ID][REGION].queues.get(queue_name)
            if queue is None:
                return []
            return [
                QueuedMessage(
                    queue=queue_name,
                    sqs_message_id=str(message.id),
                    body=str(message.body),
                    sent_at_ms=int(message.sent_timestamp or 0),
                    receive_count=int(message.approximate_receive_count),
                    in_flight=not message.visible,
                )
                for message in queue._messages
            ]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
