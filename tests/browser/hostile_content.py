"""Hostile content, defined once: script and markup payloads for every field a developer or an end user controls,
line breaks for header and log injection, and small helpers to reach the stack's webhooks as a provider would.

Each markup payload, parsed as HTML or evaluated as script, sets `window.__pwned`, opens a dialog or leaves an
element (`img`, `svg`, `iframe`, an `on*` attribute, a `javascript:` link) behind, so a test can tell "shown as
text" from "ran" without relying on the page's CSP: the e-mail's HTML is loaded with no CSP at all. The entity and
RLO payloads check that text is shown as it is, neither decoded nor dropped. All of them are plain text to the
product: a test asserts each one comes back character for character in the page's text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.conftest import LocalStack

# The global every payload sets when it runs.
PWNED = "__pwned"


@dataclass(frozen=True, slots=True)
class Payload:
    id: str
    text: str
    # What a mail program would link (`javascript:`, `document.domain`): a name or company refuses it (422).
    linkable: bool = False

    @property
    def has_control_chars(self) -> bool:
        """Control and format characters (the RLO), which names and companies refuse (422)."""
        return any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in self.text)

    def fits(self, limit: int) -> bool:
        return len(self.text) <= limit


XSS: tuple[Payload, ...] = (
    Payload("script", "<script>window.__pwned=1</script>"),
    Payload("img-onerror", "<img src=x onerror=window.__pwned=1>"),
    Payload("svg-onload", "<svg onload=window.__pwned=1><circle r=9></svg>"),
    Payload("javascript-url", '<a href="javascript:window.__pwned=1">click</a> javascript:alert(1)', linkable=True),
    Payload("attr-breakout-double", '"><img src=x onerror=window.__pwned=1 x="'),
    Payload("attr-breakout-single", "'><svg/onload=window.__pwned=1>'"),
    Payload("textarea-close", "</textarea><img src=x onerror=window.__pwned=1>"),
    Payload("title-close", "</title></style><script>window.__pwned=1</script>"),
    Payload(
        "template-literal", "${window.__pwned=1}`+alert(1)+`{{constructor.constructor('alert(1)')()}}", linkable=True
    ),
    Payload("details-ontoggle", "<details open ontoggle=alert(document.domain)>x</details>", linkable=True),
    Payload("iframe-srcdoc", '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>'),
    Payload("entities", "&lt;b&gt;bold?&lt;/b&gt; &amp;amp; &#60;i&#62; &quot;"),
    Payload("rlo", "\u202egnp.exe <b>RLO</b>\u202c end"),
)

# Longest values the fields take: a name or company (sign-up); a send's `from`, `reference`, `to` or channel name.
NAME_CHARS = 100
SHORT_FIELD_CHARS = 64


def for_name() -> list[Payload]:
    """The payloads a name or company may hold (no control characters or links, at most 100 characters), and a
    long one."""
    fitting = [p for p in XSS if p.fits(NAME_CHARS) and not p.has_control_chars and not p.linkable]
    return [*fitting, Payload("long", "W" * NAME_CHARS)]


def linkable_names() -> list[Payload]:
    """The payloads a name or company refuses because a mail program would turn part of them into a link."""
    return [p for p in XSS if p.fits(NAME_CHARS) and p.linkable]


def for_short_field() -> list[Payload]:
    """The payloads a send's `from` or `reference` may hold."""
    return [p for p in XSS if p.fits(SHORT_FIELD_CHARS)]


def long_text(chars: int = 4000) -> Payload:
    """A very long text with markup at both ends: a summary cuts it, the JSON view shows all of it."""
    head = "<img src=x onerror=window.__pwned=1>"
    return Payload("long", head + "L" * (chars - 2 * len(head)) + head)


# Header and log injection: each ends with a line that would be an HTTP header or a log record of its own.
INJECTED_HEADER = "X-Injected"
LINE_BREAKS: dict[str, str] = {
    "crlf": "\r\n",
    "lf": "\n",
    "cr": "\r",
    "nel": "\u0085",
    "line-separator": "\u2028",
    "paragraph-separator": "\u2029",
    "percent-encoded": "%0d%0a",
}


def injection(marker: str, line_break: str) -> str:
    """A value that tries to start a new header and a new JSON log record after `line_break`."""
    forged_record = '{"level":"CRITICAL","message":"' + marker + '"}'
    return f"x{line_break}{INJECTED_HEADER}: {marker}{line_break}{forged_record}"


def injected_headers(headers: Any, marker: str) -> list[str]:
    """Response header lines that an injection made (or that carry the marker)."""
    return [
        f"{name}: {value}"
        for name, value in headers.items()
        if name.lower() == INJECTED_HEADER.lower() or marker in name or marker in value
    ]


# The stack's own secrets, from its start-up banner (as a provider would have been told them).


def banner(stack: LocalStack, pattern: str) -> str:
    match = re.search(pattern, stack.output())
    assert match is not None, f"{pattern!r} not in the banner"
    return match.group(1)


def cm_webhook_path(stack: LocalStack) -> str:
    return banner(stack, r"CM webhook\s+POST (\S+)").removeprefix(stack.url)


def cm_status_path(stack: LocalStack) -> str:
    return cm_webhook_path(stack).replace("/webhooks/cm/", "/webhooks/cm-status/", 1)


def meta_app_secret(stack: LocalStack) -> str:
    return banner(stack, r"Meta app secret\s+(\S+)")


def meta_verify_token(stack: LocalStack) -> str:
    return banner(stack, r"Meta verify token\s+(\S+)")
