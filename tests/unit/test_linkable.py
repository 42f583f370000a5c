import pytest

from trialgw.linkable import linkable_part


@pytest.mark.parametrize(
    "text",
    [
        "Jane Doe",
        "Dr. J. Smith",
        "Jr.",
        "A.B. Consulting",
        "O'Neil",
        "Müller-Lüdenscheidt",
        "3M",
        "7-Eleven",
        "37signals",
        # Digits inside a word are no phone number (a hex id, a product code).
        "INJ8123456789ab",
        "Order 1234567a",
        "x%0d%0aX-Injected: INJ81234567890a",
        "ACME: Labs",
        "李小龍",
        "Zoë (she/her)",
    ],
)
def test_names_pass(text):
    assert linkable_part(text) is None


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("Hi URGENT: your account is locked, log in at https://bank.example/verify", "a web address"),
        ("see http://x", "a web address"),
        ("ftp://files", "a web address"),
        ("javascript:alert(1)", "a web address"),
        ("tel:+3112345", "a web address"),
        ("log in at bank.example", "a web address"),
        ("paypal.com", "a web address"),
        ("Booking.com", "a web address"),
        ("www.evil", "a web address"),
        ("verify at login.bank.co.uk/reset", "a web address"),
        ("xn--80ak6aa92e.com", "a web address"),
        ("münchen.de", "a web address"),
        # Browsers read ideographic and fullwidth full stops as dots; fullwidth letters fold to ASCII.
        ("paypal。com", "a web address"),
        ("ｐａｙｐａｌ．ｃｏｍ", "a web address"),
        ("192.0.2.1", "a web address"),
        ("J.Smith", "a web address"),
        ("mail jane@example.com", "an e-mail address"),
        ("call +44 20 7946 0000 now", "a phone number"),
        ("(555) 123-4567", "a phone number"),
        ("０６１２３４５６７８", "a phone number"),
        ("+31612345678", "a phone number"),
        ("Jane (0)6-1234 5678", "a phone number"),
    ],
)
def test_what_mail_programs_link_is_found(text, what):
    assert linkable_part(text) == what
