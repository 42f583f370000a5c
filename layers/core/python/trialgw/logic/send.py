"""The send gateway: one CM send request in, one accepted message on the delivery queue or one refusal out.

The checks run in the order of DESIGN.md's table. Rows 5-11 need no store, so they are decided first and
answered only once the key is known good (row 4); rows 4, 12 and 13 are decided by the one conditional
write that takes the quota, which returns the trial either way. A send that is accepted therefore costs
the write, the message's record and the queue; a refused one at most one call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trialgw.channels import ContactLink, contacts, is_phone, spec_of
from trialgw.country_rules import RuleAction, replaced_notice, replacement_text, rule_for, warning_text
from trialgw.errors import QueueError, StoreError
from trialgw.gateway import answers
from trialgw.gateway.answers import ONBOARD, Refusal
from trialgw.gateway.request import SendRequest
from trialgw.keys import hash_key
from trialgw.logic.capacity import CapacityBreaker, window_start
from trialgw.models import Channel, TrialState
from trialgw.observability import logger, mask_phone, metrics
from trialgw.ports import (
    Clock,
    LoggedMessage,
    MessageLog,
    OutboundMessage,
    OutboundQueue,
    SendKeys,
    SendKeyState,
    TrialStore,
)
from trialgw.quotas import iso_utc, quota_rows, remaining
from trialgw.settings import SendSettings
from trialgw.sms import count_parts, describe_limit, fits

SMS_SENDER_PATTERN = re.compile(r"[A-Za-z0-9]{4,11}")
# What an Idempotency-Key may be: 1 to 255 printable ASCII characters (the header's usual rule, e.g. Stripe's).
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
REPLAYED_HEADER = "Idempotent-Replayed"
# How long a client should wait after a store or queue failure.
UNAVAILABLE_RETRY_SECONDS = 5


@dataclass(frozen=True, slots=True)
class SendDeps:
    trials: TrialStore
    messages: MessageLog
    outbound: OutboundQueue
    breaker: CapacityBreaker
    clock: Clock
    new_message_id: Callable[[], str]
    send_keys: SendKeys


@dataclass(frozen=True, slots=True)
class GatewayAnswer:
    """An HTTP answer: status, JSON body and headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What an acceptable request will send, decided before any store is asked."""

    channel: Channel
    recipient: str
    delivered_text: str
    parts: int
    message_details: str | None
    explain: dict[str, Any]


def trial_headers(state: TrialState, settings: SendSettings) -> dict[str, str]:
    """`X-Trial-Expires-At` and `X-Trial-Remaining-<Channel>` for every offered channel."""
    headers = {"X-Trial-Expires-At": iso_utc(state.trial.expires_at)}
    for channel in settings.offered_channels:
        headers[f"X-Trial-Remaining-{channel.short_name}"] = str(remaining(state, settings, channel))
    return headers


def _refused(
    refusal: Refusal,
    request: SendRequest | None = None,
    state: TrialState | None = None,
    settings: SendSettings | None = None,
) -> GatewayAnswer:
    headers = dict(refusal.headers)
    if state is not None and settings is not None:
        headers.update(trial_headers(state, settings))
    body = answers.envelope(
        refusal,
        to=request.to_raw if request else None,
        reference=request.reference if request else None,
    )
    metrics.add_metric(name="SendRefused", unit="Count", value=1)
    logger.info("send refused", extra={"reason": refusal.reason, "hint": refusal.hint, "status": refusal.http_status})
    return GatewayAnswer(refusal.http_status, body, headers)


def send(
    parsed: SendRequest | Refusal, settings: SendSettings, deps: SendDeps, *, idempotency_key: str | None = None
) -> GatewayAnswer:
    """Accepts the message onto the delivery queue, or answers the first row of the table that refuses it.

    With an `idempotency_key` (the Idempotency-Key header, beyond CM's API) and a trial key, one key is one message:
    the same key and body give the first accepted answer again without a second send or quota slot, the key with
    another body is refused, and a refused or failed send leaves the key free for the retry."""
    if isinstance(parsed, Refusal):
        return _refused(parsed)
    request = parsed
    if idempotency_key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
        return _refused(answers.invalid_idempotency_key(), request)
    if idempotency_key is not None and request.token is not None:
        return _send_once(request, idempotency_key, settings, deps)
    return _checked(request, settings, deps, _Message(deps.new_message_id(), int(deps.clock())))


@dataclass(frozen=True, slots=True)
class _Message:
    """The message a request sends: its id and its time (the record's); an Idempotency-Key's retry keeps both."""

    message_id: str
    at: int


def _checked(request: SendRequest, settings: SendSettings, deps: SendDeps, message: _Message) -> GatewayAnswer:
    """Rows 3 to 13, and a failed dependency's 503."""
    if deps.breaker.is_tripped():
        return _refused(answers.at_capacity(settings.capacity_retry_after_seconds), request)
    if request.token is None:
        return _refused(answers.invalid_token(), request)
    key_hash = hash_key(request.token)
    now = int(deps.clock())
    try:
        return _send(request, key_hash, now, settings, deps, message=message)
    except (StoreError, QueueError) as error:
        logger.warning("send failed on a dependency", extra={"error": str(error)})
        return _refused(answers.unavailable(UNAVAILABLE_RETRY_SECONDS), request)


def _send_once(request: SendRequest, idempotency_key: str, settings: SendSettings, deps: SendDeps) -> GatewayAnswer:
    """`_checked` under an Idempotency-Key: claimed first, its accepted answer kept, released when refused."""
    assert request.token is not None
    key_hash = hash_key(request.token)
    now = int(deps.clock())
    try:
        claim = deps.send_keys.claim(
            key_hash,
            idempotency_key,
            fingerprint=request.fingerprint,
            message_id=deps.new_message_id(),
            now=now,
            lease_seconds=settings.idempotency_lease_seconds,
        )
    except StoreError as error:
        logger.warning("send failed on a dependency", extra={"error": str(error)})
        return _refused(answers.unavailable(UNAVAILABLE_RETRY_SECONDS), request)
    if claim.state is SendKeyState.ANSWERED and claim.answer:
        metrics.add_metric(name="SendReplayed", unit="Count", value=1)
        first = _answer_from_json(claim.answer)
        # As Stripe's API marks a replay: the client can tell the first answer given again from a new one.
        return GatewayAnswer(first.status, first.body, {**first.headers, REPLAYED_HEADER: "true"})
    if claim.state is SendKeyState.REUSED:
        return _refused(answers.idempotency_key_reused(), request)
    if claim.state is SendKeyState.BUSY:
        return _refused(answers.idempotency_key_busy(claim.lease_until - now), request)
    answer = _checked(request, settings, deps, _Message(claim.message_id, claim.at))
    try:
        if answer.status == answers.HTTP_OK:
            # Kept for the trial's life: the headers name its expiry, and nothing is replayed after it.
            ttl = _expiry(answer) + settings.expired_retention_seconds
            deps.send_keys.complete(key_hash, idempotency_key, answer=_answer_to_json(answer), ttl=ttl)
        else:
            # Nothing was taken or queued: the key stays free for the client's retry.
            deps.send_keys.release(key_hash, idempotency_key, token=claim.token)
    except StoreError:
        # The answer stands. Unkept, the claim's lease runs out and a retry sends the very same message again, which
        # the quota's write, the record and delivery each recognize as the one already counted and sent.
        logger.warning("could not settle an Idempotency-Key", extra={"status": answer.status})
    return answer


def _answer_to_json(answer: GatewayAnswer) -> str:
    return json.dumps({"status": answer.status, "body": answer.body, "headers": answer.headers}, ensure_ascii=False)


def _answer_from_json(raw: str) -> GatewayAnswer:
    stored = json.loads(raw)
    return GatewayAnswer(int(stored["status"]), dict(stored["body"]), dict(stored["headers"]))


def _expiry(answer: GatewayAnswer) -> int:
    return int(datetime.fromisoformat(answer.headers["X-Trial-Expires-At"].replace("Z", "+00:00")).timestamp())


def _send(
    request: SendRequest, key_hash: str, now: int, settings: SendSettings, deps: SendDeps, *, message: _Message
) -> GatewayAnswer:
    plan = _plan(request, settings)
    if isinstance(plan, Refusal):
        state = deps.trials.state(key_hash)
        if state is None or not state.trial.is_usable(now):
            return _refused(answers.invalid_token(), request)
        return _refused(plan, request, state, settings)
    message_id = message.message_id
    counted = _Counted(key_hash, plan.channel, message_id, window_start(message.at, settings.capacity_window_seconds))
    try:
        take = deps.trials.take_quota(
            key_hash,
            plan.channel,
            plan.recipient,
            now=now,
            limit=settings.quota_for(plan.channel),
            message_id=message_id,
            capacity_window=counted.capacity_window,
        )
    except StoreError:
        # The write may have counted the message although its answer was lost: undo exactly that, if it did.
        _give_back(counted, deps)
        raise
    state = take.state
    if state is None or not state.trial.is_usable(now):
        return _refused(answers.invalid_token(), request)
    if not take.taken:
        if not state.is_whitelisted(plan.channel, plan.recipient):
            refusal = answers.not_whitelisted(_how_to_whitelist(plan, settings))
            return _refused(refusal, request, state, settings)
        return _refused(answers.quota_used_up(plan.channel), request, state, settings)
    _queue(request, plan, state, message.at, deps, counted=counted, retention=settings.expired_retention_seconds)
    deps.breaker.count_accepted()
    metrics.add_metric(name="SendAccepted", unit="Count", value=1)
    logger.info("send accepted", extra={"channel": plan.channel.value, "to": mask_phone(plan.recipient)})
    body = answers.accepted_envelope(request.to_raw, request.reference, plan.parts, plan.message_details)
    return GatewayAnswer(answers.HTTP_OK, body, trial_headers(state, settings))


def _queue(
    request: SendRequest, plan: _Plan, state: TrialState, now: int, deps: SendDeps, *, counted: _Counted, retention: int
) -> None:
    """Records the message as queued and puts it on the delivery queue; on failure undoes both and the quota."""
    key_hash, message_id = state.trial.key_hash, counted.message_id
    record = LoggedMessage(
        key_hash=key_hash,
        direction="outbound",
        channel=plan.channel,
        counterpart=plan.recipient,
        text=request.content,
        at=now,
        message_id=message_id,
        payload=json.dumps({"request": _as_cm_json(request, plan.channel), **plan.explain}, ensure_ascii=False),
        ttl=state.trial.expires_at + retention,
        status="queued",
    )
    try:
        deps.messages.record(record)
    except StoreError:
        # The record may have been written although its answer was lost: no `queued` record of an unqueued send.
        _forget(record, deps)
        _give_back(counted, deps)
        raise
    try:
        deps.outbound.enqueue(
            OutboundMessage(
                channel=plan.channel,
                to=plan.recipient,
                text=plan.delivered_text,
                kind="send",
                message_id=message_id,
                key_hash=key_hash,
                at=now,
                sender=request.sender or None,
                reference=request.reference,
                rich_content=request.rich_content,
            )
        )
    except QueueError:
        _forget(record, deps)
        _give_back(counted, deps)
        raise


def _forget(record: LoggedMessage, deps: SendDeps) -> None:
    try:
        deps.messages.forget(record)
    except StoreError:
        logger.error("a send that was not queued is still recorded as queued", extra={"message_id": record.message_id})


@dataclass(frozen=True, slots=True)
class _Counted:
    """What a send's quota write counts, and so what a give-back undoes: one message, on its channel's quota and in
    the capacity window it was accepted in."""

    key_hash: str
    channel: Channel
    message_id: str
    capacity_window: int


def _give_back(counted: _Counted, deps: SendDeps) -> None:
    try:
        deps.trials.give_back_quota(
            counted.key_hash, counted.channel, counted.message_id, capacity_window=counted.capacity_window
        )
    except StoreError:
        metrics.add_metric(name="QuotaGiveBackFailed", unit="Count", value=1)
        logger.error("could not give back the quota of a send that failed", extra={"channel": counted.channel.value})


def _plan(request: SendRequest, settings: SendSettings) -> _Plan | Refusal:
    """Rows 5-11 and the recipient's form: everything decidable without a store."""
    if request.unsupported is not None:
        return request.unsupported
    channel = request.channel
    if channel is None or channel not in settings.offered_channels:
        return answers.channel_not_offered(request.channel_raw, settings.offered_channels)
    if channel is Channel.SMS:
        return _plan_sms(request, settings)
    recipient = request.recipient
    if recipient is None:
        return answers.invalid_recipient(_not_an_address(request, channel))
    return _Plan(channel, recipient, request.content, 1, None, {"delivered": {"text": request.content}})


def _plan_sms(request: SendRequest, settings: SendSettings) -> _Plan | Refusal:
    if not SMS_SENDER_PATTERN.fullmatch(request.sender):
        return answers.sms_sender_invalid()
    recipient = request.recipient
    rule = rule_for(recipient) if recipient is not None else None
    if rule is not None and rule.action is RuleAction.BLOCK:
        return answers.country_blocked()
    sizes = {"gsm7_part_chars": settings.sms_gsm7_part_chars, "unicode_part_chars": settings.sms_unicode_part_chars}
    counted = count_parts(request.content, **sizes)
    if not fits(counted, settings.sms_max_parts):
        return answers.too_many_parts(describe_limit(counted, **sizes, max_parts=settings.sms_max_parts))
    if recipient is None or rule is None:
        return answers.invalid_recipient(_not_an_address(request, Channel.SMS))
    delivered, details = request.content, None
    if rule.action is RuleAction.REPLACE:
        delivered, details = replacement_text(settings.brand), replaced_notice(rule.country_name)
    elif rule.action is RuleAction.FILTER_WARNING:
        details = warning_text(rule.country_name)
    sent = count_parts(delivered, **sizes)
    explain = {
        "delivered": {"text": delivered, "from": request.sender},
        "sms": {
            "encoding": counted.encoding.value,
            "characters": counted.units,
            "parts": counted.parts,
            "partSize": counted.part_size,
            "deliveredParts": sent.parts,
        },
        "countryRule": {"region": rule.region, "country": rule.country_name, "action": rule.action.value},
        "messageDetails": details,
    }
    return _Plan(Channel.SMS, recipient, delivered, sent.parts, details, explain)


def _not_an_address(request: SendRequest, channel: Channel) -> str:
    shown = answers.echo(request.to_raw)
    if is_phone(channel):
        what = "a phone number in international format, such as +31612345678 or 0031612345678"
    else:
        what = f"a {channel.short_name} id: the numeric id of the account, as the trial dashboard shows it"
    return f'The recipient "{shown}" is not {what}. {ONBOARD}'


def _how_to_whitelist(plan: _Plan, settings: SendSettings) -> str:
    """Row 12's text: which key to send, from where, to which number or account."""
    channel, recipient = plan.channel, plan.recipient
    contact = spec_of(channel).contact
    where = contact.whitelist.format(recipient=recipient, contact=_whitelist_contact(contact.link, channel, settings))
    return (
        f"The recipient {recipient} is not whitelisted for {channel.value} in this trial. To whitelist it, send "
        f"this trial's key {where}, then send this message again. A trial can whitelist up to "
        f"{settings.max_recipients} recipients."
    )


def _whitelist_contact(link: ContactLink, channel: Channel, settings: SendSettings) -> str:
    """The trial company's contact point(s) on the channel as row 12 names them."""
    points = contacts(settings, channel)
    if link is ContactLink.SMS:
        return _either([f"{number} (from {region})" for region, number in points.items()])
    if link is ContactLink.WHATSAPP:
        return " or ".join(f"{number} (https://wa.me/{number.lstrip('+')})" for number in points.values())
    return " or ".join(points.values())


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _as_cm_json(request: SendRequest, channel: Channel) -> dict[str, Any]:
    """The accepted message as CM JSON, without the key: what the dashboard shows as sent."""
    message: dict[str, Any] = {
        "allowedChannels": [channel.value],
        "from": request.sender,
        "to": [{"number": request.to_raw}],
        "body": {"type": request.body_type.value, "content": request.content},
    }
    if request.reference is not None:
        message["reference"] = request.reference
    if request.rich_content is not None:
        message["richContent"] = request.rich_content
    return {"messages": {"msg": [message]}}


def trial_status(token: str | None, settings: SendSettings, trials: TrialStore, clock: Clock) -> GatewayAnswer:
    """`GET /messaging/messagingtrial/status`: the trial's expiry, whitelist and quotas as JSON."""
    refusal = answers.invalid_token()
    unknown = GatewayAnswer(refusal.http_status, answers.envelope(refusal, to=None, reference=None), {})
    if token is None:
        return unknown
    now = int(clock())
    try:
        state = trials.state(hash_key(token))
    except StoreError:
        unavailable = answers.unavailable(UNAVAILABLE_RETRY_SECONDS)
        return GatewayAnswer(503, answers.envelope(unavailable, to=None, reference=None), dict(unavailable.headers))
    if state is None or not state.trial.is_usable(now):
        return unknown
    body = {
        "status": "active",
        "expiresAt": iso_utc(state.trial.expires_at),
        "secondsLeft": state.trial.expires_at - now,
        "channels": quota_rows(state, settings, settings.offered_channels),
        "whitelist": {
            "max": settings.max_recipients,
            "recipients": [{"channel": channel.value, "recipient": address} for channel, address in state.whitelist()],
        },
    }
    return GatewayAnswer(200, body, trial_headers(state, settings))


__all__ = ["GatewayAnswer", "SendDeps", "send", "trial_headers", "trial_status"]
