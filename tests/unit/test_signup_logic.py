import pytest

from tests.fakes import FakeClock, FakeMailer, FakeSignupCounter, FakeTrialStore
from trialgw.errors import DependencyUnavailable, RateLimited
from trialgw.keys import KEY_PATTERN, hash_key
from trialgw.logic.signup import SignupDeps, sign_up
from trialgw.models import SignupRequest
from trialgw.settings import SignupSettings

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
    # 1_800_000_100 is 100 s into an hour window (1_800_000_000 = 500_000 h).
    assert caught.value.retry_after_seconds == 3500
    assert "59 minutes" in caught.value.message
    assert len(deps.trials.trials) == 3
    assert len(deps.mailer.sent) == 3
    deps.clock.now += 3500
    sign_up(REQUEST, SETTINGS, deps)
    assert len(deps.trials.trials) == 4


def test_other_addresses_are_not_limited(deps):
    for i in range(5):
        sign_up(SignupRequest(name="Jane", email=f"jane{i}@example.com"), SETTINGS, deps)
    assert len(deps.trials.trials) == 5


def test_mail_failure_leaves_no_trial_and_gives_the_count_back(deps):
    deps.mailer.fail = True
    with pytest.raises(DependencyUnavailable) as caught:
        sign_up(REQUEST, SETTINGS, deps)
    assert "no trial was created" in caught.value.message
    assert deps.trials.trials == {}
    assert len(deps.trials.deleted) == 1
    assert set(deps.counter.counts.values()) == {0}


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
