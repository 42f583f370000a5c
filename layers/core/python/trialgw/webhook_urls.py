"""Which URLs a trial's own webhooks may point to: pure rules, DNS given as a function.

A trial's inbound and status URLs are called from inside our network, so an address the developer types must never
reach anything but the public internet (SSRF): no private, loopback, link-local, CGNAT, multicast or reserved
ranges, no cloud metadata address, in IPv4 or IPv6 (IPv4-mapped and NAT64/6to4 forms included), no credentials in
the URL, only `https` and only the port of https or an unprivileged one.

`check_url` is the one entry: the dashboard calls it when a URL is saved, and the delivery worker must call it again
before every attempt and for every redirect hop (DNS answers change: a name that was public at saving may point
inside later), then connect to one of the addresses it returned (`Target.addresses`) rather than resolve the name a
second time, so the answer checked is the answer used.

Locally (`webhook_allow_loopback`, on under `make dev` only) `http://127.0.0.1:<port>` is admitted too, so the
whole loop runs on one machine. Nothing else private is, even then.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import NamedTuple
from urllib.parse import SplitResult, urljoin, urlsplit

# (host, port) → the addresses the name resolves to, as text; raises OSError when it does not resolve.
Resolver = Callable[[str, int], Sequence[str]]

MAX_URL_CHARS = 2000
HTTPS_PORT = 443
# Ports below this are system services (SSH, SMTP, DNS, ...), never a developer's webhook receiver, except https's.
FIRST_UNPRIVILEGED_PORT = 1024
LOOPBACK_HOST = "127.0.0.1"
# Cloud metadata services: refused by their ranges too (link-local, ULA), named here for a clear message.
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# Prefixes that embed an IPv4 address in IPv6: the embedded address is checked as IPv4.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class RefusedUrl(ValueError):
    """A URL a trial's webhook may not use; the message says why, for the developer."""


class Target(NamedTuple):
    """An admitted URL: the URL as given, its host and port, and the addresses checked (connect to one of these)."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo's client), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def address_problem(text: str) -> str | None:
    """Why a resolved address may not be called (a sentence), or None for a public unicast address."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return f"{text[:60]!r} is not an IP address."
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address."
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            # Refused as such, whatever it maps: no receiver needs the mapped form, and stacks disagree about it.
            return f"{address} is an IPv4-mapped IPv6 address; give the IPv4 address or a host name."
        if address in _NAT64_LOCAL:
            return f"{address} is a local-use NAT64 address."
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = address_problem(str(embedded))
            if inner is not None:
                return f"{address} embeds {embedded}: {inner}"
    kind = _range_kind(address)
    return None if kind is None else f"{address} is a {kind} address, not a public one."


def _range_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:  # noqa: PLR0911
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "carrier-grade NAT (100.64.0.0/10)"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        # 10/8, 172.16/12, 192.168/16, fc00::/7 (unique local), documentation and benchmarking ranges, ...
        return "private"
    if not address.is_global:
        # NAT64, 6to4 and Teredo among them, even when the IPv4 address they carry is public.
        return "reserved"
    return None


def _split(url: str) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise RefusedUrl("Give the URL as text, such as https://example.com/webhooks.")
    if len(url) > MAX_URL_CHARS:
        raise RefusedUrl(f"The URL is longer than {MAX_URL_CHARS} characters.")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F or char == "\\" for char in url):
        raise RefusedUrl("The URL has spaces, control characters or backslashes; encode them.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        raise RefusedUrl("The URL cannot be read; give one such as https://example.com/webhooks.") from None
    return parts


def _port(parts: SplitResult) -> int:
    port = parts.port
    if port is None:
        return HTTPS_PORT if parts.scheme == "https" else 80
    if port == 0:
        raise RefusedUrl("Port 0 cannot be called.")
    return port


def parse_url(url: str, *, allow_loopback: bool) -> tuple[str, int, bool]:
    """The host and port of a URL a webhook may use, and whether it is the local loopback one; RefusedUrl otherwise.
    Only the URL's text: `check_url` adds what its host resolves to."""
    parts = _split(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https"):
        raise RefusedUrl("Use an https:// URL.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise RefusedUrl("Leave user names and passwords out of the URL; check the signature instead.")
    if not host:
        raise RefusedUrl("The URL has no host.")
    port = _port(parts)
    loopback = allow_loopback and host == LOOPBACK_HOST
    if scheme == "http" and not loopback:
        hint = f" (locally, http://{LOOPBACK_HOST}:<port> is allowed too)" if allow_loopback else ""
        raise RefusedUrl(f"Use an https:// URL{hint}.")
    if not loopback and port != HTTPS_PORT and port < FIRST_UNPRIVILEGED_PORT:
        raise RefusedUrl(f"Port {port} is not allowed: use 443 (the default) or a port from 1024 to 65535.")
    if parts.fragment:
        raise RefusedUrl("Leave the #fragment out of the URL: it is never sent.")
    return host, port, loopback


def check_url(url: str, *, allow_loopback: bool, resolve: Resolver) -> Target:
    """The URL as a Target a webhook may call now, or RefusedUrl saying why not.

    Every address the host resolves to must be public (one private answer refuses the URL: the client might pick
    it). An IP literal is checked as it is, without DNS. With `allow_loopback`, `http(s)://127.0.0.1[:port]` is
    admitted without DNS.
    """
    host, port, loopback = parse_url(url, allow_loopback=allow_loopback)
    if loopback:
        return Target(url=url, host=host, port=port, addresses=(LOOPBACK_HOST,))
    literal = host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(literal.split("%", 1)[0])
    except ValueError:
        is_literal = False
    else:
        is_literal = True
    if is_literal:
        addresses: tuple[str, ...] = (literal,)
    else:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")) or "." not in host:
            raise RefusedUrl(f"{host[:80]} is not a public host name.")
        try:
            addresses = tuple(resolve(host, port))
        except (OSError, UnicodeError):
            raise RefusedUrl(f"{host[:80]} does not resolve to any address.") from None
        if not addresses:
            raise RefusedUrl(f"{host[:80]} does not resolve to any address.")
    for address in addresses:
        problem = address_problem(address)
        if problem is not None:
            where = "" if is_literal else f"{host[:80]} resolves to {address}: "
            raise RefusedUrl(f"{where}{problem} Webhooks go to public addresses only.")
    return Target(url=url, host=host, port=port, addresses=addresses)


def check_redirect(target: Target, location: str | None, *, allow_loopback: bool, resolve: Resolver) -> Target:
    """The Target a redirect from `target` leads to (its `Location`, relative or not), checked as `check_url` checks
    a URL the developer saved; RefusedUrl when it has none, leaves https for http, or leads anywhere `check_url`
    refuses. The delivery worker follows a redirect only through this (and at most a few hops)."""
    if not location or not location.strip():
        raise RefusedUrl("The webhook answered a redirect without a Location.")
    if len(location) > MAX_URL_CHARS:
        raise RefusedUrl(f"The webhook redirected to a URL longer than {MAX_URL_CHARS} characters.")
    absolute = urljoin(target.url, location.strip())
    if urlsplit(target.url).scheme.lower() == "https" and urlsplit(absolute).scheme.lower() != "https":
        raise RefusedUrl("The webhook redirected from https to another scheme.")
    try:
        return check_url(absolute, allow_loopback=allow_loopback, resolve=resolve)
    except RefusedUrl as refusal:
        raise RefusedUrl(f"The webhook redirected to a URL that is not allowed: {refusal}") from None


__all__ = [
    "FIRST_UNPRIVILEGED_PORT",
    "LOOPBACK_HOST",
    "MAX_URL_CHARS",
    "METADATA_ADDRESSES",
    "RefusedUrl",
    "Resolver",
    "Target",
    "address_problem",
    "check_redirect",
    "check_url",
    "parse_url",
]
