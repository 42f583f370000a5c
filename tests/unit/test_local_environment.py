"""The local stack's environment: the AWS defaults, except the sign-up limits one machine cannot live with."""

from __future__ import annotations

from infra.local.banner import render_banner
from infra.local.environment import LOCAL_SETTINGS, process_environment
from infra.local.resources import Resources
from infra.topology import FUNCTIONS, function
from trialgw.settings import DashboardSettings, MoWebhookSettings, SignupSettings

BASE_URL = "http://127.0.0.1:8080"


def test_per_ip_and_per_domain_limits_are_loose_locally_and_the_mailbox_limit_is_not() -> None:
    settings = SignupSettings.from_env(process_environment(FUNCTIONS, BASE_URL, environ={}))
    aws = SignupSettings()
    assert settings.signup_limit_per_ip == LOCAL_SETTINGS["signup_limit_per_ip"] >= 50
    assert settings.signup_limit_per_domain == LOCAL_SETTINGS["signup_limit_per_domain"] >= 50
    assert settings.signup_limit_global > aws.signup_limit_global
    assert settings.signup_limit_per_window == aws.signup_limit_per_window
    assert settings.signup_limit_per_ip > aws.signup_limit_per_ip


def test_a_tester_still_sets_them() -> None:
    environ = {"TRIALGW_SIGNUP_LIMIT_PER_IP": "2", "TRIALGW_SIGNUP_LIMIT_GLOBAL": "7"}
    settings = SignupSettings.from_env(process_environment(FUNCTIONS, BASE_URL, environ=environ))
    assert (settings.signup_limit_per_ip, settings.signup_limit_global) == (2, 7)
    assert settings.signup_limit_per_domain == LOCAL_SETTINGS["signup_limit_per_domain"]


def test_the_inbound_lease_is_the_inbound_functions_timeout_as_in_aws_unless_a_tester_sets_it() -> None:
    # One process runs both inbound functions (the webhooks' and the SMS queue's): the longer timeout serves both.
    timeout = max(function("mo_webhook").timeout_seconds, function("sms_inbound").timeout_seconds)
    environment = process_environment(FUNCTIONS, BASE_URL, environ={})
    # Set, not the setting's default: the timeout is topology's.
    assert environment["TRIALGW_INBOUND_LEASE_SECONDS"] == str(timeout)
    assert MoWebhookSettings.from_env(environment).inbound_lease_seconds == timeout
    short = {"TRIALGW_INBOUND_LEASE_SECONDS": "2"}
    assert (
        MoWebhookSettings.from_env(process_environment(FUNCTIONS, BASE_URL, environ=short)).inbound_lease_seconds == 2
    )


def test_only_the_local_stack_points_the_pages_to_the_simulated_phone() -> None:
    environment = process_environment(FUNCTIONS, BASE_URL, environ={})
    for model in (SignupSettings, DashboardSettings):
        assert model.from_env(environment).local_phone_url == f"{BASE_URL}/_local/phone"
        assert model().local_phone_url is None


def test_the_banner_states_the_limits_and_why_they_are_loose() -> None:
    signup = SignupSettings(signup_limit_per_ip=1000, signup_limit_per_domain=900, signup_limit_global=10000)
    banner = render_banner(
        base_url=BASE_URL,
        routes=[],
        resources=Resources(tables=(), senders=(), configuration_sets=()),
        overrides={},
        moto_endpoint="http://127.0.0.1:1",
        signup=signup,
    )
    assert (
        "Sign-up limits: 3 per mailbox, 1000 per client IP and 900 per e-mail domain every 24 hours; 10000 an hour "
        "overall." in banner
    )
    assert "every request comes from 127.0.0.1" in banner
