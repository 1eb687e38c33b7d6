"""Huabei through payment codes (付款码) and merchants' installment offers (花呗分期
hb_fq_num / hb_fq_seller_percent), over HTTP: the signed gateway a merchant till calls and the
buyer's REST API, on both engines. Refusals change nothing; the ledger stays clean."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qianbao.api import credit as credit_api
from qianbao.api import trades as trade_api
from qianbao.api.app import create_app
from qianbao.api.gateway import router as gateway_router
from qianbao.credit import service as credit
from qianbao.members import service as members
from qianbao.openapi import apps
from qianbao.payments import codes, trades
from qianbao.platform.clock import TZ, clock
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import at, counters_match_ledger, huabei_user, live
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user
from tests.trades.conftest import load_example_client
from tests.trades.helpers import balance, merchant_fen, new_merchant

D = date


class Http:
    """The platform's HTTP API in-process: a signed gateway client (the merchant's till) and
    the buyer's REST calls."""

    def __init__(self, p: Platform) -> None:
        self.p = p
        self.c = TestClient(
            create_app(p, extra_routers=[gateway_router, trade_api.router, *credit_api.routers])
        )
        self.merchant = new_merchant(p)
        creds = apps.create_sandbox_app(p, self.merchant)
        module = load_example_client()
        self.gw = module.GatewayClient(
            "http://testserver/gateway.do",
            creds["app_id"],
            creds["app_private_key"],
            creds["platform_public_key"],
            http=self.c,
        )
        self._tick = itertools.count(1)

    def call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        """Signed at the business clock; every call is a new signed request (its own second)."""
        moment = datetime.fromtimestamp(clock.now_ms() / 1000 - next(self._tick), TZ)
        out: dict[str, Any] = self.gw.post(self.gw.signed_params(method, biz, timestamp=moment))
        assert out.get("_verified"), out
        return out

    def login(self, user_id: str) -> dict[str, str]:
        phone = members.get_user(self.p, user_id)["phone"]
        t = self.c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD})
        return {"Authorization": f"Bearer {t.json()['token']}"}


def _orders(p: Platform, table: str = "trade_orders") -> int:
    total = 0
    for db in p.units:
        with db.read() as tx:
            total += int(tx.scalar(f"SELECT COUNT(*) FROM {table}") or 0)
    return total


def _state(p: Platform, buyer: str, merchant: str) -> tuple[Any, ...]:
    s = credit.summary(p, buyer)
    return (
        s["available_fen"],
        s["receivable_fen"],
        len(credit.list_purchases(p, buyer)),
        merchant_fen(p, merchant),
        balance(p, buyer),
    )


def test_payment_codes_draw_on_huabei_when_the_buyer_chooses(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 2))
    h = Http(p)
    buyer = huabei_user(p, line_fen=50_000, balance_fen=10_000)
    plain = new_user(p, balance_fen=1_000)
    hb, hp = h.login(buyer), h.login(plain)

    assert h.c.get("/api/v1/me/payment-code/funding", headers=hb).json() == {"funding": "BALANCE"}
    bad = h.c.put("/api/v1/me/payment-code/funding", json={"funding": "CREDIT"}, headers=hb)
    assert bad.status_code == 422
    r = h.c.put("/api/v1/me/payment-code/funding", json={"funding": "HUABEI"}, headers=hp)
    assert (r.status_code, r.json()["code"]) == (404, "CREDIT_ACCOUNT_NOT_FOUND")
    assert codes.code_funding_setting(p, plain) == {"funding": "BALANCE"}  # unchanged
    for _ in range(2):  # setting it again changes nothing
        r = h.c.put("/api/v1/me/payment-code/funding", json={"funding": "HUABEI"}, headers=hb)
        assert r.status_code == 200 and r.json() == {"funding": "HUABEI"}

    code = h.c.post("/api/v1/me/payment-code", headers=hb).json()
    assert code["funding"] == "HUABEI"
    biz = {"out_trade_no": "hb-code-1", "total_amount": "123.45", "subject": "till"}
    paid = h.call("qianbao.trade.pay", {**biz, "scene": "bar_code", "auth_code": code["code"]})
    assert paid["code"] == "10000" and paid["buyer_id"] == buyer
    t = trades.get_trade(p, paid["trade_no"])
    assert (t["status"], t["funding"], t["fee_fen"]) == ("TRADE_SUCCESS", "HUABEI", 74)
    assert merchant_fen(p, h.merchant) == 12_345 - 74  # paid at once, minus 0.6%
    assert balance(p, buyer) == 10_000  # the wallet is not touched
    s = credit.summary(p, buyer)
    assert (s["unbilled_fen"], s["available_fen"]) == (12_345, 50_000 - 12_345)
    before = _state(p, buyer, h.merchant)
    again = h.call("qianbao.trade.pay", {**biz, "auth_code": code["code"]})  # a till's retry
    assert (again["code"], again["sub_code"]) == ("40004", "ACQ.PAYMENT_CODE_INVALID")  # spent
    assert h.call("qianbao.trade.query", {"out_trade_no": "hb-code-1"})["trade_status"] == (
        "TRADE_SUCCESS"
    )
    assert _state(p, buyer, h.merchant) == before

    refund = {"out_trade_no": "hb-code-1", "refund_amount": "23.45", "out_request_no": "r1"}
    assert h.call("qianbao.trade.refund", refund)["send_back_fee"] == "23.45"
    assert h.call("qianbao.trade.refund", refund)["refund_fee"] == "23.45"  # replay: same refund
    s = credit.summary(p, buyer)
    assert (s["unbilled_fen"], s["available_fen"]) == (10_000, 40_000)  # the line is back
    assert merchant_fen(p, h.merchant) == 12_345 - 74 - (2_345 - 14)  # fee back 74×2345/12345

    # per-code choice: a balance code still pays from the wallet
    r = h.c.post("/api/v1/me/payment-code?funding=CARD", headers=hb)
    assert r.status_code == 422
    r = h.c.post("/api/v1/me/payment-code?funding=HUABEI", headers=hp)
    assert (r.status_code, r.json()["code"]) == (404, "CREDIT_ACCOUNT_NOT_FOUND")
    wallet_code = h.c.post("/api/v1/me/payment-code?funding=BALANCE", headers=hb).json()
    assert wallet_code["funding"] == "BALANCE"
    w = h.call(
        "qianbao.trade.pay",
        {"out_trade_no": "hb-code-2", "total_amount": "1.00", "subject": "t"}
        | {"auth_code": str(wallet_code["code"])},
    )
    assert trades.get_trade(p, w["trade_no"])["funding"] == "BALANCE"
    assert balance(p, buyer) == 10_000 - 100
    with pytest.raises(Exception) as e:
        codes.issue_payment_code(p, plain, funding="HUABEI")
    assert getattr(e.value, "code", "") == "CREDIT_ACCOUNT_NOT_FOUND"
    with pytest.raises(Exception) as e:
        codes.issue_payment_code(p, buyer, funding="CARD")
    assert getattr(e.value, "code", "") == "CODE_FUNDING_INVALID"

    def refused(amount: str, out: str, sub_code: str) -> None:
        fresh = str(codes.issue_payment_code(p, buyer)["code"])
        before = _state(p, buyer, h.merchant)
        r = h.call(
            "qianbao.trade.pay",
            {"out_trade_no": out, "total_amount": amount, "subject": "t", "auth_code": fresh},
        )
        assert (r["code"], r["sub_code"]) == ("40004", sub_code)
        assert _state(p, buyer, h.merchant) == before  # nothing moved
        assert codes.buyer_of_code(p, fresh) == buyer  # the code was not spent
        assert trades.find_order(p, h.merchant, out) is not None  # the trade waits, unpaid
        assert trades.lookup(p, h.merchant, out_trade_no=out)["status"] == "WAIT_BUYER_PAY"

    refused("400.01", "hb-over", "ACQ.CREDIT_LINE_EXCEEDED")  # 400.00 is available
    credit.operator_freeze(p, "op", buyer, True, "test freeze")
    refused("1.00", "hb-frozen", "ACQ.CREDIT_FROZEN")
    credit.operator_freeze(p, "op", buyer, False, "")
    live(p, D(2026, 3, 2), D(2026, 4, 10))  # the April bill (100.00) is not paid: overdue
    at(D(2026, 4, 11))
    refused("1.00", "hb-overdue", "ACQ.CREDIT_OVERDUE")
    counters_match_ledger(p, buyer)
    assert_ledger_clean(p)


def test_merchant_installment_offers_over_http(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 3))
    h = Http(p)
    buyer = huabei_user(p, line_fen=1_500_000)
    hb = h.login(buyer)

    def create(out: str, amount: str, **offer: Any) -> dict[str, Any]:
        biz = {"out_trade_no": out, "total_amount": amount, "subject": "phone", "buyer_id": buyer}
        return h.call("qianbao.trade.create", {**biz, **offer})

    def pay(trade_no: str, periods: int) -> Any:
        body = {"funding": "HUABEI", "installments": periods, "pay_password": PAY_PASSWORD}
        return h.c.post(f"/api/v1/me/trades/{trade_no}/pay", json=body, headers=hb)

    # worked example 4 over HTTP: 12 periods, the merchant pays the fee (hb_fq_seller_percent 100)
    offer12 = {"extend_params": {"hb_fq_num": "12", "hb_fq_seller_percent": "100"}}
    t1 = create("fq-1", "5999.99", **offer12)
    assert t1["code"] == "10000"
    r = h.c.get(f"/api/v1/huabei/trades/{t1['trade_no']}/offer", headers=hb)
    assert r.json() == {"hb_fq_num": 12, "hb_fq_seller_percent": 100}
    assert create("fq-1", "5999.99", **offer12)["trade_no"] == t1["trade_no"]  # re-sent: same
    r = pay(t1["trade_no"], 12)
    assert r.status_code == 200, r.text
    t = trades.get_trade(p, t1["trade_no"])
    assert (t["fee_fen"], t["subsidy_fen"]) == (3_600, 45_000)  # 0.6%; 7.5% of 5,999.99
    assert merchant_fen(p, h.merchant) == 599_999 - 3_600 - 45_000 == 551_399
    [plan] = credit.list_plans(p, buyer)
    assert (plan["periods"], plan["fee_fen"], bool(plan["subsidised"])) == (12, 45_000, True)

    # the buyer picks other periods than the offer's: the buyer pays that plan's fee
    t2 = create("fq-2", "300.00", hb_fq_num=6, hb_fq_seller_percent=100)
    assert pay(t2["trade_no"], 3).status_code == 200
    assert trades.get_trade(p, t2["trade_no"])["subsidy_fen"] == 0
    # an offer the merchant does not pay for (seller percent 0) subsidises nothing
    t3 = create("fq-3", "300.00", hb_fq_num="6")
    assert pay(t3["trade_no"], 6).status_code == 200
    assert trades.get_trade(p, t3["trade_no"])["subsidy_fen"] == 0
    assert sum(1 for x in credit.list_plans(p, buyer) if x["subsidised"]) == 1
    assert merchant_fen(p, h.merchant) == 551_399 + 2 * (30_000 - 180)

    # a full refund returns the subsidy to the merchant and the whole line to the buyer
    before_line = credit.summary(p, buyer)["available_fen"]
    refund = {"out_trade_no": "fq-1", "refund_amount": "5999.99", "out_request_no": "r1"}
    assert h.call("qianbao.trade.refund", refund)["code"] == "10000"
    assert credit.summary(p, buyer)["available_fen"] == before_line + 599_999
    assert merchant_fen(p, h.merchant) == 2 * (30_000 - 180)

    # bad offers are refused before anything is recorded
    orders, offers = _orders(p), _orders(p, "credit_installment_offers")
    for out, amount, offer, sub_code in [
        ("bad-1", "500.00", {"hb_fq_num": "5"}, "ACQ.INSTALLMENT_OFFER_INVALID"),
        ("bad-2", "500.00", {"hb_fq_num": "3", "hb_fq_seller_percent": "50"}, None),
        ("bad-3", "500.00", {"hb_fq_seller_percent": "100"}, None),
        ("bad-4", "500.00", {"hb_fq_num": "-3"}, None),
        ("bad-5", "500.00", {"hb_fq_num": True}, None),
        ("bad-6", "99.99", {"hb_fq_num": "3"}, None),  # below the 100 CNY smallest plan
        ("bad-7", "500.00", {"hb_fq_num": "3", "product_code": "SECURED_TRADE"}, None),
        ("bad-8", "500.00", {"hb_fq_num": "3", "extend_params": {"hb_fq_num": "6"}}, None),
        ("bad-9", "500.00", {"extend_params": "hb_fq_num=3"}, "ACQ.INVALID_PARAMETER"),
    ]:
        r = create(out, amount, **offer)
        assert (r["code"], r["sub_code"]) == ("40004", sub_code or "ACQ.INSTALLMENT_OFFER_INVALID")
    assert (_orders(p), _orders(p, "credit_installment_offers")) == (orders, offers)

    # an offer never changes, and cannot be added to a number used without one
    r = create("fq-1", "5999.99", extend_params={"hb_fq_num": "6", "hb_fq_seller_percent": "100"})
    assert (r["code"], r["sub_code"]) == ("40004", "ACQ.INSTALLMENT_OFFER_CONFLICT")
    assert create("plain-1", "200.00")["code"] == "10000"
    r = create("plain-1", "200.00", hb_fq_num="3", hb_fq_seller_percent="100")
    assert (r["code"], r["sub_code"]) == ("40004", "ACQ.INSTALLMENT_OFFER_CONFLICT")
    # a trade that could not be created leaves no offer behind
    biz = {"out_trade_no": "orphan", "total_amount": "200.00", "subject": "x", "buyer_id": "nobody"}
    r = h.call("qianbao.trade.create", {**biz, "hb_fq_num": "3", "hb_fq_seller_percent": "100"})
    assert r["code"] == "40004"
    assert (_orders(p), _orders(p, "credit_installment_offers")) == (orders + 1, offers)
    t4 = create("orphan", "200.00")
    r = h.c.get(f"/api/v1/huabei/trades/{t4['trade_no']}/offer", headers=hb)
    assert (r.status_code, r.json()["code"]) == (404, "INSTALLMENT_OFFER_NOT_FOUND")

    # a Huabei payment code at a till takes a subsidised offer's periods
    codes.set_code_funding(p, buyer, "HUABEI")
    code = str(codes.issue_payment_code(p, buyer)["code"])
    till = {"out_trade_no": "fq-till", "total_amount": "600.00", "subject": "till"}
    r = h.call(
        "qianbao.trade.pay",
        {**till, "auth_code": code, "hb_fq_num": "3"} | {"hb_fq_seller_percent": "100"},
    )
    assert r["code"] == "10000", r
    t = trades.get_trade(p, r["trade_no"])
    assert (t["funding"], t["subsidy_fen"]) == ("HUABEI", 1_380)  # 2.3% of 600.00
    assert sum(1 for x in credit.list_plans(p, buyer) if x["subsidised"]) == 2
    counters_match_ledger(p, buyer)
    assert_ledger_clean(p)
