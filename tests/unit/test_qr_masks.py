"""trialgw.qr_masks against segno itself: the eight penalties segno computes, the mask it chooses, and the code it
draws with it, for every QR code version and for arbitrary text."""

from __future__ import annotations

import random
import string

import pytest
import segno
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from segno import encoder

from trialgw.qr import ERROR, qr_svg, svg_of
from trialgw.qr_masks import best_mask, mask_penalties, remask

VERSIONS = range(1, 41)


def _content(version: int) -> str:
    """A link-like text that fits the version (versions 1, 2 and 3 hold 14, 26 and 42 bytes at level M), different
    for each version."""
    rng = random.Random(version)
    return "wa.me/" + "".join(
        rng.choice(string.ascii_letters + string.digits + "%?&=") for _ in range(8 if version < 3 else 30)
    )


def _segnos_penalties(monkeypatch: pytest.MonkeyPatch, content: str, version: int | None) -> tuple[list[int], int]:
    """segno's own search for `content`: the score it gave each mask, in order, and the mask it chose."""
    scores: list[int] = []
    evaluate = encoder.evaluate_mask

    def recorded(matrix: tuple[bytearray, ...], width: int, height: int) -> int:
        scores.append(evaluate(matrix, width, height))
        return scores[-1]

    monkeypatch.setattr(encoder, "evaluate_mask", recorded)
    chosen = segno.make_qr(content, error=ERROR, version=version, boost_error=False).mask
    monkeypatch.undo()
    return scores, chosen


@pytest.mark.parametrize("version", VERSIONS)
def test_each_masks_penalty_is_the_one_segno_computes(monkeypatch: pytest.MonkeyPatch, version: int) -> None:
    # Every version: the alignment patterns (Annex E) change with it, and from 7 on there are version areas.
    content = _content(version)
    expected, chosen = _segnos_penalties(monkeypatch, content, version)
    drawn_with_mask_0 = segno.make_qr(content, error=ERROR, version=version, boost_error=False, mask=0)
    assert len(expected) == 8
    assert mask_penalties(drawn_with_mask_0.matrix) == expected
    assert best_mask(drawn_with_mask_0.matrix) == chosen


@pytest.mark.parametrize("version", [1, 2, 6, 7, 14, 40])
@pytest.mark.parametrize("mask", range(8))
def test_remask_draws_the_code_segno_draws_with_that_mask(version: int, mask: int) -> None:
    content = _content(version)
    code = segno.make_qr(content, error=ERROR, version=version, boost_error=False, mask=0)
    remask(code, mask)
    expected = segno.make_qr(content, error=ERROR, version=version, boost_error=False, mask=mask)
    assert code.mask == mask
    assert [bytes(row) for row in code.matrix] == [bytes(row) for row in expected.matrix]


@pytest.mark.parametrize("error", ["L", "M", "Q", "H"])
def test_remask_writes_the_format_information_of_every_error_level(error: str) -> None:
    for mask in range(8):
        code = segno.make_qr("join amber-fox-river-482", error=error, boost_error=False, mask=0)
        remask(code, mask)
        assert (
            code.matrix == segno.make_qr("join amber-fox-river-482", error=error, boost_error=False, mask=mask).matrix
        )


@settings(max_examples=300, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(min_size=1, max_size=120) | st.from_regex(r"(https://wa\.me/|sms:\+)[0-9]{6,15}\?text=join%20[a-z-]+"))
def test_the_svg_is_segnos_own_byte_for_byte(content: str) -> None:
    # Numeric, alphanumeric, byte and kanji data, and the dashboard's links: the mask segno would choose, and its SVG.
    assert qr_svg(content) == svg_of(segno.make_qr(content, error=ERROR, boost_error=False))


def test_the_dashboards_links_need_other_masks_than_the_first() -> None:
    # The search matters: these links' best masks differ, so any fixed mask would draw another code for one of them.
    links = [
        "https://wa.me/31201234567?text=join%20amber-fox-river-482",
        "sms:+31201234567?body=join%20amber-fox-river-482",
        "sms:+12025550123?body=join%20amber-fox-river-482",
    ]
    masks = [best_mask(segno.make_qr(link, error=ERROR, boost_error=False, mask=0).matrix) for link in links]
    assert masks == [segno.make_qr(link, error=ERROR, boost_error=False).mask for link in links]
    assert len(set(masks)) > 1
