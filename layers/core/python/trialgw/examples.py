"""Ready-to-run examples of the send API for a developer's own key and recipients: curl and a Postman collection.

The recipient is always one the trial normalized (E.164 or a numeric account id) and the key a GUID, so the
single-quoted shell text below never needs escaping.
"""

from __future__ import annotations

import json
from typing import Any

from trialgw.models import Channel
from trialgw.urls import gateway_url

EXAMPLE_NUMBER = "+31600000000"
EXAMPLE_TEXT = "Hello from my messaging trial"
EXAMPLE_SMS_SENDER = "TrialTest"
POSTMAN_SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def send_body(key: str, channel: Channel = Channel.WHATSAPP, recipient: str = EXAMPLE_NUMBER) -> dict[str, Any]:
    """The CM JSON of one trial message to `recipient` on `channel`, key in the body as CM's SDKs send it."""
    return {
        "messages": {
            "authentication": {"producttoken": key},
            "msg": [
                {
                    "allowedChannels": [channel.value],
                    "from": EXAMPLE_SMS_SENDER,
                    "to": [{"number": recipient}],
                    "body": {"type": "auto", "content": EXAMPLE_TEXT},
                }
            ],
        }
    }


def curl_example(api_url: str, key: str, channel: Channel = Channel.WHATSAPP, recipient: str = EXAMPLE_NUMBER) -> str:
    """A curl command that sends one trial message; Postman imports it as raw text (File › Import › Raw text)."""
    body = json.dumps(send_body(key, channel, recipient), separators=(",", ":"), ensure_ascii=False)
    return f"curl -X POST '{gateway_url(api_url)}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{body}'"


def postman_collection(api_url: str, key: str, name: str, recipients: list[tuple[Channel, str]]) -> dict[str, Any]:
    """A Postman collection (v2.1) with one send request per whitelisted recipient."""
    url = gateway_url(api_url)
    return {
        "info": {"name": name, "schema": POSTMAN_SCHEMA},
        "item": [
            {
                "name": f"Send on {channel.value} to {recipient}",
                "request": {
                    "method": "POST",
                    "header": [{"key": "Content-Type", "value": "application/json"}],
                    "url": url,
                    "body": {
                        "mode": "raw",
                        "raw": json.dumps(send_body(key, channel, recipient), indent=2, ensure_ascii=False),
                        "options": {"raw": {"language": "json"}},
                    },
                },
            }
            for channel, recipient in recipients
        ],
    }
