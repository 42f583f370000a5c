"""The webhook worker's HTTP call (issue 18): one event's bytes POSTed to a trial's URL, over `http.client`.

Every request (the first and each redirect hop) checks its URL first (`trialgw.webhook_urls.check_url`, the name
resolved anew) and then connects to one of the addresses that check admitted, never resolving the name a second time:
the answer checked is the answer used, so a name that turns private between the check and the connect (DNS
rebinding) is never reached (`pinned_address`: the first IPv4 one). TLS still verifies the certificate against the
name, and sends it as SNI and `Host`.

Limits (`trialgw.budgets`): connecting, TLS included, within WEBHOOK_CONNECT_SECONDS; each read of the answer within
WEBHOOK_READ_SECONDS; only the first ANSWER_BYTES of the answer's body are read (and kept for the log). Redirects: 307
and 308 (which keep the method and the body) are followed up to WEBHOOK_MAX_REDIRECTS hops, each hop checked by
`check_redirect`; any other 3xx, a hop refused and one hop too many end the call with the status and an `error`.

No exception escapes `post`: a refused URL or redirect is `WebhookCallFailure.REFUSED`, anything the network does
(no name, no connection, TLS, a timeout, a garbled answer) `UNREACHABLE`. The request's headers (the signature among
them) appear in no error and no log.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from trialgw.budgets import WEBHOOK_CONNECT_SECONDS, WEBHOOK_MAX_REDIRECTS, WEBHOOK_READ_SECONDS
from trialgw.ports import WebhookCallFailure, WebhookCallResult
from trialgw.webhook_urls import RefusedUrl, Resolver, Target, check_redirect, check_url

# The answer's body the log keeps (and the most the worker reads of it).
ANSWER_BYTES = 1024
# The redirects that keep a POST a POST with its body; the others (301, 302, 303) would make a browser GET.
FOLLOWED_REDIRECTS = frozenset({307, 308})
# (address, port), timeout → a connected socket; `socket.create_connection` unless a test routes it.
Connector = Callable[[tuple[str, int], float], socket.socket]


def pinned_address(target: Target) -> str:
    """The checked address to connect to: the first IPv4 one (Lambda outside a VPC reaches the internet over IPv4
    only, so a name with both kinds of records would otherwise fail whenever its IPv6 answer came first), else the
    first."""
    return next((address for address in target.addresses if ":" not in address), target.addresses[0])


def _default_resolver() -> Resolver:
    from trialgw.adapters import dns

    return dns.resolve


class _PinnedHttp(http.client.HTTPConnection):
    """http:// (the local stack's loopback receiver only): the connection goes to the checked address."""

    def __init__(self, target: Target, *, connect: Connector, connect_seconds: float, read_seconds: float) -> None:
        super().__init__(target.host, target.port, timeout=connect_seconds)
        self._address = pinned_address(target)
        self._connect = connect
        self._read_seconds = read_seconds

    def connect(self) -> None:
        sock = self._connect((self._address, self.port), self.timeout)  # type: ignore[arg-type]  # set in __init__
        sock.settimeout(self._read_seconds)
        self.sock = sock


class _PinnedHttps(http.client.HTTPSConnection):
    """https://: TCP to the checked address, TLS for the URL's name (SNI, certificate verified against it)."""

    def __init__(
        self,
        target: Target,
        *,
        connect: Connector,
        connect_seconds: float,
        read_seconds: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(target.host, target.port, timeout=connect_seconds, context=context)
        self._address = pinned_address(target)
        self._connect = connect
        self._read_seconds = read_seconds
        self._tls = context

    def connect(self) -> None:
        raw = self._connect((self._address, self.port), self.timeout)  # type: ignore[arg-type]  # set in __init__
        try:
            # The handshake runs under the connect timeout (it is part of connecting); reads get their own after it.
            tls = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise
        tls.settimeout(self._read_seconds)
        self.sock = tls


class HttpWebhookPoster:
    """`trialgw.ports.WebhookPoster` over http.client (see the module docstring)."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        resolve: Resolver | None = None,
        connect: Connector = socket.create_connection,
        context: ssl.SSLContext | None = None,
        connect_seconds: float = WEBHOOK_CONNECT_SECONDS,
        read_seconds: float = WEBHOOK_READ_SECONDS,
        max_redirects: int = WEBHOOK_MAX_REDIRECTS,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolve = resolve if resolve is not None else _default_resolver()
        self._connect = connect
        self._context = context
        self._connect_seconds = connect_seconds
        self._read_seconds = read_seconds
        self._max_redirects = max_redirects

    def _tls_context(self) -> ssl.SSLContext:
        # Built on first https use: the system's trust store, hostname checking on (the default context's).
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> WebhookCallResult:
        started = time.monotonic()

        def result(
            status: int | None,
            *,
            answer: str = "",
            error: str | None = None,
            failure: WebhookCallFailure | None = None,
        ) -> WebhookCallResult:
            latency_ms = max(0, round((time.monotonic() - started) * 1000))
            return WebhookCallResult(status, latency_ms, answer=answer, error=error, failure=failure)

        lookups_failed: list[str] = []

        def resolve(host: str, port: int) -> Sequence[str]:
            # A name that does not resolve (or not in time) may resolve later: that refusal is retried, unlike one
            # for what the name resolves to.
            try:
                return self._resolve(host, port)
            except OSError:
                lookups_failed.append(host)
                raise

        def refused(status: int | None, refusal: RefusedUrl, prefix: str = "", answer: str = "") -> WebhookCallResult:
            failure = WebhookCallFailure.UNREACHABLE if lookups_failed else WebhookCallFailure.REFUSED
            return result(status, answer=answer, error=f"{prefix}{refusal}", failure=failure)

        try:
            target = check_url(url, allow_loopback=self._allow_loopback, resolve=resolve)
        except RefusedUrl as refusal:
            return refused(None, refusal, "The URL is not allowed: ")
        hops = 0
        while True:
            try:
                status, location, answer = self._request(target, body, headers)
            except _NoAnswer as no_answer:
                return result(None, error=str(no_answer), failure=WebhookCallFailure.UNREACHABLE)
            if status not in FOLLOWED_REDIRECTS:
                if 300 <= status < 400:  # the redirect range
                    return result(
                        status,
                        answer=answer,
                        error=f"The webhook answered {status}, a redirect that is not followed: only 307 and 308 "
                        "(which keep the POST and its body) are.",
                        failure=WebhookCallFailure.REFUSED,
                    )
                return result(status, answer=answer)
            if hops == self._max_redirects:
                return result(
                    status,
                    answer=answer,
                    error=f"The webhook redirected more than {self._max_redirects} times.",
                    failure=WebhookCallFailure.REFUSED,
                )
            try:
                target = check_redirect(target, location, allow_loopback=self._allow_loopback, resolve=resolve)
            except RefusedUrl as refusal:
                return refused(status, refusal, answer=answer)
            hops += 1

    def _connection(self, target: Target) -> http.client.HTTPConnection:
        options = {
            "connect": self._connect,
            "connect_seconds": self._connect_seconds,
            "read_seconds": self._read_seconds,
        }
        if urlsplit(target.url).scheme.lower() == "https":
            return _PinnedHttps(target, context=self._tls_context(), **options)  # type: ignore[arg-type]
        return _PinnedHttp(target, **options)  # type: ignore[arg-type]

    def _request(self, target: Target, body: bytes, headers: dict[str, str]) -> tuple[int, str | None, str]:
        """The status, Location and first ANSWER_BYTES of the answer of one POST to the target; _NoAnswer else."""
        parts = urlsplit(target.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = self._connection(target)
        try:
            try:
                connection.connect()
            except TimeoutError:
                raise _NoAnswer(f"Could not connect within {self._connect_seconds:g} s.") from None
            except ssl.SSLError as error:
                raise _NoAnswer(f"TLS failed: {_reason(error)}.") from None
            except OSError as error:
                raise _NoAnswer(f"Could not connect: {_reason(error)}.") from None
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                answer = response.read(ANSWER_BYTES)
            except TimeoutError:
                raise _NoAnswer(f"No answer within {self._read_seconds:g} s.") from None
            except (OSError, http.client.HTTPException) as error:
                raise _NoAnswer(f"The connection failed: {_reason(error)}.") from None
            return response.status, response.getheader("Location"), answer.decode("utf-8", errors="replace")
        finally:
            connection.close()


class _NoAnswer(Exception):
    """The call got no HTTP answer; the message says why, for the developer's log."""


def _reason(error: BaseException) -> str:
    """What went wrong, briefly: the error's own words (an OS or TLS reason, never the request), else its type."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return error.verify_message or "the certificate was not accepted"
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__


__all__ = ["ANSWER_BYTES", "FOLLOWED_REDIRECTS", "Connector", "HttpWebhookPoster", "pinned_address"]
