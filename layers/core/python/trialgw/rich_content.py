"""CM's `richContent` (reference §1.7) as the trial carries it: what a channel may be sent, and what it reads as.

`problem` checks a request's `richContent` for the channel it is sent on: the kinds of its items against the
channel's spec (`ChannelSpec.rich_kinds`: templates and interactive messages on WhatsApp only, cards on Messenger
and Instagram, nothing on SMS), a total size, a few items (as CM's SDKs cap them), the fields a template or an
interactive message cannot do without, and `https` for every media and link URL. `describe` gives the text a
message with rich content and no `body.content` reads as, on the dashboard, the sandbox phone and for providers
that carry text only ("WhatsApp template order_update", "[image] https://…").

JSON keys match ignoring case, as everywhere in a send request; unknown keys are tolerated (the .NET SDK adds
`$type`), as CM does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import NamedTuple
from urllib.parse import urlsplit

from trialgw.channels import RichKind
from trialgw.json_input import lookup

# The serialized `richContent` (compact UTF-8 JSON) at most this big: an interactive list of ten rows with their
# longest ids and descriptions, or a template with a dozen parameters, takes under 4 KiB.
MAX_RICH_CONTENT_BYTES = 16 * 1024
# CM's PHP SDK caps `conversation` at 5 items and `suggestions` at 11 (reference §1.7).
MAX_CONVERSATION_ITEMS = 5
MAX_SUGGESTIONS = 11
MAX_URL_CHARS = 2048
# The keys whose string value is a URL the end user's client fetches (media, Meta-style `link`); a suggestion's
# `url` (openUrl) is one it opens. A contact card's `urls[].url` is the contact's data, not checked.
_MEDIA_URL_KEYS = frozenset({"mediauri", "link"})
# An item's kind by its first key present, in this order; a `header` makes a card, `media` alone (or with a
# caption `text`) a media item.
_ITEM_KEYS: tuple[tuple[str, RichKind], ...] = (
    ("template", RichKind.TEMPLATE),
    ("interactive", RichKind.INTERACTIVE),
    ("carousel", RichKind.CAROUSEL),
    ("location", RichKind.LOCATION),
    ("contacts", RichKind.CONTACTS),
    ("payment", RichKind.PAYMENT),
    ("header", RichKind.RICH_CARD),
    ("media", RichKind.MEDIA),
    ("text", RichKind.TEXT),
)
_SUMMARY_CHARS = 4096


class Problem(StrEnum):
    """Why a `richContent` cannot be sent on its channel."""

    NOTHING_TO_SEND = "nothing_to_send"
    UNKNOWN_ITEM = "unknown_item"
    KIND_NOT_ALLOWED = "kind_not_allowed"
    INCOMPLETE = "incomplete"
    TOO_MANY_ITEMS = "too_many_items"
    TOO_LARGE = "too_large"
    URL_NOT_HTTPS = "url_not_https"


class RichProblem(NamedTuple):
    """A problem, the kind it concerns (a kind not allowed, an incomplete one) and where (a JSON path, no value)."""

    problem: Problem
    kind: RichKind | None = None
    path: str | None = None


def _get(node: object, key: str) -> object:
    return lookup(node, key, ignore_case=True) if isinstance(node, Mapping) else None


def _items(rich: Mapping[str, object]) -> list[object]:
    conversation = _get(rich, "conversation")
    return conversation if isinstance(conversation, list) else []


def _suggestions(node: object) -> list[object]:
    found = _get(node, "suggestions")
    return found if isinstance(found, list) else []


def kind_of(item: object) -> RichKind | None:
    """A `conversation` item's kind, or None when it is no item the trial knows."""
    if not isinstance(item, Mapping):
        return None
    return next((kind for key, kind in _ITEM_KEYS if _get(item, key) is not None), None)


def kinds(rich: Mapping[str, object]) -> list[RichKind | None]:
    """The kinds `rich` uses, in order: one per `conversation` item, then `suggestions` if it has any."""
    found: list[RichKind | None] = [kind_of(item) for item in _items(rich)]
    if _suggestions(rich) or any(_suggestions(item) for item in _items(rich)):
        found.append(RichKind.SUGGESTIONS)
    return found


def problem(rich: Mapping[str, object], allowed: frozenset[RichKind], *, has_text: bool) -> RichProblem | None:
    """The first reason `rich` cannot be sent on a channel that carries `allowed`, or None.

    `has_text` says whether the message has a non-blank `body.content`: without it, `rich` must have an item."""
    items = _items(rich)
    if not items and not has_text:
        return RichProblem(Problem.NOTHING_TO_SEND, path="richContent.conversation")
    found = _shape_problem(rich, items)
    for index, item in enumerate(items):
        found = found or _item_problem(item, f"richContent.conversation[{index}]", allowed)
    if found is None and RichKind.SUGGESTIONS in kinds(rich) and RichKind.SUGGESTIONS not in allowed:
        found = RichProblem(Problem.KIND_NOT_ALLOWED, RichKind.SUGGESTIONS, "richContent.suggestions")
    return found or _url_problem(rich, "richContent")


def _shape_problem(rich: Mapping[str, object], items: list[object]) -> RichProblem | None:
    size = len(json.dumps(rich, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    if size > MAX_RICH_CONTENT_BYTES:
        return RichProblem(Problem.TOO_LARGE, path="richContent")
    if len(items) > MAX_CONVERSATION_ITEMS:
        return RichProblem(Problem.TOO_MANY_ITEMS, path="richContent.conversation")
    if len(_suggestions(rich)) > MAX_SUGGESTIONS:
        return RichProblem(Problem.TOO_MANY_ITEMS, path="richContent.suggestions")
    return None


def _item_problem(item: object, path: str, allowed: frozenset[RichKind]) -> RichProblem | None:
    kind = kind_of(item)
    if kind is None:
        return RichProblem(Problem.UNKNOWN_ITEM, path=path)
    if kind not in allowed:
        return RichProblem(Problem.KIND_NOT_ALLOWED, kind, path)
    missing = _missing(item, kind)
    return None if missing is None else RichProblem(Problem.INCOMPLETE, kind, f"{path}.{missing}")


def _text_at(node: object, *keys: str) -> str | None:
    for key in keys:
        node = _get(node, key)
    return node if isinstance(node, str) and node.strip() else None


def _missing(item: object, kind: RichKind) -> str | None:
    """The first field a template or an interactive message cannot do without, when it lacks it."""
    if kind is RichKind.TEMPLATE:
        if _text_at(item, "template", "whatsapp", "element_name") is None:
            return "template.whatsapp.element_name"
        if _text_at(item, "template", "whatsapp", "language", "code") is None:
            return "template.whatsapp.language.code"
    if kind is RichKind.INTERACTIVE:
        if _text_at(item, "interactive", "type") is None:
            return "interactive.type"
        if not isinstance(_get(_get(item, "interactive"), "action"), Mapping):
            return "interactive.action"
    if kind is RichKind.MEDIA and _text_at(item, "media", "mediaUri") is None:
        return "media.mediaUri"
    return None


def _walk(node: object, path: str) -> Iterator[tuple[str, Mapping[str, object], str, object]]:
    """Every (path, object, key, value) of the objects in `node`; iterative, `node` is at most 16 levels deep."""
    stack: list[tuple[object, str]] = [(node, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, Mapping):
            for key, value in current.items():
                yield where, current, str(key), value
                stack.append((value, f"{where}.{key}"))
        elif isinstance(current, list):
            stack.extend((value, f"{where}[{index}]") for index, value in enumerate(current))


def is_https_url(value: str) -> bool:
    """An absolute `https` URL with a host and no user info, of a sane length."""
    if len(value) > MAX_URL_CHARS or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() == "https" and bool(parts.hostname) and "@" not in parts.netloc


def _is_url_key(parent: Mapping[str, object], key: str) -> bool:
    folded = key.casefold()
    return folded in _MEDIA_URL_KEYS or (folded == "url" and _get(parent, "action") is not None)


def _url_problem(rich: Mapping[str, object], path: str) -> RichProblem | None:
    # Sorted by path: the first problem is the same whatever order the walk takes.
    bad = sorted(
        f"{where}.{key}"
        for where, parent, key, value in _walk(rich, path)
        if isinstance(value, str) and _is_url_key(parent, key) and not is_https_url(value)
    )
    return RichProblem(Problem.URL_NOT_HTTPS, path=bad[0]) if bad else None


# What a message with rich content reads as.


def _media_line(media: object, declared: str | None = None) -> str | None:
    """`[image] <url>`: the kind from the media's `mimeType`, else from what declares it (a template parameter's or
    an interactive header's `type`)."""
    uri = _text_at(media, "mediaUri")
    if uri is None:
        return None
    mime = _text_at(media, "mimeType") or ""
    major = mime.split("/", 1)[0].lower() if mime else (declared or "").lower()
    if major in {"image", "video", "audio"}:
        return f"[{major}] {uri}"
    return f"[{'file' if mime or major == 'document' else 'media'}] {uri}"


def _labels(suggestions: list[object]) -> str | None:
    labels = [f"[{label}]" for label in (_text_at(item, "label") for item in suggestions) if label]
    return " ".join(labels) or None


def _template_line(item: object) -> str:
    whatsapp = _get(_get(item, "template"), "whatsapp")
    name = _text_at(whatsapp, "element_name") or "?"
    values: list[str] = []
    components = _get(whatsapp, "components")
    for component in components if isinstance(components, list) else []:
        parameters = _get(component, "parameters")
        for parameter in parameters if isinstance(parameters, list) else []:
            text = _text_at(parameter, "text")
            media = _media_line(_get(parameter, "media"), _text_at(parameter, "type"))
            values.extend(value for value in (text, media) if value)
    return f"WhatsApp template {name}" + (f": {', '.join(values)}" if values else "")


def _interactive_lines(item: object) -> list[str]:
    interactive = _get(item, "interactive")
    header = _get(interactive, "header")
    action = _get(interactive, "action")
    lines = [
        _text_at(header, "text"),
        _media_line(_get(header, "media"), _text_at(header, "type")),
        _text_at(interactive, "body", "text"),
        _text_at(interactive, "footer", "text"),
    ]
    buttons = _get(action, "buttons")
    titles = [_text_at(button, "reply", "title") for button in (buttons if isinstance(buttons, list) else [])]
    if any(titles):
        lines.append(" ".join(f"[{title}]" for title in titles if title))
    elif (label := _text_at(action, "button")) is not None:
        lines.append(f"[{label}]")
    kind = _text_at(interactive, "type") or "rich"
    return [f"WhatsApp interactive {kind} message", *(line for line in lines if line)]


def _item_lines(item: object) -> list[str]:
    kind = kind_of(item)
    if kind is RichKind.TEMPLATE:
        return [_template_line(item)]
    if kind is RichKind.INTERACTIVE:
        return _interactive_lines(item)
    if kind is RichKind.LOCATION:
        location = _get(item, "location")
        label = _text_at(location, "label") or _text_at(location, "searchQuery") or ""
        where = ", ".join(str(_get(location, key)) for key in ("latitude", "longitude") if _get(location, key))
        return [f"[location] {label} ({where})".replace(" ()", "").strip()]
    if kind is RichKind.CONTACTS:
        contacts = _get(item, "contacts")
        names = (
            [_text_at(contact, "name", "formatted_name") for contact in contacts or []]
            if isinstance(contacts, list)
            else []
        )
        return [f"[contact] {name}" for name in names if name] or ["[contact]"]
    if kind is RichKind.CAROUSEL or kind is RichKind.PAYMENT or kind is None:
        return [f"[{kind or 'item'}]"]
    lines = [_text_at(item, "header"), _text_at(item, "text"), _media_line(_get(item, "media"))]
    return [line for line in lines if line]


def describe(rich: Mapping[str, object]) -> str:
    """What a message whose only content is `rich` reads as: one line per item and its buttons, as plain text."""
    lines: list[str] = []
    for item in _items(rich):
        lines.extend(_item_lines(item))
        if (labels := _labels(_suggestions(item))) is not None:
            lines.append(labels)
    if (labels := _labels(_suggestions(rich))) is not None:
        lines.append(labels)
    text = "\n".join(lines) or "[rich content]"
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


__all__ = [
    "MAX_CONVERSATION_ITEMS",
    "MAX_RICH_CONTENT_BYTES",
    "MAX_SUGGESTIONS",
    "Problem",
    "RichProblem",
    "describe",
    "is_https_url",
    "kind_of",
    "kinds",
    "problem",
]
