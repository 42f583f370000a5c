"""CM's `richContent` (reference §1.7) as Meta's Graph API messages: what maps faithfully, and a clear refusal of the
rest. The gateway has already checked the rich content for its channel (`trialgw.rich_content`).

WhatsApp Cloud API (`type` and its object):

- a `template` item → `template` (`name` = `element_name`, `language.code`, `components` as given, each CM media
  parameter `{"type": "image", "media": {"mediaUri"}}` as Meta's `{"type": "image", "image": {"link"}}`);
- an `interactive` item → `interactive` as given (CM took Meta's shape), a media header as Meta's `{type: {link}}`;
- a `media` item (with a `text` item before it, the SDK's rich message: its caption) → `image` / `video` /
  `audio` / `document` with `link` (and `caption`, `filename`);
- `location` → `location`; `contacts` → `contacts` (CM's shape is Meta's);
- a `text` item (or `body.content`) with up to 3 `reply` suggestions → an interactive `button` message.

Messenger and Instagram (Send API `message`): a text with `reply` suggestions → `quick_replies` (at most 13); a
`media` item → an `attachment` of its type with `url`; a rich card → a `generic` template element (`title`,
`subtitle`, `image_url`, up to 3 buttons: `openUrl` → `web_url`, `reply` → `postback`); a text with `openUrl` or
`reply` suggestions up to 3 → a `button` template.

Not carried, refused with `DeliveryFailed(code="rich_content")` (permanent: a retry cannot change it): more than
one item (Meta sends one message per call; the pair text + media on WhatsApp excepted), suggestions of other
actions (dial, calendar, location) and more buttons than Meta allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from trialgw.channels import RichKind
from trialgw.json_input import lookup
from trialgw.providers.port import DeliveryFailed
from trialgw.rich_content import kind_of

# Meta's own limits: reply buttons on a WhatsApp interactive message, buttons on a Messenger template, quick replies.
_WHATSAPP_BUTTONS = 3
_TEMPLATE_BUTTONS = 3
_QUICK_REPLIES = 13
_BUTTON_TITLE_CHARS = 20
_MEDIA_TYPES = frozenset({"image", "video", "audio"})


def _get(node: object, key: str) -> Any:
    return lookup(node, key, ignore_case=True) if isinstance(node, Mapping) else None


def _text(node: object, key: str) -> str | None:
    value = _get(node, key)
    return value if isinstance(value, str) and value.strip() else None


def _list(node: object, key: str) -> list[Any]:
    value = _get(node, key)
    return value if isinstance(value, list) else []


def _refuse(what: str) -> DeliveryFailed:
    return DeliveryFailed(
        f"the meta provider cannot carry this richContent: {what}", transient=False, code="rich_content"
    )


def _media_kind(media: object, *, file_word: str) -> str:
    """Meta's media type for CM's `mimeType`: image, video or audio, else `file_word` (document / file)."""
    mime = _text(media, "mimeType") or "image/"
    major = mime.split("/", 1)[0].lower()
    return major if major in _MEDIA_TYPES else file_word


def _uri(media: object) -> str:
    uri = _text(media, "mediaUri")
    if uri is None:
        raise _refuse("a media item without mediaUri")
    return uri


def _suggestions(rich: Mapping[str, object], item: object | None) -> list[Any]:
    return [*_list(item, "suggestions"), *_list(rich, "suggestions")]


def _action(suggestion: object) -> str:
    return (_text(suggestion, "action") or "").casefold()


def _label(suggestion: object) -> str:
    return _text(suggestion, "label") or _text(suggestion, "postbackdata") or "?"


def whatsapp_body(to: str, text: str, rich: Mapping[str, object]) -> dict[str, object]:
    """The Cloud API message for `rich` (and the message's text) to `to`; raises DeliveryFailed when not carried."""
    items = _list(rich, "conversation")
    kinds = [kind_of(item) for item in items]
    if kinds == [RichKind.TEXT, RichKind.MEDIA]:
        items, kinds = [{**items[1], "text": _text(items[0], "text")}], [RichKind.MEDIA]
    if len(items) > 1:
        raise _refuse(f"{len(items)} conversation items (Meta sends one per message; send them one by one)")
    item = items[0] if items else None
    kind = kinds[0] if kinds else RichKind.TEXT
    content = _whatsapp_content(kind, item, text, _suggestions(rich, item))
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **content}


def _whatsapp_content(kind: RichKind | None, item: Any, text: str, suggestions: list[Any]) -> dict[str, object]:
    if suggestions and kind is not RichKind.TEXT:
        raise _refuse(f"suggestions beside a {kind} (on WhatsApp, reply buttons go with a text)")
    build = _WHATSAPP_ITEMS.get(kind) if kind is not None else None
    if build is not None:
        return build(item)
    body = _text(item, "text") or text
    if not suggestions:
        return {"type": "text", "text": {"preview_url": False, "body": body}}
    return {"type": "interactive", "interactive": _reply_buttons(body, suggestions)}


def _whatsapp_media(item: Any) -> dict[str, object]:
    media = _get(item, "media")
    media_type = _media_kind(media, file_word="document")
    carried: dict[str, object] = {"link": _uri(media)}
    caption = _text(item, "text")
    if caption and media_type != "audio":
        carried["caption"] = caption
    if media_type == "document" and (name := _text(media, "mediaName")):
        carried["filename"] = name
    return {"type": media_type, media_type: carried}


def _whatsapp_location(item: Any) -> dict[str, object]:
    location = _get(item, "location")
    place = {"latitude": _get(location, "latitude"), "longitude": _get(location, "longitude")}
    if label := _text(location, "label"):
        place["name"] = label
    return {"type": "location", "location": place}


_WHATSAPP_ITEMS: dict[RichKind, Callable[[Any], dict[str, object]]] = {
    RichKind.TEMPLATE: lambda item: {
        "type": "template",
        "template": _template(_get(_get(item, "template"), "whatsapp")),
    },
    RichKind.INTERACTIVE: lambda item: {"type": "interactive", "interactive": _interactive(_get(item, "interactive"))},
    RichKind.MEDIA: _whatsapp_media,
    RichKind.LOCATION: _whatsapp_location,
    # CM's contacts are Meta's shape.
    RichKind.CONTACTS: lambda item: {"type": "contacts", "contacts": _get(item, "contacts")},
}


def _reply_buttons(body: str, suggestions: list[Any]) -> dict[str, object]:
    if len(suggestions) > _WHATSAPP_BUTTONS or any(_action(s) != "reply" for s in suggestions):
        raise _refuse(f"WhatsApp takes at most {_WHATSAPP_BUTTONS} reply suggestions as buttons")
    buttons = [
        {
            "type": "reply",
            "reply": {"id": _text(s, "postbackdata") or _label(s), "title": _label(s)[:_BUTTON_TITLE_CHARS]},
        }
        for s in suggestions
    ]
    return {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}}


def _cm_media_as_meta(node: Mapping[str, Any], media_type: str) -> dict[str, Any]:
    """A CM media object (`mediaUri`, `mediaName`) where Meta wants `{media_type: {"link", "filename"?}}`."""
    media = _get(node, "media")
    carried: dict[str, object] = {"link": _uri(media)}
    if media_type == "document" and (name := _text(media, "mediaName")):
        carried["filename"] = name
    rest = {key: value for key, value in node.items() if key.casefold() != "media"}
    return {**rest, media_type: carried}


def _template(whatsapp: object) -> dict[str, object]:
    name, code = _text(whatsapp, "element_name"), _text(_get(whatsapp, "language"), "code")
    if name is None or code is None:
        raise _refuse("a template without element_name or language.code")
    components: list[Any] = []
    for component in _list(whatsapp, "components"):
        if not isinstance(component, Mapping):
            continue
        parameters = [
            _cm_media_as_meta(p, str(_text(p, "type")).lower())
            if isinstance(p, Mapping) and isinstance(_get(p, "media"), Mapping)
            else p
            for p in _list(component, "parameters")
        ]
        mapped = {key.lower(): value for key, value in component.items() if key.casefold() != "parameters"}
        components.append({**mapped, "parameters": parameters})
    template: dict[str, object] = {"name": name, "language": {"code": code}}
    if components:
        template["components"] = components
    return template


def _interactive(interactive: object) -> dict[str, object]:
    if not isinstance(interactive, Mapping):
        raise _refuse("an interactive item that is not an object")
    mapped = {key.lower(): value for key, value in interactive.items()}
    header = mapped.get("header")
    if isinstance(header, Mapping) and isinstance(_get(header, "media"), Mapping):
        media_type = str(_text(header, "type") or "image").lower()
        mapped["header"] = _cm_media_as_meta(header, media_type)
    return mapped


# Messenger and Instagram.


def send_api_message(text: str, rich: Mapping[str, object]) -> dict[str, object]:
    """The Send API `message` for `rich` (and the message's text); raises DeliveryFailed when not carried."""
    items = _list(rich, "conversation")
    if len(items) > 1:
        raise _refuse(f"{len(items)} conversation items (Meta sends one per message; send them one by one)")
    item = items[0] if items else None
    kind = kind_of(item) if item is not None else RichKind.TEXT
    suggestions = _suggestions(rich, item)
    if kind is RichKind.RICH_CARD:
        return {"attachment": _generic_template(item, suggestions)}
    if kind is RichKind.MEDIA:
        if suggestions:
            raise _refuse("suggestions beside a media item (use a rich card)")
        media = _get(item, "media")
        kind_word = _media_kind(media, file_word="file")
        return {"attachment": {"type": kind_word, "payload": {"url": _uri(media), "is_reusable": False}}}
    if kind is not RichKind.TEXT:
        raise _refuse(f"a {kind} item")
    body = _text(item, "text") or text
    if not suggestions:
        return {"text": body}
    if all(_action(s) == "reply" for s in suggestions) and len(suggestions) <= _QUICK_REPLIES:
        replies = [
            {
                "content_type": "text",
                "title": _label(s)[:_BUTTON_TITLE_CHARS],
                "payload": _text(s, "postbackdata") or _label(s),
            }
            for s in suggestions
        ]
        return {"text": body, "quick_replies": replies}
    payload = {"template_type": "button", "text": body, "buttons": _buttons(suggestions)}
    return {"attachment": {"type": "template", "payload": payload}}


def _buttons(suggestions: list[Any]) -> list[dict[str, object]]:
    if len(suggestions) > _TEMPLATE_BUTTONS:
        raise _refuse(f"more than {_TEMPLATE_BUTTONS} buttons")
    buttons: list[dict[str, object]] = []
    for suggestion in suggestions:
        title = _label(suggestion)[:_BUTTON_TITLE_CHARS]
        if _action(suggestion) == "openurl" and (url := _text(suggestion, "url")):
            buttons.append({"type": "web_url", "url": url, "title": title})
        elif _action(suggestion) == "reply":
            payload = _text(suggestion, "postbackdata") or _label(suggestion)
            buttons.append({"type": "postback", "title": title, "payload": payload})
        else:
            raise _refuse(f'a suggestion with action "{_action(suggestion)[:20]}"')
    return buttons


def _generic_template(card: object, suggestions: list[Any]) -> dict[str, object]:
    element: dict[str, object] = {"title": _text(card, "header") or _text(card, "text") or "?"}
    if (subtitle := _text(card, "text")) and _text(card, "header"):
        element["subtitle"] = subtitle
    if isinstance(_get(card, "media"), Mapping):
        element["image_url"] = _uri(_get(card, "media"))
    if suggestions:
        element["buttons"] = _buttons(suggestions)
    return {"type": "template", "payload": {"template_type": "generic", "elements": [element]}}


__all__ = ["send_api_message", "whatsapp_body"]
