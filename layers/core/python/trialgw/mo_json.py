"""An inbound message as the trial shows it to developers: CM's MO JSON, whichever provider brought it in.

The trial speaks CM's formats to developers (the send API, the status reports and the inbound messages of their own
webhooks, the dashboard's Messages tab), so this is the gateway's format, not the CM provider's: the CM provider's
parser (`trialgw.providers.cm.inbound`) reads the same shape.
"""

from __future__ import annotations

from datetime import UTC, datetime

from trialgw.models import InboundMessage

# CM's `timeUtc`: UTC without a zone suffix.
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def to_cm_mo_json(message: InboundMessage) -> dict[str, object]:
    """The CM MO JSON a trial's webhook would have received for `message`, for the dashboard's Messages tab.

    Same field names and shapes as CM's: `reference` is the provider's message id, `timeUtc` is
    `received_at` in CM's zone-less UTC format, and fields we never have (context, media, groupings)
    are present and empty, as CM sends them for a plain text message.
    """
    return {
        "reference": message.provider_message_id,
        "messageContext": "",
        "from": {"number": message.sender, "name": message.sender_name or ""},
        "to": {"number": message.recipient},
        "message": {
            "text": message.text or "",
            "media": {"mediaUri": "", "contentType": "", "title": ""},
            "custom": {},
        },
        "groupings": ["", "", ""],
        "timeUtc": datetime.fromtimestamp(message.received_at, tz=UTC).strftime(_TIME_FORMAT),
        "channel": message.channel.value,
    }
