"""The local webhook receiver (issue 18): somewhere on 127.0.0.1 for a trial's own webhooks to go, and a page to watch.

`POST /_local/receiver/<name>` keeps the request (headers, raw body, time) and answers 200, or the status that
`?status=` asks for (e.g. `?status=500`, to watch the worker retry); `GET /_local/receiver/requests.json` lists what
arrived, newest first; `GET /_local/receiver` is a page that shows them and checks `X-Trial-Signature` in the browser
(WebCrypto HMAC) against a secret pasted into it, so the secret never reaches this server or its log.

Bounded: the last `MAX_REQUESTS` requests, each body cut at `MAX_BODY_BYTES` (kept whole up to it, so a signature
over a cut body shows as not verifiable rather than wrong). Local stack only: `/_local/...` is the local server's,
never a route of the CDK stack. The server is a ThreadingHTTPServer, so the webhook worker, running in a pump
thread of the same process, can POST here while another thread serves it.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.events import HttpRequest, HttpResponse, json_response, parse_query
from infra.local.static import StaticSite

RECEIVER_PATH = "/_local/receiver"
RECEIVER_DIR = Path(__file__).resolve().parent / "receiver"
REQUESTS_JSON = "requests.json"
MAX_REQUESTS = 200
MAX_BODY_BYTES = 64 * 1024
# One path segment names the receiver (`inbound`, `status`, anything a developer likes): no slashes, short.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    number: int
    name: str
    at_ms: int
    method: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    # The body's length as it arrived (it is kept up to MAX_BODY_BYTES).
    size: int
    answered: int

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.number,
            "name": self.name,
            "at": datetime.fromtimestamp(self.at_ms / 1000, tz=UTC).isoformat(timespec="milliseconds"),
            "method": self.method,
            "headers": [[key, value] for key, value in self.headers],
            "eventId": self.header("X-Trial-Event-Id"),
            "kind": self.header("X-Trial-Event-Kind"),
            "signed": self.header("X-Trial-Signature") is not None,
            # As text for reading, and the exact bytes (base64) for the page's signature check.
            "body": self.body.decode("utf-8", errors="replace"),
            "bodyBase64": base64.b64encode(self.body).decode("ascii"),
            "size": self.size,
            "truncated": self.size > len(self.body),
            "answered": self.answered,
        }


class WebhookReceiver:
    """The requests that arrived, newest last, under a lock (the server's threads and the page read it at once)."""

    def __init__(self, *, max_requests: int = MAX_REQUESTS, site: StaticSite | None = None) -> None:
        self._requests: deque[ReceivedRequest] = deque(maxlen=max_requests)
        self._lock = threading.Lock()
        self._count = 0
        self._site = site if site is not None else StaticSite(RECEIVER_DIR, root_page=("index.html",))

    @property
    def site(self) -> StaticSite:
        return self._site

    def receive(self, name: str, request: HttpRequest) -> HttpResponse:
        """Keeps a POST to `/_local/receiver/<name>`; 200 `{"received"}` or the status `?status=` asks for."""
        if not _NAME.fullmatch(name):
            return json_response(404, {"message": "Name the receiver with one path segment: /_local/receiver/inbound"})
        wanted = parse_query(request.query).get("status", ["200"])[-1]
        if not (wanted.isascii() and wanted.isdigit() and 200 <= int(wanted) <= 599):
            return json_response(400, {"message": "status must be an HTTP status from 200 to 599"})
        answered = int(wanted)
        body = request.body or b""
        with self._lock:
            self._count += 1
            kept = ReceivedRequest(
                number=self._count,
                name=name,
                at_ms=int(time.time() * 1000),
                method=request.method.upper(),
                headers=tuple(request.headers),
                body=body[:MAX_BODY_BYTES],
                size=len(body),
                answered=answered,
            )
            self._requests.append(kept)
        return json_response(answered, {"received": kept.number, "name": name})

    def requests(self) -> list[ReceivedRequest]:
        """What arrived, newest first."""
        with self._lock:
            return list(reversed(self._requests))

    def listing(self) -> HttpResponse:
        return json_response(
            200, {"requests": [r.to_json() for r in self.requests()]}, (("Cache-Control", "no-store"),)
        )


__all__ = ["MAX_BODY_BYTES", "MAX_REQUESTS", "RECEIVER_PATH", "REQUESTS_JSON", "ReceivedRequest", "WebhookReceiver"]
