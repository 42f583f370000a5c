"""The local HTTP server's sockets: keep-alive answers leave at once (no Nagle delay behind the client's ACK)."""

from __future__ import annotations

import http.client
import socket
import threading
from pathlib import Path

from infra.local.invoke import FunctionHost
from infra.local.mail import MailOutbox
from infra.local.server import LocalGateway, LocalHttpServer
from infra.local.static import StaticSite


class _Recording(LocalHttpServer):
    """Keeps the server side of each accepted connection, to look at its socket options."""

    accepted: list[socket.socket]

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        self.accepted.append(connection)
        return connection, address


def test_keep_alive_connections_are_served_without_nagle(tmp_path: Path) -> None:
    # The answer is written as two segments (headers, then body); with Nagle on, the body waits for the
    # client's delayed ACK of the headers, ~40 ms on every request of a keep-alive client (browsers, Postman).
    (tmp_path / "index.html").write_text("<p>hi</p>")
    server = _Recording("127.0.0.1", 0)
    server.accepted = []
    server.gateway = LocalGateway(
        routes=[],
        functions=FunctionHost([]),
        site=StaticSite(tmp_path),
        outbox=MailOutbox(),
        base_url=f"http://127.0.0.1:{server.port}",
    )
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for _ in range(2):
            client.request("GET", "/index.html")
            response = client.getresponse()
            assert response.status == 200
            assert response.read() == b"<p>hi</p>"
        # Both requests on one connection, and that connection's socket has TCP_NODELAY.
        assert len(server.accepted) == 1
        assert server.accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        serving.join(timeout=5)
