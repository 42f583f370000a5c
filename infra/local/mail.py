"""The local outbox: every e-mail SES (moto) accepted, with both parts, for `/_local/mail` and the terminal.

moto keeps only one body part of a text+HTML e-mail, so the outbox reads the SES v2 `SendEmail`
request itself, as a WSGI middleware in front of moto, and records it only when moto answered 200 (an
e-mail from an unverified sender is refused there, as in AWS). Capturing at the server catches every
client, however the adapter built it.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

SEND_EMAIL_PATH = "/v2/email/outbound-emails"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass(frozen=True, slots=True)
class SentMail:
    # Every recipient (To, then Cc and Bcc), comma-separated: one address for the trial e-mails.
    to: str
    subject: str
    text: str
    html: str
    sender: str
    message_id: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def recipients(self) -> list[str]:
        return [address.strip() for address in self.to.split(",") if address.strip()]

    def to_json(self) -> dict[str, str]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        data["messageId"] = data.pop("message_id")
        return data


def _data(part: object) -> str:
    return str(part.get("Data", "")) if isinstance(part, dict) else ""


def _parse_raw(raw: bytes) -> tuple[str, str, str, str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text_part = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    return (
        str(message.get("To", "")),
        str(message.get("Subject", "")),
        text_part.get_content() if text_part is not None else "",
        html_part.get_content() if html_part is not None else "",
        str(message.get("From", "")),
    )


def parse_send_email(body: bytes, message_id: str = "") -> SentMail:
    """The e-mail in an SES v2 `SendEmail` request body (Simple, Raw or Template content)."""
    params = json.loads(body)
    destination = params.get("Destination") or {}
    recipients = [
        *destination.get("ToAddresses", []),
        *destination.get("CcAddresses", []),
        *destination.get("BccAddresses", []),
    ]
    sender = str(params.get("FromEmailAddress", ""))
    content = params.get("Content") or {}
    subject = text = html = ""
    if "Simple" in content:
        simple = content["Simple"]
        subject = _data(simple.get("Subject"))
        text = _data(simple.get("Body", {}).get("Text"))
        html = _data(simple.get("Body", {}).get("Html"))
    elif "Raw" in content:
        raw_to, subject, text, html, raw_from = _parse_raw(base64.b64decode(content["Raw"].get("Data", "")))
        recipients = recipients or [raw_to]
        sender = sender or raw_from
    elif "Template" in content:
        template = content["Template"]
        subject = f"(template {template.get('TemplateName') or template.get('TemplateArn', '')})"
        text = str(template.get("TemplateData", ""))
    return SentMail(
        to=", ".join(recipients), subject=subject, text=text, html=html, sender=sender, message_id=message_id
    )


def describe(mail: SentMail) -> str:
    """How a sent e-mail shows in the terminal: recipient, subject and the text part."""
    text = "\n".join(f"  │ {line}" for line in mail.text.splitlines())
    return f"\n✉  e-mail to {mail.to} (captured, not delivered)\n  │ Subject: {mail.subject}\n  │\n{text}\n"


class MailOutbox:
    """E-mails SES accepted, in order; thread-safe, in memory for the life of the process."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._mails: list[SentMail] = []
        self._echo = echo

    def record(self, mail: SentMail) -> None:
        with self._lock:
            self._mails.append(mail)
        if self._echo is not None:
            self._echo(describe(mail))

    def sent(self, to: str | None = None) -> list[SentMail]:
        with self._lock:
            mails = list(self._mails)
        if to is None:
            return mails
        wanted = to.strip().lower()
        return [m for m in mails if wanted in (r.lower() for r in m.recipients())]


class MailCapture:
    """WSGI middleware in front of moto: records each SES v2 `SendEmail` that moto accepted."""

    def __init__(self, app: WsgiApp, outbox: MailOutbox) -> None:
        self._app = app
        self._outbox = outbox

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != SEND_EMAIL_PATH:
            return self._app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request_body = environ["wsgi.input"].read(length) if length else b""
        # moto reads the body again: hand it a fresh stream.
        environ["wsgi.input"] = io.BytesIO(request_body)
        statuses: list[str] = []

        def capturing_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        result = self._app(environ, capturing_start_response)
        try:
            response_body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if statuses and statuses[-1].startswith("200"):
            try:
                message_id = str(json.loads(response_body).get("MessageId", ""))
                self._outbox.record(parse_send_email(request_body, message_id))
            except (ValueError, KeyError, AttributeError, TypeError) as error:
                # A capture bug must never turn into an SES failure for the handler.
                print(f"[local] could not capture a sent e-mail: {error!r}", flush=True)
        return [response_body]
