import pytest
from pydantic import ValidationError

from trialgw import names
from trialgw.settings import SignupSettings, TrialSettings, env_var, load, reload


def test_defaults_are_the_seeds_limits():
    settings = TrialSettings()
    assert settings.trial_lifetime_seconds == 24 * 3600
    assert settings.max_recipients == 10
    assert (settings.quota_sms, settings.quota_whatsapp, settings.quota_other) == (10, 10, 30)
    assert (settings.sms_gsm7_part_chars, settings.sms_unicode_part_chars, settings.sms_max_parts) == (144, 63, 2)
    assert settings.whatsapp_number == "+31850876714"
    assert settings.sms_numbers == {
        "the UK": "+447860054666",
        "the US": "+14232515465",
        "the Netherlands": "+3197005159375",
    }
    assert settings.brand == "CM.COM"


def test_fields_are_read_from_trialgw_variables_including_json():
    settings = SignupSettings.from_env(
        {
            "TRIALGW_TRIAL_LIFETIME_SECONDS": "30",
            "TRIALGW_SMS_NUMBERS": '{"the UK": "+447000000000"}',
            "TRIALGW_SITE_URL": "https://trial.example.com/",
            "TRIALGW_SES_CONFIGURATION_SET": "trialgw",
            "UNRELATED": "x",
        }
    )
    assert settings.trial_lifetime_seconds == 30
    assert settings.sms_numbers == {"the UK": "+447000000000"}
    assert settings.site_url == "https://trial.example.com"
    assert settings.ses_configuration_set == "trialgw"


def test_to_env_round_trips():
    original = SignupSettings(trial_lifetime_seconds=60, ses_configuration_set="cs")
    assert SignupSettings.from_env(original.to_env()) == original
    assert env_var("trials_table") == names.TRIALS.env_var
    assert names.TRIALS.env_var in original.to_env()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TRIALGW_TRIAL_LIFETIME_SECONDS", "0"),
        ("TRIALGW_TRIAL_LIFETIME_SECONDS", "a day"),
        ("TRIALGW_SITE_URL", "ftp://example.com"),
        ("TRIALGW_SMS_NUMBERS", "[1, 2]"),
        ("TRIALGW_SMS_NUMBERS", "not json"),
    ],
)
def test_bad_values_fail_loudly_at_start(variable, value):
    with pytest.raises(ValidationError):
        SignupSettings.from_env({variable: value})


def test_load_is_cached_until_reload(monkeypatch):
    monkeypatch.setenv("TRIALGW_BRAND", "ACME")
    reload()
    first = load(TrialSettings)
    monkeypatch.setenv("TRIALGW_BRAND", "OTHER")
    assert load(TrialSettings) is first
    reload()
    assert load(TrialSettings).brand == "OTHER"
    reload()
