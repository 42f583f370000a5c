"""Domain outcomes as the send gateway's HTTP answers: the one place that knows CM's envelopes, statuses and headers.

The send use case and the status endpoint (`trialgw.logic.send`) return outcomes; a failed dependency reaches here
as `DependencyUnavailable`, which the send function's exception handler passes to `unavailable_answer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from trialgw.channels import CHANNELS, ContactLink, RichKind, contacts, is_phone, spec_of
from trialgw.errors import DependencyUnavailable
from trialgw.gateway import answers
from trialgw.gateway.answers import ONBOARD, Refusal
from trialgw.logic.send_outcomes import (
    Accepted,
    Allowance,
    Reason,
    Refused,
    Replayed,
    SendOutcome,
    StatusOutcome,
    TrialReport,
)
from trialgw.models import Channel
from trialgw.quotas import iso_utc
from trialgw.rich_content import MAX_CONVERSATION_ITEMS, MAX_RICH_CONTENT_BYTES, MAX_SUGGESTIONS, Problem
from trialgw.settings import SendSettings
from trialgw.sms import describe_dcs, describe_limit

# As Stripe's API marks a replay: the client can tell the first answer given again from a new one.
REPLAYED_HEADER = "Idempotent-Replayed"


class GatewayAnswer(NamedTuple):
    """An HTTP answer: status, JSON body and headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def trial_headers(allowance: Allowance) -> dict[str, str]:
    """`X-Trial-Expires-At` and `X-Trial-Remaining-<Channel>` for every offered channel."""
    headers = {"X-Trial-Expires-At": iso_utc(allowance.expires_at)}
    for channel, left in allowance.remaining:
        headers[f"X-Trial-Remaining-{channel.short_name}"] = str(left)
    return headers


def send_answer(outcome: SendOutcome, settings: SendSettings) -> GatewayAnswer:
    """The answer to a send: 200 with CM's `Accepted` envelope (marked when replayed), or the refusal's."""
    if isinstance(outcome, Refused):
        return refused_answer(outcome, settings)
    accepted = outcome.first if isinstance(outcome, Replayed) else outcome
    headers = trial_headers(accepted.allowance)
    if isinstance(outcome, Replayed):
        headers[REPLAYED_HEADER] = "true"
    return GatewayAnswer(answers.HTTP_OK, _accepted_body(accepted), headers)


def _accepted_body(accepted: Accepted) -> dict[str, Any]:
    return answers.accepted_envelope(accepted.to, accepted.reference, accepted.parts, accepted.message_details)


def status_answer(outcome: StatusOutcome, settings: SendSettings) -> GatewayAnswer:
    """The answer to `GET …/status`: the trial's expiry, quotas and whitelist as JSON, or the key's refusal."""
    if isinstance(outcome, Refused):
        return refused_answer(outcome, settings)
    return GatewayAnswer(answers.HTTP_OK, _report_body(outcome), trial_headers(outcome.allowance))


def _report_body(report: TrialReport) -> dict[str, Any]:
    return {
        "status": "active",
        "expiresAt": iso_utc(report.allowance.expires_at),
        "secondsLeft": report.seconds_left,
        "channels": report.quotas,
        "whitelist": {
            "max": report.max_recipients,
            "recipients": [{"channel": channel.value, "recipient": address} for channel, address in report.whitelist],
        },
    }


def unavailable_answer(error: DependencyUnavailable) -> GatewayAnswer:
    """A store or the queue failed: 503 with `Retry-After`; nothing was taken or queued, so the client may retry."""
    refusal = answers.unavailable(error.retry_after_seconds)
    return GatewayAnswer(refusal.http_status, answers.envelope(refusal, to=None, reference=None), dict(refusal.headers))


def refused_answer(refused: Refused, settings: SendSettings) -> GatewayAnswer:
    """CM's envelope of a refusal, its status, and its headers with the trial's once the key is known good."""
    refusal = refusal_for(refused, settings)
    headers = dict(refusal.headers)
    if refused.allowance is not None:
        headers.update(trial_headers(refused.allowance))
    return GatewayAnswer(
        refusal.http_status, answers.envelope(refusal, to=refused.to, reference=refused.reference), headers
    )


def refusal_for(refused: Refused, settings: SendSettings) -> Refusal:
    """The status, CM errorCode and text of a refusal's reason, its data filled in."""
    return _REFUSALS[refused.reason](refused, settings)


def _channel(refused: Refused) -> Channel:
    channel = refused.objection.channel
    assert channel is not None, refused.reason
    return channel


def _retry_after(refused: Refused) -> int:
    seconds = refused.objection.retry_after_seconds
    assert seconds is not None, refused.reason
    return seconds


def _too_many_parts(refused: Refused, settings: SendSettings) -> Refusal:
    counted = refused.objection.sms
    assert counted is not None
    limit = describe_limit(
        counted,
        gsm7_part_chars=settings.sms_gsm7_part_chars,
        unicode_part_chars=settings.sms_unicode_part_chars,
        max_parts=settings.sms_max_parts,
    )
    return answers.too_many_parts(limit)


def _max_parts_exceeded(refused: Refused, _settings: SendSettings) -> Refusal:
    counted, maximum = refused.objection.sms, refused.objection.max_parts
    assert counted is not None
    assert maximum is not None
    return answers.max_parts_exceeded(needed=counted.parts, maximum=maximum)


def _dcs_not_supported(refused: Refused, _settings: SendSettings) -> Refusal:
    counted, dcs = refused.objection.sms, refused.objection.dcs
    assert counted is not None
    assert dcs is not None
    return answers.dcs_not_supported(describe_dcs(dcs, counted))


# A JSON path in a text: the client's keys may be in it, so as `echo` shows values, but long enough for a path.
_MAX_PATH_SHOWN = 120


def _rich_channels(settings: SendSettings) -> str:
    """The offered channels that carry rich content, as a text lists them."""
    names = [channel.value for channel in settings.offered_channels if spec_of(channel).rich_kinds]
    return _either(names) if names else "none is offered in this trial"


def _no_content(refused: Refused, settings: SendSettings) -> Refusal:
    if refused.objection.rich is None:
        return answers.no_content(answers.NO_SMS_CONTENT.format(channels=_rich_channels(settings)))
    return answers.no_content(
        f"{answers.NO_CONTENT} body.content is empty and richContent.conversation has no items: send a text in "
        "body.content, or at least one richContent.conversation item."
    )


def _rich_content_refused(refused: Refused, _settings: SendSettings) -> Refusal:
    """What is wrong with the `richContent` for its channel, and what the channel carries instead."""
    found, channel = refused.objection.rich, _channel(refused)
    assert found is not None
    path = answers.echo(found.path or "richContent", _MAX_PATH_SHOWN)
    carried = ", ".join(kind.value for kind in RichKind if kind in spec_of(channel).rich_kinds)
    on_channel = f"On {channel.value} the trial carries: {carried}."
    if found.problem is Problem.KIND_NOT_ALLOWED:
        kind = found.kind
        assert kind is not None
        where = [spec.channel.value for spec in CHANNELS.values() if kind in spec.rich_kinds]
        elsewhere = f"the trial carries it on {_either(where)} only" if where else "no trial channel carries it"
        details = f'{path}: "{kind.value}" cannot be sent on {channel.value}; {elsewhere}. {on_channel}'
    elif found.problem is Problem.INCOMPLETE:
        kind = found.kind
        assert kind is not None
        details = f"{path} is required in a {kind.value}."
    elif found.problem is Problem.UNKNOWN_ITEM:
        details = f"{path} is no richContent item the trial knows. {on_channel}"
    elif found.problem is Problem.TOO_MANY_ITEMS:
        details = (
            f"{path} has too many items: the trial sends at most {MAX_CONVERSATION_ITEMS} conversation items "
            f"and {MAX_SUGGESTIONS} suggestions in one message."
        )
    elif found.problem is Problem.TOO_LARGE:
        details = f"richContent is larger than the trial's limit of {MAX_RICH_CONTENT_BYTES} bytes (as compact JSON)."
    else:
        details = f"{path} must be an https URL (https://…): the trial sends media and links from https addresses only."
    return answers.rich_content_refused(details)


def _not_an_address(refused: Refused, _settings: SendSettings) -> Refusal:
    channel = _channel(refused)
    shown = answers.echo(refused.objection.recipient or "")
    if is_phone(channel):
        what = "a phone number in international format, such as +31612345678 or 0031612345678"
    else:
        what = f"a {channel.short_name} id: the numeric id of the account, as the trial dashboard shows it"
    return answers.invalid_recipient(f'The recipient "{shown}" is not {what}. {ONBOARD}')


def _not_whitelisted(refused: Refused, settings: SendSettings) -> Refusal:
    """Which key to send, from where, to which number or account."""
    channel, recipient = _channel(refused), refused.objection.recipient
    contact = spec_of(channel).contact
    where = contact.whitelist.format(recipient=recipient, contact=_whitelist_contact(contact.link, channel, settings))
    return answers.not_whitelisted(
        f"The recipient {recipient} is not whitelisted for {channel.value} in this trial. To whitelist it, send "
        f"this trial's key {where}, then send this message again. A trial can whitelist up to "
        f"{settings.max_recipients} recipients."
    )


def _whitelist_contact(link: ContactLink, channel: Channel, settings: SendSettings) -> str:
    """The trial company's contact point(s) on the channel, as the whitelisting text names them."""
    points = contacts(settings, channel)
    if link is ContactLink.SMS:
        return _either([f"{number} (from {region})" for region, number in points.items()])
    if link is ContactLink.WHATSAPP:
        return " or ".join(f"{number} (https://wa.me/{number.lstrip('+')})" for number in points.values())
    return " or ".join(points.values())


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# Every reason's answer, in the order of DESIGN.md's table (the Idempotency-Key's between the parser's and capacity).
_REFUSALS: dict[Reason, Callable[[Refused, SendSettings], Refusal]] = {
    Reason.NOT_JSON: lambda refused, _: answers.not_json(refused.objection.hint),
    Reason.INVALID_POST_DATA: lambda refused, _: answers.invalid_post_data(refused.objection.hint),
    Reason.INVALID_IDEMPOTENCY_KEY: lambda _refused, _: answers.invalid_idempotency_key(),
    Reason.IDEMPOTENCY_KEY_REUSED: lambda _refused, _: answers.idempotency_key_reused(),
    Reason.IDEMPOTENCY_KEY_BUSY: lambda refused, _: answers.idempotency_key_busy(_retry_after(refused)),
    Reason.AT_CAPACITY: lambda refused, _: answers.at_capacity(_retry_after(refused)),
    Reason.INVALID_TOKEN: lambda _refused, _: answers.invalid_token(),
    Reason.MULTIPLE_CHANNELS: lambda _refused, _: answers.multiple_channels(),
    Reason.BULK_MESSAGES: lambda _refused, _: answers.bulk_messages(),
    Reason.MULTIPLE_RECIPIENTS: lambda _refused, _: answers.multiple_recipients(),
    Reason.CHANNEL_NOT_OFFERED: lambda refused, settings: answers.channel_not_offered(
        refused.objection.channel_raw or "", settings.offered_channels
    ),
    Reason.SMS_SENDER_INVALID: lambda _refused, _: answers.sms_sender_invalid(),
    Reason.COUNTRY_BLOCKED: lambda _refused, _: answers.country_blocked(),
    Reason.BINARY_NOT_SUPPORTED: lambda _refused, _: answers.binary_not_supported(),
    Reason.DCS_NOT_SUPPORTED: _dcs_not_supported,
    Reason.TOO_MANY_PARTS: _too_many_parts,
    Reason.NO_CONTENT: _no_content,
    Reason.RICH_CONTENT_REFUSED: _rich_content_refused,
    Reason.MAX_PARTS_EXCEEDED: _max_parts_exceeded,
    Reason.INVALID_RECIPIENT: _not_an_address,
    Reason.NOT_WHITELISTED: _not_whitelisted,
    Reason.QUOTA_USED_UP: lambda refused, _: answers.quota_used_up(_channel(refused)),
}
