"""The channel-provider port: each provider package's adapter (sandbox, cm, meta, aws_sms) delivers one
OutboundMessage or says why not.

A failure is either transient (timeouts, throttling, 5xx: the delivery worker retries it through SQS with
back-off) or permanent (a 4xx such as an invalid recipient or an expired 24-hour window: it fails at once).
Adapters never log or raise credentials, tokens or message text; `reason` is for the dashboard and the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, Protocol

from trialgw.channels import Channel, ProviderName
from trialgw.ports import OutboundMessage
from trialgw.providers.status import StatusReport


class Delivered(NamedTuple):
    """The provider took the message; `provider_message_id` is its id (status reports refer to it).

    `reports` are status reports the provider already has as it answers, applied right after `sent` is recorded as
    if its status webhook had called (`trialgw.logic.delivery`): only the sandbox has any (it delivers at once); a
    real provider's reports come later, through its webhook, and cost the delivery nothing.
    """

    provider: ProviderName
    provider_message_id: str | None
    reports: tuple[StatusReport, ...] = ()


# `DeliveryFailed.code` of a channel whose chosen provider lacks its credentials or account id (registry).
NOT_CONFIGURED = "not_configured"


class DeliveryFailed(Exception):
    """The provider did not take the message. `transient`: worth retrying later; `code`: the provider's own code."""

    def __init__(self, reason: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.code = code


class SmsSenders(NamedTuple):
    """Who an SMS comes from: the trial company's sender, unless the operator lets developers choose their own.

    The seed: "The sender of the outbound messages will always be the CM.COM trial account". A developer's `from` is
    still validated (the send gateway's SMS sender check) but, by default, goes out as nobody's sender: a trial must
    not send SMS as "MyBank".
    """

    trial: str
    developer_allowed: bool = False

    def sender(self, message: OutboundMessage) -> str:
        if self.developer_allowed and message.sender:
            return message.sender
        return self.trial


def trial_sender(message: OutboundMessage, senders: Mapping[str, str], sms: SmsSenders) -> str | None:
    """Who a message comes from: always the trial company's sender on its channel (`senders`, channel value →
    sender); on SMS, what `sms` decides."""
    if message.channel is Channel.SMS:
        return sms.sender(message)
    return senders.get(message.channel.value)


class Provider(Protocol):
    name: ProviderName

    def deliver(self, message: OutboundMessage) -> Delivered:
        """Hands `message` to the channel; raises DeliveryFailed. The sender is the trial company's, from the
        adapter's configuration (`SmsSenders` for SMS)."""


__all__ = ["NOT_CONFIGURED", "Delivered", "DeliveryFailed", "Provider", "ProviderName", "SmsSenders", "trial_sender"]
