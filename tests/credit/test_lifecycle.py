"""Lines, reviews, buckets, provisions, write-offs, eligibility, CLI and a small simulation."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qianbao.credit import dayend, lines
from qianbao.credit import service as credit
from qianbao.credit.config import CreditConfig, load
from qianbao.credit.errors import AccountExists, LineExceeded, NotEligible
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import get_account
from qianbao.members.merchant_category import set_category as set_merchant_category
from qianbao.payments import service as payments
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, counters_match_ledger, huabei_user, live, merchant
from tests.factories import PAY_PASSWORD, new_user

D = date


def test_initial_line_rule_uses_the_users_data() -> None:
    cfg = CreditConfig()
    young, why = credit.initial_line(
        cfg, age=19, kyc_level=1, tenure_days=0, cards=0, balance_fen=0
    )
    assert young == 50_000 and "age 19" in why  # 1,000 × 0.5 = 500 CNY
    settled, _ = credit.initial_line(
        cfg, age=40, kyc_level=2, tenure_days=400, cards=3, balance_fen=1_000_000
    )
    assert settled == 300_000 * 2 + 200_000 + 200_000  # base×tenure + 20% wallet + 2 cards
    assert (
        credit.initial_line(cfg, age=40, kyc_level=3, tenure_days=999, cards=3, balance_fen=10**9)[
            0
        ]
        == 800_000 * 2 + 1_000_000 + 200_000
    )
    same = {"age": 30, "kyc_level": 1, "tenure_days": 0, "cards": 0, "balance_fen": 0}
    assert credit.initial_line(cfg, **same, score=950)[0] == 2_000_000  # band exceptional
    assert credit.initial_line(cfg, **same, score=620)[0] == 200_000  # band good
    with pytest.raises(NotEligible):
        credit.initial_line(cfg, **same, score=500)  # band poor


def test_config_overrides_are_checked() -> None:
    cfg = load(
        {"due_day": 9, "daily_interest_rate": "0.0004", "bill_installment_rates": {"3": "0.03"}}
    )
    assert cfg.due_day == 9 and str(cfg.daily_interest_rate) == "0.0004"
    assert cfg.bill_installment_rates == {3: __import__("decimal").Decimal("0.03")}
    with pytest.raises(ValueError):
        load({"no_such_rate": 1})


def test_one_account_per_user_and_everyday_cap(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=4_000_000)
    with pytest.raises(AccountExists):
        credit.open_credit_account(p, user, "another-request")
    shop = merchant(p)
    with pytest.raises(LineExceeded):  # everyday use stops at 30,000 CNY
        credit.pay_merchant_with_huabei(p, user, shop, 3_000_001, "big", PAY_PASSWORD)
    credit.pay_merchant_with_huabei(p, user, shop, 3_000_000, "ok", PAY_PASSWORD)
    clinic = merchant(p)  # medical use above the cap: the merchant's category, not the buyer's
    set_merchant_category(p, clinic, "medical")
    credit.pay_merchant_with_huabei(p, user, clinic, 1_000_000, "medical", PAY_PASSWORD)
    with pytest.raises(LineExceeded):
        credit.pay_merchant_with_huabei(p, user, clinic, 1, "over", PAY_PASSWORD)
    counters_match_ledger(p, user)


def test_good_behaviour_raises_the_line_and_requests_are_recorded(
    platform: Platform,
) -> None:
    p = platform
    at(D(2026, 1, 2))
    user = huabei_user(p, line_fen=100_000, balance_fen=1_000_000, autodebit=True)
    shop = merchant(p)
    buys = {
        D(2026, m, 15): (
            lambda m=m: credit.pay_merchant_with_huabei(
                p, user, shop, 40_000, f"m{m}", PAY_PASSWORD
            )
        )
        for m in (1, 2, 3, 4)
    }
    live(p, D(2026, 1, 2), D(2026, 5, 1), buys)
    history = credit.line_history(p, user)
    assert [(h["kind"], h["new_line_fen"]) for h in history][-1] == ("AUTO_INCREASE", 120_000)
    at(D(2026, 5, 2))
    rejected = credit.request_increase(p, user, 500_000, "ask-1")
    assert rejected["decision"] == "REJECTED" and "above" in rejected["reason"]
    approved = credit.request_increase(p, user, 150_000, "ask-2")
    assert approved["decision"] == "APPROVED"
    assert credit.summary(p, user)["line_fen"] == 150_000
    assert credit.request_increase(p, user, 150_000, "ask-2")["id"] == approved["id"]
    assert_ledger_clean(p)


def test_reviews_rescore_and_respect_the_score_band(platform: Platform, trained_registry) -> None:
    from qianbao.demo import SAMPLE_ANSWERS
    from qianbao.scoring import service as scoring
    from qianbao.scoring.bands import score_band
    from tests.conftest import use_trained_card

    p = platform
    use_trained_card(p, trained_registry)
    at(D(2026, 1, 2))
    user = huabei_user(p, line_fen=100_000, balance_fen=1_000_000, autodebit=True)
    names = set(scoring.active_card(p).inputs)
    scoring.score_user(
        p, user, {k: v for k, v in SAMPLE_ANSWERS.items() if k in names}, reason="APPLICATION"
    )
    shop = merchant(p)
    buys = {
        D(2026, m, 15): (
            lambda m=m: credit.pay_merchant_with_huabei(
                p, user, shop, 40_000, f"r{m}", PAY_PASSWORD
            )
        )
        for m in (1, 2, 3, 4)
    }
    live(p, D(2026, 1, 2), D(2026, 5, 1), buys)
    reasons = [s["reason"] for s in scoring.history(p, user)]
    assert "RESCORE" in reasons and reasons[-1] == "APPLICATION"
    band = score_band(scoring.latest(p, user)["score"])
    line = credit.summary(p, user)["line_fen"]
    assert line == (min(120_000, band.max_line_fen) if band.eligible else 100_000)
    # every stored score (application, re-scores) fixes the account's interest tier
    tier = credit.summary(p, user)
    assert (tier["interest_band"], tier["interest_rate"]) == (
        band.name,
        str(credit.interest_tier(credit.config_for(p), scoring.latest(p, user)["score"]).rate),
    )
    assert_ledger_clean(p)


def test_buckets_provision_and_write_off(platform: Platform) -> None:
    p = platform
    at(D(2026, 1, 2))
    user = huabei_user(p, line_fen=500_000)
    good = huabei_user(p, line_fen=500_000, balance_fen=500_000, autodebit=True)
    shop = merchant(p)
    at(D(2026, 1, 5))
    credit.pay_merchant_with_huabei(p, user, shop, 100_000, "gone", PAY_PASSWORD)
    credit.pay_merchant_with_huabei(p, good, shop, 50_000, "fine", PAY_PASSWORD)
    live(p, D(2026, 1, 5), D(2026, 3, 15))
    # 33 days past due on 15 Mar: bucket 31-60 (30%); 1.00 CNY of interest a day
    rep = dayend.portfolio_report(p, D(2026, 3, 15))
    assert credit.summary(p, user)["overdue_days"] == 33
    assert rep["bucket_receivables_fen"][2] == 100_000 + 50 * 33
    assert rep["provision_fen"] == round((100_000 + 50 * 33) * 0.30)
    assert rep["overdue_accounts"] == 1
    unit = p.unit_of(user)
    provision = get_account(p.units[unit], unit_account("provision", unit))["balance_fen"]
    assert provision == sum(int(r["provision_fen"]) for r in [_day_row(p, unit, "2026-03-15")])
    live(p, D(2026, 3, 16), D(2026, 8, 11))
    s = credit.summary(p, user)
    assert s["status"] == "CLOSED" and s["receivable_fen"] == 0
    # written off at the end of 10 Aug, 181 days past due: principal + 181 days of interest
    assert s["written_off_fen"] == 100_000 + 50 * 181
    beyond = get_account(p.units[unit], unit_account("credit_write_off", unit))["balance_fen"]
    assert beyond == 0  # 90+ days at 100%: the provision absorbed the whole loss
    rep = dayend.portfolio_report(p, D(2026, 8, 11))
    assert rep["written_off_fen"] == s["written_off_fen"] and rep["overdue_accounts"] == 0
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


def _day_row(p: Platform, unit: int, day: str) -> dict:
    with p.units[unit].read() as tx:
        row = tx.one("SELECT * FROM credit_day_end WHERE day = :d", {"d": day})
    assert row is not None
    return dict(row)


def test_under_age_users_cannot_register_and_so_cannot_open(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = new_user(p)
    row = credit.open_credit_account(p, user, "o")
    assert row["status"] == "ACTIVE" and row["due_day"] == 10
    with p.db_for(user).read() as tx:
        assert (
            tx.one("SELECT kind FROM credit_line_changes WHERE user_id = :u", {"u": user})["kind"]
            == "OPEN"
        )


def test_cli_and_small_simulation(tmp_path: Path) -> None:
    from qianbao.credit.cli import simulate_app

    out = tmp_path / "sim"
    result = CliRunner().invoke(
        simulate_app,
        [
            "credit",
            "--users",
            "40",
            "--months",
            "3",
            "--seed",
            "7",
            "--out",
            str(out),
            "--threads",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["users"] == 40 and summary["months"] == 3 and summary["ledger_check_ok"]
    assert summary["seconds"] > 0 and len(summary["monthly"]) == 3
    assert {"receivables_fen", "overdue_rate", "provision_fen"} <= set(summary["monthly"][0])
    for name in (
        "receivables.png",
        "overdue_rate.png",
        "income.png",
        "provision.png",
        "monthly.csv",
    ):
        assert (out / name).stat().st_size > 0


def test_automatic_debit_wallet_then_card_on_the_due_date_only(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=500_000, balance_fen=30_000, autodebit=True)
    shop = merchant(p)
    at(D(2026, 3, 5))
    credit.pay_merchant_with_huabei(p, user, shop, 100_000, "ad", PAY_PASSWORD)
    live(p, D(2026, 3, 5), D(2026, 4, 9))
    assert credit.list_statements(p, user)[0]["paid_fen"] == 0  # nothing before the due date
    live(p, D(2026, 4, 10), D(2026, 4, 10))
    bill = credit.list_statements(p, user)[0]
    assert (bill["status"], bill["paid_fen"], bill["interest_fen"]) == ("PAID", 100_000, 0)
    sources = sorted((r["source"], r["amount_fen"]) for r in credit.repayments(p, user))
    assert sources == [("AUTO_BALANCE", 30_000), ("AUTO_CARD", 70_000)]
    assert payments.balance(p, user)["balance_fen"] == 0
    assert_ledger_clean(p)


def test_the_score_sets_the_opening_line_and_history_feeds_the_score(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    low, good = new_user(p), new_user(p)
    try:
        lines.score_provider = lambda _p, user_id: 500 if user_id == low else 700
        with pytest.raises(NotEligible):
            credit.open_credit_account(p, low, "o-low")
        assert credit.open_credit_account(p, good, "o-good")["line_fen"] == 1_000_000
    finally:
        lines.score_provider = None
    assert credit.repayment_history(p, good) == {
        "huabei_bills_paid_on_time": 0,
        "huabei_bills_overdue": 0,
        "max_overdue_days": 0,
        "current_overdue_fen": 0,
    }
