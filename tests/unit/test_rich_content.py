"""`richContent` checked for the channel it is sent on, and what a message with only rich content reads as."""

from __future__ import annotations

from typing import Any

import pytest

from trialgw.channels import RichKind, spec_of
from trialgw.models import Channel
from trialgw.rich_content import (
    MAX_CONVERSATION_ITEMS,
    MAX_RICH_CONTENT_BYTES,
    MAX_SUGGESTIONS,
    Problem,
    RichProblem,
    describe,
    is_https_url,
    kinds,
    problem,
)

IMAGE = {"mediaName": "cat", "mediaUri": "https://example.com/cat.jpg", "mimeType": "image/jpeg"}
# As CM's Python SDK (2.0.4) builds them: `add_whatsapp_template` and `add_whatsapp_interactive_message`.
TEMPLATE = {
    "template": {
        "whatsapp": {
            "namespace": "ns-1",
            "element_name": "order_update",
            "language": {"policy": "deterministic", "code": "en"},
            "components": [
                {"type": "header", "parameters": [{"type": "image", "media": IMAGE}]},
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}]},
            ],
        }
    }
}
INTERACTIVE = {
    "interactive": {
        "type": "button",
        "header": {"type": "image", "Media": IMAGE},
        "body": {"text": "Keep the reminder?"},
        "footer": {"text": "CM.COM trial"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "no", "title": "No"}},
            ]
        },
    }
}
CARD = {
    "header": "Our shop",
    "text": "Open until six",
    "media": IMAGE,
    "suggestions": [{"action": "openUrl", "label": "Visit", "url": "https://example.com/shop"}],
}
QUICK_REPLIES = {"suggestions": [{"action": "reply", "label": "Yes", "postbackdata": "y"}]}


def allowed(channel: Channel) -> frozenset[RichKind]:
    return spec_of(channel).rich_kinds


def check(channel: Channel, rich: dict[str, Any], *, has_text: bool = False) -> RichProblem | None:
    return problem(rich, allowed(channel), has_text=has_text)


# Kinds per channel, from the channel registry.


def test_sms_carries_no_rich_content():
    assert allowed(Channel.SMS) == frozenset()


@pytest.mark.parametrize(
    ("channel", "rich"),
    [
        (Channel.WHATSAPP, {"conversation": [TEMPLATE]}),
        (Channel.WHATSAPP, {"conversation": [INTERACTIVE]}),
        (Channel.WHATSAPP, {"conversation": [{"text": "Pick one"}, {"media": IMAGE}], **QUICK_REPLIES}),
        (Channel.WHATSAPP, {"conversation": [{"location": {"latitude": "51.6", "longitude": "4.7"}}]}),
        (Channel.WHATSAPP, {"conversation": [{"contacts": [{"name": {"formatted_name": "Ana"}}]}]}),
        (Channel.MESSENGER, {"conversation": [CARD], **QUICK_REPLIES}),
        (Channel.MESSENGER, {"conversation": [{"media": IMAGE}]}),
        (Channel.INSTAGRAM, {"conversation": [{"text": "Which size?"}], **QUICK_REPLIES}),
        (Channel.INSTAGRAM, {"conversation": [CARD]}),
    ],
)
def test_what_each_channel_carries(channel, rich):
    assert check(channel, rich) is None


@pytest.mark.parametrize(
    ("channel", "rich", "kind"),
    [
        (Channel.MESSENGER, {"conversation": [TEMPLATE]}, RichKind.TEMPLATE),
        (Channel.INSTAGRAM, {"conversation": [INTERACTIVE]}, RichKind.INTERACTIVE),
        (Channel.INSTAGRAM, {"conversation": [{"location": {"latitude": "1", "longitude": "2"}}]}, RichKind.LOCATION),
        (Channel.WHATSAPP, {"conversation": [CARD]}, RichKind.RICH_CARD),
        (Channel.WHATSAPP, {"conversation": [{"carousel": {"cards": [CARD]}}]}, RichKind.CAROUSEL),
        (Channel.MESSENGER, {"conversation": [{"payment": {}}]}, RichKind.PAYMENT),
    ],
)
def test_kinds_a_channel_does_not_carry_are_refused(channel, rich, kind):
    assert check(channel, rich) == RichProblem(Problem.KIND_NOT_ALLOWED, kind, "richContent.conversation[0]")


def test_keys_match_in_any_case_and_unknown_keys_are_tolerated():
    rich = {"Conversation": [{"$type": "TemplateMessage", "Template": {"WhatsApp": {"Element_Name": "x",
            "Language": {"Code": "nl"}}}}]}  # fmt: skip
    assert kinds(rich) == [RichKind.TEMPLATE]
    assert check(Channel.WHATSAPP, rich) is None


def test_an_item_of_no_known_kind_is_refused():
    assert check(Channel.WHATSAPP, {"conversation": [{"sticker": {}}]}) == RichProblem(
        Problem.UNKNOWN_ITEM, path="richContent.conversation[0]"
    )
    assert check(Channel.WHATSAPP, {"conversation": ["hi"]}) == RichProblem(
        Problem.UNKNOWN_ITEM, path="richContent.conversation[0]"
    )


def test_nothing_to_send_without_text_or_items():
    assert check(Channel.WHATSAPP, {}) == RichProblem(Problem.NOTHING_TO_SEND, path="richContent.conversation")
    assert check(Channel.WHATSAPP, {"conversation": []}) == RichProblem(
        Problem.NOTHING_TO_SEND, path="richContent.conversation"
    )
    # With a text, suggestions alone are quick replies under it.
    assert check(Channel.INSTAGRAM, QUICK_REPLIES, has_text=True) is None


@pytest.mark.parametrize(
    ("rich", "missing"),
    [
        ({"template": {"whatsapp": {"language": {"code": "en"}}}}, "template.whatsapp.element_name"),
        ({"template": {"whatsapp": {"element_name": "x", "language": {}}}}, "template.whatsapp.language.code"),
        ({"interactive": {"action": {}}}, "interactive.type"),
        ({"interactive": {"type": "list"}}, "interactive.action"),
        ({"media": {"mediaName": "x"}}, "media.mediaUri"),
    ],
)
def test_templates_interactive_messages_and_media_need_their_fields(rich, missing):
    found = check(Channel.WHATSAPP, {"conversation": [rich]})
    assert found is not None
    assert (found.problem, found.path) == (Problem.INCOMPLETE, f"richContent.conversation[0].{missing}")


# Size and count.


def test_total_size_is_limited():
    just = {"conversation": [{"text": ""}]}
    overhead = len('{"conversation":[{"text":""}]}')
    just["conversation"][0]["text"] = "a" * (MAX_RICH_CONTENT_BYTES - overhead)
    assert check(Channel.WHATSAPP, just) is None
    just["conversation"][0]["text"] += "a"
    assert check(Channel.WHATSAPP, just) == RichProblem(Problem.TOO_LARGE, path="richContent")
    # Bytes of UTF-8, not characters.
    wide = {"conversation": [{"text": "€" * (MAX_RICH_CONTENT_BYTES // 3)}]}
    assert check(Channel.WHATSAPP, wide) == RichProblem(Problem.TOO_LARGE, path="richContent")


def test_items_and_suggestions_are_counted():
    items = {"conversation": [{"text": "x"}] * MAX_CONVERSATION_ITEMS}
    assert check(Channel.MESSENGER, items) is None
    items["conversation"] = [*items["conversation"], {"text": "x"}]
    assert check(Channel.MESSENGER, items) == RichProblem(Problem.TOO_MANY_ITEMS, path="richContent.conversation")
    many = {"conversation": [{"text": "x"}], "suggestions": [QUICK_REPLIES["suggestions"][0]] * (MAX_SUGGESTIONS + 1)}
    assert check(Channel.MESSENGER, many) == RichProblem(Problem.TOO_MANY_ITEMS, path="richContent.suggestions")


# Media and links: https only.


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/cat.jpg",
        "ftp://example.com/cat.jpg",
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//example.com/cat.jpg",
        "https://",
        "https://user:pw@example.com/cat.jpg",
        "https://exa mple.com/cat.jpg",
        "https://example.com/" + "a" * 2048,
        "",
    ],
)
def test_urls_must_be_https(url):
    assert not is_https_url(url)
    found = check(Channel.WHATSAPP, {"conversation": [{"media": {"mediaUri": url}}]})
    assert found is not None
    assert found.problem in {Problem.URL_NOT_HTTPS, Problem.INCOMPLETE}


@pytest.mark.parametrize(
    ("rich", "path"),
    [
        ({"conversation": [{"media": {"mediaUri": "http://x.test/a.png"}}]}, "conversation[0].media.mediaUri"),
        ({"conversation": [{"text": "t"}], "suggestions": [{"action": "openUrl", "label": "Go", "url": "http://x"}]},
         "suggestions[0].url"),
        ({"conversation": [{"interactive": {**INTERACTIVE["interactive"],
                                            "header": {"type": "image", "media": {"mediaUri": "http://x"}}}}]},
         "conversation[0].interactive.header.media.mediaUri"),
        ({"conversation": [{"template": {"whatsapp": {"element_name": "x", "language": {"code": "en"}, "components": [
            {"type": "header", "parameters": [{"type": "image", "media": {"mediaUri": "http://x"}}]}]}}}]},
         "conversation[0].template.whatsapp.components[0].parameters[0].media.mediaUri"),
    ],
)  # fmt: skip
def test_every_media_and_link_url_is_checked(rich, path):
    assert check(Channel.WHATSAPP, rich) == RichProblem(Problem.URL_NOT_HTTPS, path=f"richContent.{path}")


def test_a_contact_cards_website_is_its_data_not_a_link_the_trial_checks():
    contact = {
        "contacts": [{"name": {"formatted_name": "Ana"}, "urls": [{"url": "http://ana.example", "type": "HOME"}]}]
    }
    assert check(Channel.WHATSAPP, {"conversation": [contact]}) is None


def test_https_urls_pass():
    assert is_https_url("https://example.com/cat.jpg?size=2#x")
    assert is_https_url("HTTPS://EXAMPLE.COM/a")


# What it reads as.


def test_a_template_reads_as_its_name_and_parameters():
    assert describe({"conversation": [TEMPLATE]}) == (
        "WhatsApp template order_update: [image] https://example.com/cat.jpg, Ana, 42"
    )


def test_an_interactive_message_reads_as_its_parts_and_buttons():
    assert describe({"conversation": [INTERACTIVE]}).splitlines() == [
        "WhatsApp interactive button message",
        "[image] https://example.com/cat.jpg",
        "Keep the reminder?",
        "CM.COM trial",
        "[Yes] [No]",
    ]
    listing = {"interactive": {"type": "list", "body": {"text": "Pick"}, "action": {"button": "Options"}}}
    assert describe({"conversation": [listing]}) == "WhatsApp interactive list message\nPick\n[Options]"


def test_media_cards_and_suggestions_read_as_text():
    rich = {"conversation": [{"media": IMAGE}, CARD, {"text": "Sure?"}], **QUICK_REPLIES}
    assert describe(rich).splitlines() == [
        "[image] https://example.com/cat.jpg",
        "Our shop",
        "Open until six",
        "[image] https://example.com/cat.jpg",
        "[Visit]",
        "Sure?",
        "[Yes]",
    ]
    video = {"media": {"mediaUri": "https://x.test/v.mp4", "mimeType": "video/mp4"}}
    pdf = {"media": {"mediaUri": "https://x.test/a.pdf", "mimeType": "application/pdf"}}
    assert describe({"conversation": [video, pdf]}) == "[video] https://x.test/v.mp4\n[file] https://x.test/a.pdf"


def test_media_without_a_mime_type_reads_as_what_declares_it():
    template = {
        "template": {
            "whatsapp": {
                "element_name": "x",
                "language": {"code": "en"},
                "components": [
                    {
                        "type": "header",
                        "parameters": [{"type": "document", "media": {"mediaUri": "https://x.test/a.pdf"}}],
                    }
                ],
            }
        }
    }
    header = {
        "interactive": {
            "type": "button",
            "header": {"type": "video", "media": {"mediaUri": "https://x.test/v"}},
            "action": {},
        }
    }
    assert describe({"conversation": [template, header, {"media": {"mediaUri": "https://x.test/m"}}]}).splitlines() == [
        "WhatsApp template x: [file] https://x.test/a.pdf",
        "WhatsApp interactive button message",
        "[video] https://x.test/v",
        "[media] https://x.test/m",
    ]  # fmt: skip


def test_location_and_contacts_read_as_text():
    rich = {"conversation": [{"location": {"latitude": "51.6", "longitude": "4.7", "label": "CM"}},
                             {"contacts": [{"name": {"formatted_name": "Ana"}}]}]}  # fmt: skip
    assert describe(rich) == "[location] CM (51.6, 4.7)\n[contact] Ana"


def test_a_description_is_never_empty_and_never_huge():
    assert describe({}) == "[rich content]"
    long = {"conversation": [{"text": "a" * 3000}, {"text": "b" * 3000}]}
    assert len(describe(long)) == 4096
