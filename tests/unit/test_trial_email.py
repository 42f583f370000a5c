import re

from trialgw.keys import hash_key, new_key
from trialgw.logic.trial_email import humanize_seconds, render_trial_email
from trialgw.models import Trial
from trialgw.settings import TrialSettings

SETTINGS = TrialSettings(site_url="https://trial.example.com", api_url="https://api.example.com/prod")


def _trial(key: str, name: str = "Jane") -> Trial:
    return Trial(
        key_hash=hash_key(key),
        name=name,
        email="jane@example.com",
        company=None,
        created_at=1_800_000_000,
        expires_at=1_800_086_400,
    )


def test_email_holds_key_expiry_dashboard_and_contact_points():
    key = new_key()
    email = render_trial_email(_trial(key), key, SETTINGS)
    assert email.to == "jane@example.com"
    assert "trial key" in email.subject
    for part in (email.text, email.html):
        assert key in part
        assert "2027-01-16 08:00 UTC" in part
        assert f"https://trial.example.com/dashboard/#{key}" in part
        assert f"https://wa.me/31850876714?text={key}" in part
        assert "+31850876714" in part
        for number in ("+447860054666", "+14232515465", "+3197005159375"):
            assert number in part
        assert "https://m.me/" in part
        assert "https://ig.me/" in part
        assert "may never arrive" in part
        assert "https://api.example.com/prod/messaging/messagingtrial/gw/" in part
    assert "From the UK" in email.text
    assert "From the Netherlands" in email.text


def test_curl_example_is_valid_and_carries_the_key():
    key = new_key()
    text = render_trial_email(_trial(key), key, SETTINGS).text
    curl = re.search(r"curl -X POST .*?-d '(\{.*\})'", text, re.DOTALL)
    assert curl is not None
    assert f'"producttoken":"{key}"' in curl.group(1)
    assert "'Content-Type: application/json'" in curl.group(0)


def test_limits_follow_the_settings():
    key = new_key()
    settings = SETTINGS.model_copy(update={"trial_lifetime_seconds": 1800, "quota_other": 5})
    text = render_trial_email(_trial(key), key, settings).text
    assert "valid for 30 minutes" in text
    assert "5 via each other channel" in text
    assert "At most 10 whitelisted recipients" in text
    assert "288 GSM-7 or 126 Unicode" in text


def test_name_is_escaped_in_html():
    key = new_key()
    email = render_trial_email(_trial(key, name="<img src=x onerror=alert(1)>"), key, SETTINGS)
    assert "<img src=x" not in email.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert "<img src=x onerror=alert(1)>" in email.text


def test_humanize_seconds():
    assert humanize_seconds(86400) == "24 hours"
    assert humanize_seconds(3600) == "1 hour"
    assert humanize_seconds(120) == "2 minutes"
    assert humanize_seconds(45) == "45 seconds"
    assert humanize_seconds(1) == "1 second"


LOCAL = SETTINGS.model_copy(update={"local_phone_url": "http://127.0.0.1:8080/_local/phone"})


def test_on_the_local_stack_each_contact_point_links_the_simulated_phone_with_channel_and_key():
    key = new_key()
    email = render_trial_email(_trial(key), key, LOCAL)
    for part in (email.text, email.html):
        assert "runs on a local stack" in part
        # The HTML escapes the `&` in its href attributes.
        links = part.replace("&amp;", "&")
        assert f"http://127.0.0.1:8080/_local/phone#channel=WhatsApp&text={key}" in links
        assert f"http://127.0.0.1:8080/_local/phone#channel=Facebook%20Messenger&text={key}" in links
        # Beside, not instead of, the real contact points: the text names what the simulator plays.
        assert "+31850876714" in part
    assert email.text.count("runs on a local stack") == 1


def test_in_aws_the_email_names_no_simulated_phone():
    key = new_key()
    email = render_trial_email(_trial(key), key, SETTINGS)
    for part in (email.text, email.html):
        assert "_local" not in part
        assert "local stack" not in part


def test_the_html_part_has_a_viewport_and_no_fixed_width():
    key = new_key()
    html = render_trial_email(_trial(key), key, LOCAL).html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "max-width:600px" in html
    assert not re.search(r"(?<!max-)width:\s*\d{3,}px", html)
    assert "overflow-wrap:anywhere" in html
