"""The local front door on 127.0.0.1: API Gateway for the routes, the static site, and `/_local/...`.

`LocalGateway.handle` decides everything from an `HttpRequest` (testable without sockets); the
`ThreadingHTTPServer` around it only reads requests and writes answers.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from infra import api_errors
from infra.local.events import (
    MAX_BODY_BYTES,
    HttpRequest,
    HttpResponse,
    InvalidLambdaResponse,
    RouteMatch,
    build_event,
    gateway_error,
    json_response,
    match_route,
    parse_query,
    route_methods,
    to_http_response,
)
from infra.local.invoke import FunctionHost
from infra.local.mail import MailOutbox
from infra.local.mo import MoSimulator, Peek
from infra.local.receiver import RECEIVER_PATH, REQUESTS_JSON, WebhookReceiver
from infra.local.sandbox_statuses import SandboxStatuses
from infra.local.static import PHONE_PATH, Redirect, StaticSite, phone_site
from infra.site_rules import TRIAL_JSON, trial_rules
from infra.topology import RouteDef
from infra.web_security import security_headers
from trialgw.errors import DependencyUnavailable
from trialgw.http import CORS_ALLOW_HEADERS, CORS_MAX_AGE_SECONDS
from trialgw.providers.sandbox.delivery import SandboxDelivery
from trialgw.settings import TrialSettings

STAGE = "local"
# Each local helper and the methods it answers (HEAD goes with GET).
LOCAL_HELPERS: dict[str, tuple[str, ...]] = {
    "/_local/mail": ("GET", "HEAD"),
    "/_local/outbound": ("GET", "HEAD"),
    "/_local/deliveries": ("GET", "HEAD"),
    "/_local/aws": ("GET", "HEAD"),
    "/_local/mo": ("POST",),
    # The phone page reports the sandbox's sends it showed `read` (infra.local.sandbox_statuses).
    "/_local/read": ("POST",),
    # The end user's phone page, and its files under `/_local/phone/...`.
    PHONE_PATH: ("GET", "HEAD"),
    # The local webhook receiver (issue 18): POST `/_local/receiver/<name>` keeps a call, GET its page and
    # `/_local/receiver/requests.json`.
    RECEIVER_PATH: ("GET", "HEAD", "POST"),
}

Log = Callable[[str], None]
# What the sandbox provider delivered so far, oldest first (`trialgw.providers.sandbox.delivery.DELIVERIES.entries`).
Deliveries = Callable[[], Sequence[SandboxDelivery]]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class LocalAws:
    """Where the stack's AWS services are (moto), for `/_local/aws`: how `trialgw-admin --local` finds them."""

    endpoint: str
    region: str
    # Logical table name → physical name, as the functions read them.
    tables: Mapping[str, str]

    def to_json(self) -> dict[str, object]:
        return {"endpoint": self.endpoint, "region": self.region, "tables": dict(self.tables)}


class LocalGateway:
    """API Gateway + CloudFront, locally: one origin serves the API routes and the pages."""

    def __init__(
        self,
        *,
        routes: Iterable[RouteDef],
        functions: FunctionHost,
        site: StaticSite,
        outbox: MailOutbox,
        base_url: str,
        mo: MoSimulator | None = None,
        outbound: Peek | None = None,
        deliveries: Deliveries | None = None,
        statuses: SandboxStatuses | None = None,
        phone: StaticSite | None = None,
        aws: LocalAws | None = None,
        trial: Mapping[str, Any] | None = None,
        receiver: WebhookReceiver | None = None,
        log: Log = _stderr,
    ) -> None:
        self._routes = tuple(routes)
        self._receiver = receiver if receiver is not None else WebhookReceiver()
        self._aws = aws
        self._phone = phone if phone is not None else phone_site()
        self._mo = mo
        self._outbound = outbound
        self._deliveries = deliveries
        self._statuses = statuses
        self._functions = functions
        self._site = site
        self._outbox = outbox
        self._base_url = base_url.rstrip("/")
        self._host = urlsplit(self._base_url).netloc
        self._trial = dict(trial) if trial is not None else trial_rules(TrialSettings())
        self._log = log

    def handle(self, request: HttpRequest) -> HttpResponse:
        path, method = request.path, request.method.upper()
        if path == "/_local" or path.startswith("/_local/"):
            return self._local(request)
        match = match_route(self._routes, method, path)
        if match is not None:
            return self._invoke(request, match)
        methods = route_methods(self._routes, path)
        if methods and method == "OPTIONS":
            return self._preflight(methods)
        if method in ("GET", "HEAD"):
            page = self._static(path)
            # Site and API share one origin here: a path both have (`/signup`) is a page for a browser, and a path
            # in neither is the site's 404 unless it is under an API-only prefix (`/dashboard-api/…`).
            if page.status != 404 or not (methods or self._in_api_only_prefix(path)):
                return page
        return self._no_route(methods)

    def _no_route(self, methods: set[str]) -> HttpResponse:
        """What the CDK API's gateway responses answer for a path or method it does not define (infra.api_errors):
        404 with the routes to use; a path some route has, asked with another method, 405 with `Allow` (API
        Gateway cannot tell the two apart and answers both 404)."""
        if methods:
            allowed = sorted(methods | {"OPTIONS"})
            return gateway_error(
                api_errors.WRONG_METHOD_STATUS,
                api_errors.wrong_method_message(allowed),
                "MethodNotAllowedException",
                (("Allow", ", ".join(allowed)),),
            )
        # API Gateway names the error type so even with the response overridden.
        return gateway_error(
            api_errors.NO_ROUTE_STATUS, api_errors.NO_ROUTE_MESSAGE, "MissingAuthenticationTokenException"
        )

    def _in_api_only_prefix(self, path: str) -> bool:
        first = path.strip("/").split("/", 1)[0]
        return any(route.path.strip("/").split("/", 1)[0] == first for route in self._routes) and (
            self._site.resolve(f"/{first}") is None
        )

    # --- API Gateway -------------------------------------------------------------------------

    def _invoke(self, request: HttpRequest, match: RouteMatch) -> HttpResponse:
        request_id = str(uuid.uuid4())
        event = build_event(
            request, match, request_id=request_id, epoch_ms=int(time.time() * 1000), stage=STAGE, host=self._host
        )
        function = match.route.function
        try:
            result = self._functions.invoke(function, event)
            response = to_http_response(result)
        except InvalidLambdaResponse as error:
            self._log(f"[local] {function}: malformed Lambda proxy response ({error}); API Gateway answers 502")
            response = gateway_error(502, "Internal server error", "InternalServerErrorException")
        except Exception:
            # The traceback is for the terminal only; the caller sees what API Gateway would show.
            self._log(f"[local] {function} raised:\n{traceback.format_exc()}")
            response = gateway_error(502, "Internal server error", "InternalServerErrorException")
        return HttpResponse(response.status, (*response.headers, ("x-amzn-RequestId", request_id)), response.body)

    def _preflight(self, methods: set[str]) -> HttpResponse:
        """The CORS preflight API Gateway answers itself (a mock integration) for the site's origin."""
        headers = (
            ("Access-Control-Allow-Origin", self._base_url),
            ("Access-Control-Allow-Methods", ",".join(sorted(methods | {"OPTIONS"}))),
            ("Access-Control-Allow-Headers", ",".join(CORS_ALLOW_HEADERS)),
            ("Access-Control-Max-Age", str(CORS_MAX_AGE_SECONDS)),
            ("Vary", "Origin"),
        )
        return HttpResponse(204, headers)

    # --- the static site -----------------------------------------------------------------------

    def _page(self, status: int, content_type: str, body: bytes, *extra: tuple[str, str]) -> HttpResponse:
        headers = [("Content-Type", content_type), ("Cache-Control", "no-cache"), *extra]
        headers += security_headers(self._base_url).items()
        return HttpResponse(status, tuple(headers), body)

    def _static(self, path: str) -> HttpResponse:
        if path == "/config.json":
            config = json.dumps({"apiUrl": self._base_url}).encode()
            return self._page(200, "application/json", config)
        if path == f"/{TRIAL_JSON}":
            return self._page(200, "application/json", json.dumps(self._trial, ensure_ascii=False).encode())
        return self._file(self._site, path)

    def _file(self, site: StaticSite, path: str, mount: str = "") -> HttpResponse:
        """A file of `site`, whose root is served at the URL path `mount` (`""` for the site itself)."""
        found = site.resolve(path)
        if found is None:
            return self._page(404, "text/plain; charset=utf-8", b"Not found\n")
        if isinstance(found, Redirect):
            return self._page(301, "text/plain; charset=utf-8", b"", ("Location", mount + found.location))
        return self._page(200, found.content_type, found.path.read_bytes())

    # --- local-only helpers --------------------------------------------------------------------

    def _local(self, request: HttpRequest) -> HttpResponse:
        path = request.path.rstrip("/")
        # The phone page is one helper with files under it: `/_local/phone/phone.js` is the page's too.
        helper = PHONE_PATH if path == PHONE_PATH or path.startswith(PHONE_PATH + "/") else path
        # So is the receiver: `/_local/receiver/<name>` are its receivers, and its page's files.
        if path == RECEIVER_PATH or path.startswith(RECEIVER_PATH + "/"):
            helper = RECEIVER_PATH
        methods = LOCAL_HELPERS.get(helper)
        if methods is None:
            return json_response(404, {"message": "No such local helper", "helpers": list(LOCAL_HELPERS)})
        if request.method.upper() not in methods:
            allowed = ", ".join(methods)
            return json_response(405, {"message": f"Use {methods[0]}"}, (("Allow", allowed),))
        if helper == RECEIVER_PATH:
            return self._receive(request)
        return self._helper(helper, request)

    def _helper(self, helper: str, request: HttpRequest) -> HttpResponse:
        if helper == PHONE_PATH:
            # A page like the site's (same security headers); `/_local/phone` itself is its index.html.
            return self._file(self._phone, request.path.removeprefix(PHONE_PATH) or "/", PHONE_PATH)
        # The helpers that take a request body.
        posts = {"/_local/mo": self._simulate_mo, "/_local/read": self._read}
        if helper in posts:
            return posts[helper](request)
        if helper == "/_local/aws":
            return self._aws_location()
        wanted = parse_query(request.query).get("to", [None])[-1]
        if helper == "/_local/mail":
            return json_response(200, [mail.to_json() for mail in self._outbox.sent(wanted)])
        if helper == "/_local/deliveries":
            return self._delivered(wanted)
        return self._queued(wanted)

    def _receive(self, request: HttpRequest) -> HttpResponse:
        """The webhook receiver: a POST is a call to keep; a GET its page, a file of it, or the list of calls."""
        rest = request.path.removeprefix(RECEIVER_PATH)
        if request.method.upper() == "POST":
            return self._receiver.receive(rest.strip("/"), request)
        if rest.strip("/") == REQUESTS_JSON:
            return self._receiver.listing()
        return self._file(self._receiver.site, rest or "/", RECEIVER_PATH)

    def _simulate_mo(self, request: HttpRequest) -> HttpResponse:
        if self._mo is None:
            return json_response(503, {"message": "No inbound simulation in this stack"})
        return self._mo.handle(request, self.handle)

    def _aws_location(self) -> HttpResponse:
        """`/_local/aws`: moto's endpoint, the region and the table names, for `trialgw-admin --local`."""
        if self._aws is None:
            return json_response(503, {"message": "No AWS emulation in this stack"})
        return json_response(200, self._aws.to_json())

    def _queued(self, to: str | None) -> HttpResponse:
        """`/_local/outbound`: what waits on the outbound queue now, peeked, not received."""
        if self._outbound is None:
            return json_response(503, {"message": "No outbound queue in this stack"})
        return json_response(200, [m.to_json() for m in self._outbound() if to is None or m.addressed_to(to)])

    def _delivered(self, to: str | None) -> HttpResponse:
        """`/_local/deliveries`: what the sandbox provider delivered (the end user's view), oldest first."""
        if self._deliveries is None:
            return json_response(503, {"message": "No sandbox deliveries in this stack"})
        entries = []
        for delivery in self._deliveries():
            if to is not None and delivery.to != to:
                continue
            entry = delivery.to_json()
            # What the send's record says now (a reply has none): the phone page shows it, never a status it assumed.
            if self._statuses is not None and (status := self._statuses.status(delivery)) is not None:
                entry["status"] = status
            entries.append(entry)
        return json_response(200, entries)

    def _read(self, request: HttpRequest) -> HttpResponse:
        """`POST /_local/read` `{"message_ids": [...]}`: the phone page showed these; each the sandbox delivered as a
        send is reported `read` (anything else is ignored: no other record can be reached from here)."""
        if self._statuses is None:
            return json_response(503, {"message": "No sandbox statuses in this stack"})
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        ids = body.get("message_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return json_response(400, {"message": 'Send {"message_ids": ["<message id>", ...]}'})
        try:
            return json_response(200, {"updated": self._statuses.read(ids)})
        except DependencyUnavailable as error:
            return json_response(503, {"message": str(error)})


class _BadRequestBody(Exception):
    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "trialgw-local"
    # An idle keep-alive connection must not hold a thread forever.
    timeout = 60
    # Headers and body are two writes: with Nagle on, a keep-alive client's delayed ACK holds the body ~40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=tuple(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
            )
            response = cast(LocalHttpServer, self.server).gateway.handle(request)
        except _BadRequestBody as error:
            response = error.response
            self.close_connection = True
        except Exception:
            _stderr(f"[local] error serving {self.command} {self.path}:\n{traceback.format_exc()}")
            response = json_response(500, {"message": "Local stack error (see the terminal)"})
        self._write(response)
        elapsed_ms = (time.monotonic() - started) * 1000
        _stderr(f"{self.command} {self.path} → {response.status} ({elapsed_ms:.0f} ms)")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        if not raw_length.strip().isdigit():
            raise _BadRequestBody(json_response(400, {"message": "Invalid Content-Length"}))
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            raise _BadRequestBody(gateway_error(413, "Request Too Long", "RequestTooLongException"))
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise _BadRequestBody(json_response(400, {"message": "Invalid chunked body"})) from None
            if size == 0:
                # Trailers, if any, end with an empty line.
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequestBody(gateway_error(413, "Request Too Long", "RequestTooLongException"))
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, response: HttpResponse) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.status not in (204, 304):
                self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and response.status not in (204, 304):
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # `_serve` logs one line per request, with the time it took.
        pass

    def log_message(self, format: str, *args: object) -> None:
        _stderr(f"[local] {self.address_string()} {format % args}")


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    gateway: LocalGateway

    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), _RequestHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])
