"""Which URLs a trial's own webhooks may use (trialgw.webhook_urls): no network, DNS is a function here."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from trialgw.webhook_urls import RefusedUrl, Resolver, address_problem, check_redirect, check_url, parse_url


def dns(*answers: str) -> Resolver:
    def resolve(host: str, port: int) -> Sequence[str]:
        return answers

    return resolve


def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"resolved {host}:{port}; this URL needs no DNS")


def unresolvable(host: str, port: int) -> Sequence[str]:
    raise OSError("Name or service not known")


PUBLIC = dns("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def refused(url: str, *, allow_loopback: bool = False, resolve: Resolver = no_dns) -> str:
    with pytest.raises(RefusedUrl) as caught:
        check_url(url, allow_loopback=allow_loopback, resolve=resolve)
    return str(caught.value)


def test_a_public_https_url_is_admitted_with_the_addresses_to_connect_to() -> None:
    target = check_url("https://hooks.example.com/trial?x=1", allow_loopback=False, resolve=PUBLIC)
    assert (target.host, target.port) == ("hooks.example.com", 443)
    assert target.addresses == ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")


def test_unprivileged_ports_and_443_are_admitted() -> None:
    for url in ("https://hooks.example.com:8443/x", "https://hooks.example.com:443/", "https://h.example.com:65535"):
        check_url(url, allow_loopback=False, resolve=PUBLIC)


@pytest.mark.parametrize("port", [22, 25, 80, 1023])
def test_privileged_ports_other_than_https_are_refused(port: int) -> None:
    assert f"Port {port}" in refused(f"https://hooks.example.com:{port}/", resolve=PUBLIC)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example.com/", "https://"),
        ("ftp://hooks.example.com/", "https://"),
        ("file:///etc/passwd", "https://"),
        ("javascript:alert(1)", "https://"),
        ("hooks.example.com/x", "https://"),
        ("https://user:pass@hooks.example.com/", "passwords"),
        ("https://user@hooks.example.com/", "passwords"),
        ("https://hooks.example.com@169.254.169.254/", "passwords"),
        ("https:///path", "no host"),
        ("https://hooks.example.com:99999/", "cannot be read"),
        ("https://hooks.example.com:0/", "Port 0"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com/\n", "control"),
        ("https://hooks.example.com\\@evil.example/", "backslashes"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("", "as text"),
        ("https://hooks.example.com/" + "a" * 2000, "longer than"),
        ("https://localhost/", "not a public host name"),
        ("https://metadata.google.internal/", "not a public host name"),
        ("https://printer.local/", "not a public host name"),
        ("https://intranet/", "not a public host name"),
        ("https://2130706433/", "not a public host name"),
    ],
)
def test_urls_refused_from_their_text(url: str, words: str) -> None:
    assert words in refused(url, resolve=PUBLIC)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.8.8", "loopback"),
        ("169.254.1.1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "not a public"),
        ("192.0.2.1", "not a public"),
        ("198.18.0.1", "not a public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fd00:ec2::254", "metadata"),
        ("ff02::1", "multicast"),
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("::ffff:169.254.169.254", "IPv4-mapped"),
        ("64:ff9b::a9fe:a9fe", "metadata"),
        ("64:ff9b::0a00:0001", "private"),
        ("64:ff9b:1::1", "NAT64"),
        ("2002:0a00:0001::1", "private"),
        ("2001:db8::1", "not a public"),
        ("64:ff9b::808:808", "reserved"),
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    problem = address_problem(address)
    assert problem is not None
    assert kind in problem
    # The same address, as a literal in the URL and as a name's DNS answer.
    literal = f"[{address.split('%', maxsplit=1)[0]}]" if ":" in address else address
    assert kind in refused(f"https://{literal}:8443/hook")
    assert "hooks.example.com resolves to" in refused("https://hooks.example.com/", resolve=dns(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) is None


def test_one_private_answer_among_public_ones_refuses_the_url() -> None:
    assert "10.0.0.5" in refused("https://hooks.example.com/", resolve=dns("8.8.8.8", "10.0.0.5"))


def test_a_name_that_does_not_resolve_is_refused() -> None:
    assert "does not resolve" in refused("https://nowhere.example.com/", resolve=unresolvable)
    assert "does not resolve" in refused("https://nowhere.example.com/", resolve=dns())


def test_an_ip_literal_needs_no_dns() -> None:
    target = check_url("https://8.8.8.8/hook", allow_loopback=False, resolve=no_dns)
    assert target.addresses == ("8.8.8.8",)


def test_loopback_is_refused_unless_allowed() -> None:
    assert "loopback" in refused("https://127.0.0.1:9000/hook")
    message = refused("http://127.0.0.1:9000/hook")
    assert "https://" in message
    assert "allowed too" not in message


def test_allowed_loopback_admits_http_127_0_0_1_on_any_port_without_dns() -> None:
    for url in ("http://127.0.0.1:9000/hook", "http://127.0.0.1/hook", "https://127.0.0.1:8443/x"):
        target = check_url(url, allow_loopback=True, resolve=no_dns)
        assert target.addresses == ("127.0.0.1",)
    assert check_url("http://127.0.0.1:22/", allow_loopback=True, resolve=no_dns).port == 22


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9000/",
        "http://127.0.0.2:9000/",
        "http://[::1]:9000/",
        "http://10.0.0.1:9000/",
        "http://hooks.example.com/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_allowed_loopback_admits_nothing_else_over_http(url: str) -> None:
    assert "http://127.0.0.1:<port> is allowed too" in refused(url, allow_loopback=True, resolve=PUBLIC)


def test_allowed_loopback_still_refuses_other_private_targets_over_https() -> None:
    assert "private" in refused("https://10.0.0.1/", allow_loopback=True)
    assert "metadata" in refused("https://hooks.example.com/", allow_loopback=True, resolve=dns("169.254.169.254"))


def test_scheme_and_host_are_case_insensitive() -> None:
    assert parse_url("HTTPS://Hooks.Example.COM/Path", allow_loopback=False) == ("hooks.example.com", 443, False)


def test_a_redirect_to_a_public_https_url_is_followed_relative_or_absolute() -> None:
    start = check_url("https://hooks.example.com/a/b?x=1", allow_loopback=False, resolve=PUBLIC)
    assert (
        check_redirect(start, "/moved", allow_loopback=False, resolve=PUBLIC).url == "https://hooks.example.com/moved"
    )
    assert check_redirect(start, "c", allow_loopback=False, resolve=PUBLIC).url == "https://hooks.example.com/a/c"
    other = check_redirect(start, "https://other.example.com:8443/in", allow_loopback=False, resolve=PUBLIC)
    assert (other.host, other.port) == ("other.example.com", 8443)


@pytest.mark.parametrize(
    ("location", "answers", "words"),
    [
        (None, (), "without a Location"),
        ("  ", (), "without a Location"),
        ("http://hooks.example.com/in", ("93.184.215.14",), "from https to another scheme"),
        ("https://169.254.169.254/latest/meta-data/", (), "metadata"),
        ("https://[::1]/", (), "loopback"),
        ("https://inside.example.com/", ("10.0.0.7",), "inside.example.com resolves to 10.0.0.7"),
        ("https://user:pw@hooks.example.com/", ("93.184.215.14",), "passwords"),
        ("//127.0.0.1:9000/", (), "loopback"),
        ("https://hooks.example.com/" + "a" * 2000, (), "longer than"),
    ],
)
def test_a_redirect_anywhere_check_url_refuses_is_refused(
    location: str | None, answers: tuple[str, ...], words: str
) -> None:
    start = check_url("https://hooks.example.com/in", allow_loopback=False, resolve=PUBLIC)
    with pytest.raises(RefusedUrl) as caught:
        check_redirect(start, location, allow_loopback=False, resolve=dns(*answers))
    assert words in str(caught.value)


def test_the_dns_answer_is_checked_again_at_each_hop() -> None:
    """A name public when saved and private now (DNS rebinding) is refused at the next check."""
    assert check_url("https://hooks.example.com/in", allow_loopback=False, resolve=PUBLIC)
    assert "10.1.1.1" in refused("https://hooks.example.com/in", resolve=dns("10.1.1.1"))


def test_locally_a_loopback_receiver_may_redirect_to_itself_over_http() -> None:
    start = check_url("http://127.0.0.1:9000/in", allow_loopback=True, resolve=no_dns)
    assert check_redirect(start, "/other", allow_loopback=True, resolve=no_dns).url == "http://127.0.0.1:9000/other"
    with pytest.raises(RefusedUrl):
        check_redirect(start, "http://10.0.0.1/", allow_loopback=True, resolve=no_dns)
