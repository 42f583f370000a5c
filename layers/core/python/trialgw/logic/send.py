"""The send use case: one CM send request in, one accepted message on the delivery queue or one refusal out.

`send` returns a domain outcome (`trialgw.logic.send_outcomes`): accepted, replayed, or refused with a `Reason`.
The checks of DESIGN.md's table "Send: order of checks and answers" run in `_checked`, top to bottom; the checks
of the request alone are the ordered `REQUEST_CHECKS`. Those need no store, so they run before the one store call
that proves the key, but what they object to is answered only once the key is known good. The whitelist and the
quota are decided by the conditional write that takes the quota, which returns the trial either way: an accepted
send costs that write, the message's record and the queue; a refused one at most one call for its decision, and,
once the key is known good, one best-effort write that records the attempt on the trial's list (`status`
`refused`, with the answer's text and errorCode), whose failure never changes the answer. A store or the queue
failing raises `DependencyUnavailable`, from `send` and `trial_status` alone.

Every message gets its time in milliseconds from `MillisStamps`, strictly increasing within one function instance,
so a burst of sends lists in the order they arrived.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from trialgw.channels import spec_of
from trialgw.country_rules import RuleAction, replaced_notice, replacement_text, rule_for, warning_text
from trialgw.errors import DependencyUnavailable, QueueError, StoreError
from trialgw.keys import hash_key
from trialgw.logic.capacity import CapacityBreaker, window_start
from trialgw.logic.send_outcomes import (
    Accepted,
    Allowance,
    BodyType,
    Objection,
    Reason,
    Refused,
    Replayed,
    SendOutcome,
    SendRequest,
    StatusOutcome,
    TrialReport,
)
from trialgw.logic.stamps import MillisStamps
from trialgw.models import Channel, TrialState
from trialgw.observability import logger, mask_phone, metrics
from trialgw.ports import (
    REFUSED,
    Clock,
    LoggedMessage,
    MessageLog,
    OutboundMessage,
    OutboundQueue,
    SendKeys,
    SendKeyState,
    TrialStore,
)
from trialgw.quotas import quota_rows
from trialgw.rich_content import Problem, describe, problem
from trialgw.settings import SendSettings
from trialgw.sms import DCS_OF, SmsParts, count_parts, fits

SMS_SENDER_PATTERN = re.compile(r"[A-Za-z0-9]{4,11}")
# What an Idempotency-Key may be: 1 to 255 printable ASCII characters (the header's usual rule, e.g. Stripe's).
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
# How long a client should wait after a store or queue failure.
UNAVAILABLE_RETRY_SECONDS = 5
UNAVAILABLE = "A store or the queue the trial depends on failed."
# What a refused attempt's record keeps of the request: enough to recognize it, small however large the request.
REFUSED_TEXT_CHARS = 160
REFUSED_FIELD_CHARS = 64
REFUSED_RICH_CONTENT_CHARS = 1000


class RefusalNote(NamedTuple):
    """A refusal as the developer got it: the answer's text and CM's errorCode (the gateway knows them)."""

    text: str
    error_code: int


@dataclass(frozen=True, slots=True)
class SendDeps:
    trials: TrialStore
    messages: MessageLog
    outbound: OutboundQueue
    breaker: CapacityBreaker
    clock: Clock
    new_message_id: Callable[[], str]
    send_keys: SendKeys
    # The answer a refusal gets, for its record; without it the record names the reason only.
    describe_refusal: Callable[[Refused], RefusalNote] | None = None
    stamps: MillisStamps = field(default_factory=MillisStamps)


@contextmanager
def _dependencies(*, refused_metric: str | None = None) -> Iterator[None]:
    """The one place a failed store or queue becomes the domain's `DependencyUnavailable`: nothing was taken or
    queued (each step undoes its own part first), so the client may simply retry."""
    try:
        yield
    except (StoreError, QueueError) as error:
        if refused_metric is not None:
            metrics.add_metric(name=refused_metric, unit="Count", value=1)
        logger.warning("a store or the queue failed", extra={"error": str(error)})
        raise DependencyUnavailable(UNAVAILABLE, retry_after_seconds=UNAVAILABLE_RETRY_SECONDS) from error


def send(
    parsed: SendRequest | Refused, settings: SendSettings, deps: SendDeps, *, idempotency_key: str | None = None
) -> SendOutcome:
    """Accepts the message onto the delivery queue, or refuses it for the first check that objects.

    `parsed` is the parser's request, or its refusal (not JSON; not a valid request), which comes first. With an
    `idempotency_key` (the Idempotency-Key header, beyond CM's API) and a trial key, one key is one message: the same
    key and body give the first acceptance again without a second send or quota slot, the key with another body is
    refused, and a refused or failed send leaves the key free for the retry. Raises DependencyUnavailable."""
    with _dependencies(refused_metric="SendRefused"):
        outcome = _send(parsed, settings, deps, idempotency_key)
    _note(outcome)
    return outcome


def _send(
    parsed: SendRequest | Refused, settings: SendSettings, deps: SendDeps, idempotency_key: str | None
) -> SendOutcome:
    """The parser's refusal first, then the Idempotency-Key's form, then `_checked` (under the key's claim)."""
    if isinstance(parsed, Refused):
        return parsed
    request = parsed
    if idempotency_key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
        return _refused(request, Objection(reason=Reason.INVALID_IDEMPOTENCY_KEY))
    if idempotency_key is not None and request.token is not None:
        return _send_once(request, idempotency_key, settings, deps)
    at_ms = deps.stamps.next(deps.clock)
    return _checked(request, settings, deps, _Message(deps.new_message_id(), at_ms // 1000, at_ms))


def _note(outcome: SendOutcome) -> None:
    if isinstance(outcome, Accepted):
        metrics.add_metric(name="SendAccepted", unit="Count", value=1)
    elif isinstance(outcome, Replayed):
        metrics.add_metric(name="SendReplayed", unit="Count", value=1)
    else:
        metrics.add_metric(name="SendRefused", unit="Count", value=1)
        logger.info("send refused", extra={"reason": outcome.reason.value, "hint": outcome.objection.hint})


def _refused(request: SendRequest, objection: Objection, allowance: Allowance | None = None) -> Refused:
    return Refused(objection=objection, to=request.to_raw, reference=request.reference, allowance=allowance)


class _Message(NamedTuple):
    """The message a request sends: its id and its time (the record's: seconds, and milliseconds unless an older
    Idempotency-Key claim had none); an Idempotency-Key's retry keeps both."""

    message_id: str
    at: int
    at_ms: int | None


def _checked(request: SendRequest, settings: SendSettings, deps: SendDeps, message: _Message) -> SendOutcome:
    """The checks of DESIGN.md's table after the parser's, in the table's order."""
    # The capacity breaker.
    if deps.breaker.is_tripped():
        return _refused(
            request, Objection(reason=Reason.AT_CAPACITY, retry_after_seconds=settings.capacity_retry_after_seconds)
        )
    # The key: none, or none that could be one.
    if request.token is None:
        return _refused(request, Objection(reason=Reason.INVALID_TOKEN))
    key_hash, now = hash_key(request.token), int(deps.clock())
    # The request alone: unsupported features, the channel, SMS's rules, the recipient's form. An objection is
    # answered only once the trial's one read has proved the key.
    objection = first_objection(request, settings)
    if objection is not None:
        known = deps.trials.state(key_hash)
        refused = _once_key_is_good(request, known, now, settings, objection)
        return _noted(refused, request, state=known, message=message, deps=deps, settings=settings)
    # The key, the whitelist and the quota: one conditional write, which takes the quota only if all three pass.
    plan = _plan(request, settings)
    counted = _Counted(
        key_hash, plan.channel, message.message_id, window_start(message.at, settings.capacity_window_seconds)
    )
    state, taken, status_webhook = _take(counted, plan, now, settings, deps)
    if state is None or not taken or not state.trial.is_usable(now):
        refused = _once_key_is_good(request, state, now, settings, lambda good: _not_taken(good, plan))
        return _noted(refused, request, state=state, message=message, deps=deps, settings=settings)
    # Accepted: recorded and queued (or all of it undone), counted toward capacity.
    _queue(
        request,
        plan,
        state,
        message,
        deps,
        counted=counted,
        retention=settings.expired_retention_seconds,
        status_webhook=status_webhook,
    )
    deps.breaker.count_accepted()
    logger.info("send accepted", extra={"channel": plan.channel.value, "to": mask_phone(plan.recipient)})
    allowance = Allowance.of(state, settings)
    return Accepted(
        to=request.to_raw,
        reference=request.reference,
        parts=plan.parts,
        message_details=plan.message_details,
        allowance=allowance,
    )


def _once_key_is_good(
    request: SendRequest,
    state: TrialState | None,
    now: int,
    settings: SendSettings,
    objection: Objection | Callable[[TrialState], Objection],
) -> Refused:
    """The key's refusal when the trial is unknown, revoked or expired; else the objection (or what it makes of the
    good trial), with the trial's allowance."""
    if state is None or not state.trial.is_usable(now):
        return _refused(request, Objection(reason=Reason.INVALID_TOKEN))
    found = objection if isinstance(objection, Objection) else objection(state)
    return _refused(request, found, Allowance.of(state, settings))


def _noted(
    refused: Refused,
    request: SendRequest,
    *,
    state: TrialState | None,
    message: _Message,
    deps: SendDeps,
    settings: SendSettings,
) -> Refused:
    """Records a refusal of a known-good trial on its list of messages (one write, best effort) and returns it.
    A refusal of the key itself belongs to no trial and is not recorded."""
    if state is None or refused.allowance is None:
        return refused
    note = deps.describe_refusal(refused) if deps.describe_refusal else RefusalNote(refused.reason.value, 0)
    # The trial's own expiry: its list (and so this record) is read only while the trial is readable.
    ttl = state.trial.expires_at + settings.expired_retention_seconds
    record = refusal_record(request, note, state.trial.key_hash, message, ttl=ttl)
    try:
        deps.messages.record(record)
    except StoreError as error:
        # The developer's answer stands; the dashboard misses this one attempt.
        metrics.add_metric(name="RefusalNotRecorded", unit="Count", value=1)
        logger.warning(
            "could not record a refused send", extra={"reason": refused.reason.value, "error": type(error).__name__}
        )
    return refused


def refusal_record(
    request: SendRequest, note: RefusalNote, key_hash: str, message: _Message, *, ttl: int
) -> LoggedMessage:
    """A refused attempt as its trial's list keeps it: the answer, and the request without the key, cut short."""
    channel: Channel | str = request.channel or _clip(request.channel_raw, REFUSED_FIELD_CHARS)
    cm_json = _as_cm_json(request, channel, limit=REFUSED_TEXT_CHARS)
    return LoggedMessage(
        key_hash=key_hash,
        direction="outbound",
        channel=channel,
        counterpart=_clip(request.to_raw, REFUSED_FIELD_CHARS),
        text=_clip(request.content, REFUSED_TEXT_CHARS),
        at=message.at,
        at_ms=message.at_ms,
        message_id=message.message_id,
        payload=json.dumps({"request": cm_json}, ensure_ascii=False),
        ttl=ttl,
        status=REFUSED,
        reason=note.text,
        error_code=note.error_code,
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _not_taken(state: TrialState, plan: _Plan) -> Objection:
    """Why the conditional write took nothing from a good trial: the recipient, else the quota."""
    if not state.is_whitelisted(plan.channel, plan.recipient):
        return Objection(reason=Reason.NOT_WHITELISTED, channel=plan.channel, recipient=plan.recipient)
    return Objection(reason=Reason.QUOTA_USED_UP, channel=plan.channel)


def _take(
    counted: _Counted, plan: _Plan, now: int, settings: SendSettings, deps: SendDeps
) -> tuple[TrialState | None, bool, bool]:
    """The quota's write: the trial after it, whether it was taken, and whether the trial has a status webhook URL."""
    try:
        take = deps.trials.take_quota(
            counted.key_hash,
            plan.channel,
            plan.recipient,
            now=now,
            limit=settings.quota_for(plan.channel),
            message_id=counted.message_id,
            capacity_window=counted.capacity_window,
        )
    except StoreError:
        # The write may have counted the message although its answer was lost: undo exactly that, if it did.
        _give_back(counted, deps)
        raise
    return take.state, take.taken, take.status_webhook


# The checks of the request alone, in the table's order. Each says what it objects to, or None.


def unsupported_feature(request: SendRequest, _settings: SendSettings) -> Objection | None:
    """Channel fallback, then several messages, then several recipients: the trial sends one message to one."""
    if request.most_channels > 1:
        return Objection(reason=Reason.MULTIPLE_CHANNELS)
    if request.items > 1:
        return Objection(reason=Reason.BULK_MESSAGES)
    if request.recipients > 1:
        return Objection(reason=Reason.MULTIPLE_RECIPIENTS)
    return None


def _channel_offered(request: SendRequest, settings: SendSettings) -> Objection | None:
    if request.channel is None or request.channel not in settings.offered_channels:
        return Objection(reason=Reason.CHANNEL_NOT_OFFERED, channel_raw=request.channel_raw)
    return None


def _sms_sender(request: SendRequest, _settings: SendSettings) -> Objection | None:
    if request.channel is Channel.SMS and not SMS_SENDER_PATTERN.fullmatch(request.sender):
        return Objection(reason=Reason.SMS_SENDER_INVALID)
    return None


def _sms_destination(request: SendRequest, _settings: SendSettings) -> Objection | None:
    recipient = request.recipient
    if request.channel is Channel.SMS and recipient is not None and rule_for(recipient).action is RuleAction.BLOCK:
        return Objection(reason=Reason.COUNTRY_BLOCKED)
    return None


def _body_kind(request: SendRequest, settings: SendSettings) -> Objection | None:
    """Binary messages are not in the trial (any channel). On SMS, `body.type` TEXT with a `dcs` is honoured when
    the text is sent in that encoding (0 GSM-7, 8 Unicode), else refused: the trial sends a text in the encoding its
    characters need, and never drops the option unsaid. With `auto` CM ignores `dcs`, and so does the trial."""
    if request.body_type is BodyType.BINARY:
        return Objection(reason=Reason.BINARY_NOT_SUPPORTED)
    if request.channel is Channel.SMS and request.body_type is BodyType.TEXT and request.dcs is not None:
        counted = _sms_parts(request.content, settings)
        if request.dcs != DCS_OF[counted.encoding]:
            return Objection(reason=Reason.DCS_NOT_SUPPORTED, sms=counted, dcs=request.dcs)
    return None


def _rich_content(request: SendRequest, _settings: SendSettings) -> Objection | None:
    """`richContent` checked for its channel (`trialgw.rich_content`). A channel that carries none (SMS) sends
    `body.content` only, as CM does (the text is the SMS fallback of a rich message): without text there is
    nothing to send there."""
    channel, rich = request.channel, request.rich_content
    has_text = bool(request.content.strip())
    if channel is None or rich is None:
        return None
    allowed = spec_of(channel).rich_kinds
    if not allowed:
        return None if has_text else Objection(reason=Reason.NO_CONTENT, channel=channel)
    found = problem(rich, allowed, has_text=has_text)
    if found is None:
        return None
    reason = Reason.NO_CONTENT if found.problem is Problem.NOTHING_TO_SEND else Reason.RICH_CONTENT_REFUSED
    # The path may name a client's keys: the log gets a short prefix.
    return Objection(reason=reason, channel=channel, rich=found, hint=(found.path or "")[:120])


def _sms_length(request: SendRequest, settings: SendSettings) -> Objection | None:
    """The trial's 2-part limit first (its own text), then the client's `maximumNumberOfMessageParts` within it
    (production's 304). `minimumNumberOfMessageParts` refuses nothing: a text is sent in the parts it needs."""
    if request.channel is Channel.SMS:
        counted = _sms_parts(request.content, settings)
        if not fits(counted, settings.sms_max_parts):
            return Objection(reason=Reason.TOO_MANY_PARTS, sms=counted)
        if request.max_parts is not None and not fits(counted, request.max_parts):
            return Objection(reason=Reason.MAX_PARTS_EXCEEDED, sms=counted, max_parts=request.max_parts)
    return None


def _recipient_address(request: SendRequest, _settings: SendSettings) -> Objection | None:
    if request.recipient is None:
        return Objection(reason=Reason.INVALID_RECIPIENT, channel=request.channel, recipient=request.to_raw)
    return None


REQUEST_CHECKS: tuple[Callable[[SendRequest, SendSettings], Objection | None], ...] = (
    unsupported_feature,
    _channel_offered,
    _sms_sender,
    _sms_destination,
    _body_kind,
    _rich_content,
    _sms_length,
    _recipient_address,
)


def first_objection(request: SendRequest, settings: SendSettings) -> Objection | None:
    """The first of `REQUEST_CHECKS` that objects to the request, or None: everything decidable without a store."""
    for check in REQUEST_CHECKS:
        objection = check(request, settings)
        if objection is not None:
            return objection
    return None


def _sms_parts(text: str, settings: SendSettings) -> SmsParts:
    return count_parts(
        text, gsm7_part_chars=settings.sms_gsm7_part_chars, unicode_part_chars=settings.sms_unicode_part_chars
    )


class _Plan(NamedTuple):
    """What a request that passed `REQUEST_CHECKS` sends."""

    channel: Channel
    recipient: str
    delivered_text: str
    parts: int
    message_details: str | None
    explain: dict[str, Any]


def _plan(request: SendRequest, settings: SendSettings) -> _Plan:
    channel, recipient = request.channel, request.recipient
    assert channel is not None
    assert recipient is not None
    if channel is not Channel.SMS:
        text = shown_text(request)
        return _Plan(channel, recipient, text, 1, None, {"delivered": {"text": text}})
    rule = rule_for(recipient)
    delivered, details = request.content, None
    if rule.action is RuleAction.REPLACE:
        delivered, details = replacement_text(settings.brand), replaced_notice(rule.country_name)
    elif rule.action is RuleAction.FILTER_WARNING:
        details = warning_text(rule.country_name)
    counted, sent = _sms_parts(request.content, settings), _sms_parts(delivered, settings)
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


def shown_text(request: SendRequest) -> str:
    """What a message reads as on the dashboard and a text-only screen: its text, or else its rich content's."""
    if request.content.strip() or request.rich_content is None:
        return request.content
    return describe(request.rich_content)


def _send_once(request: SendRequest, idempotency_key: str, settings: SendSettings, deps: SendDeps) -> SendOutcome:
    """`_checked` under an Idempotency-Key: claimed first, its acceptance kept, released when refused or failed."""
    assert request.token is not None
    now_ms = deps.stamps.next(deps.clock)
    key_hash, now = hash_key(request.token), now_ms // 1000
    claim = deps.send_keys.claim(
        key_hash,
        idempotency_key,
        fingerprint=request.fingerprint,
        message_id=deps.new_message_id(),
        now=now,
        lease_seconds=settings.idempotency_lease_seconds,
        now_ms=now_ms,
    )
    if claim.state is SendKeyState.ANSWERED and claim.answer:
        return Replayed(Accepted.from_json(claim.answer))
    if claim.state is SendKeyState.REUSED:
        return _refused(request, Objection(reason=Reason.IDEMPOTENCY_KEY_REUSED))
    if claim.state is SendKeyState.BUSY:
        busy = Objection(reason=Reason.IDEMPOTENCY_KEY_BUSY, retry_after_seconds=claim.lease_until - now)
        return _refused(request, busy)
    try:
        outcome = _checked(request, settings, deps, _Message(claim.message_id, claim.at, claim.at_ms))
    except (StoreError, QueueError):
        _settle(
            deps, key_hash=key_hash, idempotency_key=idempotency_key, outcome=None, token=claim.token, settings=settings
        )
        raise
    _settle(
        deps, key_hash=key_hash, idempotency_key=idempotency_key, outcome=outcome, token=claim.token, settings=settings
    )
    return outcome


def _settle(
    deps: SendDeps,
    *,
    key_hash: str,
    idempotency_key: str,
    outcome: SendOutcome | None,
    token: str,
    settings: SendSettings,
) -> None:
    """Keeps an acceptance for the key's retries; frees the key of a refused or failed send."""
    try:
        if isinstance(outcome, Accepted):
            # Kept for the trial's life: nothing is replayed after it.
            ttl = outcome.allowance.expires_at + settings.expired_retention_seconds
            deps.send_keys.complete(key_hash, idempotency_key, answer=outcome.to_json(), ttl=ttl)
        else:
            # Nothing was taken or queued: the key stays free for the client's retry.
            deps.send_keys.release(key_hash, idempotency_key, token=token)
    except StoreError:
        # The outcome stands. Unkept, the claim's lease runs out and a retry sends the very same message again,
        # which the quota's write, the record and delivery each recognize as the one already counted and sent.
        logger.warning("could not settle an Idempotency-Key", extra={"accepted": isinstance(outcome, Accepted)})


def _queue(
    request: SendRequest,
    plan: _Plan,
    state: TrialState,
    message: _Message,
    deps: SendDeps,
    *,
    counted: _Counted,
    retention: int,
    status_webhook: bool,
) -> None:
    """Records the message as queued and puts it on the delivery queue; on failure undoes both and the quota. A send
    of a trial with a status webhook URL (`status_webhook`, issue 18) is flagged on both, with what its status events
    need (the developer's reference on the record, the expiry on the message)."""
    key_hash, message_id = state.trial.key_hash, counted.message_id
    ttl = state.trial.expires_at + retention
    record = LoggedMessage(
        key_hash=key_hash,
        direction="outbound",
        channel=plan.channel,
        counterpart=plan.recipient,
        text=shown_text(request),
        at=message.at,
        at_ms=message.at_ms,
        message_id=message_id,
        payload=json.dumps({"request": _as_cm_json(request, plan.channel), **plan.explain}, ensure_ascii=False),
        ttl=ttl,
        status="queued",
        status_webhook=status_webhook,
        reference=request.reference if status_webhook else None,
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
                at=message.at,
                at_ms=message.at_ms,
                sender=request.sender or None,
                reference=request.reference,
                # A channel that carries no rich content (SMS) gets the text only; the others what was checked.
                rich_content=request.rich_content if spec_of(plan.channel).rich_kinds else None,
                status_webhook_ttl=ttl if status_webhook else None,
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


class _Counted(NamedTuple):
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


def _as_cm_json(request: SendRequest, channel: Channel | str, *, limit: int | None = None) -> dict[str, Any]:
    """The message as CM JSON, without the key: what the dashboard shows as sent (whole), or as refused (every
    string cut to `limit`, and a large `richContent` left out, so a refusal's record stays small)."""

    def cut(text: str, most: int | None = limit) -> str:
        return text if most is None else _clip(text, most)

    message: dict[str, Any] = {
        "allowedChannels": [str(channel)],
        "from": cut(request.sender, REFUSED_FIELD_CHARS if limit else None),
        "to": [{"number": cut(request.to_raw, REFUSED_FIELD_CHARS if limit else None)}],
        "body": {"type": request.body_type.value, "content": cut(request.content)},
    }
    if request.reference is not None:
        message["reference"] = cut(request.reference, REFUSED_FIELD_CHARS if limit else None)
    rich = request.rich_content
    if rich is not None and (limit is None or len(json.dumps(rich)) <= REFUSED_RICH_CONTENT_CHARS):
        message["richContent"] = rich
    elif rich is not None:
        message["richContent"] = f"(not kept: over {REFUSED_RICH_CONTENT_CHARS} characters)"
    # CM's SMS options as given: what the checks honoured.
    for name, value in (
        ("minimumNumberOfMessageParts", request.min_parts),
        ("maximumNumberOfMessageParts", request.max_parts),
        ("dcs", request.dcs),
    ):
        if value is not None:
            message[name] = value
    return {"messages": {"msg": [message]}}


def trial_status(token: str | None, settings: SendSettings, trials: TrialStore, clock: Clock) -> StatusOutcome:
    """`GET /messaging/messagingtrial/status`: the trial's expiry, whitelist and quotas. Raises
    DependencyUnavailable."""
    unknown = Refused(objection=Objection(reason=Reason.INVALID_TOKEN))
    if token is None:
        return unknown
    now = int(clock())
    with _dependencies():
        state = trials.state(hash_key(token))
    if state is None or not state.trial.is_usable(now):
        return unknown
    return TrialReport(
        seconds_left=state.trial.expires_at - now,
        quotas=quota_rows(state, settings, settings.offered_channels),
        max_recipients=settings.max_recipients,
        whitelist=state.whitelist(),
        allowance=Allowance.of(state, settings),
    )


__all__ = [
    "REQUEST_CHECKS",
    "MillisStamps",
    "RefusalNote",
    "SendDeps",
    "first_objection",
    "refusal_record",
    "send",
    "shown_text",
    "trial_status",
    "unsupported_feature",
]
