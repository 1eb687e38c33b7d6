"""Paying with Yu'e Bao (a funding source of the one engine) and Huabei's auto-debit falling
through the wallet → Yu'e Bao → the bound card, to the fen."""

from __future__ import annotations

from datetime import date as D

import pytest

from qianbao.credit import dayend as huabei_day
from qianbao.credit import service as credit
from qianbao.ledger.service import balance_in
from qianbao.payments import service as payments
from qianbao.payments import trades
from qianbao.platform.errors import IdempotencyKeyReused, InsufficientBalance, QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.wealth import service as yeb
from qianbao.wealth.reconcile import reconcile
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, card_of, new_user
from tests.trades.helpers import merchant_fen, new_merchant, req
from tests.wealth.helpers import at, end, publish, start

MON, TUE, WED = D(2026, 6, 15), D(2026, 6, 16), D(2026, 6, 17)


def wallet(p: Platform, user_id: str) -> int:
    with p.db_for(user_id).read() as tx:
        return balance_in(tx, f"user_balance:{user_id}")


def holder(p: Platform, shares_fen: int, balance_fen: int = 0) -> str:
    """A user holding ``shares_fen`` confirmed shares on Tuesday morning (no income yet)."""
    at(MON, 10)
    user = new_user(p, balance_fen=shares_fen + balance_fen, password_free_fen=200_000)
    yeb.subscribe(p, user, shares_fen, "seed")
    publish(p, {MON: "0.0000", TUE: "0.0000", WED: "0.0000"})  # no income in these examples
    end(p, MON)
    start(p, TUE)
    assert yeb.holdings(p, user)["shares_fen"] == shares_fen
    return user


def test_pay_a_trade_with_yuebao_and_refund_it(yp: Platform) -> None:
    p = yp
    buyer = holder(p, 50_000)
    shop = new_merchant(p, fee_rate="0.006")
    at(TUE, 11)
    t = trades.create(p, req(shop, 12_345), buyer)
    paid = trades.pay(p, t["id"], buyer, PAY_PASSWORD, funding="YUEBAO")
    assert paid["status"] == "TRADE_SUCCESS"
    # the buyer's shares pay 12,345; the merchant gets 12,345 less the fee 74 (0.6%, half-up)
    assert yeb.holdings(p, buyer)["shares_fen"] == 50_000 - 12_345
    assert merchant_fen(p, shop) == 12_345 - 74
    with pytest.raises(QianbaoError) as twice:  # a paid trade is not paid twice
        trades.pay(p, t["id"], buyer, PAY_PASSWORD, funding="YUEBAO")
    assert twice.value.code == "TRADE_HAS_SUCCESS"
    assert yeb.holdings(p, buyer)["shares_fen"] == 37_655
    big = trades.create(p, req(shop, 40_000), buyer)
    with pytest.raises(InsufficientBalance):
        trades.pay(p, big["id"], buyer, PAY_PASSWORD, funding="YUEBAO")
    assert yeb.holdings(p, buyer)["shares_fen"] == 37_655 and wallet(p, buyer) == 0
    trades.refund(p, shop, 2_345, "rf-1", trade_no=t["id"])
    held = yeb.holdings(p, buyer)
    assert (held["shares_fen"], held["pending_fen"]) == (37_655, 2_345)  # back as a subscription
    kinds = {(o["kind"], o["mode"], o["amount_fen"]) for o in yeb.orders(p, buyer)}
    assert {("REDEEM", "PAY", 12_345), ("SUBSCRIBE", "REFUND", 2_345)} <= kinds
    end(p, TUE)  # the payment's redemption and the refund's subscription go to the fund
    start(p, WED)
    assert yeb.holdings(p, buyer)["shares_fen"] == 40_000
    end(p, WED)
    assert all(r["status"] == "BALANCED" for r in reconcile(p, WED))
    assert_ledger_clean(p)


def test_huabei_autodebit_falls_through_wallet_then_yuebao_then_card(yp: Platform) -> None:
    p = yp
    user = holder(p, 30_000, balance_fen=10_000)
    credit.open_credit_account(p, user, f"open-{user}")
    credit.operator_set_line(p, "op-test", user, 500_000, "test line")
    credit.set_autodebit(p, user, True)
    shop = new_merchant(p)
    at(TUE, 12)
    credit.pay_merchant_with_huabei(p, user, shop, 50_000, "hb-1", PAY_PASSWORD)
    assert wallet(p, user) == 10_000
    bill_day, due_day = D(2026, 7, 1), D(2026, 7, 10)
    at(bill_day, 1)
    huabei_day.start_of_day(p, bill_day)
    at(due_day, 23)
    out = huabei_day.autodebit(p, due_day)
    # 500 CNY due: 100 from the wallet, 300 from Yu'e Bao, the last 100 from the bound card
    assert out == {"balance_fen": 10_000, "other_fen": 30_000, "card_fen": 10_000}
    assert wallet(p, user) == 0 and yeb.holdings(p, user)["shares_fen"] == 0
    assert credit.summary(p, user)["receivable_fen"] == 0
    orders = yeb.orders(p, user)
    assert (orders[0]["mode"], orders[0]["amount_fen"]) == ("AUTODEBIT", 30_000)
    again = huabei_day.autodebit(p, due_day)  # a re-run of the day moves nothing
    assert again == {"balance_fen": 0, "other_fen": 0, "card_fen": 0}
    assert card_of(p, user)
    assert_ledger_clean(p)


def test_a_wallet_payment_with_yuebao_replayed_and_refunded(yp: Platform) -> None:
    p = yp
    buyer = holder(p, 20_000, balance_fen=5_000)
    shop = new_merchant(p, fee_rate="0.006")
    at(TUE, 11)
    paid = payments.pay_merchant(p, buyer, shop, 8_000, "w-1", PAY_PASSWORD, funding="YUEBAO")
    again = payments.pay_merchant(p, buyer, shop, 8_000, "w-1", PAY_PASSWORD, funding="YUEBAO")
    assert again["id"] == paid["id"] and paid["funding"] == "YUEBAO"
    with pytest.raises(IdempotencyKeyReused):  # the same key paid from the balance instead
        payments.pay_merchant(p, buyer, shop, 8_000, "w-1", PAY_PASSWORD)
    assert yeb.holdings(p, buyer)["shares_fen"] == 12_000 and wallet(p, buyer) == 5_000
    assert merchant_fen(p, shop) == 8_000 - 48  # the fee: 0.6% of 8,000
    with pytest.raises(QianbaoError) as bad:
        payments.pay_merchant(p, buyer, shop, 100, "w-2", PAY_PASSWORD, funding="HUABEI")
    assert bad.value.code == "FUNDING_INVALID"
    payments.refund(p, shop, paid["id"], 3_000, "wr-1")
    held = yeb.holdings(p, buyer)
    assert (held["shares_fen"], held["pending_fen"], wallet(p, buyer)) == (12_000, 3_000, 5_000)
    assert_ledger_clean(p)
