"""Properties of Yu'e Bao's income arithmetic (pure, no platform)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qianbao.wealth.model import income_fen, seven_day_percent, split_income

holdings = st.dictionaries(st.text(min_size=1, max_size=8), st.integers(0, 10**12), max_size=60)
rates = st.integers(0, 100_000)  # up to 10 CNY per 10,000 a day


@given(holdings, rates)
def test_holders_never_get_more_than_the_fund_pays_and_lose_under_a_fen_each(h, e4) -> None:
    pool = sum(h.values()) * e4 // 100_000_000  # the fund on the omnibus account
    paid, retained = split_income(h, e4, pool)
    assert sum(paid.values()) + retained == pool
    assert 0 <= retained < max(1, len(h))  # each holder's dropped fraction is below 1 fen
    for holder, fen in paid.items():
        exact = h[holder] * e4 / 100_000_000
        assert fen <= exact < fen + 1


def test_worked_figures() -> None:
    assert income_fen(1_000_000, 4_900) == 49
    assert income_fen(1_000_099, 4_750) == 47  # 47.5047
    assert income_fen(99, 10_000) == 0  # 0.0099 fen
    assert seven_day_percent([4800, 4900, 5012, 4750, 4760, 4760, 4755]) == "1.759"
    assert seven_day_percent([4800] * 6) is None


def test_paying_more_than_the_pool_is_refused() -> None:
    with pytest.raises(AssertionError):
        split_income({"a": 1_000_000}, 4_900, 48)
