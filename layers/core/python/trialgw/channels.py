"""The channel registry: everything the gateway knows about a channel, in one `ChannelSpec` per channel.

Parsing, addressing, quotas, whitelisting, the trial company's contact points, the providers that may carry a
channel, the local stack and the pages (through `/trial.json`) all read `CHANNELS` instead of naming channels, so
a channel is added here (a `Channel` member and its spec) and nowhere else beside its provider
(docs/adding-a-channel.md). SMS keeps rules of its own (sender, country rules, parts): those are SMS's, not a
channel's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from trialgw.settings import TrialSettings


class Channel(StrEnum):
    """The trial's channels, spelled as CM's `allowedChannels` and MO `channel` values."""

    SMS = "SMS"
    WHATSAPP = "WhatsApp"
    MESSENGER = "Facebook Messenger"
    INSTAGRAM = "Instagram"

    @property
    def short_name(self) -> str:
        """One word for header names and item attributes ("Messenger" for "Facebook Messenger")."""
        return self.value.split()[-1]


class ProviderName(StrEnum):
    """The channel providers an operator may choose (settings `provider_<channel>`, checked at synth and start)."""

    SANDBOX = "sandbox"
    CM = "cm"
    META = "meta"
    AWS_SMS = "aws-sms"


class Addressing(StrEnum):
    """How an end user is addressed on a channel: an E.164 phone number, or the provider's numeric account id."""

    PHONE = "phone"
    ACCOUNT = "account"

    @property
    def noun(self) -> str:
        """What the end user's address is called in replies ("This number is already whitelisted")."""
        return "number" if self is Addressing.PHONE else "account"

    @property
    def kind(self) -> str:
        """What a sender's address must be, for a webhook's refusal."""
        return "an international phone number" if self is Addressing.PHONE else "a numeric id"


class RichKind(StrEnum):
    """What a `richContent` carries (reference §1.7): each `conversation` item is one kind, and `suggestions` (quick
    replies and buttons, at the top or on an item) one more. A channel's spec lists the kinds it carries."""

    TEXT = "text"
    MEDIA = "media"
    RICH_CARD = "rich card"
    CAROUSEL = "carousel"
    LOCATION = "location"
    CONTACTS = "contacts"
    TEMPLATE = "WhatsApp template"
    INTERACTIVE = "WhatsApp interactive message"
    PAYMENT = "payment"
    SUGGESTIONS = "suggestions"


class ContactLink(StrEnum):
    """How a contact point's link is made: a wa.me link, an sms: link per number, or the setting is the link."""

    WHATSAPP = "whatsapp"
    SMS = "sms"
    URL = "url"


class ContactSpec(NamedTuple):
    """Where an end user sends the trial key on a channel, and how the trial says so.

    `setting` is the `TrialSettings` field with the trial company's number or link on the channel, or a JSON
    object of numbers by region (one contact point each). `instruction` precedes it in the e-mail and on the
    dashboard (`{region}` for numbers by region); `whitelist` is the not-whitelisted answer's "send this trial's
    key …" phrase, with `{recipient}` and `{contact}`.
    """

    setting: str
    link: ContactLink
    instruction: str
    whitelist: str


class ChannelSpec(NamedTuple):
    """One channel's facts. `quota_setting` and `provider_setting` name settings fields (`TrialSettings`,
    `DeliverySettings`); `providers` may carry it (the sandbox carries every channel)."""

    channel: Channel
    addressing: Addressing
    quota_setting: str
    provider_setting: str
    providers: frozenset[ProviderName]
    contact: ContactSpec
    # The `richContent` kinds the channel carries; none: the channel sends `body.content` only (SMS).
    rich_kinds: frozenset[RichKind] = frozenset()

    @property
    def spellings(self) -> frozenset[str]:
        """CM's spellings: the value in any letter case, with or without spaces (the .NET SDK's `FacebookMessenger`)."""
        return frozenset({_spelling_key(self.channel.value)})


def _spelling_key(raw: str) -> str:
    return raw.replace(" ", "").casefold()


_EVERY_PROVIDER = frozenset(ProviderName)
_MESSAGING_PROVIDERS = frozenset({ProviderName.SANDBOX, ProviderName.CM, ProviderName.META})
# What CM carries on Messenger and Instagram (the seed names their rich cards and quick replies): text, media, a
# card (header, text, media, buttons) and suggestions. WhatsApp adds its own kinds (templates, interactive
# messages, location, contacts); carousels (RCS) and payments (Apple) are on no trial channel.
_META_RICH = frozenset({RichKind.TEXT, RichKind.MEDIA, RichKind.RICH_CARD, RichKind.SUGGESTIONS})
_WHATSAPP_RICH = frozenset(
    {
        RichKind.TEXT,
        RichKind.MEDIA,
        RichKind.LOCATION,
        RichKind.CONTACTS,
        RichKind.TEMPLATE,
        RichKind.INTERACTIVE,
        RichKind.SUGGESTIONS,
    }
)

# Registry order is the channels' order everywhere they are listed (quotas, headers, offered channels).
CHANNELS: dict[Channel, ChannelSpec] = {
    spec.channel: spec
    for spec in (
        ChannelSpec(
            channel=Channel.SMS,
            addressing=Addressing.PHONE,
            quota_setting="quota_sms",
            provider_setting="provider_sms",
            providers=frozenset({ProviderName.SANDBOX, ProviderName.CM, ProviderName.AWS_SMS}),
            contact=ContactSpec(
                setting="sms_numbers",
                link=ContactLink.SMS,
                instruction="From {region}: send your key by SMS to",
                whitelist="by SMS from {recipient} to {contact}",
            ),
        ),
        ChannelSpec(
            channel=Channel.WHATSAPP,
            addressing=Addressing.PHONE,
            quota_setting="quota_whatsapp",
            provider_setting="provider_whatsapp",
            providers=_MESSAGING_PROVIDERS,
            contact=ContactSpec(
                setting="whatsapp_number",
                link=ContactLink.WHATSAPP,
                instruction="Send your key on WhatsApp to",
                whitelist="on WhatsApp from {recipient} to {contact}",
            ),
            rich_kinds=_WHATSAPP_RICH,
        ),
        ChannelSpec(
            channel=Channel.MESSENGER,
            addressing=Addressing.ACCOUNT,
            quota_setting="quota_other",
            provider_setting="provider_messenger",
            providers=_MESSAGING_PROVIDERS,
            contact=ContactSpec(
                setting="messenger_url",
                link=ContactLink.URL,
                instruction="Send your key on Messenger to our page",
                whitelist="on Messenger from that account to {contact}",
            ),
            rich_kinds=_META_RICH,
        ),
        ChannelSpec(
            channel=Channel.INSTAGRAM,
            addressing=Addressing.ACCOUNT,
            quota_setting="quota_other",
            provider_setting="provider_instagram",
            providers=_MESSAGING_PROVIDERS,
            contact=ContactSpec(
                setting="instagram_url",
                link=ContactLink.URL,
                instruction="Send your key as an Instagram DM to our account",
                whitelist="as an Instagram direct message from that account to {contact}",
            ),
            rich_kinds=_META_RICH,
        ),
    )
}
# What a send without `allowedChannels` means (the seed).
DEFAULT_CHANNEL = Channel.SMS


def spec_of(channel: Channel) -> ChannelSpec:
    return CHANNELS[channel]


def channels() -> Iterator[Channel]:
    """The registered channels, in registry order."""
    return iter(CHANNELS)


def parse_channel(raw: str) -> Channel | None:
    """The channel a CM spelling names, ignoring letter case and spaces (`whatsapp`, `FacebookMessenger`), or None."""
    key = _spelling_key(raw)
    return next((spec.channel for spec in CHANNELS.values() if key in spec.spellings), None)


def is_phone(channel: Channel) -> bool:
    """Whether the channel addresses end users by E.164 phone number."""
    return CHANNELS[channel].addressing is Addressing.PHONE


def carriers(name: ProviderName) -> list[Channel]:
    """The channels `name` may carry."""
    return [spec.channel for spec in CHANNELS.values() if name in spec.providers]


def check_provider(channel: Channel, name: ProviderName) -> None:
    """Raises ValueError when `name` may not carry `channel`."""
    if name in CHANNELS[channel].providers:
        return
    carried = carriers(name)
    if len(carried) == 1:
        raise ValueError(f"{name.value} carries {carried[0].value} only, not {channel.value}")
    raise ValueError(f"{name.value} does not carry {channel.value}")


def contacts(settings: TrialSettings, channel: Channel) -> Mapping[str, str]:
    """The trial company's contact points on `channel`: region → number for numbers by region, else {"": value}."""
    value: object = getattr(settings, CHANNELS[channel].contact.setting)
    if isinstance(value, Mapping):
        return {str(region): str(number) for region, number in value.items()}
    return {"": str(value)}


def single_contact(settings: TrialSettings, channel: Channel) -> str | None:
    """The channel's one contact point (a number or a link), or None when it has numbers by region."""
    points = contacts(settings, channel)
    return points.get("") if len(points) == 1 else None


def register(spec: ChannelSpec) -> None:
    """Adds (or replaces) a channel's spec: for a channel whose `Channel` member is made outside this module."""
    CHANNELS[spec.channel] = spec


def unregister(channel: Channel) -> None:
    CHANNELS.pop(channel, None)


__all__ = [
    "CHANNELS",
    "DEFAULT_CHANNEL",
    "Addressing",
    "Channel",
    "ChannelSpec",
    "ContactLink",
    "ContactSpec",
    "ProviderName",
    "RichKind",
    "carriers",
    "channels",
    "check_provider",
    "contacts",
    "is_phone",
    "parse_channel",
    "register",
    "single_contact",
    "spec_of",
    "unregister",
]
