"""The webhook worker's HTTP call (trialgw.adapters.webhook_http) against real local servers on 127.0.0.1: statuses,
timeouts, the 1 KiB answer, redirects (307 followed to a checked hop, 302 not, a hop to the metadata address refused),
the pinned address, and TLS verified against the URL's name while connecting to the checked address."""

from __future__ import annotations

import contextlib
import datetime
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from trialgw.adapters.webhook_http import ANSWER_BYTES, HttpWebhookPoster, pinned_address
from trialgw.ports import WebhookCallFailure
from trialgw.webhook_urls import Target

BODY = b'{"hello":"w\xc3\xb6rld"}'
HEADERS = {"Content-Type": "application/json", "X-Trial-Event-Id": "evt_test1234"}
PUBLIC = "93.184.215.14"


@dataclass
class Seen:
    requests: list[tuple[str, str, bytes, dict[str, str]]] = field(default_factory=list)


class Receiver(http.server.BaseHTTPRequestHandler):
    seen: Seen

    def log_message(self, format: str, *args: object) -> None:  # http.server's name
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.seen.requests.append((self.command, self.path, body, dict(self.headers.items())))
        path = self.path
        if path == "/sleep":
            time.sleep(1.5)
            self._answer(200, b"late")
        elif path == "/big":
            self._answer(200, b"x" * 5000 + b"\xff")
        elif path.startswith("/status/"):
            self._answer(int(path.rsplit("/", 1)[1]), b"status " + path.encode())
        elif path.startswith("/redirect/"):
            _, _, code, where = path.split("/", 3)
            self.send_response(int(code))
            self.send_header("Location", "/" + where if not where.startswith("http") else where.replace(":/", "://"))
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._answer(200, b"fine")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # The worker may have given up waiting (the timeout test).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@dataclass
class Server:
    port: int
    seen: Seen

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _serve(context: ssl.SSLContext | None = None) -> Iterator[Server]:
    seen = Seen()
    handler = type("Handler", (Receiver,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(server.server_address[1], seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Server]:
    yield from _serve()


def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError("a loopback URL needs no DNS")


def local(**options: object) -> HttpWebhookPoster:
    return HttpWebhookPoster(allow_loopback=True, resolve=no_dns, **options)  # type: ignore[arg-type]


def test_the_exact_bytes_and_headers_are_posted_and_a_2xx_answer_is_kept(server: Server) -> None:
    result = local().post(server.url("/hook?x=1"), BODY, HEADERS)
    assert (result.status, result.answer, result.error, result.failure) == (200, "fine", None, None)
    assert result.latency_ms >= 0
    [(method, path, body, headers)] = server.seen.requests
    assert (method, path, body) == ("POST", "/hook?x=1", BODY)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Trial-Event-Id"] == "evt_test1234"
    assert headers["Host"] == f"127.0.0.1:{server.port}"


@pytest.mark.parametrize("status", [201, 400, 404, 429, 500, 503])
def test_any_status_is_reported_as_answered(server: Server, status: int) -> None:
    result = local().post(server.url(f"/status/{status}"), BODY, HEADERS)
    assert (result.status, result.answer, result.failure) == (status, f"status /status/{status}", None)


def test_only_the_first_kib_of_the_answer_is_read_and_undecodable_bytes_are_replaced(server: Server) -> None:
    result = local().post(server.url("/big"), BODY, HEADERS)
    assert result.answer == "x" * ANSWER_BYTES


def test_a_receiver_slower_than_the_read_timeout_is_no_answer(server: Server) -> None:
    started = time.monotonic()
    result = local(read_seconds=0.3).post(server.url("/sleep"), BODY, HEADERS)
    assert time.monotonic() - started < 1.4
    assert (result.status, result.failure, result.error) == (
        None,
        WebhookCallFailure.UNREACHABLE,
        "No answer within 0.3 s.",
    )


def test_a_closed_port_is_no_answer() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = local().post(f"http://127.0.0.1:{port}/", BODY, HEADERS)
    assert (result.status, result.failure) == (None, WebhookCallFailure.UNREACHABLE)
    assert result.error is not None
    assert result.error.startswith("Could not connect")


@pytest.mark.parametrize("code", [307, 308])
def test_a_307_or_308_is_followed_with_the_same_method_body_and_headers(server: Server, code: int) -> None:
    result = local().post(server.url(f"/redirect/{code}/landed"), BODY, HEADERS)
    assert (result.status, result.answer, result.failure) == (200, "fine", None)
    assert [(m, p, b) for m, p, b, _ in server.seen.requests] == [
        ("POST", f"/redirect/{code}/landed", BODY),
        ("POST", "/landed", BODY),
    ]
    assert server.seen.requests[1][3]["X-Trial-Event-Id"] == "evt_test1234"


@pytest.mark.parametrize("code", [301, 302, 303])
def test_other_redirects_are_not_followed(server: Server, code: int) -> None:
    result = local().post(server.url(f"/redirect/{code}/landed"), BODY, HEADERS)
    assert (result.status, result.failure) == (code, WebhookCallFailure.REFUSED)
    assert result.error is not None
    assert "only 307 and 308" in result.error
    assert len(server.seen.requests) == 1


def test_a_redirect_to_the_metadata_address_is_refused(server: Server) -> None:
    result = local().post(server.url("/redirect/307/https:/169.254.169.254/latest/meta-data/"), BODY, HEADERS)
    assert (result.status, result.failure) == (307, WebhookCallFailure.REFUSED)
    assert result.error is not None
    assert "169.254.169.254 is a cloud metadata address" in result.error
    assert len(server.seen.requests) == 1


def test_at_most_three_redirects_are_followed(server: Server) -> None:
    loop = "/redirect/307/redirect/307/redirect/307/redirect/307/landed"
    result = local().post(server.url(loop), BODY, HEADERS)
    assert (result.status, result.failure) == (307, WebhookCallFailure.REFUSED)
    assert result.error == "The webhook redirected more than 3 times."
    assert len(server.seen.requests) == 4


def test_a_refused_url_is_never_connected_to() -> None:
    def connect(address: tuple[str, int], timeout: float) -> socket.socket:
        raise AssertionError("no connection to a refused URL")

    poster = HttpWebhookPoster(allow_loopback=True, resolve=lambda _host, _port: ("10.0.0.7",), connect=connect)
    for url in ("http://10.0.0.1:8080/", "https://hooks.example.com/", "https://169.254.169.254/"):
        result = poster.post(url, BODY, HEADERS)
        assert (result.status, result.failure) == (None, WebhookCallFailure.REFUSED), url
        assert result.error is not None
        assert result.error.startswith("The URL is not allowed: ")


def test_a_name_that_does_not_resolve_is_retried_not_refused() -> None:
    def resolve(host: str, port: int) -> Sequence[str]:
        raise OSError("no answer within 1 s")

    result = HttpWebhookPoster(allow_loopback=False, resolve=resolve).post("https://hooks.example.com/", BODY, HEADERS)
    assert (result.status, result.failure) == (None, WebhookCallFailure.UNREACHABLE)


def test_the_connection_goes_to_the_checked_address_never_to_a_second_answer() -> None:
    answers = iter([(PUBLIC,), ("127.0.0.1",)])
    lookups: list[str] = []
    connected: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> Sequence[str]:
        lookups.append(host)
        return next(answers)

    def connect(address: tuple[str, int], timeout: float) -> socket.socket:
        connected.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    poster = HttpWebhookPoster(allow_loopback=False, resolve=resolve, connect=connect)
    result = poster.post("https://hooks.example.com/in", BODY, HEADERS)
    assert (result.failure, result.error) == (WebhookCallFailure.UNREACHABLE, "Could not connect: Connection refused.")
    assert lookups == ["hooks.example.com"]
    assert connected == [(PUBLIC, 443)]


# TLS: a certificate for hooks.example.com, a server with it on 127.0.0.1, the URL's name resolving to a public
# address that the test's connector routes to that server.


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.parametrize(("served", "verified"), [("hooks.example.com", True), ("other.example.com", False)])
def test_tls_goes_to_the_checked_address_and_verifies_the_urls_name(
    tmp_path: Path, served: str, verified: bool
) -> None:
    cert_path, key_path = _certificate(tmp_path, served)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    client_context = ssl.create_default_context(cafile=str(cert_path))
    connected: list[tuple[str, int]] = []
    for server in _serve(server_context):

        def connect(address: tuple[str, int], timeout: float, port: int = server.port) -> socket.socket:
            connected.append(address)
            return socket.create_connection(("127.0.0.1", port), timeout)

        poster = HttpWebhookPoster(
            allow_loopback=False, resolve=lambda _host, _port: (PUBLIC,), connect=connect, context=client_context
        )
        result = poster.post(f"https://hooks.example.com:{server.port}/in", BODY, HEADERS)
        assert connected == [(PUBLIC, server.port)]
        if verified:
            assert (result.status, result.answer) == (200, "fine")
            [(_, _, body, headers)] = server.seen.requests
            assert (body, headers["Host"]) == (BODY, f"hooks.example.com:{server.port}")
        else:
            assert (result.status, result.failure) == (None, WebhookCallFailure.UNREACHABLE)
            assert result.error is not None
            assert result.error.startswith("TLS failed: ")
            assert server.seen.requests == []


def test_an_ipv4_address_is_preferred_among_the_checked_ones() -> None:
    both = Target(
        "https://hooks.example.com/", "hooks.example.com", 443, ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", PUBLIC)
    )
    assert pinned_address(both) == PUBLIC
    only_v6 = Target(
        "https://hooks.example.com/", "hooks.example.com", 443, ("2606:2800:21f:cb07:6820:80da:af6b:8b2c",)
    )
    assert pinned_address(only_v6) == "2606:2800:21f:cb07:6820:80da:af6b:8b2c"
