from __future__ import annotations

from decimal import Decimal

import pytest

from qianbao.scoring.bands import (
    BANDS,
    EVERYDAY_CAP_FEN,
    MIN_LINE_FEN,
    installment_fee_rate,
    review_line,
    score_band,
)
from qianbao.scoring.card import ScoringInputError


def test_bands_cover_the_scale_without_gaps():
    assert BANDS[0].min_score == 350 and BANDS[-1].max_score == 950
    for lower, upper in zip(BANDS, BANDS[1:], strict=False):
        assert upper.min_score == lower.max_score + 1
    for s in range(350, 951):
        assert score_band(s).min_score <= s <= score_band(s).max_score


def test_lines_and_prices_improve_with_the_score():
    eligible = [b for b in BANDS if b.eligible]
    for band in eligible:
        assert isinstance(band.initial_line_fen, int)
        assert MIN_LINE_FEN <= band.initial_line_fen <= band.max_line_fen <= EVERYDAY_CAP_FEN
    for lower, upper in zip(eligible, eligible[1:], strict=False):
        assert upper.initial_line_fen > lower.initial_line_fen
        assert upper.installment_fee_discount >= lower.installment_fee_discount
        assert upper.daily_interest_rate <= lower.daily_interest_rate
    assert not score_band(500).eligible and score_band(500).initial_line_fen == 0
    assert score_band(700).to_dict()["installment_fee_discount"] == "0.20"


def test_fee_rate_is_decimal():
    assert installment_fee_rate(score_band(760), Decimal("0.088")) == Decimal("0.0616")
    assert installment_fee_rate(score_band(600), Decimal("0.045")) == Decimal("0.045")


@pytest.mark.parametrize("bad", [349, 951, -1])
def test_scores_off_the_scale_are_refused(bad):
    with pytest.raises(ScoringInputError) as err:
        score_band(bad)
    assert err.value.code == "SCORE_OUT_OF_RANGE"


def test_automatic_line_increase():
    up = review_line(500_000, 680, 3, 0)  # 5,000 CNY, very good band
    assert up.changed and up.line_fen == 600_000 and up.reason == "INCREASED"
    capped = review_line(1_400_000, 680, 6, 0)
    assert capped.line_fen == 1_500_000  # band ceiling 15,000 CNY
    assert review_line(1_500_000, 680, 6, 0).reason == "AT_BAND_CEILING"
    assert review_line(500_000, 680, 2, 0).reason == "TOO_SOON"
    assert review_line(500_000, 680, 6, 1).reason == "OVERDUE"
    assert review_line(500_000, 500, 6, 0).reason == "SCORE_TOO_LOW"
    odd = review_line(123_456, 780, 3, 0)  # steps of 100 CNY, never above the everyday cap
    assert odd.line_fen % 10_000 == 0 and odd.line_fen <= EVERYDAY_CAP_FEN
