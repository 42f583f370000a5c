"""CM's `richContent` as Meta's Graph API messages (`trialgw.providers.meta.rich`): what maps, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from trialgw.providers.meta.rich import send_api_message, whatsapp_body
from trialgw.providers.port import DeliveryFailed

TO = "31612345678"
IMAGE = {"mediaName": "logo", "mediaUri": "https://example.com/logo.png", "mimeType": "image/png"}
PDF = {"mediaName": "invoice.pdf", "mediaUri": "https://example.com/invoice.pdf", "mimeType": "application/pdf"}


def whatsapp(rich: dict[str, Any], text: str = "fallback") -> dict[str, Any]:
    body = whatsapp_body(TO, text, rich)
    assert (body["messaging_product"], body["recipient_type"], body["to"]) == ("whatsapp", "individual", TO)
    return {key: value for key, value in body.items() if key not in {"messaging_product", "recipient_type", "to"}}


def refused(build: Any) -> str:
    with pytest.raises(DeliveryFailed) as caught:
        build()
    assert (caught.value.transient, caught.value.code) == (False, "rich_content")
    return caught.value.reason


# WhatsApp.


def test_a_cm_template_is_metas_template_with_media_parameters_as_links():
    rich = {"conversation": [{"template": {"whatsapp": {
        "namespace": "ns", "element_name": "order_update", "language": {"policy": "deterministic", "code": "nl"},
        "components": [
            {"type": "header", "parameters": [{"type": "image", "media": IMAGE}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
            {"type": "button", "sub_type": "quick_reply", "index": 0,
             "parameters": [{"type": "payload", "payload": "STOP"}]},
            {"type": "header", "parameters": [{"type": "document", "media": PDF}]},
        ]}}}]}  # fmt: skip
    assert whatsapp(rich) == {
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "nl"},
            "components": [
                {"type": "header", "parameters": [{"type": "image", "image": {"link": IMAGE["mediaUri"]}}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
                {"type": "button", "sub_type": "quick_reply", "index": 0,
                 "parameters": [{"type": "payload", "payload": "STOP"}]},
                {"type": "header", "parameters": [{"type": "document",
                                                   "document": {"link": PDF["mediaUri"], "filename": "invoice.pdf"}}]},
            ],
        },
    }  # fmt: skip


def test_an_interactive_message_is_passed_with_its_media_header_as_a_link():
    # As CM's Python SDK builds it: the header's media under "Media".
    interactive = {
        "type": "button",
        "header": {"type": "image", "Media": IMAGE},
        "body": {"text": "Keep the slot?"},
        "footer": {"text": "CM.COM trial"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
    }
    assert whatsapp({"conversation": [{"interactive": interactive}]}) == {
        "type": "interactive",
        "interactive": {**interactive, "header": {"type": "image", "image": {"link": IMAGE["mediaUri"]}}},
    }


def test_media_with_the_sdks_text_before_it_is_a_captioned_media_message():
    assert whatsapp({"conversation": [{"text": "Our logo"}, {"media": IMAGE}]}) == {
        "type": "image",
        "image": {"link": IMAGE["mediaUri"], "caption": "Our logo"},
    }
    assert whatsapp({"conversation": [{"media": PDF}]}) == {
        "type": "document",
        "document": {"link": PDF["mediaUri"], "filename": "invoice.pdf"},
    }
    audio = {"mediaUri": "https://example.com/a.ogg", "mimeType": "audio/ogg"}
    assert whatsapp({"conversation": [{"text": "Listen"}, {"media": audio}]}) == {
        "type": "audio",
        "audio": {"link": audio["mediaUri"]},
    }


def test_location_contacts_and_text():
    location = {"location": {"latitude": "51.6", "longitude": "4.77", "label": "CM"}}
    assert whatsapp({"conversation": [location]}) == {
        "type": "location",
        "location": {"latitude": "51.6", "longitude": "4.77", "name": "CM"},
    }
    contacts = [{"name": {"formatted_name": "Ana"}, "phones": [{"phone": "+31612345678"}]}]
    assert whatsapp({"conversation": [{"contacts": contacts}]}) == {"type": "contacts", "contacts": contacts}
    assert whatsapp({"conversation": [{"text": "Hi"}]}) == {
        "type": "text",
        "text": {"preview_url": False, "body": "Hi"},
    }


def test_reply_suggestions_are_reply_buttons_on_the_text():
    rich = {
        "suggestions": [{"action": "reply", "label": "Yes", "postbackdata": "Y"}, {"action": "Reply", "label": "No"}]
    }
    assert whatsapp(rich, text="Remind you?") == {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Remind you?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "Y", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "No", "title": "No"}},
                ]
            },
        },
    }


@pytest.mark.parametrize(
    ("rich", "why"),
    [
        ({"conversation": [{"text": "a"}, {"text": "b"}]}, "2 conversation items"),
        ({"conversation": [{"text": "a"}], "suggestions": [{"action": "openUrl", "label": "Go", "url": "https://x"}]},
         "reply suggestions"),
        ({"conversation": [{"text": "a"}], "suggestions": [{"action": "reply", "label": str(n)} for n in range(4)]},
         "at most 3"),
        ({"conversation": [{"media": IMAGE}], "suggestions": [{"action": "reply", "label": "Yes"}]}, "beside a"),
    ],
)  # fmt: skip
def test_what_whatsapp_cannot_carry_is_refused(rich, why):
    assert why in refused(lambda: whatsapp_body(TO, "x", rich))


# Messenger and Instagram.


def test_text_with_reply_suggestions_gets_quick_replies():
    rich = {
        "conversation": [{"text": "Size?"}],
        "suggestions": [{"action": "reply", "label": "S", "postbackdata": "s"}],
    }
    assert send_api_message("fallback", rich) == {
        "text": "Size?",
        "quick_replies": [{"content_type": "text", "title": "S", "payload": "s"}],
    }


def test_a_rich_card_is_a_generic_template():
    card = {
        "header": "Our shop",
        "text": "Open until six",
        "media": IMAGE,
        "suggestions": [
            {"action": "openUrl", "label": "Visit", "url": "https://example.com/shop"},
            {"action": "reply", "label": "Call me", "postbackdata": "CALL"},
        ],
    }
    assert send_api_message("x", {"conversation": [card]}) == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "generic",
                "elements": [
                    {
                        "title": "Our shop",
                        "subtitle": "Open until six",
                        "image_url": IMAGE["mediaUri"],
                        "buttons": [
                            {"type": "web_url", "url": "https://example.com/shop", "title": "Visit"},
                            {"type": "postback", "title": "Call me", "payload": "CALL"},
                        ],
                    }
                ],
            },
        }
    }


def test_media_is_an_attachment_and_links_are_a_button_template():
    assert send_api_message("x", {"conversation": [{"media": PDF}]}) == {
        "attachment": {"type": "file", "payload": {"url": PDF["mediaUri"], "is_reusable": False}}
    }
    rich = {"conversation": [{"text": "Track it"}], "suggestions": [{"action": "openUrl", "label": "Track",
                                                                      "url": "https://example.com/t"}]}  # fmt: skip
    assert send_api_message("x", rich) == {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "button",
                "text": "Track it",
                "buttons": [{"type": "web_url", "url": "https://example.com/t", "title": "Track"}],
            },
        }
    }


@pytest.mark.parametrize(
    ("rich", "why"),
    [
        ({"conversation": [{"text": "a"}, {"media": IMAGE}]}, "2 conversation items"),
        ({"conversation": [{"text": "a"}], "suggestions": [{"action": "dial", "label": "Call"}] * 2},
         'action "dial"'),
        ({"conversation": [{"media": IMAGE}], "suggestions": [{"action": "reply", "label": "Yes"}]}, "rich card"),
        ({"conversation": [{"text": "a"}],
          "suggestions": [{"action": "openUrl", "label": "x", "url": "https://x.test"}] * 4}, "more than 3 buttons"),
    ],
)  # fmt: skip
def test_what_messenger_and_instagram_cannot_carry_is_refused(rich, why):
    assert why in refused(lambda: send_api_message("x", rich))
