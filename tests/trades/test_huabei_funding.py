"""Huabei (花呗) as a funding source at the cashier: instant and secured trades, refunds, and the
refusals, with real services; every test ends with the whole ledger checked."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from qianbao.api import trades as trade_api
from qianbao.api.app import create_app
from qianbao.api.page_login import USER_COOKIE
from qianbao.credit import service as credit
from qianbao.members import service as members
from qianbao.payments import secured, settlement, trades
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, counters_match_ledger, huabei_user, live, receivable_balance
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user, page_csrf
from tests.trades.helpers import account_fen, balance, merchant_fen, new_merchant, req

D = date


def _pay(p: Platform, trade_id: str, buyer: str, **kw: object) -> dict[str, object]:
    return trades.pay(p, trade_id, buyer, PAY_PASSWORD, funding=trades.HUABEI, **kw)  # type: ignore[arg-type]


def _code(p: Platform, trade_id: str, buyer: str, **kw: object) -> str:
    with pytest.raises(QianbaoError) as e:
        _pay(p, trade_id, buyer, **kw)
    return e.value.code


def _bills(p: Platform, user: str) -> dict[str, int]:
    return {b["bill_date"]: b["total_fen"] for b in credit.list_statements(p, user)}


def test_instant_trade_paid_with_huabei(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 2))
    buyer = huabei_user(p, line_fen=100_000, balance_fen=5_000)
    m = new_merchant(p)
    trade = trades.create(p, req(m, 12_34), buyer)
    paid = _pay(p, trade["id"], buyer)
    assert (paid["status"], paid["funding"], paid["fee_fen"]) == ("TRADE_SUCCESS", "HUABEI", 7)
    assert merchant_fen(p, m) == 12_34 - 7  # paid at once, minus the 0.6% fee
    assert balance(p, buyer) == 5_000  # the wallet is not touched
    s = credit.summary(p, buyer)
    assert (s["available_fen"], s["unbilled_fen"]) == (100_000 - 12_34, 12_34)
    assert receivable_balance(p, buyer) == 12_34
    [purchase] = credit.list_purchases(p, buyer)
    assert (purchase["ref"], purchase["merchant_id"], purchase["amount_fen"]) == (
        trade["id"],
        m,
        12_34,
    )
    # the same payment again is refused by the trade's state and moves nothing
    assert _code(p, trade["id"], buyer) == "TRADE_HAS_SUCCESS"
    assert trades.pay_static_qr(p, m, buyer, 1_00, PAY_PASSWORD, "qr-1", funding=trades.HUABEI)[
        "funding"
    ] == ("HUABEI")
    again = trades.pay_static_qr(p, m, buyer, 1_00, PAY_PASSWORD, "qr-1", funding=trades.HUABEI)
    assert again["status"] == "TRADE_SUCCESS"  # same request id: the first outcome
    assert credit.summary(p, buyer)["available_fen"] == 100_000 - 12_34 - 1_00
    assert merchant_fen(p, m) == 12_34 - 7 + 1_00 - 1
    assert len(credit.list_purchases(p, buyer)) == 2
    live(p, D(2026, 3, 2), D(2026, 4, 1))
    assert _bills(p, buyer) == {"2026-04-01": 13_34}  # instant purchases bill the next month
    counters_match_ledger(p, buyer)
    assert_ledger_clean(p)


def test_installments_and_merchant_subsidy(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    at(D(2026, 3, 2))
    buyer = huabei_user(p, line_fen=100_000)
    m = new_merchant(p)
    t1 = trades.create(p, req(m, 30_000), buyer)
    _pay(p, t1["id"], buyer, installments=3)
    s = credit.summary(p, buyer)
    assert (s["available_fen"], s["installment_outstanding_fen"]) == (70_000, 30_000)
    assert merchant_fen(p, m) == 30_000 - 180  # the buyer pays the plan fee: merchant untouched
    [plan] = credit.list_plans(p, buyer)
    assert (plan["periods"], plan["principal_fen"], plan["subsidised"]) == (3, 30_000, 0)

    t2 = trades.create(p, req(m, 20_000), buyer)
    _pay(p, t2["id"], buyer, installments=6, subsidised=True)
    subsidised = next(x for x in credit.list_plans(p, buyer) if x["subsidised"])
    plan_fee = int(subsidised["fee_fen"])
    assert plan_fee > 0
    assert merchant_fen(p, m) == 30_000 - 180 + 20_000 - 120 - plan_fee
    # a full refund gives the merchant its subsidy back and the buyer the whole line
    trades.refund(p, m, 20_000, "r-sub", trade_no=t2["id"])
    assert merchant_fen(p, m) == 30_000 - 180
    assert credit.summary(p, buyer)["available_fen"] == 70_000
    closed = trades.get_trade(p, t2["id"])
    assert (closed["status"], closed["subsidy_fen"], closed["subsidy_refunded_fen"]) == (
        "TRADE_CLOSED",
        plan_fee,
        plan_fee,
    )
    bill = settlement.merchant_bill(p, m, D(2026, 3, 2))  # the subsidy shows as a fee
    assert [(x["type"], x["fee_fen"]) for x in bill.lines if x["trade_no"] == t2["id"]] == [
        ("PAYMENT", 120 + plan_fee),
        ("REFUND", -(120 + plan_fee)),
    ]
    assert settlement.reconcile(p, m, D(2026, 3, 2))["difference_fen"] == 0
    counters_match_ledger(p, buyer)
    assert_ledger_clean(p)


def test_refusals_move_nothing(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    at(D(2026, 3, 2))
    buyer = huabei_user(p, line_fen=50_000, balance_fen=60_000)
    m = new_merchant(p)
    big = trades.create(p, req(m, 50_001), buyer)
    assert _code(p, big["id"], buyer) == "CREDIT_LINE_EXCEEDED"
    assert _code(p, big["id"], buyer, installments=5) == "INSTALLMENTS_INVALID"
    with pytest.raises(QianbaoError) as e:  # installments belong to Huabei only
        trades.pay(p, big["id"], buyer, PAY_PASSWORD, installments=3)
    assert e.value.code == "INSTALLMENTS_INVALID"
    with pytest.raises(QianbaoError) as e:
        trades.pay(p, big["id"], buyer, PAY_PASSWORD, funding="CREDIT")
    assert e.value.code == "FUNDING_INVALID"
    secured = trades.create(p, req(m, 5_000, product=trades.SECURED), buyer)
    assert _code(p, secured["id"], buyer, installments=3) == "CREDIT_INSTALLMENT_NOT_ALLOWED"
    stranger = new_user(p, balance_fen=50_000)  # no Huabei account
    other = trades.create(p, req(m, 1_00), stranger)
    assert _code(p, other["id"], stranger) == "CREDIT_ACCOUNT_NOT_FOUND"
    for t in (big, secured):
        assert trades.get_trade(p, t["id"])["status"] == "WAIT_BUYER_PAY"
    assert credit.summary(p, buyer)["available_fen"] == 50_000
    assert receivable_balance(p, buyer) == 0 and credit.list_purchases(p, buyer) == []
    assert merchant_fen(p, m) == 0 and balance(p, buyer) == 60_000
    # exactly the line is fine
    exact = trades.create(p, req(m, 50_000), buyer)
    assert _pay(p, exact["id"], buyer)["status"] == "TRADE_SUCCESS"
    assert credit.summary(p, buyer)["available_fen"] == 0
    assert_ledger_clean(p)


def test_secured_trade_enters_the_bill_when_confirmed(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    buyer = huabei_user(p, line_fen=100_000, balance_fen=20_000)
    m = new_merchant(p)
    at(D(2026, 3, 20))
    slow = trades.create(p, req(m, 60_000, product=trades.SECURED), buyer)
    auto = trades.create(p, req(m, 10_000, product=trades.SECURED), buyer)
    for t in (slow, auto):
        assert _pay(p, t["id"], buyer)["status"] == "WAIT_SELLER_SEND_GOODS"
    assert credit.summary(p, buyer)["available_fen"] == 30_000
    assert merchant_fen(p, m) == 0 and account_fen(p, "escrow", p.unit_of(buyer)) == 70_000
    secured.ship(p, m, auto["id"])
    # auto-confirm after 10 days (March 30): billed on April 1; the slow one is not
    live(p, D(2026, 3, 20), D(2026, 4, 5), {D(2026, 3, 31): lambda: secured.run_due_jobs(p)})
    assert trades.get_trade(p, auto["id"])["status"] == "TRADE_FINISHED"
    assert _bills(p, buyer) == {"2026-04-01": 10_000}
    credit.repay(p, buyer, 10_000, "repay-april", PAY_PASSWORD)
    secured.ship(p, m, slow["id"])
    at(D(2026, 4, 6))
    done = secured.confirm_receipt(p, buyer, slow["id"], PAY_PASSWORD)
    assert done["status"] == "TRADE_FINISHED"
    assert merchant_fen(p, m) == 70_000 - 360 - 60
    assert account_fen(p, "escrow", p.unit_of(buyer)) == 0
    live(p, D(2026, 4, 6), D(2026, 5, 1))
    assert _bills(p, buyer) == {"2026-04-01": 10_000, "2026-05-01": 60_000}
    assert credit.summary(p, buyer)["available_fen"] == 40_000
    counters_match_ledger(p, buyer)
    assert_ledger_clean(p)


def test_secured_refund_before_shipping_restores_the_line(
    sqlite_platform: Platform,
) -> None:
    p = sqlite_platform
    at(D(2026, 3, 3))
    buyer = huabei_user(p, line_fen=50_000)
    m = new_merchant(p)
    t = trades.create(p, req(m, 8_000, product=trades.SECURED), buyer)
    _pay(p, t["id"], buyer)
    trades.refund(p, m, 3_000, "part", trade_no=t["id"])
    assert credit.summary(p, buyer)["available_fen"] == 45_000
    assert trades.cancel(p, m, trade_no=t["id"])[1] == "refund"
    assert trades.get_trade(p, t["id"])["status"] == "TRADE_CLOSED"
    assert credit.summary(p, buyer)["available_fen"] == 50_000
    assert receivable_balance(p, buyer) == 0 and merchant_fen(p, m) == 0
    live(p, D(2026, 3, 3), D(2026, 4, 1))
    assert _bills(p, buyer) == {}
    assert_ledger_clean(p)


def test_partial_then_full_refund_restores_line_and_owed(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 2))
    buyer = huabei_user(p, line_fen=100_000, balance_fen=3_000)
    m = new_merchant(p)
    t = trades.create(p, req(m, 20_000), buyer)
    _pay(p, t["id"], buyer)
    assert merchant_fen(p, m) == 20_000 - 120
    at(D(2026, 3, 5))
    r1 = trades.refund(p, m, 5_000, "r1", trade_no=t["id"])
    assert trades.refund(p, m, 5_000, "r1", trade_no=t["id"])["id"] == r1["id"]  # replay
    assert r1["fee_refund_fen"] == 30
    s = credit.summary(p, buyer)
    assert (s["available_fen"], s["unbilled_fen"]) == (85_000, 15_000)
    assert merchant_fen(p, m) == 15_000 - 90 and balance(p, buyer) == 3_000
    live(p, D(2026, 3, 5), D(2026, 4, 2))
    [bill] = credit.list_statements(p, buyer)
    assert (bill["total_fen"], bill["owed_fen"]) == (15_000, 15_000)
    credit.repay(p, buyer, 2_000, "part-repay", PAY_PASSWORD)  # the buyer repaid a part
    at(D(2026, 4, 3))
    trades.refund(p, m, 15_000, "r2", trade_no=t["id"])
    closed = trades.get_trade(p, t["id"])
    assert (closed["status"], closed["refunded_fen"], closed["fee_refunded_fen"]) == (
        "TRADE_CLOSED",
        20_000,
        120,
    )
    [bill] = credit.list_statements(p, buyer)
    assert bill["owed_fen"] == 0
    s = credit.summary(p, buyer)
    assert (s["available_fen"], s["owed_now_fen"]) == (100_000, 0)
    assert receivable_balance(p, buyer) == 0
    assert balance(p, buyer) == 3_000  # what was repaid came back to the wallet
    assert merchant_fen(p, m) == 0
    with pytest.raises(QianbaoError) as e:
        trades.refund(p, m, 1, "r3", trade_no=t["id"])
    assert e.value.code == "TRADE_HAS_CLOSED"
    counters_match_ledger(p, buyer)
    assert_ledger_clean(p)


def test_frozen_or_overdue_huabei_cannot_pay(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    at(D(2026, 3, 10))
    buyer = huabei_user(p, line_fen=100_000, balance_fen=100_000)
    m = new_merchant(p)
    credit.operator_freeze(p, "op-test", buyer, True, "suspected cash-out")
    t = trades.create(p, req(m, 1_000), buyer)
    assert _code(p, t["id"], buyer) == "CREDIT_FROZEN"
    credit.operator_freeze(p, "op-test", buyer, False, "")
    _pay(p, t["id"], buyer)
    live(p, D(2026, 3, 10), D(2026, 4, 12))  # the April bill is not repaid by the 10th
    assert credit.summary(p, buyer)["overdue_days"] > 0
    late = trades.create(p, req(m, 500, out_trade_no="late-1"), buyer)
    assert _code(p, late["id"], buyer) == "CREDIT_OVERDUE"
    assert trades.get_trade(p, late["id"])["status"] == "WAIT_BUYER_PAY"
    assert merchant_fen(p, m) == 1_000 - 6
    # the balance still pays: only the credit line is frozen
    assert trades.pay(p, late["id"], buyer, PAY_PASSWORD)["funding"] == "BALANCE"
    counters_match_ledger(p, buyer)
    assert_ledger_clean(p)


def test_cashier_page_and_json_endpoint_offer_huabei(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    at(D(2026, 3, 2))
    c = TestClient(create_app(p, extra_routers=[trade_api.pages, trade_api.router]))
    buyer = huabei_user(p, line_fen=50_000)
    plain = new_user(p, balance_fen=1_000)
    m = new_merchant(p)

    def login(user: str) -> dict[str, str]:
        phone = members.get_user(p, user)["phone"]
        t = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD}).json()
        return {"Authorization": f"Bearer {t['token']}"}

    t1 = trades.create(p, req(m, 20_000), buyer)
    t_plain = trades.create(p, req(m, 100), plain)
    tok = login(buyer)["Authorization"].removeprefix("Bearer ")
    page = c.get(f"/cashier/t/{t1['id']}", cookies={USER_COOKIE: tok}).text
    assert 'id="fund-huabei"' in page and "500.00" in page and 'id="huabei-installments"' in page
    tok_plain = login(plain)["Authorization"].removeprefix("Bearer ")
    page = c.get(f"/cashier/t/{t_plain['id']}", cookies={USER_COOKIE: tok_plain}).text
    assert 'id="fund-huabei"' not in page

    form = {"pay_password": PAY_PASSWORD, "funding": "HUABEI", "installments": "3"}
    c.cookies.set(USER_COOKIE, tok)
    form["csrf_token"] = page_csrf(c, f"/cashier/t/{t1['id']}")
    r = c.post(f"/cashier/t/{t1['id']}/pay", data=form)
    c.cookies.clear()
    assert r.status_code == 200, r.text
    assert credit.summary(p, buyer)["installment_outstanding_fen"] == 20_000

    t2 = trades.create(p, req(m, 30_001), buyer)
    body = {"funding": "HUABEI", "pay_password": PAY_PASSWORD}
    r = c.post(f"/api/v1/me/trades/{t2['id']}/pay", json=body, headers=login(buyer))
    assert r.status_code == 400 and r.json()["code"] == "CREDIT_LINE_EXCEEDED", r.text
    t3 = trades.create(p, req(m, 1_000), buyer)
    r = c.post(f"/api/v1/me/trades/{t3['id']}/pay", json=body, headers=login(buyer))
    assert r.status_code == 200, r.text
    assert (r.json()["trade_status"], r.json()["funding"]) == ("TRADE_SUCCESS", "HUABEI")
    r = c.post(  # nobody pays another buyer's trade
        f"/api/v1/me/trades/{t_plain['id']}/pay", json=body, headers=login(buyer)
    )
    assert r.json()["code"] == "TRADE_BUYER_NOT_MATCH"
    assert credit.summary(p, buyer)["available_fen"] == 29_000
    assert_ledger_clean(p)
