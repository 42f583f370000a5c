"""Hypothesis strategies for hostile input to every public route.

Two kinds of generated input reach each parser: documents built in the shape the provider or client really sends
(CM send JSON, CM MO JSON, CM status reports, Meta's WhatsApp / Messenger / Instagram envelopes, AWS End User
Messaging two-way SMS, sign-ups) whose every field may be the right value, a near miss or junk; and mutations of
those documents and of the real payloads in `tests/events/` (subtrees replaced, deleted, wrapped, nulled, keys
re-cased), so junk reaches deep into each parser. Then the bytes on the wire vary too: ASCII-escaped or raw UTF-8,
a byte order mark, lone surrogates written as bytes, truncated JSON, other encodings, bodies over the limits.

Texts mix the GSM-7 default alphabet, its extension table (two septets each), characters that only look GSM-7,
Unicode from the Basic Multilingual Plane, astral characters (two UTF-16 units) and lone surrogates, at lengths
around the trial's SMS limits. Strategies that need a real trial key or address take it as an argument.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

EVENTS = Path(__file__).resolve().parent.parent / "events"

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Two septets each (ESC + character).
GSM7_EXTENSION = "\x0c^{}\\[~]|€"
# Not GSM-7 although they look it: lower-case ç, the Ohm sign, the increment sign, a non-breaking space.
LOOK_ALIKES = "ç\u2126\u2206\u00a0"
LONE_SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff", "\ud83d")
UNKNOWN_KEY = "00000000-0000-4000-8000-000000000000"
CHANNEL_SPELLINGS = (
    "SMS",
    "sms",
    "WhatsApp",
    "whatsapp",
    "WHATSAPP",
    "Facebook Messenger",
    "FacebookMessenger",
    "facebook messenger",
    "Instagram",
    "instagram",
    "Viber",
    "RCS",
    "Apple Messages for Business",
    "Telegram",
    "",
    " ",
)
# Destinations the country rules single out: blocked (China, Tanzania, Singapore, Kazakhstan, Saudi Arabia, UAE),
# content replaced (US, Canada, Australia), and numbers that are no international number at all.
SPECIAL_NUMBERS = (
    "+8613800138000",
    "+255712345678",
    "+6581234567",
    "+77012345678",
    "+79161234567",
    "+966501234567",
    "+971501234567",
    "+12125550100",
    "+14165550142",
    "+61412345678",
    "+447700900123",
    "+15550001234",
    "0612345678",
    "612345678",
    "+0",
    "+",
    "00",
    "+31 (0)6 1234 5678",
    "tel:+31612345678",
    "+316123456789012345678901234567890",
)
INTERESTING_STRINGS = (
    "",
    " ",
    "\t\n",
    "0",
    "-1",
    "null",
    "true",
    "[]",
    "{}",
    "+31612345678",
    "0031612345678",
    "31612345678",
    "+1 (416) 555-0142",
    "5215512345678",
    "+5491123456789",
    "7012345678901234",
    "9" * 40,
    "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d",
    UNKNOWN_KEY,
    "auto",
    "AUTO",
    "text",
    "binary",
    "subscribe",
    "messages",
    "page",
    "instagram",
    "whatsapp_business_account",
    "reaction",
    "STOP",
    "stop all",
    "Unsubscribe",
    "STOP please",
    "TrialTest",
    "ABCDEFGHIJKL",
    "abc",
    "\x00",
    "\x1c",
    "\u0085",
    "\u202e",
    "\ufeff",
    "\u200b",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "${jndi:ldap://127.0.0.1/x}",
    "%s%n%x",
    "../../etc/passwd",
    "éé",
    "😀",
    "𝕏" * 3,
    *CHANNEL_SPELLINGS,
    *LONE_SURROGATES,
)
INTERESTING_KEYS = (
    "messages",
    "Messages",
    "MESSAGES",
    "msg",
    "Msg",
    "authentication",
    "Authentication",
    "producttoken",
    "productToken",
    "ProductToken",
    "allowedChannels",
    "AllowedChannels",
    "from",
    "From",
    "to",
    "To",
    "number",
    "Number",
    "body",
    "Body",
    "content",
    "type",
    "reference",
    "Reference",
    "richContent",
    "customGrouping3",
    "$type",
    "name",
    "email",
    "company",
    "consent",
    "message",
    "text",
    "channel",
    "Channel",
    "status",
    "code",
    "errorCode",
    "errorDescription",
    "received",
    "object",
    "entry",
    "changes",
    "field",
    "value",
    "metadata",
    "display_phone_number",
    "phone_number_id",
    "contacts",
    "profile",
    "wa_id",
    "statuses",
    "id",
    "timestamp",
    "recipient_id",
    "errors",
    "title",
    "messaging",
    "standby",
    "sender",
    "recipient",
    "mid",
    "is_echo",
    "is_deleted",
    "originationNumber",
    "destinationNumber",
    "messageBody",
    "inboundMessageId",
    "",
    "__proto__",
)
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON;CHARSET=UTF-8",
    "text/json",
    "application/vnd.cm.messaging+json",
    "application/+json",
    "application/jsonp",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    "json",
)


def weighted[T](*choices: tuple[int, SearchStrategy[T]]) -> SearchStrategy[T]:
    """One of `choices`, each drawn with its weight (hypothesis' `one_of` has none)."""
    strategies = [strategy for _, strategy in choices]
    indices = [index for index, (weight, _) in enumerate(choices) for _ in range(weight)]
    return st.sampled_from(indices).flatmap(lambda index: strategies[index])


@cache
def chance(one_in: int) -> SearchStrategy[bool]:
    """True about once in `one_in` draws (hypothesis favours boundary values, so `integers(0, n) == 0` is not 1/n)."""
    return weighted((one_in - 1, st.just(False)), (1, st.just(True)))


# --- texts ---------------------------------------------------------------------------------------------------------


@cache
def _valid_characters() -> SearchStrategy[str]:
    return weighted(
        (8, st.sampled_from(GSM7_BASIC)),
        (2, st.sampled_from(GSM7_EXTENSION)),
        (1, st.sampled_from(LOOK_ALIKES)),
        (1, st.characters(min_codepoint=0x80, max_codepoint=0xFFFF, exclude_categories=["Cs"])),
        (1, st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)),
    )


@cache
def _gsm7_only_characters() -> SearchStrategy[str]:
    return weighted((4, st.sampled_from(GSM7_BASIC)), (1, st.sampled_from(GSM7_EXTENSION)))


def _repeated(word: str, length: int) -> str:
    return (word * (length // max(1, len(word)) + 1))[:length]


def _with_surrogate(text: str, surrogate: str | None, position: int) -> str:
    if surrogate is None:
        return text
    cut = position % (len(text) + 1)
    return text[:cut] + surrogate + text[cut:]


@cache
def sms_texts(*, max_length: int = 330, surrogates: bool = True) -> SearchStrategy[str]:
    """SMS texts: GSM-7 (with or without extension characters) or Unicode, from one character to past the 2-part
    limit (288 septets, 126 UTF-16 units), now and then empty or (`surrogates`) with one lone surrogate."""
    short = st.text(_valid_characters(), min_size=1, max_size=70)
    gsm7 = st.text(_gsm7_only_characters(), min_size=1, max_size=12)
    mixed = st.text(_valid_characters(), min_size=1, max_size=12)
    long = st.builds(_repeated, st.one_of(gsm7, mixed), st.integers(1, max_length))
    text = weighted((6, short), (6, long), (1, st.sampled_from(["", " ", "\n\t"])))
    if not surrogates:
        return text
    surrogate = weighted((14, st.none()), (1, st.sampled_from(LONE_SURROGATES)))
    return st.builds(_with_surrogate, text, surrogate, st.integers(0, 2**16))


@cache
def huge_strings() -> SearchStrategy[str]:
    """Strings past every field limit, some past every body limit (64 KiB) once encoded."""
    size = weighted((3, st.sampled_from([65, 257, 4097])), (2, st.just(5_000)), (1, st.just(70_000)))
    return st.builds(lambda char, n: char * n, st.sampled_from(["x", "9", "€", "😀", " ", "\\", '"', "\ud800"]), size)


@cache
def hostile_strings(extra: Sequence[str] = ()) -> SearchStrategy[str]:
    """Any string a hostile client might put in a field: the interesting ones, random text, SMS texts, huge ones."""
    return weighted(
        (6, st.sampled_from((*INTERESTING_STRINGS, *extra))),
        (3, st.text(max_size=30)),
        (2, sms_texts(max_length=80)),
        (1, huge_strings()),
    )


@cache
def texts_with_key(key: str) -> SearchStrategy[str]:
    """End users' texts: some carry the trial key (in any letter case, anywhere), some STOP, some anything."""
    around = weighted(
        (4, st.just("")),
        (3, st.sampled_from(["Hi, my key is ", "key: ", "\u202e", "😀 "])),
        (2, sms_texts(max_length=60)),
    )
    keyed = st.builds(lambda a, k, b: a + k + b, around, key_variants(key), around)
    # A lone surrogate beside the key: whitelisting would record this text, if it could be stored.
    keyed_surrogate = st.builds(lambda text, s: text + s, keyed, st.sampled_from(LONE_SURROGATES))
    return weighted(
        (4, keyed),
        (1, keyed_surrogate),
        (1, st.sampled_from(["STOP", "stop", " Stop! ", "STOP ALL", "unsubscribe", "OPT-OUT", "Arrêt", "please stop"])),
        (3, sms_texts()),
        (1, hostile_strings()),
    )


@cache
def provider_ids(prefix: str = "") -> SearchStrategy[str]:
    """Providers' message ids: real-looking ones, ones too long to be a key in DynamoDB, and anything."""
    too_long = st.sampled_from(["x" * 513, "é" * 257, "😀" * 600, prefix + "A" * 2100])
    return weighted((8, st.uuids().map(lambda u: f"{prefix}{u.hex}")), (1, too_long), (1, hostile_strings()))


# --- keys, addresses ------------------------------------------------------------------------------------------------


@cache
def recased(text: str) -> SearchStrategy[str]:
    """`text` with each letter's case flipped or kept."""
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flips: "".join(ch.swapcase() if flip else ch for ch, flip in zip(text, flips, strict=True))
    )


@cache
def key_variants(key: str) -> SearchStrategy[str]:
    """The trial key as a client might send it, right or nearly: re-cased, padded, cut, extended, someone else's."""
    return weighted(
        (5, st.just(key)),
        (2, recased(key)),
        (1, st.sampled_from([f" {key} ", f"\t{key}\n", key.upper(), "{" + key + "}", key.replace("-", "")])),
        (1, st.sampled_from([key[:-1], key + "0", key[1:], key[:-1] + "g", UNKNOWN_KEY])),
        (1, st.uuids().map(str)),
    )


@cache
def header_key_variants(key: str) -> SearchStrategy[str]:
    """`key_variants` a header can carry (no line breaks)."""
    return key_variants(key).map(lambda value: value.replace("\r", " ").replace("\n", " "))


@cache
def phone_numbers() -> SearchStrategy[str]:
    """A fresh Dutch mobile number in E.164 (generated, so a failing example is reproducible)."""
    return st.integers(0, 10**8 - 1).map(lambda n: f"+316{n:08d}")


@cache
def scoped_ids() -> SearchStrategy[str]:
    """A Messenger / Instagram page-scoped id."""
    return st.integers(10**15, 10**16 - 1).map(str)


@cache
def address_spellings(address: str) -> SearchStrategy[str]:
    """How a client may write a whitelisted address: E.164, `00…`, bare digits, grouped, padded."""
    if not address.startswith("+"):
        return st.sampled_from([address, f" {address} ", f"{address}\n"])
    digits = address[1:]
    return st.sampled_from(
        [address, "00" + digits, digits, f"+{digits[:2]} {digits[2:3]} {digits[3:7]} {digits[7:]}", f" {address} "]
    )


# --- JSON -----------------------------------------------------------------------------------------------------------


@cache
def json_values(strings: SearchStrategy[str] | None = None, *, max_leaves: int = 10) -> SearchStrategy[Any]:
    """Any JSON value, and NaN / Infinity (json.dumps writes them, although JSON has no such numbers)."""
    strings = strings if strings is not None else hostile_strings()
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([0, -1, 2**31, 2**63, -(2**63), 10**40]),
        st.floats(),
        strings,
    )
    keys = weighted((4, st.sampled_from(INTERESTING_KEYS)), (1, strings))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
        max_leaves=max_leaves,
    )


def _containers(node: Any) -> list[Any]:
    found: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            found.append(current)
            stack.extend(current.values())
        elif isinstance(current, list):
            found.append(current)
            stack.extend(current)
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any, values: SearchStrategy[Any] | None = None) -> Any:
    """A copy of `document` with one to three subtrees replaced, deleted, wrapped, duplicated, nulled or re-cased."""
    values = values if values is not None else json_values(max_leaves=6)
    result = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        containers = _containers(result)
        if not containers:
            return draw(values)
        target = draw(st.sampled_from(containers))
        if isinstance(target, list):
            _mutate_list(draw, target, values)
        else:
            _mutate_object(draw, target, values)
    return result


def _mutate_list(draw: st.DrawFn, target: list[Any], values: SearchStrategy[Any]) -> None:
    if not target:
        target.append(draw(values))
        return
    index = draw(st.integers(0, len(target) - 1))
    action = draw(st.sampled_from(["replace", "delete", "wrap", "duplicate", "null"]))
    if action == "delete":
        del target[index]
    elif action == "duplicate":
        # Up to CM's cap of items and past it, for small items (a thousand huge strings is only a huge body).
        times = draw(st.sampled_from([1, 2, 1000]))
        if len(json.dumps(target[index])) > 200:
            times = min(times, 2)
        target.extend(copy.deepcopy(target[index]) for _ in range(times))
    else:
        target[index] = {"replace": lambda: draw(values), "wrap": lambda: [target[index]], "null": lambda: None}[
            action
        ]()


def _mutate_object(draw: st.DrawFn, target: dict[str, Any], values: SearchStrategy[Any]) -> None:
    action = draw(st.sampled_from(["replace", "delete", "wrap", "null", "recase", "string", "add"]))
    if not target or action == "add":
        target[draw(st.sampled_from(INTERESTING_KEYS))] = draw(values)
        return
    key = draw(st.sampled_from(sorted(target)))
    if action == "delete":
        del target[key]
    elif action == "recase":
        target[draw(recased(key))] = target.pop(key)
    else:
        replacements = {
            "replace": lambda: draw(values),
            "wrap": lambda: [target[key]],
            "null": lambda: None,
            "string": lambda: draw(hostile_strings()),
        }
        target[key] = replacements[action]()


@st.composite
def keys_recased(draw: st.DrawFn, document: Any) -> Any:
    """`document` with its object keys in other letter cases (CM documents its JSON keys as case-insensitive)."""
    if isinstance(document, dict):
        return {draw(weighted((2, st.just(k)), (1, recased(k)))): draw(keys_recased(v)) for k, v in document.items()}
    if isinstance(document, list):
        return [draw(keys_recased(item)) for item in document]
    return document


def event(name: str) -> Any:
    """A real payload from tests/events/."""
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def hostile_documents(
    base: SearchStrategy[Any], fixtures: Sequence[Any] = (), *, base_weight: int = 8
) -> SearchStrategy[Any]:
    """Mostly `base` (well-formed or nearly), else one of its mutations, a mutated real payload, or any JSON."""
    choices: list[tuple[int, SearchStrategy[Any]]] = [
        (base_weight, base),
        (2, base.flatmap(mutated)),
        (1, json_values()),
    ]
    if fixtures:
        choices.append((1, st.sampled_from(list(fixtures)).flatmap(mutated)))
    return weighted(*choices)


# --- bodies ---------------------------------------------------------------------------------------------------------

MAX_BODY_BYTES = 2**20
DEEP_NESTING = ("[" * 50_000 + "]" * 50_000).encode()
JUNK_BODIES = (
    b"",
    b" ",
    b"\r\n",
    b"null",
    b"[]",
    b'"x"',
    b"0",
    b"{",
    b"{}",
    b"{'a': 1}",
    b"NaN",
    b'{"a": NaN}',
    b'{"a": 1e999}',
    b'{"a": ' + b"9" * 5000 + b"}",
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b"\x00" * 8,
    b"\xc3\x28",
    b"<xml/>",
    b"a=1&b=2",
    DEEP_NESTING,
)


def encode(document: Any, style: str) -> bytes:
    """`document` as bytes on the wire, in one of the ways a client (or a broken one) writes JSON."""
    if style == "ascii":
        return json.dumps(document).encode("ascii")
    text = json.dumps(document, ensure_ascii=False, indent=2 if style == "pretty" else None)
    # Lone surrogates written as their (invalid) UTF-8 bytes, as a sloppy encoder would.
    raw = text.encode("utf-8", "surrogatepass")
    styles = {
        "utf-16": lambda: text.encode("utf-16", "surrogatepass"),
        "latin-1": lambda: text.encode("latin-1", "replace"),
        "bom": lambda: b"\xef\xbb\xbf" + raw,
        "truncated": lambda: raw[: len(raw) // 2],
        "trailing": lambda: raw + b" x",
    }
    return styles[style]() if style in styles else raw


def bodies(documents: SearchStrategy[Any]) -> SearchStrategy[bytes]:
    """Request bodies: a document encoded mostly as clients do, sometimes badly, or plain junk."""
    good = st.sampled_from(["ascii", "utf-8", "pretty"])
    bad = st.sampled_from(["bom", "truncated", "trailing", "utf-16", "latin-1"])
    encoded = st.builds(encode, documents, weighted((12, good), (1, bad)))
    junk = st.integers(0, len(JUNK_BODIES) - 1).map(JUNK_BODIES.__getitem__)
    # Far past every body limit of the product (64 KiB), and below API Gateway's 10 MB, which it answers itself
    # (413) before reading the rest: a client still sending gets a broken pipe, not an answer.
    return weighted((14, encoded), (1, st.one_of(junk, st.binary(max_size=64)))).filter(
        lambda body: len(body) <= MAX_BODY_BYTES
    )


@cache
def header_values(extra: Sequence[str] = ()) -> SearchStrategy[str]:
    """Header values HTTP can carry (Latin-1, no line breaks), hostile or not."""
    latin1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
    return weighted(
        (3, st.sampled_from(["", " ", "null", "undefined", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", *extra])),
        (3, st.text(latin1, max_size=40)),
        (1, st.builds(lambda c, n: c * n, st.sampled_from(["a", "9", "\t"]), st.sampled_from([200, 8000]))),
    )


@dataclass(frozen=True)
class HttpCase:
    """One generated request: what goes on the wire, and what the strategy knows about it for the property."""

    method: str
    path: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    # Facts for the property (e.g. `{"sms_text": ...}`); never sent.
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = self.body if len(self.body) <= 400 else self.body[:400] + b"..."
        headers, facts = dict(self.headers), dict(self.facts)
        return f"HttpCase({self.method} {self.path}, headers={headers!r}, body={shown!r}, facts={facts!r})"


@cache
def content_types() -> SearchStrategy[str | None]:
    return weighted((12, st.just("application/json")), (2, st.sampled_from(CONTENT_TYPES)), (1, st.none()))


def _headers(content_type: str | None, extra: Mapping[str, str | None]) -> dict[str, str]:
    headers = {} if content_type is None else {"Content-Type": content_type}
    headers.update({name: value for name, value in extra.items() if value is not None})
    return headers


# --- the send gateway (CM Business Messaging JSON) ------------------------------------------------------------------

# The last is the same route under production's path (CM's SDKs append it): generated sends go to all three.
GATEWAY_PATHS = (
    "/messaging/messagingtrial/gw",
    "/messaging/messagingtrial/gw/",
    "/messaging/messagingtrial/gw/v1.0/message",
)


# The fields a generated send may break: more often the ones whose refusals come after the key check.
SEND_FIELDS = (
    *("to", "allowedChannels", "msg", "from", "token") * 3,
    *("content", "type", "reference", "richContent", "extra"),
)


@st.composite
def cm_send_documents(draw: st.DrawFn, key: str, recipients: Mapping[str, str]) -> Any:
    """CM send requests (reference §1) to a trial's whitelisted `recipients` (channel → address). Most are
    well-formed (every field one a client may send, the key right or nearly); the rest break one or two fields:
    several channels, recipients or messages, an unknown channel, a bad sender, a missing or huge or non-Unicode
    content, wrong types. Keys in any letter case now and then."""
    channel = draw(st.sampled_from(sorted(recipients)))
    address = recipients[channel]
    hostile = json_values(max_leaves=4)
    broken = draw(
        weighted(
            (2, st.just(frozenset[str]())),
            (3, st.sampled_from(SEND_FIELDS).map(lambda name: frozenset({name}))),
            (1, st.frozensets(st.sampled_from(SEND_FIELDS), min_size=2, max_size=2)),
        )
    )

    def pick(name: str, good: SearchStrategy[Any], bad: SearchStrategy[Any]) -> Any:
        return draw(bad if name in broken else good)

    def one_msg() -> dict[str, Any]:
        msg: dict[str, Any] = {}
        good_channels = recased(channel).map(lambda c: [c])
        if channel == "SMS":
            # No allowedChannels, or an empty list, means SMS.
            good_channels = weighted((4, good_channels), (1, st.sampled_from([None, []])))
        bad_channels = weighted((3, st.lists(st.sampled_from(CHANNEL_SPELLINGS), min_size=1, max_size=3)), (1, hostile))
        channels = pick("allowedChannels", good_channels, bad_channels)
        if channels is not None:
            msg["allowedChannels"] = channels
        sender = pick(
            "from",
            weighted((8, st.sampled_from(["TrialTest", "Test1234", "ABCD", "ABCDEFGHIJK"])), (1, st.none())),
            weighted(
                (3, st.sampled_from(["abc", "ABCDEFGHIJKL", "Trial Test", "+31612345678", "", "Tést1"])), (1, hostile)
            ),
        )
        if sender is not None:
            msg["from"] = sender
        numbers = pick(
            "to",
            address_spellings(address).map(lambda a: [a]),
            weighted(
                (3, st.one_of(phone_numbers(), scoped_ids(), st.sampled_from(SPECIAL_NUMBERS)).map(lambda a: [a])),
                (2, st.lists(st.one_of(address_spellings(address), phone_numbers()), min_size=2, max_size=3)),
                (1, st.just([])),
                (1, st.lists(hostile_strings(), min_size=1, max_size=2)),
                (1, hostile.map(lambda value: [value])),
            ),
        )
        msg["to"] = [{"number": number} for number in numbers]
        content = pick("content", sms_texts(surrogates=False).filter(str.strip), st.one_of(hostile_strings(), hostile))
        body_type = pick("type", st.sampled_from([None, "auto", "AUTO", "text", " Text "]), hostile)
        msg["body"] = {"content": content} | ({} if body_type is None else {"type": body_type})
        reference = pick("reference", st.sampled_from([None, "ref-1", "r" * 64]), st.one_of(st.just("r" * 65), hostile))
        if reference is not None:
            msg["reference"] = reference
        rich = pick(
            "richContent",
            st.sampled_from([None, {"conversation": [{"text": "Hi"}], "suggestions": []}]),
            st.one_of(st.builds(lambda: _nested(17)), hostile),
        )
        if rich is not None:
            msg["richContent"] = rich
        extra = pick("extra", st.sampled_from([None, "x"]), hostile)
        if extra is not None:
            msg[draw(st.sampled_from(["customGrouping3", "$type", "validity", "dcs"]))] = extra
        return msg

    count = pick("msg", st.just(1), st.sampled_from([0, 2, 3]))
    messages: dict[str, Any] = {"msg": [one_msg() for _ in range(count)]}
    token = pick("token", key_variants(key), st.one_of(st.none(), hostile))
    if token is not None:
        field_name = draw(st.sampled_from(["producttoken", "productToken", "ProductToken", "PRODUCTTOKEN"]))
        messages["authentication"] = {field_name: token}
    document = {"messages": messages}
    if draw(chance(4)):
        document = draw(keys_recased(document))
    return document


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"text": "deep"}
    for _ in range(depth):
        node = {"conversation": [node]}
    return node


def send_cases(key: str, recipients: Mapping[str, str]) -> SearchStrategy[HttpCase]:
    """Requests to the send gateway: the key in the body, the `X-CM-PRODUCTTOKEN` header, both or neither."""
    documents = hostile_documents(
        cm_send_documents(key, recipients), [json.loads(event("apigw_rest_send.json")["body"])], base_weight=16
    )
    header_token = weighted((6, st.just(None)), (2, header_key_variants(key)), (1, header_values()))
    header_name = st.sampled_from(["X-CM-PRODUCTTOKEN", "x-cm-producttoken", "X-Cm-Producttoken"])
    return st.builds(
        lambda path, body, content_type, name, token: HttpCase(
            "POST", path, body, _headers(content_type, {name: token})
        ),
        st.sampled_from(GATEWAY_PATHS),
        bodies(documents),
        content_types(),
        header_name,
        header_token,
    )


def sms_send_cases(key: str, address: str) -> SearchStrategy[HttpCase]:
    """Well-formed SMS sends to a whitelisted `address` with a valid sender, differing only in the text: the row 11
    (2-part limit) boundary, probed from both sides."""

    def build(text: str, body_type: str) -> HttpCase:
        document = {
            "messages": {
                "authentication": {"producttoken": key},
                "msg": [
                    {
                        "allowedChannels": ["SMS"],
                        "from": "TrialTest",
                        "to": [{"number": address}],
                        "body": {"type": body_type, "content": text},
                    }
                ],
            }
        }
        return HttpCase(
            "POST",
            GATEWAY_PATHS[1],
            encode(document, "ascii"),
            {"Content-Type": "application/json"},
            {"sms_text": text},
        )

    return st.builds(build, sms_texts(max_length=400), st.sampled_from(["auto", "text"]))


def status_cases(key: str) -> SearchStrategy[HttpCase]:
    """`GET /messaging/messagingtrial/status` with the key header right, nearly right, junk or missing."""
    token = weighted((4, header_key_variants(key)), (2, header_values(extra=(UNKNOWN_KEY,))), (1, st.just(None)))
    name = st.sampled_from(["X-CM-PRODUCTTOKEN", "x-cm-producttoken"])
    return st.builds(
        lambda n, t: HttpCase("GET", "/messaging/messagingtrial/status", headers=_headers(None, {n: t})), name, token
    )


# --- sign-up --------------------------------------------------------------------------------------------------------

EMAIL_POOL = ("fuzz.pool@example.com", "FUZZ.POOL@EXAMPLE.COM")
BAD_EMAILS = (
    "",
    "a",
    "@",
    "a@b",
    "a@@example.com",
    "a@example.com\r\nBcc: victim@example.com",
    "a b@example.com",
    "é@example.com",
    "x" * 300 + "@example.com",
    "user@[127.0.0.1]",
    "user@localhost",
    ".a@example.com",
    "a@example..com",
)


@st.composite
def signup_documents(draw: st.DrawFn) -> Any:
    """`{"name", "email", "company"?, "consent"?}`: fresh addresses, a small pool (the rate limit), bad ones."""
    hostile = json_values(max_leaves=3)
    email = draw(
        weighted(
            (6, st.uuids().map(lambda u: f"fuzz-{u.hex[:16]}@example.com")),
            (1, st.sampled_from(EMAIL_POOL)),
            (2, st.sampled_from(BAD_EMAILS)),
            (1, hostile),
        )
    )
    name = draw(
        weighted((6, st.sampled_from(["Jane Doe", "Zoë", "李雷", "O'Brien"])), (3, hostile_strings()), (1, hostile))
    )
    document: dict[str, Any] = {}
    if not draw(chance(10)):
        document["email"] = email
    if not draw(chance(10)):
        document["name"] = name
    company = draw(
        weighted((4, st.just(None)), (2, st.sampled_from(["Acme", ""])), (1, hostile_strings()), (1, hostile))
    )
    if company is not None:
        document["company"] = company
    consent = draw(weighted((4, st.just(None)), (2, st.booleans()), (1, hostile)))
    if consent is not None:
        document["consent"] = consent
    return document


def signup_cases() -> SearchStrategy[HttpCase]:
    documents = hostile_documents(signup_documents())
    content_type = weighted((6, st.just("application/json")), (3, st.sampled_from(CONTENT_TYPES)), (2, st.none()))
    return st.builds(lambda b, c: HttpCase("POST", "/signup", b, _headers(c, {})), bodies(documents), content_type)


# --- CM: MO webhook and status reports ------------------------------------------------------------------------------

COMPANY_WHATSAPP = "+31850876714"


@st.composite
def cm_mo_documents(draw: st.DrawFn, key: str) -> Any:
    """CM MO JSON (one object or a batch): senders on every channel, texts with the key, STOP or anything."""

    def one() -> dict[str, Any]:
        channel = draw(
            weighted(
                (6, st.sampled_from(["WhatsApp", "SMS", "sms", "FacebookMessenger", "Instagram"])),
                (1, st.sampled_from(CHANNEL_SPELLINGS)),
            )
        )
        is_phone = channel.replace(" ", "").casefold() in {"sms", "whatsapp"}
        sender = draw(
            weighted(
                (6, phone_numbers() if is_phone else scoped_ids()),
                (1, st.one_of(phone_numbers(), scoped_ids()).flatmap(address_spellings)),
                (1, hostile_strings(SPECIAL_NUMBERS)),
            )
        )
        return {
            "reference": draw(provider_ids()),
            "messageContext": "",
            "from": {"number": sender, "name": draw(weighted((3, st.just("")), (1, hostile_strings())))},
            "to": {"number": draw(st.sampled_from([COMPANY_WHATSAPP, "0031850876714", "3669", "104000000000001"]))},
            "message": {
                "text": draw(texts_with_key(key)),
                "media": {"mediaUri": "", "contentType": "", "title": ""},
                "custom": {},
            },
            "groupings": ["", "", ""],
            "timeUtc": draw(weighted((4, st.just("2026-03-02T09:15:30")), (1, hostile_strings()))),
            "channel": channel,
        }

    document: Any = one() if not draw(chance(9)) else [one() for _ in range(draw(st.integers(0, 3)))]
    if draw(chance(3)):
        document = draw(keys_recased(document))
    return document


def cm_mo_fixtures() -> list[Any]:
    return [event(f"mo_cm_{name}.json") for name in ("whatsapp", "sms", "messenger", "instagram")]


def cm_mo_bodies(key: str) -> SearchStrategy[bytes]:
    return bodies(hostile_documents(cm_mo_documents(key), cm_mo_fixtures()))


@st.composite
def cm_status_documents(draw: st.DrawFn, references: Sequence[str]) -> Any:
    """CM JSON status reports (`messages.msg`, one or an array) about `references` (real message ids) or others."""

    def one() -> dict[str, Any]:
        reference = draw(
            weighted(
                (5, st.sampled_from(list(references) or ["0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a"])),
                (2, st.uuids().map(lambda u: u.hex)),
                (1, hostile_strings()),
            )
        )
        code = draw(
            weighted(
                (5, st.sampled_from(["0", "1", "2", "3", "4", 2, "delivered", "Failed", "read", " 2 "])),
                (1, st.sampled_from(["5", "-1", "²", "10000000", True, None])),
                (1, hostile_strings()),
            )
        )
        return {
            "received": draw(
                weighted(
                    (
                        4,
                        st.sampled_from(
                            ["2026-03-02T09:16:05", "1772443200", 1772443200000, "2026-03-02T09:16:05+02:00"]
                        ),
                    ),
                    (1, st.sampled_from([-1, 10**20, 1e308, "9999-99-99", True])),
                    (1, hostile_strings()),
                )
            ),
            "to": draw(weighted((3, st.just("0031687654321")), (1, hostile_strings()))),
            "reference": reference,
            "status": {
                "code": code,
                "errorCode": draw(weighted((3, st.sampled_from(["", "1", 131047])), (1, hostile_strings()))),
                "errorDescription": draw(
                    weighted((2, st.just("")), (2, sms_texts(max_length=300)), (1, hostile_strings()))
                ),
            },
            "operator": "20416",
        }

    msg: Any = one() if draw(st.booleans()) else [one() for _ in range(draw(st.integers(0, 4)))]
    document = {"messages": {"msg": msg}}
    if draw(chance(3)):
        document = draw(keys_recased(document))
    return document


def cm_status_bodies(references: Sequence[str]) -> SearchStrategy[bytes]:
    fixtures = [event(f"cm_status_{name}.json") for name in ("delivered", "failed", "batch", "read_whatsapp")]
    return bodies(hostile_documents(cm_status_documents(references), fixtures))


def cm_webhook_path(route: str, secret: str) -> str:
    return f"/webhooks/{route}/{quote(secret, safe='')}"


def wrong_secrets(secret: str) -> SearchStrategy[str]:
    """Path secrets that are not `secret`: near misses (re-cased, cut, extended, padded) and anything else."""
    near = st.sampled_from(
        [secret[:-1], secret + "x", secret[1:], " " + secret, secret + "/", secret.upper(), secret[::-1], "", "%00"]
    )
    anything = st.one_of(
        st.text(min_size=1, max_size=60), st.binary(min_size=1, max_size=40).map(lambda b: b.decode("latin-1"))
    )
    return weighted((2, near), (2, recased(secret)), (3, anything)).filter(lambda s: s != secret and s.strip("/"))


def wrong_secret_paths(route: str, secret: str) -> SearchStrategy[str]:
    """Paths to `/webhooks/<route>/{secret}` with a wrong secret, some percent-encoded oddly (invalid UTF-8)."""
    quoted = wrong_secrets(secret).map(lambda s: quote(s.encode("utf-8", "surrogatepass"), safe=""))
    raw_bytes = st.binary(min_size=1, max_size=24).map(lambda b: quote(b, safe=""))
    return st.one_of(quoted, raw_bytes).map(lambda part: f"/webhooks/{route}/{part}")


# --- Meta -----------------------------------------------------------------------------------------------------------


@st.composite
def whatsapp_envelopes(draw: st.DrawFn, key: str, message_ids: Sequence[str]) -> Any:
    """WhatsApp Cloud API webhooks: text (and other) messages, statuses of `message_ids`, other fields."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "31850876714", "phone_number_id": "106000000000001"},
    }

    def message(wa_id: str) -> dict[str, Any]:
        kind = draw(weighted((6, st.just("text")), (1, st.sampled_from(["image", "reaction", "system", "unknown"]))))
        return {
            "from": draw(weighted((6, st.just(wa_id)), (1, hostile_strings(SPECIAL_NUMBERS)))),
            "id": draw(provider_ids("wamid.FUZZ")),
            "timestamp": draw(weighted((4, st.just("1772442930")), (1, hostile_strings()))),
            "type": kind,
            kind: {"body": draw(texts_with_key(key))} if kind == "text" else {"id": "x"},
        }

    senders = [draw(phone_numbers()).removeprefix("+") for _ in range(draw(st.integers(0, 2)))]
    if senders:
        value["contacts"] = [{"profile": {"name": draw(hostile_strings())}, "wa_id": wa_id} for wa_id in senders]
        value["messages"] = [message(wa_id) for wa_id in senders]
    if draw(chance(3)):
        value["statuses"] = [
            {
                "id": draw(
                    weighted((3, st.sampled_from(list(message_ids) or ["wamid.X"])), (1, provider_ids("wamid.")))
                ),
                "status": draw(st.sampled_from(["sent", "delivered", "read", "failed", "deleted", "Delivered", ""])),
                "timestamp": draw(weighted((3, st.just("1772443000")), (1, hostile_strings()))),
                "recipient_id": draw(phone_numbers()).removeprefix("+"),
                "errors": [{"code": draw(st.sampled_from([131047, "131047", None])), "title": draw(hostile_strings())}],
            }
            for _ in range(draw(st.integers(1, 2)))
        ]
    field_name = draw(
        weighted((8, st.just("messages")), (1, st.sampled_from(["message_template_status_update", "account_update"])))
    )
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102000000000001", "changes": [{"field": field_name, "value": value}]}],
    }


@st.composite
def messaging_envelopes(draw: st.DrawFn, key: str) -> Any:
    """Messenger (`page`) and Instagram (`instagram`) webhooks: messages, echoes, reads, postbacks, standby."""
    kind = draw(st.sampled_from(["page", "instagram"]))
    account = "104000000000001" if kind == "page" else "17841400000000001"

    def event_() -> dict[str, Any]:
        sender = draw(weighted((6, scoped_ids()), (1, hostile_strings(SPECIAL_NUMBERS))))
        shape = draw(
            weighted((6, st.just("message")), (1, st.sampled_from(["echo", "read", "postback", "deleted", "reaction"])))
        )
        base: dict[str, Any] = {"sender": {"id": sender}, "recipient": {"id": account}, "timestamp": 1772442990123}
        if shape == "message":
            base["message"] = {
                "mid": draw(provider_ids("m_fuzz")),
                "text": draw(texts_with_key(key)),
            }
        elif shape == "echo":
            base["message"] = {"mid": "m_echo", "is_echo": True, "text": "You are whitelisted."}
        elif shape == "deleted":
            base["message"] = {"mid": "m_deleted", "is_deleted": True}
        elif shape == "read":
            base["read"] = {"watermark": 1772442990000}
        elif shape == "postback":
            base["postback"] = {"title": "Start", "payload": draw(hostile_strings())}
        else:
            base["reaction"] = {"mid": "m_1", "action": "react", "emoji": "😀"}
        return base

    entry: dict[str, Any] = {
        "id": account,
        "time": 1772442990456,
        "messaging": [event_() for _ in range(draw(st.integers(0, 3)))],
    }
    if draw(chance(6)):
        entry["standby"] = [event_()]
    return {"object": kind, "entry": [entry]}


def meta_fixtures() -> list[Any]:
    names = ["whatsapp_text", "whatsapp_status", "whatsapp_status_sent_read", "whatsapp_status_failed_131047"]
    names += ["messenger_text", "messenger_echo", "instagram_text"]
    return [event(f"meta_{name}.json") for name in names]


def meta_documents(key: str, message_ids: Sequence[str]) -> SearchStrategy[Any]:
    base = st.one_of(whatsapp_envelopes(key, message_ids), messaging_envelopes(key))
    return hostile_documents(base, meta_fixtures())


@dataclass(frozen=True)
class VerifyCase:
    """Meta's GET handshake: the query as sent, and the values the handler reads (the last of each name)."""

    query: str
    mode: str | None
    token: str | None
    challenge: str | None


def _query_part(name: str, value: str) -> str:
    return quote(name, safe=".") + "=" + quote(value.encode("utf-8", "surrogatepass"), safe="")


def verify_cases(verify_token: str) -> SearchStrategy[VerifyCase]:
    """Query strings for the handshake: the right token or near misses, any mode and challenge, repeated names."""
    visible = st.characters(exclude_categories=["Cs", "Cc"])
    names = weighted(
        (6, st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"])),
        (1, st.sampled_from(["hub.Mode", "hub_mode", "x", ""])),
    )
    values = {
        "hub.mode": weighted(
            (6, st.just("subscribe")), (1, st.sampled_from(["SUBSCRIBE", "unsubscribe", "", " subscribe"]))
        ),
        "hub.verify_token": weighted(
            (4, st.just(verify_token)),
            (2, recased(verify_token)),
            (1, st.sampled_from([verify_token[:-1], verify_token + " ", ""])),
            (1, st.text(visible, max_size=40)),
        ),
        "hub.challenge": weighted(
            (4, st.integers(0, 10**12).map(str)), (2, st.text(visible, max_size=40)), (1, st.just(""))
        ),
    }

    @st.composite
    def build(draw: st.DrawFn) -> VerifyCase:
        pairs = [
            (name, draw(values[name]))
            for name in ("hub.mode", "hub.verify_token", "hub.challenge")
            if not draw(chance(8))
        ]
        for _ in range(draw(st.integers(0, 2))):
            name = draw(names)
            pairs.insert(draw(st.integers(0, len(pairs))), (name, draw(values.get(name, hostile_strings()))))
        last = dict(pairs)
        query = "&".join(_query_part(n, v) for n, v in pairs)
        return VerifyCase(query, last.get("hub.mode"), last.get("hub.verify_token"), last.get("hub.challenge"))

    return build()


# --- the dashboard API ----------------------------------------------------------------------------------------------


def authorizations(key: str) -> SearchStrategy[str | None]:
    """`Authorization` values: the key as a Bearer token (right, re-cased, padded), other schemes, junk, none."""
    return weighted(
        (4, header_key_variants(key).map(lambda k: f"Bearer {k}")),
        (
            1,
            st.sampled_from(
                [f"bearer {key}", f"BEARER  {key}", f"Bearer{key}", f"Basic {key}", key, f"Bearer {UNKNOWN_KEY}"]
            ),
        ),
        (2, header_values().map(lambda v: "Bearer " + v)),
        (1, header_values()),
        (1, st.just(None)),
    )


def dashboard_queries() -> SearchStrategy[str]:
    """`limit` and `cursor` for `/dashboard-api/messages`, valid or not."""
    limit = weighted(
        (3, st.integers(1, 300).map(str)),
        (2, st.sampled_from(["0", "-1", "00", "1.5", "1e3", "99999", "", " 5", "0x10"])),
        # Digits to str.isdigit() or str.isdecimal(), not all of them to int(): superscripts, other scripts.
        (2, st.sampled_from(["²", "2³", "١٢", "٣", "𝟙", "①", "߁", "٠"])),
        (1, st.text(max_size=10)),
    )
    cursor = weighted(
        (2, st.text(max_size=40)), (1, st.sampled_from(["", "e30=", "eyJwayI6IngifQ==", "%%%", "x" * 3000]))
    )
    part = st.tuples(st.sampled_from(["limit", "cursor"]), st.one_of(limit, cursor))
    return st.lists(part, max_size=3).map(lambda pairs: "&".join(_query_part(n, v) for n, v in pairs))


# --- two-way SMS (AWS End User Messaging through SNS) ---------------------------------------------------------------


@st.composite
def two_way_sms_messages(draw: st.DrawFn, key: str) -> Any:
    """The JSON AWS End User Messaging publishes for an inbound SMS, as the SNS record's `Message` document."""
    return {
        "originationNumber": draw(weighted((6, phone_numbers()), (1, hostile_strings(SPECIAL_NUMBERS)))),
        "destinationNumber": draw(st.sampled_from(["+447860054666", "+3197005159375", "3669"])),
        "messageKeyword": "KEYWORD_447860054666",
        "messageBody": draw(texts_with_key(key)),
        "inboundMessageId": draw(provider_ids()),
        "previousPublishedMessageId": draw(st.uuids().map(str)),
    }


def sns_messages(key: str) -> SearchStrategy[Any]:
    """SNS `Message` values: two-way SMS JSON (or a mutation, or an SMS delivery event) as a string, or junk."""
    inner = json.loads(event("sns_two_way_sms.json")["Records"][0]["Sns"]["Message"])
    delivery_events = [event("sms_delivery_event_delivered.json")]
    documents = hostile_documents(two_way_sms_messages(key), [inner, *delivery_events])
    as_text = st.builds(
        lambda d, style: encode(d, style).decode("utf-8", "surrogatepass"),
        documents,
        st.sampled_from(["ascii", "utf-8"]),
    )
    return weighted((8, as_text), (1, hostile_strings()), (1, json_values(max_leaves=3)))


def sns_events(key: str) -> SearchStrategy[dict[str, Any]]:
    """SNS Lambda events (one to three records with generated messages): their notifications as the two-way SMS
    topic publishes them (tests turn them into the SMS queue's records with `sns_via_sqs`)."""
    template = event("sns_two_way_sms.json")

    def build(messages: list[Any]) -> dict[str, Any]:
        records = []
        for index, message in enumerate(messages):
            record = copy.deepcopy(template["Records"][0])
            record["Sns"]["Message"] = message
            record["Sns"]["MessageId"] = f"00000000-0000-4000-8000-{index:012d}"
            records.append(record)
        return {"Records": records}

    return st.lists(sns_messages(key), min_size=1, max_size=3).map(build)


@st.composite
def local_mo_documents(draw: st.DrawFn, key: str) -> Any:
    """`/_local/mo` requests for an end user's SMS, which the local stack publishes to the two-way SMS topic, whose
    queue feeds the MO function: generated senders and texts (the other channels have their own HTTP webhooks)."""
    sender = draw(
        weighted(
            (8, phone_numbers()), (1, phone_numbers().flatmap(address_spellings)), (1, hostile_strings(SPECIAL_NUMBERS))
        )
    )
    return {"channel": draw(st.sampled_from(["SMS", "sms"])), "from": sender, "text": draw(texts_with_key(key))}
