"""Shared fixtures. Loaded for every test, so it imports only the standard library and pytest.

`local_stack` runs `python -m infra.local` (what `make dev` runs) as a subprocess on a free port,
once per session; `start_local_stack(extra_env)` starts another one with different settings (e.g. a
trial that expires in seconds) for the tests that need it. `http_request` (and `LocalStack.get`,
`.post_json`, `.request`, `.mail`) talk HTTP with urllib and never raise on an error status.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 60
TRIAL_KEY = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
STOP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class HttpResult:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(
    method: str,
    url: str,
    *,
    body: bytes | str | None = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> HttpResult:
    """One HTTP request (curl-like): any status comes back as a result, only network errors raise."""
    all_headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body)
        all_headers.setdefault("Content-Type", "application/json")
    data = body.encode("utf-8") if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    # No redirect following: tests look at the 301 itself.
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return HttpResult(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return HttpResult(error.code, error.headers, error.read())


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


@dataclass
class LocalStack:
    """A running local stack: `url` is its base URL (site and API), e.g. `http://127.0.0.1:51234`."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> HttpResult:
        return http_request("GET", self.url + path, headers=headers)

    def post_json(self, path: str, payload: Any, headers: Mapping[str, str] | None = None) -> HttpResult:
        return http_request("POST", self.url + path, json_body=payload, headers=headers)

    def request(self, method: str, path: str, **kwargs: Any) -> HttpResult:
        return http_request(method, self.url + path, **kwargs)

    def mail(self, to: str | None = None) -> list[dict[str, Any]]:
        """E-mails the stack captured (`/_local/mail`), optionally only those to one address."""
        query = "" if to is None else "?" + urllib.parse.urlencode({"to": to})
        result = self.get("/_local/mail" + query)
        assert result.status == 200, result.text
        mails: list[dict[str, Any]] = result.json()
        return mails

    def sign_up(self, name: str = "E2E Tester") -> str:
        """Signs up a fresh address and returns the trial key from its e-mail."""
        email = f"e2e-{uuid.uuid4().hex[:12]}@example.com"
        response = self.post_json("/signup", {"name": name, "email": email})
        assert response.status == 202, response.text
        keys = set(TRIAL_KEY.findall(self.mail(to=email)[0]["text"]))
        assert len(keys) == 1
        return str(keys.pop())

    def output(self) -> str:
        """Everything the stack printed so far (banner, e-mails, access log, handler logs)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stops the stack (the signal, then a kill after a timeout); returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def messages_for(stack: LocalStack, address: str) -> list[dict[str, Any]]:
    """What the trial company sent `address` (`channel`, `to`, `text`, `kind`, `message_id`), wherever it is now: on
    the delivery queue (`/_local/outbound`) or delivered by the local pump (`/_local/deliveries`); oldest first."""
    query = urllib.parse.urlencode({"to": address})
    queued = [entry["message"] for entry in stack.get("/_local/outbound?" + query).json()]
    delivered = stack.get("/_local/deliveries?" + query).json()
    seen = {message["message_id"] for message in delivered}
    return [*delivered, *(message for message in queued if message["message_id"] not in seen)]


def random_phone() -> str:
    """A fresh Dutch mobile number, so tests sharing a stack never share a sender or a recipient."""
    return f"+316{random.randrange(10**8):08d}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _wait_until_ready(stack: LocalStack) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            pytest.fail(
                f"the local stack exited with {stack.process.returncode} while starting:\n{_tail(stack.output())}"
            )
        try:
            if http_request("GET", stack.url + "/config.json", timeout=2).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    stack.stop()
    pytest.fail(f"the local stack did not answer within {STARTUP_TIMEOUT_SECONDS} s:\n{_tail(stack.output())}")


@contextlib.contextmanager
def start_local_stack(extra_env: Mapping[str, str] | None = None) -> Iterator[LocalStack]:
    """Runs `python -m infra.local` on a free port until the block ends; `extra_env` adds settings."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALGW_")}
    env.update({"PORT": str(port), "PYTHONUNBUFFERED": "1", **(extra_env or {})})
    with tempfile.NamedTemporaryFile(prefix="trialgw-local-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
    log_file: IO[bytes] = log_path.open("wb")
    # Output goes to a file, not a pipe: an unread pipe would fill up and block the server.
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    stack = LocalStack(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_ready(stack)
        yield stack
    finally:
        stack.stop()
        log_file.close()
        log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def local_stack_env() -> dict[str, str]:
    """Extra environment for the session's local stack; override this fixture to change settings."""
    return {}


@pytest.fixture(scope="session")
def local_stack(local_stack_env: dict[str, str]) -> Iterator[LocalStack]:
    """The local stack over HTTP, shared by the session: use unique e-mail addresses per test."""
    with start_local_stack(local_stack_env) as stack:
        yield stack
