"""Overdue interest by score band (decision 0205): configuration, pricing, worked example 7."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from qianbao.credit import lines
from qianbao.credit import service as credit
from qianbao.credit.config import band_interest_rate, load
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, counters_match_ledger, huabei_user, live, merchant
from tests.factories import PAY_PASSWORD, card_of

D = date


def test_band_rates_default_to_the_documented_table() -> None:
    cfg = load()
    assert {b: str(band_interest_rate(cfg, b)) for b in cfg.band_daily_interest_rates} == {
        "poor": "0.0005",
        "fair": "0.0005",
        "good": "0.0005",
        "very_good": "0.00045",
        "excellent": "0.0004",
        "exceptional": "0.00035",
    }
    assert credit.interest_tier(cfg, None).rate == Decimal("0.0005")  # no score: the default
    tier = credit.interest_tier(cfg, 720)
    assert (tier.rate, tier.band, tier.priced_by) == (
        Decimal("0.0004"),
        "excellent",
        "bands-v1, score 720",
    )
    # a lower default is still the ceiling for every band
    low = load({"daily_interest_rate": "0.0004"})
    assert band_interest_rate(low, "fair") == Decimal("0.0004")
    assert band_interest_rate(low, "exceptional") == Decimal("0.00035")
    part = load({"band_daily_interest_rates": {"exceptional": "0.0003"}})
    assert part.band_daily_interest_rates["excellent"] == Decimal("0.0004")
    assert band_interest_rate(part, "exceptional") == Decimal("0.0003")
    with pytest.raises(ValueError):
        band_interest_rate(cfg, "platinum")


@pytest.mark.parametrize(
    "overrides",
    [
        {"band_daily_interest_rates": {"platinum": "0.0001"}},  # unknown band
        {"band_daily_interest_rates": {"excellent": "-0.0001"}},  # negative
        {"band_daily_interest_rates": {"excellent": "0.05"}},  # above the default (ceiling)
        {"band_daily_interest_rates": {"exceptional": "0.00049"}},  # dearer than a worse band
        {"band_daily_interest_rates": {"good": "abc"}},
        {"band_daily_interest_rates": {"good": "NaN"}},
        {"band_daily_interest_rates": ["good", "0.0001"]},
        {"daily_interest_rate": "0.05"},  # 5% a day: a typo for 0.05%
        {"daily_interest_rate": "-0.0005"},
        {"daily_interest_rate": True},
    ],
)
def test_bad_interest_configuration_is_refused_at_load(overrides: dict) -> None:
    with pytest.raises(ValueError):
        load(overrides)


def test_example_7_overdue_interest_at_the_excellent_band_rate(platform: Platform) -> None:
    """docs/credit.md worked example 7: example 2's bill for a user scoring 720."""
    p = platform
    at(D(2026, 3, 1))
    lines.score_provider = lambda _p, _u: 720
    try:
        user = huabei_user(p)
    finally:
        lines.score_provider = None
    s = credit.summary(p, user)
    assert (s["line_fen"], s["interest_rate"], s["interest_band"]) == (
        1_000_000,
        "0.0004",
        "excellent",
    )
    assert s["interest_priced_by"] == "bands-v1, score 720"
    opened = credit.line_history(p, user)[0]
    assert "daily interest 0.0004" in opened["reason"]
    shop = merchant(p)
    at(D(2026, 3, 10))
    credit.pay_merchant_with_huabei(p, user, shop, 345_678, "ex7", PAY_PASSWORD)
    live(p, D(2026, 3, 10), D(2026, 4, 26))
    st = next(x for x in credit.list_statements(p, user) if x["bill_date"] == "2026-04-01")
    assert (st["status"], st["overdue_since"]) == ("OVERDUE", "2026-04-11")
    assert (st["interest_rate"], st["interest_band"]) == ("0.0004", "excellent")
    # 0.04% of 3,456.78 = 1.382712 -> 1.38 a day; 11th–26th April = 16 days
    assert st["interest_fen"] == 138 * 16 == 2_208
    assert credit.payoff_fen(p, user)[st["statement_id"]] == 345_678 + 2_208  # 26th booked
    at(D(2026, 4, 27))
    assert credit.payoff_fen(p, user)[st["statement_id"]] == 345_678 + 138 * 17
    from qianbao.payments import service as payments

    payments.topup(p, user, card_of(p, user), 348_024, "ex7-topup")
    credit.repay(p, user, 348_024, "ex7-repay", PAY_PASSWORD)  # 3,456.78 + 17 × 1.38
    st = next(x for x in credit.list_statements(p, user) if x["bill_date"] == "2026-04-01")
    assert (st["status"], st["interest_fen"], st["owed_fen"]) == ("PAID", 2_346, 0)
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


def test_rescoring_fixes_a_new_tier_and_cut_bills_keep_theirs(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=500_000)  # no score: the default rate
    assert credit.summary(p, user)["interest_rate"] == "0.0005"
    shop = merchant(p)
    at(D(2026, 3, 5))
    credit.pay_merchant_with_huabei(p, user, shop, 100_000, "t1", PAY_PASSWORD)
    live(p, D(2026, 3, 5), D(2026, 4, 1))  # March's bill is cut at the default rate

    def rescore(score: int) -> bool:
        return bool(
            p.writer_for(user).submit(
                lambda ctx: credit.reprice(ctx, user, score, "card test", "score:RESCORE")
            )
        )

    assert rescore(760) is True
    assert rescore(770) is False  # same band, same rate: nothing recorded
    s = credit.summary(p, user)
    assert (s["interest_rate"], s["interest_band"]) == ("0.00035", "exceptional")
    assert s["interest_priced_by"] == "bands-v1, score 760, card test"
    changes = [c for c in credit.line_history(p, user) if c["kind"] == "INTEREST_TIER"]
    assert len(changes) == 1 and "0.0005 (no band) -> 0.00035 (exceptional)" in changes[0]["reason"]
    april = next(x for x in credit.list_statements(p, user) if x["bill_date"] == "2026-04-01")
    assert (april["interest_rate"], april["interest_band"]) == ("0.0005", "")
    at(D(2026, 4, 2))
    credit.pay_merchant_with_huabei(p, user, shop, 100_000, "t2", PAY_PASSWORD)
    live(p, D(2026, 4, 2), D(2026, 5, 1))
    may = next(x for x in credit.list_statements(p, user) if x["bill_date"] == "2026-05-01")
    assert (may["interest_rate"], may["interest_band"]) == ("0.00035", "exceptional")
    # April's bill went overdue at its own (default) rate: 0.05% of 1,000.00 = 0.50 a day
    april = next(x for x in credit.list_statements(p, user) if x["bill_date"] == "2026-04-01")
    assert april["status"] == "OVERDUE" and april["interest_fen"] == 50 * 21  # 11 Apr–1 May
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


def test_a_platform_with_bad_interest_rates_does_not_start(tmp_path) -> None:
    from qianbao.bootstrap import open_platform
    from tests.conftest import fast_settings

    extra = {"credit": {"band_daily_interest_rates": {"platinum": "0.0001"}}}
    with pytest.raises(ValueError, match="platinum"):  # not make_platform: it copies databases
        open_platform(fast_settings(tmp_path, extra=extra))
    assert not (tmp_path / "global.db").exists()  # refused before any database was touched
