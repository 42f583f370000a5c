"""CM's Python SDK (`cm-text-sdk-python`, pinned in the dev extras) sends through the trial unchanged, pointed at the
gateway with its `gateway=` argument: a plain SMS, a WhatsApp template and an interactive message (both sent as
`"body": {"type": "AUTO", "content": ""}` with the message in `richContent`), and the trial's refusals.

The SDK runs in this process against the running local stack, as a developer's script would; it posts with
`requests` and hands back the raw `requests.Response`.
"""

from __future__ import annotations

from typing import Any

import pytest
from cm_text import MessageBuilder, TextClient, WhatsappTemplate

from tests.conftest import LocalStack, messages_for, random_phone
from tests.e2e.test_send_e2e import whitelist
from trialgw.gateway.answers import INVALID_TOKEN

pytestmark = pytest.mark.e2e


IMAGE_URL = "https://example.com/trial/logo.png"


def client(stack: LocalStack, key: str) -> Any:
    # The gateway URL exactly as the e-mail and the docs give it.
    return TextClient(apikey=key, gateway=f"{stack.url}/messaging/messagingtrial/gw/")


def answer(response: Any) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = response.json()
    return response.status_code, body


def accepted(status: int, body: dict[str, Any], to: str, reference: str) -> None:
    assert status == 200, body
    assert (body["details"], body["errorCode"]) == ("Created 1 message(s)", 0)
    [message] = body["messages"]
    assert (message["status"], message["to"], message["reference"], message["messageErrorCode"]) == (
        "Accepted",
        to,
        reference,
        0,
    )


def sent_text(stack: LocalStack, to: str, channel: str) -> list[str]:
    # The sends only, not the whitelisting's confirmation.
    return [
        message["text"]
        for message in messages_for(stack, to)
        if message["channel"] == channel and message["kind"] == "send"
    ]


def template(media_url: str = IMAGE_URL) -> Any:
    components = [
        {
            "type": "header",
            "parameters": [
                {"type": "image", "media": {"mediaName": "logo", "mediaUri": media_url, "mimeType": "image/png"}}
            ],
        },
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}]},
    ]
    return WhatsappTemplate(namespace="trial-namespace", element_name="order_update", components=components)


def interactive(media_url: str | None = None) -> Any:
    builder = MessageBuilder
    reply_yes = builder.create_interactive_message_action_button_reply(id="yes", title="Yes")
    reply_no = builder.create_interactive_message_action_button_reply(id="no", title="No")
    action = builder.create_interactive_message_action(
        buttons=[
            builder.create_interactive_message_action_button(type="reply", reply=reply_yes),
            builder.create_interactive_message_action_button(type="reply", reply=reply_no),
        ]
    )
    if media_url is None:
        header = builder.create_interactive_message_header(type="text", text="Your order", media=None)
    else:
        media = builder.create_interactive_message_header_media(name="logo", uri=media_url, mimeType="image/png")
        header = builder.create_interactive_message_header(type="image", media=media)
    return builder.create_interactive_message(
        type="button",
        header=header,
        body=builder.create_interactive_message_body(text="Keep the delivery slot?"),
        footer=builder.create_interactive_message_footer(text="CM.COM trial"),
        action=action,
    )


def test_a_plain_sms(local_stack: LocalStack) -> None:
    key, phone = local_stack.sign_up(), random_phone()
    whitelist(local_stack, "SMS", phone, key)

    response = client(local_stack, key).SendSingleMessage(
        message="Hello from CM's Python SDK", from_="TrialTest", to=[phone], reference="pysdk1"
    )

    status, body = answer(response)
    accepted(status, body, phone, "pysdk1")
    assert body["messages"][0]["parts"] == 1
    assert sent_text(local_stack, phone, "SMS") == ["Hello from CM's Python SDK"]


def test_a_whatsapp_template_and_an_interactive_message(local_stack: LocalStack) -> None:
    key, phone = local_stack.sign_up(), random_phone()
    whitelist(local_stack, "WhatsApp", phone, key)
    sdk = client(local_stack, key)

    sdk.AddWhatsappTemplateMessage(template=template(), from_="TrialTest", to=[phone], reference="pysdk2")
    accepted(*answer(sdk.send()), phone, "pysdk2")
    sdk.add_whatsapp_interactive_message(interactive=interactive(), from_="TrialTest", to=[phone], reference="pysdk3")
    accepted(*answer(sdk.send()), phone, "pysdk3")
    sdk.add_whatsapp_interactive_message(
        interactive=interactive(IMAGE_URL), from_="TrialTest", to=[phone], reference="pysdk4"
    )
    last = sdk.send()
    accepted(*answer(last), phone, "pysdk4")

    # What the phone gets: each reads as what it is, and its rich content travels with it.
    assert sent_text(local_stack, phone, "WhatsApp") == [
        f"WhatsApp template order_update: [image] {IMAGE_URL}, Ana, 42",
        "WhatsApp interactive button message\nYour order\nKeep the delivery slot?\nCM.COM trial\n[Yes] [No]",
        f"WhatsApp interactive button message\n[image] {IMAGE_URL}\nKeep the delivery slot?\nCM.COM trial\n[Yes] [No]",
    ]
    # Counted as WhatsApp messages, like any other: 3 of its 10.
    assert last.headers["X-Trial-Remaining-WhatsApp"] == "7"


def test_the_trials_refusals_in_cms_envelope(local_stack: LocalStack) -> None:
    key, phone = local_stack.sign_up(), random_phone()
    whitelist(local_stack, "WhatsApp", phone, key)

    # A key that is no trial's.
    sdk = client(local_stack, "11111111-2222-4333-8444-555555555555")
    sdk.AddWhatsappTemplateMessage(template=template(), from_="TrialTest", to=[phone], reference="pysdk5")
    status, body = answer(sdk.send())
    assert (status, body) == (401, {"details": INVALID_TOKEN, "errorCode": 101, "messages": []})

    # Media from a plain-http address: the trial sends media from https addresses only.
    sdk = client(local_stack, key)
    sdk.AddWhatsappTemplateMessage(
        template=template("http://example.com/logo.png"), from_="TrialTest", to=[phone], reference="pysdk6"
    )
    status, body = answer(sdk.send())
    details = (
        "richContent.conversation[0].template.whatsapp.components[0].parameters[0].media.mediaUri must be an https "
        "URL (https://…): the trial sends media and links from https addresses only."
    )
    assert status == 400, body
    assert body == {
        "details": details,
        "errorCode": 305,
        "messages": [
            {
                "to": phone,
                "status": "Rejected",
                "reference": "pysdk6",
                "parts": 0,
                "messageDetails": details,
                "messageErrorCode": 305,
            }
        ],
    }

    # A rich message to two recipients: the trial's row 7, before anything else about the message.
    sdk.AddWhatsappTemplateMessage(template=template(), from_="TrialTest", to=[phone, random_phone()])
    status, body = answer(sdk.send())
    assert (status, body["errorCode"]) == (400, 302), body
    assert sent_text(local_stack, phone, "WhatsApp") == []
