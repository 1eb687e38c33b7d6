"""Full-reduction offers on a real platform: applied at the cashier (trades and wallet
payments), with coupons by the stated rules, budgets that cannot be overspent, refunded pro rata,
the ledger and the merchant's bill agreeing to the fen."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from qianbao.marketing import service as coupons
from qianbao.marketing.errors import CouponMinSpendNotMet, ReductionInvalid
from qianbao.marketing.reductions import service as reductions
from qianbao.payments import service as payments
from qianbao.payments import settlement, trades
from qianbao.platform.clock import clock, start_of_day_ms
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.moneyout.helpers import at
from tests.trades.helpers import account_fen, balance, merchant_fen, new_merchant, req

D = date(2026, 11, 11)
_n = iter(range(1, 10_000))


def _offer(p, tiers, *, budget=1_000_00, funder="PLATFORM", merchant_id=None) -> str:
    start = start_of_day_ms(D)
    row = reductions.create_campaign(
        p,
        name=f"双十一满减{next(_n)}",
        funder=funder,
        tiers=tiers,
        budget_fen=budget,
        valid_from_ms=start,
        valid_until_ms=start + 3 * 86_400_000,
        merchant_id=merchant_id,
    )
    return str(row["id"])


def _expense(p) -> int:
    return sum(-account_fen(p, "marketing_expense", u) for u in range(len(p.units)))


@pytest.fixture
def day():
    at(D)
    yield
    clock.use_real_time()


def test_a_tiered_platform_offer_at_the_cashier_and_its_refunds(platform, day):
    p = platform
    m = new_merchant(p)  # 0.6%
    campaign = _offer(p, [(100_00, 10_00), (200_00, 30_00)])
    buyer = new_user(p, balance_fen=500_00)
    t = trades.create(p, req(m, 250_00), buyer)
    paid = trades.pay(p, t["id"], buyer, PAY_PASSWORD)
    assert (paid["offer_fen"], paid["offer_funder"]) == (30_00, "PLATFORM")
    assert balance(p, buyer) == 500_00 - 220_00
    assert merchant_fen(p, m) == 250_00 - 1_50  # the platform pays the offer: full gross
    assert _expense(p) == -30_00  # marketing expense (an expense account: debit-normal)
    trades.refund(p, m, 125_00, "half", trade_no=t["id"])
    assert balance(p, buyer) == 500_00 - 220_00 + 110_00
    assert reductions.budget_of(p, campaign)["spent_fen"] == 15_00
    trades.refund(p, m, 125_00, "rest", trade_no=t["id"])
    assert balance(p, buyer) == 500_00 and merchant_fen(p, m) == 0
    assert reductions.budget_of(p, campaign)["spent_fen"] == 0 and _expense(p) == 0
    small = trades.pay(p, trades.create(p, req(m, 99_99), buyer)["id"], buyer, PAY_PASSWORD)
    assert small["offer_fen"] == 0  # below the first tier
    assert_ledger_clean(p)


def test_a_merchant_offer_with_a_coupon_by_the_rules(sqlite_platform, day):
    p = sqlite_platform
    m, other = new_merchant(p), new_merchant(p)
    _offer(p, [(100_00, 20_00)], funder="MERCHANT", merchant_id=m)
    start = start_of_day_ms(D)
    campaign = coupons.create_campaign(
        p,
        name=f"券{next(_n)}",
        funder="PLATFORM",
        face_fen=10_00,
        min_spend_fen=100_00,
        valid_from_ms=start,
        valid_until_ms=start + 86_400_000,
        per_user_limit=2,
        budget_fen=100_00,
    )
    buyer = new_user(p, balance_fen=500_00)
    coupon = coupons.issue(p, campaign["id"], buyer, "c-1")["id"]
    # 120 − 20 off = 100 left: the coupon's minimum spend of 100 is met on what is left
    t = trades.create(p, req(m, 120_00), buyer)
    paid = trades.pay(p, t["id"], buyer, PAY_PASSWORD, coupon_id=coupon)
    assert (paid["offer_fen"], paid["coupon_fen"]) == (20_00, 10_00)
    assert balance(p, buyer) == 500_00 - 90_00
    assert merchant_fen(p, m) == 100_00 - 60  # a merchant offer is a discount; fee on 100
    second = coupons.issue(p, campaign["id"], buyer, "c-2")["id"]
    short = trades.create(p, req(m, 110_00), buyer)  # 90 left after the offer: below 100
    with pytest.raises(CouponMinSpendNotMet):
        trades.pay(p, short["id"], buyer, PAY_PASSWORD, coupon_id=second)
    assert balance(p, buyer) == 500_00 - 90_00
    elsewhere = trades.pay(
        p, trades.create(p, req(other, 150_00), buyer)["id"], buyer, PAY_PASSWORD
    )
    assert elsewhere["offer_fen"] == 0  # the merchant's own offer only at the merchant
    trades.refund(p, m, 60_00, "half", trade_no=t["id"])  # 10 off back to the merchant's gross
    assert merchant_fen(p, m) == 100_00 - 60 - (50_00 - 30)
    at(D + timedelta(days=1))
    for merchant in (m, other):
        assert settlement.reconcile(p, merchant, D)["difference_fen"] == 0
    assert_ledger_clean(p)


def test_the_budget_cannot_be_overspent_and_replays_use_it_once(sqlite_platform, day):
    p = sqlite_platform
    m = new_merchant(p, "0")
    campaign = _offer(p, [(50_00, 10_00)], budget=30_00)  # 15 CNY in each of two units
    buyers = [new_user(p, unit=u, balance_fen=500_00) for u in (0, 0, 1, 1)]
    done = [
        payments.pay_merchant(p, b, m, 60_00, f"w-{i}", PAY_PASSWORD) for i, b in enumerate(buyers)
    ]
    again = payments.pay_merchant(p, buyers[0], m, 60_00, "w-0", PAY_PASSWORD)
    assert again["id"] == done[0]["id"]
    paid = [500_00 - balance(p, b) for b in buyers]
    assert paid == [50_00, 60_00, 50_00, 60_00]  # one use per unit slice of 15
    budget = reductions.budget_of(p, campaign)
    assert (budget["spent_fen"], budget["left_fen"]) == (20_00, 10_00)
    assert all(s["spent_fen"] <= s["budget_fen"] for s in budget["by_unit"])
    assert merchant_fen(p, m) == 4 * 60_00
    payments.refund(p, m, done[0]["id"], 60_00, "r-0")
    assert balance(p, buyers[0]) == 500_00
    assert reductions.budget_of(p, campaign)["spent_fen"] == 10_00
    assert_ledger_clean(p)


def test_bad_campaigns_are_refused(sqlite_platform, day):
    p = sqlite_platform
    m = new_merchant(p)
    for kw in (
        {"tiers": [(100_00, 100_00)]},
        {"funder": "MERCHANT"},  # a merchant offer needs its merchant
        {"budget": 5_00},  # below one use
        {"funder": "BANK", "merchant_id": m},
    ):
        args = {"tiers": [(100_00, 10_00)], **kw}
        with pytest.raises(ReductionInvalid):
            _offer(p, args.pop("tiers"), **args)
    assert reductions.list_campaigns(p) == []
