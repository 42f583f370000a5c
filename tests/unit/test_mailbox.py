import pytest

from trialgw.mailbox import canonical_mailbox, is_shared_provider, registrable_domain


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Jane.Doe@Example.COM", "jane.doe@example.com"),
        # Sub-addressing, on any domain: the first `+` ends the mailbox.
        ("jane+trial@example.com", "jane@example.com"),
        ("jane+a+b@example.com", "jane@example.com"),
        # Gmail: dots ignored, googlemail.com is gmail.com.
        ("Jane.Doe+x@googlemail.com", "janedoe@gmail.com"),
        ("j.a.n.e.doe@gmail.com", "janedoe@gmail.com"),
        # Dots count elsewhere.
        ("jane.doe@outlook.com", "jane.doe@outlook.com"),
        ("jane.doe+1@hotmail.com", "jane.doe@outlook.com"),
        # Yahoo's disposable `base-keyword` addresses.
        ("jane-shopping@yahoo.com", "jane@yahoo.com"),
        ("jane-x@ymail.com", "jane@yahoo.com"),
        ("jane-x@yahoo.co.uk", "jane@yahoo.co.uk"),
        # Apple: one account, three domains.
        ("jane+t@me.com", "jane@icloud.com"),
        ("jane@mac.com", "jane@icloud.com"),
        # Proton ignores dots, hyphens and underscores, on all its domains.
        ("jane.d_o-e@pm.me", "janedoe@proton.me"),
        ("janedoe@protonmail.com", "janedoe@proton.me"),
        # Fastmail's subdomain addressing.
        ("anything@jane.fastmail.com", "jane@fastmail.com"),
        ("jane+x@fastmail.fm", "jane@fastmail.com"),
        # Yandex ignores dots and hyphens; its country domains are one account.
        ("jane.doe-x@ya.ru", "janedoex@yandex.ru"),
        # A trailing dot in the domain is the same domain.
        ("jane@example.com.", "jane@example.com"),
    ],
)
def test_spellings_of_one_inbox_become_one_mailbox(address, mailbox):
    assert canonical_mailbox(address) == mailbox


def test_different_inboxes_stay_different():
    assert canonical_mailbox("jane@gmail.com") != canonical_mailbox("jane@outlook.com")
    assert canonical_mailbox("jane.doe@example.com") != canonical_mailbox("janedoe@example.com")
    assert canonical_mailbox("jane-doe@gmail.com") != canonical_mailbox("janedoe@gmail.com")


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("a@example.com", "example.com"),
        ("a@mail.example.com", "example.com"),
        ("a@x.y.example.com", "example.com"),
        ("a@example.co.uk", "example.co.uk"),
        ("a@mail.example.co.uk", "example.co.uk"),
        ("a@shop.example.com.au", "example.com.au"),
        ("a@example.de", "example.de"),
        ("a@sub.example.de", "example.de"),
    ],
)
def test_the_domain_limit_counts_the_registrable_domain(address, domain):
    assert registrable_domain(address) == domain


@pytest.mark.parametrize(
    "address",
    ["a@gmail.com", "a@googlemail.com", "a@hotmail.co.uk", "a@icloud.com", "a@x.fastmail.com", "a@yahoo.fr"],
)
def test_shared_providers_are_known(address):
    assert is_shared_provider(address)


@pytest.mark.parametrize("address", ["a@example.com", "a@gmail.example.com", "a@fastmail.example"])
def test_custom_domains_are_not_shared_providers(address):
    assert not is_shared_provider(address)
