"""One inbox, one spelling: the mailbox an e-mail address delivers to, for the sign-up limits.

Mail providers deliver many spellings to one inbox: `Jane.Doe+trial1@googlemail.com` reaches
`janedoe@gmail.com`. Counting sign-ups per exact string would give one inbox as many key e-mails as it has
spellings, so the limits count the canonical mailbox instead:

- the whole address in lower case (local parts are case-insensitive everywhere that matters);
- sub-addressing removed for every domain: `name+anything@…` (RFC 5233 style, which Gmail, Outlook, iCloud,
  Fastmail, Proton, Zoho, Yandex, HEY and most self-hosted servers deliver to `name@…`);
- the well-known providers' own rules, as data in `PROVIDERS`: their alias domains (googlemail.com is gmail.com,
  pm.me is proton.me, me.com is icloud.com), the characters they ignore (Gmail's dots; Proton's dots, hyphens and
  underscores; Yandex's dots and hyphens), Yahoo's `base-keyword` disposable addresses, and Fastmail's
  `anything@user.fastmail.com` subdomain addressing.

An over-eager rule would only make two people share a limit (e.g. on a server where `+` is a real character), so
the rules err on the side of merging. The domain limit counts the registrable domain (`mail.example.co.uk` is
`example.co.uk`), and never the shared consumer providers: their inboxes are individually owned and counted per
mailbox, while one custom domain can have unlimited inboxes.
"""

from __future__ import annotations

from typing import NamedTuple

SUBADDRESS_SEPARATOR = "+"


class Provider(NamedTuple):
    """A consumer mail provider: its canonical domain, its other domains, and what it ignores in a local part."""

    domain: str
    aliases: tuple[str, ...] = ()
    ignored: str = ""
    # Yahoo: `base-keyword@` is a disposable address of the account whose base name is `base`.
    keyword_separator: str | None = None
    # Fastmail: `anything@user.fastmail.com` reaches `user@fastmail.com`.
    subdomain_addressing: bool = False


PROVIDERS: tuple[Provider, ...] = (
    Provider("gmail.com", aliases=("googlemail.com",), ignored="."),
    Provider("outlook.com", aliases=("hotmail.com", "live.com", "msn.com", "passport.com")),
    Provider("yahoo.com", aliases=("ymail.com", "rocketmail.com"), keyword_separator="-"),
    Provider("icloud.com", aliases=("me.com", "mac.com")),
    Provider("proton.me", aliases=("protonmail.com", "protonmail.ch", "pm.me"), ignored=".-_"),
    Provider("fastmail.com", aliases=("fastmail.fm",), subdomain_addressing=True),
    Provider("yandex.ru", aliases=("yandex.com", "ya.ru", "yandex.by", "yandex.kz", "yandex.ua"), ignored=".-"),
    Provider("aol.com"),
    Provider("zoho.com", aliases=("zohomail.com",)),
    Provider("gmx.com", aliases=("gmx.net", "gmx.de")),
    Provider("mail.com"),
    Provider("hey.com"),
    Provider("tutanota.com", aliases=("tuta.io", "tutanota.de", "tutamail.com", "tuta.com")),
    Provider("web.de"),
    Provider("mail.ru"),
    # Separate namespaces of the same operators and other large consumer providers: only their sub-addressing and
    # Yahoo's keywords merge spellings, but they are shared domains all the same (no domain limit).
    *(Provider(domain) for domain in ("hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es")),
    *(Provider(domain) for domain in ("outlook.de", "outlook.fr", "outlook.es", "live.co.uk", "live.nl", "live.fr")),
    *(
        Provider(domain, keyword_separator="-")
        for domain in ("yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it", "yahoo.co.jp", "yahoo.com.br")
    ),
    *(Provider(domain) for domain in ("qq.com", "163.com", "126.com", "naver.com", "daum.net", "rediffmail.com")),
    *(Provider(domain) for domain in ("orange.fr", "free.fr", "t-online.de", "libero.it", "seznam.cz", "wp.pl")),
    *(Provider(domain) for domain in ("btinternet.com", "comcast.net", "verizon.net", "att.net", "ziggo.nl")),
)

_BY_DOMAIN: dict[str, Provider] = {
    domain: provider for provider in PROVIDERS for domain in (provider.domain, *provider.aliases)
}
# Second-level labels under which country-code registries sell names (`example.co.uk`, `example.com.au`): the
# registrable domain is then three labels, not two. A heuristic in place of the full Public Suffix List, which
# would be a dependency and a data file to keep fresh for a rate limit.
_COUNTRY_SECOND_LEVELS = frozenset(
    {"co", "com", "net", "org", "ac", "gov", "edu", "ne", "or", "go", "gv", "ltd", "plc"}
)


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.strip().lower().rpartition("@")
    return local, domain.rstrip(".")


def _provider(domain: str) -> Provider | None:
    found = _BY_DOMAIN.get(domain)
    if found is not None:
        return found
    parent = domain.partition(".")[2]
    by_parent = _BY_DOMAIN.get(parent)
    return by_parent if by_parent is not None and by_parent.subdomain_addressing else None


def canonical_mailbox(address: str) -> str:
    """The inbox `address` delivers to, spelled one way (`Jane.Doe+x@googlemail.com` → `janedoe@gmail.com`)."""
    local, domain = _split(address)
    local = local.split(SUBADDRESS_SEPARATOR, 1)[0]
    provider = _provider(domain)
    if provider is None:
        return f"{local}@{domain}"
    if provider.subdomain_addressing and domain not in _BY_DOMAIN:
        # `anything@user.fastmail.com`: the mailbox is the subdomain's user.
        local = domain.partition(".")[0]
    if provider.keyword_separator:
        local = local.split(provider.keyword_separator, 1)[0]
    for character in provider.ignored:
        local = local.replace(character, "")
    return f"{local}@{provider.domain}"


def is_shared_provider(address: str) -> bool:
    """Whether `address` is at a consumer provider whose inboxes belong to different people (no domain limit)."""
    return _provider(_split(address)[1]) is not None


def registrable_domain(address: str) -> str:
    """The domain one owner controls: `jane@mail.example.co.uk` → `example.co.uk`, `x@a.b.example.com` →
    `example.com`."""
    labels = _split(address)[1].split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _COUNTRY_SECOND_LEVELS else 2
    return ".".join(labels[-keep:])


__all__ = ["PROVIDERS", "canonical_mailbox", "is_shared_provider", "registrable_domain"]
