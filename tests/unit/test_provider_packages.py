"""The provider packages' specs, the one masking helper and the shared JSON reader."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trialgw.channels import CHANNELS, ProviderName
from trialgw.json_input import NotAnObject, UnreadableJson, decode_object
from trialgw.providers.cm._values import CM_MASKING
from trialgw.providers.masking import MaskRule, mask_reason
from trialgw.providers.meta import META_CHANNELS
from trialgw.providers.meta.delivery import META_MASKING
from trialgw.providers.registry import PROVIDER_SECRET_KEYS, SPECS, WEBHOOK_ROUTES, WEBHOOK_SECRET_KEYS
from trialgw.settings import DeliverySettings


def test_every_provider_name_has_one_package_spec() -> None:
    assert set(SPECS) == set(ProviderName)
    assert all(name is spec.name for name, spec in SPECS.items())


def test_meta_has_a_row_for_exactly_the_channels_it_may_carry() -> None:
    carried = {spec.channel for spec in CHANNELS.values() if ProviderName.META in spec.providers}
    assert set(META_CHANNELS) == carried
    for row in META_CHANNELS.values():
        assert row.token in PROVIDER_SECRET_KEYS
        assert row.account in DeliverySettings.model_fields


def test_declared_keys_and_routes_are_unique() -> None:
    for declared in (PROVIDER_SECRET_KEYS, WEBHOOK_SECRET_KEYS, WEBHOOK_ROUTES):
        assert len(set(declared)) == len(declared)


@pytest.mark.parametrize(
    ("rule", "text", "masked"),
    [
        (CM_MASKING, "Number +31 6 1234 5678 rejected", "Number +31*** rejected"),
        (META_MASKING, "token EAA" + "x" * 20 + " for 31612345678", "token *** for ***"),
        (MaskRule(), "to +31612345678:\n  blocked", "to ***: blocked"),
    ],
)
def test_one_masking_helper_with_each_providers_rule(rule: MaskRule, text: str, masked: str) -> None:
    assert mask_reason(text, rule) == masked


def test_the_secret_never_survives_whatever_the_rule() -> None:
    for rule in (CM_MASKING, META_MASKING, MaskRule()):
        assert "s3cr3t" not in mask_reason("bad token s3cr3t", rule, secret="s3cr3t")
        assert len(mask_reason("x " * 500, rule)) <= rule.limit


@pytest.mark.parametrize(
    ("raw", "problem"),
    [(None, NotAnObject.EMPTY), (" ", NotAnObject.EMPTY), ("{", NotAnObject.NOT_JSON), ("[1]", NotAnObject.NOT_OBJECT)],
)
def test_the_shared_reader_says_why_a_body_is_no_object(raw: str | None, problem: NotAnObject) -> None:
    with pytest.raises(UnreadableJson) as refused:
        decode_object(raw, max_bytes=100)
    assert refused.value.problem is problem


def test_the_shared_reader_refuses_a_large_body_before_parsing_it() -> None:
    with pytest.raises(UnreadableJson) as refused:
        decode_object('{"a": "' + "x" * 200 + '"}', max_bytes=100)
    assert refused.value.problem is NotAnObject.TOO_LARGE
    assert decode_object('{"a": 1}', max_bytes=100) == {"a": 1}


def test_the_specs_load_no_delivery_adapter_nor_boto3() -> None:
    code = (
        "import sys, trialgw.providers.registry; "
        "print('boto3' in sys.modules, "
        "sorted(m for m in sys.modules if m.endswith('.delivery')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False []"
