import pytest

from tests.fakes import FakeClock, FakeMailer, FakeSignupCounter, FakeTrialStore
from trialgw.errors import DependencyUnavailable, RateLimited
from trialgw.keys import KEY_PATTERN, hash_key
from trialgw.logic.signup import SignupDeps, sign_up
from trialgw.settings import SignupSettings
from trialgw.signup_input import SignupRequest, parse_signup

SETTINGS = SignupSettings()
REQUEST = SignupRequest(name="Jane", email="jane@example.com", company="ACME")


@pytest.fixture
def deps() -> SignupDeps:
    return SignupDeps(
        trials=FakeTrialStore(), counter=FakeSignupCounter(), mailer=FakeMailer(), clock=FakeClock(1_800_000_100)
    )


def _key_in(mailer: FakeMailer) -> str:
    match = KEY_PATTERN.search(mailer.sent[-1].text)
    assert match is not None
    return match.group(0)


def test_signup_stores_only_the_hash_and_mails_the_key(deps):
    result = sign_up(REQUEST, SETTINGS, deps)
    key = _key_in(deps.mailer)
    (trial,) = deps.trials.trials.values()
    assert trial.key_hash == hash_key(key)
    assert key not in repr(trial)
    assert trial.created_at == 1_800_000_100
    assert trial.expires_at == 1_800_000_100 + 86400
    assert deps.trials.ttls[trial.key_hash] == trial.expires_at + SETTINGS.expired_retention_seconds
    assert trial.company == "ACME"
    assert result.masked_email == "j***@e***.com"
    assert int(result.expires_at.timestamp()) == trial.expires_at
    assert deps.mailer.sent[-1].to == "jane@example.com"


def test_lifetime_comes_from_settings(deps):
    sign_up(REQUEST, SETTINGS.model_copy(update={"trial_lifetime_seconds": 30}), deps)
    (trial,) = deps.trials.trials.values()
    assert trial.expires_at - trial.created_at == 30


def test_each_signup_gets_a_new_key(deps):
    sign_up(REQUEST, SETTINGS, deps)
    sign_up(REQUEST, SETTINGS, deps)
    assert len(deps.trials.trials) == 2
    assert _key_in(deps.mailer) != KEY_PATTERN.search(deps.mailer.sent[0].text).group(0)  # type: ignore[union-attr]


def test_fourth_signup_in_the_window_is_rate_limited_until_the_window_ends(deps):
    for _ in range(3):
        sign_up(REQUEST, SETTINGS, deps)
    with pytest.raises(RateLimited) as caught:
        sign_up(SignupRequest(name="Jane", email="JANE@example.com"), SETTINGS, deps)
    # 1_800_000_100 is 28,900 s into a day window (the default window is a trial's lifetime).
    assert caught.value.retry_after_seconds == 86400 - 28900
    assert caught.value.limit == "mailbox"
    assert caught.value.message == (
        "Too many sign-ups for this e-mail address. Please try again in 16 hours, or use the key we already sent you."
    )
    assert len(deps.trials.trials) == 3
    assert len(deps.mailer.sent) == 3
    deps.clock.now += 86400 - 28900
    sign_up(REQUEST, SETTINGS, deps)
    assert len(deps.trials.trials) == 4


def test_a_short_wait_is_said_in_minutes(deps):
    hourly = SETTINGS.model_copy(update={"signup_window_seconds": 3600})
    for _ in range(3):
        sign_up(REQUEST, hourly, deps)
    with pytest.raises(RateLimited) as caught:
        sign_up(REQUEST, hourly, deps)
    # 1_800_000_100 is 100 s into an hour window.
    assert caught.value.retry_after_seconds == 3500
    assert "try again in 59 minutes" in caught.value.message


@pytest.mark.parametrize(
    "spelling",
    [
        "Jane.Doe@gmail.com",
        "janedoe+trial@gmail.com",
        "j.a.n.e.d.o.e@googlemail.com",
        "JANEDOE+1+2@GMAIL.COM",
        "jane.doe+x@googlemail.com",
    ],
)
def test_one_inbox_gets_the_mailbox_limit_whatever_spelling_is_used(deps, spelling):
    # Each address as the handler hands it on (parse_signup normalises it).
    for address in ("janedoe@gmail.com", "jane.doe+a@gmail.com", "JaneDoe@googlemail.com"):
        sign_up(parse_signup({"name": "Jane", "email": address}), SETTINGS, deps)
    with pytest.raises(RateLimited) as caught:
        sign_up(parse_signup({"name": "Jane", "email": spelling}), SETTINGS, deps)
    assert caught.value.limit == "mailbox"
    assert len(deps.mailer.sent) == 3


def test_other_addresses_are_not_limited(deps):
    for i in range(5):
        sign_up(SignupRequest(name="Jane", email=f"jane{i}@example.com"), SETTINGS, deps)
    assert len(deps.trials.trials) == 5


def test_one_client_network_is_limited_whatever_the_addresses(deps):
    for i in range(SETTINGS.signup_limit_per_ip):
        sign_up(SignupRequest(name="Jane", email=f"jane{i}@gmail.com"), SETTINGS, deps, client_ip="203.0.113.7")
    with pytest.raises(RateLimited) as caught:
        sign_up(SignupRequest(name="Jane", email="other@outlook.com"), SETTINGS, deps, client_ip="203.0.113.7")
    assert caught.value.limit == "ip"
    assert caught.value.message.startswith("Too many sign-ups from your network. Please try again in ")
    # Another address of the same /24 is another client: networks are masked for display, not merged for counting.
    sign_up(SignupRequest(name="Jane", email="other@outlook.com"), SETTINGS, deps, client_ip="203.0.113.8")


def test_an_ipv6_client_counts_as_its_slash_64(deps):
    limit = SETTINGS.model_copy(update={"signup_limit_per_ip": 1})
    sign_up(SignupRequest(name="Jane", email="a@gmail.com"), limit, deps, client_ip="2001:db8:1:2::1")
    with pytest.raises(RateLimited):
        sign_up(SignupRequest(name="Jane", email="b@gmail.com"), limit, deps, client_ip="2001:db8:1:2:ffff::9")
    sign_up(SignupRequest(name="Jane", email="c@gmail.com"), limit, deps, client_ip="2001:db8:1:3::1")


def test_one_custom_domain_is_limited_but_shared_providers_are_not(deps):
    limit = SETTINGS.model_copy(update={"signup_limit_per_domain": 2})
    for local in ("a", "b"):
        sign_up(SignupRequest(name="Jane", email=f"{local}@catch-all.example"), limit, deps)
    with pytest.raises(RateLimited) as caught:
        # A subdomain of the same registrable domain is the same owner.
        sign_up(SignupRequest(name="Jane", email="c@mail.catch-all.example"), limit, deps)
    assert caught.value.limit == "domain"
    assert "e-mail addresses at catch-all.example" in caught.value.message
    for i in range(3):
        sign_up(SignupRequest(name="Jane", email=f"person{i}@gmail.com"), limit, deps)


def test_the_global_ceiling_counts_per_hour(deps):
    limit = SETTINGS.model_copy(update={"signup_limit_global": 2})
    sign_up(SignupRequest(name="Jane", email="a@example.com"), limit, deps)
    sign_up(SignupRequest(name="Jane", email="b@example.org"), limit, deps)
    with pytest.raises(RateLimited) as caught:
        sign_up(SignupRequest(name="Jane", email="c@example.net"), limit, deps)
    assert caught.value.limit == "global"
    # 1_800_000_100 is 100 s into its hour.
    assert caught.value.retry_after_seconds == 3500
    deps.clock.now += 3500
    sign_up(SignupRequest(name="Jane", email="c@example.net"), limit, deps)


def test_a_refusal_counts_nothing_and_names_the_most_personal_limit_with_the_longest_wait(deps):
    limit = SETTINGS.model_copy(update={"signup_limit_global": 3})
    for _ in range(3):
        sign_up(REQUEST, limit, deps)
    before = dict(deps.counter.counts)
    with pytest.raises(RateLimited) as caught:
        sign_up(REQUEST, limit, deps)
    # Mailbox (a day) and global (an hour) are both full: the mailbox explains it, and the wait is the longer one.
    assert caught.value.limit == "mailbox"
    assert caught.value.retry_after_seconds == 86400 - 28900
    assert deps.counter.counts == before


def test_the_trial_keeps_the_masked_network_it_was_signed_up_from(deps):
    sign_up(REQUEST, SETTINGS, deps, client_ip="198.51.100.23")
    sign_up(SignupRequest(name="Jane", email="jane@example.org"), SETTINGS, deps, client_ip="not an ip")
    networks = sorted(str(trial.signup_network) for trial in deps.trials.trials.values())
    assert networks == ["198.51.100.0/24", "None"]


def test_mail_failure_leaves_no_trial_and_gives_the_count_back(deps):
    deps.mailer.fail = True
    with pytest.raises(DependencyUnavailable) as caught:
        sign_up(REQUEST, SETTINGS, deps)
    assert "no trial was created" in caught.value.message
    assert deps.trials.trials == {}
    assert len(deps.trials.deleted) == 1
    assert set(deps.counter.counts.values()) == {0}
    assert len(deps.counter.acquired) == 1


def test_mail_failure_with_failing_cleanup_still_answers_unavailable(deps):
    deps.mailer.fail = True
    deps.trials.fail_delete = True
    with pytest.raises(DependencyUnavailable):
        sign_up(REQUEST, SETTINGS, deps)


def test_store_failure_sends_no_mail(deps):
    deps.trials.fail_create = True
    with pytest.raises(DependencyUnavailable):
        sign_up(REQUEST, SETTINGS, deps)
    assert deps.mailer.sent == []
    assert set(deps.counter.counts.values()) == {0}


def test_counter_failure_is_unavailable_and_creates_nothing(deps):
    deps.counter.fail = True
    with pytest.raises(DependencyUnavailable):
        sign_up(REQUEST, SETTINGS, deps)
    assert deps.trials.trials == {}
    assert deps.mailer.sent == []
