"""moto's server in-process on 127.0.0.1, answering one request at a time.

moto's conditional writes are not atomic under concurrent requests, and quotas must stay exact, so
every request runs under one lock (the server itself stays threaded so that keep-alive connections
never block each other). moto is imported only in `start()`: importing it is slow.
"""

from __future__ import annotations

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
