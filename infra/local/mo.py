"""`POST /_local/mo`: an end user sends a message to the trial company, through the real entry point.

The helper builds the payload the provider itself would send and hands it to the same path the
provider's call would take: Meta's webhook POST (signed with the app secret over the exact bytes) or
CM's MO webhook (with the path secret) as an HTTP request through the local API Gateway, and two-way
SMS published, as AWS End User Messaging publishes it, to the two-way SMS topic, whose subscription
puts it on the SMS queue, whose pump (the event source mapping) hands it to the MO function. Nothing
is shortcut: a payload the entry point refuses is refused here too, and its answer is passed back (for
SMS: the outcome of the invocation that took the message, waited for through the function host).

Default route per channel, from the providers its registry spec allows: `meta` where Meta may carry it (WhatsApp,
Messenger, Instagram), `sns` where End User Messaging may (SMS), else `cm`; `"via": "cm"` sends CM's MO JSON for any
channel. Every call has fresh provider message ids.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from infra.local.events import HttpRequest, HttpResponse, json_response
from infra.local.invoke import Listener
from infra.local.outbound import QueuedMessage
from trialgw.addresses import normalize_address, normalize_phone
from trialgw.channels import Channel, ProviderName, channels, is_phone, parse_channel, spec_of
from trialgw.providers.meta import META_CHANNELS
from trialgw.providers.meta.inbound import SIGNATURE_HEADER, sign

CM, META, SNS = "cm", "meta", "sns"
VIAS = (CM, META, SNS)
FIELDS = ("channel", "from", "text", "via")
EXAMPLE = {"channel": "WhatsApp", "from": "+31612345678", "text": "<trial key>"}
META_USER_AGENT = "facebookexternalua"

Send = Callable[[HttpRequest], HttpResponse]
Peek = Callable[[], list[QueuedMessage]]
# Publishes a message to the two-way SMS topic.
Publish = Callable[[str], object]
# Registers an invocation listener (`FunctionHost.listen`); returns what removes it.
Listen = Callable[[Listener], Callable[[], None]]
# How long `/_local/mo` waits for the SMS queue's pump to hand an SMS to its function: the pump's idle wait and
# batching window (about 1 s), and the invocation.
SETTLE_SECONDS = 15.0


def default_via(channel: Channel) -> str:
    """The entry point a channel's messages take unless the call asks for CM's webhook: its own provider's."""
    providers = spec_of(channel).providers
    if ProviderName.META in providers:
        return META
    return SNS if ProviderName.AWS_SMS in providers else CM


class MoInputError(ValueError):
    """The `/_local/mo` request itself is wrong (answered 400 before any entry point is called)."""


@dataclass(frozen=True, slots=True)
class MoRequest:
    channel: Channel
    # The raw sender as given, and its canonical address on the channel (E.164, PSID or IGSID).
    raw_sender: str
    sender: str
    text: str
    via: str


@dataclass(frozen=True, slots=True)
class CompanyAddresses:
    """The trial company's own accounts on each channel: where the end user's message goes."""

    whatsapp_number: str
    sms_number: str
    # Locally invented ids (nothing checks them): the Facebook Page, the Instagram professional
    # account, the WhatsApp Business Account and the WhatsApp phone number id.
    page_id: str = "104000000000001"
    instagram_id: str = "17841400000000001"
    waba_id: str = "102000000000001"
    phone_number_id: str = "106000000000001"

    def address(self, channel: Channel) -> str:
        # The company's WhatsApp number and Instagram account are their own; any other channel reaches its SMS
        # number (addressed by phone) or its Facebook page (addressed by account id).
        accounts = {Channel.WHATSAPP: self.whatsapp_number, Channel.INSTAGRAM: self.instagram_id}
        return accounts.get(channel, self.sms_number if is_phone(channel) else self.page_id)


def _channel_names() -> str:
    return ", ".join(f'"{c.value}"' for c in channels())


def parse_mo_request(body: bytes) -> MoRequest:
    """The `{"channel", "from", "text", "via"?}` of a `/_local/mo` call; raises MoInputError."""
    try:
        data: object = json.loads(body)
    except (ValueError, RecursionError):
        raise MoInputError("The body must be JSON: {channel, from, text, via?}.") from None
    if not isinstance(data, dict):
        raise MoInputError("The body must be a JSON object: {channel, from, text, via?}.")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise MoInputError(f"Unknown field(s) {', '.join(unknown)}; expected {', '.join(FIELDS)}.")
    raw_channel = data.get("channel")
    if not isinstance(raw_channel, str):
        raise MoInputError(f"channel is required: one of {_channel_names()}.")
    # Ignoring case and spaces, as CM's MO parser reads them (`whatsapp`, `FacebookMessenger`).
    channel = parse_channel(raw_channel)
    if channel is None:
        raise MoInputError(f"channel {raw_channel!r} is not a trial channel; use one of {_channel_names()}.")
    raw_sender = data.get("from")
    if not isinstance(raw_sender, str) or not raw_sender.strip():
        raise MoInputError("from is required: the end user's phone number, or their Messenger/Instagram id.")
    sender = normalize_address(channel, raw_sender)
    if sender is None:
        example = "+31612345678" if is_phone(channel) else "the page-scoped id, or the Instagram-scoped id"
        kind = f"{spec_of(channel).addressing.kind} ({example})"
        raise MoInputError(f"from {raw_sender!r} is not {kind} on {channel.value}.")
    text = data.get("text")
    if not isinstance(text, str) or not text:
        raise MoInputError("text is required: the message the end user types (e.g. the trial key).")
    if any("\ud800" <= character <= "\udfff" for character in text):
        # JSON's "\ud800" escape parses to a lone surrogate, which no phone can send and UTF-8 cannot carry.
        raise MoInputError("text holds a lone surrogate (an unpaired \\ud800-\\udfff escape): no phone sends that.")
    via = data.get("via", default_via(channel))
    if via not in VIAS:
        raise MoInputError(f"via {via!r} is not an entry point; use one of {', '.join(VIAS)}.")
    if via != CM and via != default_via(channel):
        raise MoInputError(f"{channel.value} messages do not arrive via {via}; use {default_via(channel)} or cm.")
    return MoRequest(channel=channel, raw_sender=raw_sender, sender=sender, text=text, via=str(via))


def cm_payload(mo: MoRequest, company: CompanyAddresses, *, reference: str, now: float) -> dict[str, Any]:
    """CM's MO JSON, as the Business Messaging platform posts it to a trial's webhook."""
    return {
        "reference": reference,
        "messageContext": "",
        "from": {"number": mo.sender, "name": ""},
        "to": {"number": company.address(mo.channel)},
        "message": {"text": mo.text, "media": {"mediaUri": "", "contentType": "", "title": ""}, "custom": {}},
        "groupings": ["", "", ""],
        "timeUtc": datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "channel": mo.channel.value,
    }


def cm_request(mo: MoRequest, company: CompanyAddresses, *, secret: str, reference: str, now: float) -> HttpRequest:
    body = json.dumps(cm_payload(mo, company, reference=reference, now=now), ensure_ascii=False).encode("utf-8")
    return HttpRequest(
        method="POST",
        target=f"/webhooks/cm/{quote(secret, safe='')}",
        headers=(("Content-Type", "application/json; charset=utf-8"), ("User-Agent", "CM.com MO webhook (local)")),
        body=body,
    )


def meta_payload(mo: MoRequest, company: CompanyAddresses, *, message_id: str, now: float) -> dict[str, Any]:
    """Meta's webhook envelope: WhatsApp Cloud API, or the Messenger Platform for Messenger and Instagram."""
    if mo.channel is Channel.WHATSAPP:
        # WhatsApp ids are the international digits without `+`.
        wa_id = mo.sender.removeprefix("+")
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": company.whatsapp_number.removeprefix("+"),
                "phone_number_id": company.phone_number_id,
            },
            "contacts": [{"profile": {"name": ""}, "wa_id": wa_id}],
            "messages": [
                {
                    "from": wa_id,
                    "id": message_id,
                    "timestamp": str(int(now)),
                    "type": "text",
                    "text": {"body": mo.text},
                }
            ],
        }
        return {
            "object": META_CHANNELS[Channel.WHATSAPP].webhook_object,
            "entry": [{"id": company.waba_id, "changes": [{"field": "messages", "value": value}]}],
        }
    account = company.address(mo.channel)
    millis = int(now * 1000)
    return {
        "object": META_CHANNELS[mo.channel].webhook_object,
        "entry": [
            {
                "id": account,
                "time": millis,
                "messaging": [
                    {
                        "sender": {"id": mo.sender},
                        "recipient": {"id": account},
                        "timestamp": millis,
                        "message": {"mid": message_id, "text": mo.text},
                    }
                ],
            }
        ],
    }


def meta_message_id(channel: Channel) -> str:
    if channel is Channel.WHATSAPP:
        return f"wamid.LOCAL{uuid.uuid4().hex.upper()}"
    return f"m_local{uuid.uuid4().hex}"


def meta_request(
    mo: MoRequest, company: CompanyAddresses, *, app_secret: str, message_id: str, now: float
) -> HttpRequest:
    payload = meta_payload(mo, company, message_id=message_id, now=now)
    # Meta signs the bytes it sends: compact JSON with non-ASCII escaped (`\u00e9`), as Meta serialises it.
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return HttpRequest(
        method="POST",
        target="/webhooks/meta",
        headers=(
            ("Content-Type", "application/json"),
            ("User-Agent", META_USER_AGENT),
            (SIGNATURE_HEADER, sign(body, app_secret)),
        ),
        body=body,
    )


def two_way_sms_notification(mo: MoRequest, company: CompanyAddresses, *, inbound_id: str) -> str:
    """What AWS End User Messaging publishes to a two-way SMS topic for an end user's text (its JSON, as text)."""
    destination = company.sms_number
    inbound = {
        "originationNumber": mo.sender,
        "destinationNumber": destination,
        "messageKeyword": f"KEYWORD_{destination.removeprefix('+')}",
        "messageBody": mo.text,
        "inboundMessageId": inbound_id,
    }
    return json.dumps(inbound, separators=(",", ":"))


def _inbound_id(record: Mapping[str, Any]) -> str | None:
    """The `inboundMessageId` of a two-way SMS an SQS record of the SMS queue carries (SNS's envelope around it)."""
    try:
        envelope = json.loads(record.get("body", ""))
        inbound = json.loads(envelope["Message"])
    except (ValueError, TypeError, KeyError):
        return None
    found = inbound.get("inboundMessageId") if isinstance(inbound, dict) else None
    return found if isinstance(found, str) else None


class _Settlement:
    """Waits for the invocation of `function` whose SQS batch carries the two-way SMS `inbound_id`."""

    def __init__(self, function: str, inbound_id: str) -> None:
        self._function = function
        self._inbound_id = inbound_id
        self._done = threading.Event()
        self.status = 504
        self.answer: Any = None

    def __call__(self, name: str, event: dict[str, Any], result: Any, error: BaseException | None) -> None:
        if name != self._function or self._done.is_set():
            return
        records = event.get("Records") or []
        ids = [r.get("messageId") for r in records if isinstance(r, dict) and _inbound_id(r) == self._inbound_id]
        if not ids:
            return
        if error is not None:
            self.status, self.answer = 500, {"error": type(error).__name__, "message": str(error)}
        else:
            failed = {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures") or []}
            outcomes = (result or {}).get("outcomes") or {}
            if ids[0] in failed:
                self.status, self.answer = 500, {"error": "batch item failure", "retried": "by the SMS queue"}
            else:
                self.status, self.answer = 200, {"processed": 1, "outcomes": [outcomes.get(ids[0])]}
        self._done.set()

    def wait(self, seconds: float) -> bool:
        return self._done.wait(seconds)


def _decoded(response: HttpResponse) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        return response.body.decode("utf-8", "replace")


class MoSimulator:
    """Answers `/_local/mo`: builds the provider's payload and calls the real entry point with it.

    Two-way SMS: `publish` puts End User Messaging's JSON on the two-way SMS topic; `listen` (the function host's)
    reports each invocation, and the answer is that of the invocation of `sms_consumer` that took the message,
    waited for up to `settle_seconds`. A message whose processing failed stays on the queue: it is retried there.
    """

    def __init__(
        self,
        *,
        company: CompanyAddresses,
        cm_webhook_secret: str,
        meta_app_secret: str,
        publish: Publish,
        listen: Listen,
        sms_consumer: str | None,
        peek: Peek | None = None,
        clock: Callable[[], float] | None = None,
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self._company = company
        self._cm_secret = cm_webhook_secret
        self._meta_secret = meta_app_secret
        self._publish = publish
        self._listen = listen
        self._sms_consumer = sms_consumer
        self._peek = peek
        self._clock = clock or time.time
        self._settle_seconds = settle_seconds

    def handle(self, request: HttpRequest, send: Send) -> HttpResponse:
        """`send` is the local API Gateway: HTTP entry points are called through it, as over the wire."""
        try:
            mo = parse_mo_request(request.body)
        except MoInputError as error:
            return json_response(400, {"message": str(error), "code": "bad_request", "example": EXAMPLE})
        before = self._queued_ids()
        answer: dict[str, Any] = {"via": mo.via, "channel": mo.channel.value, "from": mo.sender}
        if mo.via == SNS:
            answer.update(self._via_sns(mo))
        else:
            answer.update(self._via_http(mo, send))
        if self._peek is not None:
            answer["replies"] = [
                m.message() for m in self._peek() if m.sqs_message_id not in before and m.addressed_to(mo.sender)
            ]
        return json_response(200, answer)

    def _queued_ids(self) -> set[str]:
        return set() if self._peek is None else {m.sqs_message_id for m in self._peek()}

    def _via_http(self, mo: MoRequest, send: Send) -> dict[str, Any]:
        now = self._clock()
        if mo.via == CM:
            message_id = str(uuid.uuid4())
            request = cm_request(mo, self._company, secret=self._cm_secret, reference=message_id, now=now)
        else:
            message_id = meta_message_id(mo.channel)
            request = meta_request(mo, self._company, app_secret=self._meta_secret, message_id=message_id, now=now)
        response = send(request)
        return {"providerMessageId": message_id, "status": response.status, "answer": _decoded(response)}

    def _via_sns(self, mo: MoRequest) -> dict[str, Any]:
        inbound_id = str(uuid.uuid4())
        if self._sms_consumer is None:
            return {"providerMessageId": inbound_id, "status": 500, "answer": "no function consumes the SMS queue"}
        settlement = _Settlement(self._sms_consumer, inbound_id)
        # Listening before publishing: the pump may take the message at once.
        stop = self._listen(settlement)
        try:
            self._publish(two_way_sms_notification(mo, self._company, inbound_id=inbound_id))
            settled = settlement.wait(self._settle_seconds)
        finally:
            stop()
        answer: Any = (
            settlement.answer
            if settled
            else f"not taken from the SMS queue within {self._settle_seconds:.0f} s (it stays there for its consumer)"
        )
        return {
            "providerMessageId": inbound_id,
            "status": settlement.status,
            "function": self._sms_consumer,
            "answer": answer,
        }


def company_addresses(whatsapp_number: str, sms_numbers: Mapping[str, str]) -> CompanyAddresses:
    """The company's addresses from the trial settings: its WhatsApp number and first SMS number."""
    sms = next(iter(sms_numbers.values()), whatsapp_number)
    return CompanyAddresses(
        whatsapp_number=normalize_phone(whatsapp_number) or whatsapp_number,
        sms_number=normalize_phone(sms) or sms,
    )
