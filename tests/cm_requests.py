"""CM Business Messaging send bodies for the tests (reference §1), built the way clients build them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def cm_send_body(
    key: str | None,
    *,
    channels: Sequence[str] | None,
    to: Sequence[str],
    content: str,
    sender: str | None,
    reference: str | None,
    items: int = 1,
    rich_content: dict[str, Any] | None = None,
    token_field: str = "producttoken",
) -> str:
    """One `msg` (repeated `items` times) to `to`; `channels` None leaves `allowedChannels` out (SMS), `key` None
    leaves `authentication` out (a header carries it, or nothing does)."""
    msg: dict[str, Any] = {"to": [{"number": number} for number in to], "body": {"type": "auto", "content": content}}
    if channels is not None:
        msg["allowedChannels"] = list(channels)
    if sender is not None:
        msg["from"] = sender
    if reference is not None:
        msg["reference"] = reference
    if rich_content is not None:
        msg["richContent"] = rich_content
    messages: dict[str, Any] = {"msg": [msg] * items}
    if key is not None:
        messages["authentication"] = {token_field: key}
    return json.dumps({"messages": messages})


# A WhatsApp template as CM's Python SDK puts it in `richContent` (its `add_whatsapp_template`), sent with an empty
# `body.content`; it reads as "WhatsApp template order_update: 42".
WHATSAPP_TEMPLATE: dict[str, Any] = {
    "conversation": [
        {
            "template": {
                "whatsapp": {
                    "namespace": "ns-1",
                    "element_name": "order_update",
                    "language": {"policy": "deterministic", "code": "en"},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}],
                }
            }
        }
    ]
}
