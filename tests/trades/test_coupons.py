"""Coupons at the cashier: one coupon with one funding source, used atomically with the payment,
refunded in proportion, budgets that cannot be overspent."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qianbao import cli
from qianbao.api import marketing as marketing_api
from qianbao.api import trades as trade_api
from qianbao.api.app import create_app
from qianbao.credit import service as credit
from qianbao.marketing import service as marketing
from qianbao.members import service as members
from qianbao.payments import settlement, trades
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import huabei_user
from tests.factories import LOGIN_PASSWORD, PAY_PASSWORD, new_user, page_csrf
from tests.trades.helpers import account_fen, balance, merchant_fen, new_merchant, req

D = date(2026, 9, 1)
_n = iter(range(1, 10_000))


def _campaign(
    p: Platform,
    *,
    face: int = 10_00,
    min_spend: int = 50_00,
    budget: int = 100_00,
    per_user: int = 1,
    funder: str = "PLATFORM",
    merchant_id: str | None = None,
    days: int = 30,
) -> str:
    start = start_of_day_ms(D)
    row = marketing.create_campaign(
        p,
        name=f"活动{next(_n)}",
        funder=funder,
        merchant_id=merchant_id,
        face_fen=face,
        min_spend_fen=min_spend,
        valid_from_ms=start,
        valid_until_ms=start + days * 86_400_000,
        per_user_limit=per_user,
        budget_fen=budget,
    )
    return str(row["id"])


def _coupon(p: Platform, campaign_id: str, user_id: str) -> str:
    return str(marketing.issue(p, campaign_id, user_id, f"req-{next(_n)}")["id"])


def _status(p: Platform, coupon_id: str) -> str:
    with p.db_for(coupon_id).read() as tx:
        return str(tx.scalar("SELECT status FROM coupons WHERE id = :id", {"id": coupon_id}))


def _postings(p: Platform) -> int:
    total = 0
    for db in p.units:
        with db.read() as tx:
            total += int(tx.scalar("SELECT COUNT(*) FROM postings") or 0)
    return total


def _code(fn) -> str:
    with pytest.raises(QianbaoError) as e:
        fn()
    return e.value.code


def test_platform_coupon_with_balance_and_proportional_refunds(platform):
    p = platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    m = new_merchant(p)
    buyer = new_user(p, unit=1, balance_fen=100_00)
    coupon = _coupon(p, _campaign(p), buyer)
    t = trades.create(p, req(m, 80_00), buyer)
    paid = trades.pay(p, t["id"], buyer, PAY_PASSWORD, coupon_id=coupon)
    assert paid["coupon_fen"] == 10_00 and paid["coupon_funder"] == "PLATFORM"
    assert paid["fee_fen"] == 48  # the merchant's fee is on the full amount
    assert balance(p, buyer) == 100_00 - 70_00
    assert merchant_fen(p, m) == 80_00 - 48
    assert account_fen(p, "marketing_expense", 1) == 10_00
    assert _status(p, coupon) == "USED"
    before = (balance(p, buyer), merchant_fen(p, m), _postings(p))
    code = _code(lambda: trades.pay(p, t["id"], buyer, PAY_PASSWORD, coupon_id=coupon))
    assert code == "TRADE_HAS_SUCCESS"  # a replay moves nothing
    assert (balance(p, buyer), merchant_fen(p, m), _postings(p)) == before

    r = trades.refund(p, m, 40_00, "half", trade_no=t["id"])
    assert r["coupon_refund_fen"] == 5_00  # the coupon's share goes back to the platform
    assert balance(p, buyer) == 30_00 + 35_00
    assert account_fen(p, "marketing_expense", 1) == 5_00
    assert _status(p, coupon) == "USED"
    trades.refund(p, m, 40_00, "rest", trade_no=t["id"])
    assert balance(p, buyer) == 100_00 and merchant_fen(p, m) == 0
    assert account_fen(p, "marketing_expense", 1) == 0
    assert _status(p, coupon) == "AVAILABLE"  # a full refund gives a valid coupon back
    assert _code(lambda: marketing.COUPON.check("AVAILABLE", "AVAILABLE")) == (
        "INVALID_STATE_TRANSITION"
    )
    assert trades.get_trade(p, t["id"])["status"] == trades.TRADE_CLOSED
    assert settlement.reconcile(p, m, D)["difference_fen"] == 0
    assert_ledger_clean(p)


def test_refused_coupons_change_nothing(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    m, other_m = new_merchant(p), new_merchant(p)
    buyer = new_user(p, balance_fen=60_00)
    stranger = new_user(p, balance_fen=100_00)
    camp = _campaign(p, days=2)
    mine, theirs = _coupon(p, camp, buyer), _coupon(p, camp, stranger)
    only_other = _coupon(p, _campaign(p, funder="MERCHANT", merchant_id=other_m), buyer)

    def snapshot() -> tuple:
        return (
            balance(p, buyer),
            merchant_fen(p, m),
            _postings(p),
            _status(p, mine),
            _status(p, theirs),
        )

    small = trades.create(p, req(m, 49_99), buyer)
    big = trades.create(p, req(m, 80_00), buyer)  # 70_00 after the coupon: above the balance
    ok = trades.create(p, req(m, 50_00), buyer)
    secured = trades.create(p, req(m, 50_00, product=trades.SECURED), buyer)
    before = snapshot()
    cases = [
        (small, mine, "COUPON_MIN_SPEND_NOT_MET"),
        (ok, theirs, "COUPON_NOT_FOUND"),
        (ok, "999999", "COUPON_NOT_FOUND"),
        (ok, only_other, "COUPON_NOT_APPLICABLE"),
        (secured, mine, "COUPON_NOT_APPLICABLE"),
        (big, mine, "BALANCE_NOT_ENOUGH"),  # fails inside the command: the coupon stays
    ]
    for trade, coupon, code in cases:
        got = _code(
            lambda t=trade, c=coupon: trades.pay(p, t["id"], buyer, PAY_PASSWORD, coupon_id=c)
        )
        assert got == code, code
        assert snapshot() == before
        assert trades.get_trade(p, trade["id"])["status"] == trades.WAIT_BUYER_PAY
    trades.pay(p, ok["id"], buyer, PAY_PASSWORD, coupon_id=mine)
    assert balance(p, buyer) == 60_00 - 40_00
    again = trades.create(p, req(m, 50_00), buyer)
    assert _code(lambda: trades.pay(p, again["id"], buyer, PAY_PASSWORD, coupon_id=mine)) == (
        "COUPON_USED"
    )
    clock.advance(timedelta(days=2))
    assert _code(lambda: trades.pay(p, again["id"], stranger, PAY_PASSWORD)) == (
        "TRADE_BUYER_NOT_MATCH"
    )
    late = trades.create(p, req(m, 60_00), stranger)
    assert _code(lambda: trades.pay(p, late["id"], stranger, PAY_PASSWORD, coupon_id=theirs)) == (
        "COUPON_EXPIRED"
    )
    assert _status(p, theirs) == "AVAILABLE" and balance(p, stranger) == 100_00
    trades.refund(p, m, 50_00, "all", trade_no=ok["id"])  # full refund after expiry: stays USED
    assert _status(p, mine) == "USED" and balance(p, buyer) == 60_00 - 40_00 + 40_00
    assert_ledger_clean(p)


def test_budget_and_limits_cannot_be_overspent(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    users = [new_user(p) for _ in range(3)]
    camp = _campaign(p, face=10_00, budget=25_00, per_user=1)
    first = marketing.issue(p, camp, users[0], "r-0")
    assert marketing.issue(p, camp, users[0], "r-0")["id"] == first["id"]  # replay: same coupon
    assert _code(lambda: marketing.issue(p, camp, users[1], "r-0")) == "IDEMPOTENCY_KEY_REUSED"
    assert _code(lambda: marketing.issue(p, camp, users[0], "r-1")) == "COUPON_LIMIT_REACHED"
    marketing.issue(p, camp, users[1], "r-2")
    assert _code(lambda: marketing.issue(p, camp, users[2], "r-3")) == "BUDGET_EXHAUSTED"
    c = marketing.get_campaign(p, camp)
    assert (c["issued_fen"], c["issued_count"]) == (20_00, 2)
    assert [x["status"] for x in marketing.list_coupons(p, users[2])] == []
    assert _code(lambda: marketing.issue(p, "nope", users[2], "r-4")) == "CAMPAIGN_NOT_FOUND"
    bad = [
        {"face": 10_00, "min_spend": 10_00},
        {"face": 0},
        {"budget": 5_00},
        {"per_user": 0},
        {"days": 0},
        {"funder": "MERCHANT"},
        {"funder": "BANK"},
    ]
    for kw in bad:
        assert _code(lambda kw=kw: _campaign(p, **kw)) in ("CAMPAIGN_INVALID", "AMOUNT_INVALID"), kw
    clock.advance(timedelta(days=31))
    assert _code(lambda: marketing.issue(p, camp, users[2], "r-5")) == "CAMPAIGN_ENDED"


def test_merchant_coupons_with_card_and_huabei_on_a_t1_merchant(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    m = new_merchant(p, "0.01")
    members.set_settle_cycle(p, m, "T1")
    camp = _campaign(p, face=5_00, min_spend=20_00, funder="MERCHANT", merchant_id=m, per_user=2)
    plat = _campaign(p, face=3_00, min_spend=10_00)
    card_buyer = new_user(p, unit=0)
    card_id = members.list_cards(p, card_buyer)[0]["id"]
    t = trades.create(p, req(m, 30_00), card_buyer)
    paid = trades.pay(
        p,
        t["id"],
        card_buyer,
        PAY_PASSWORD,
        funding=trades.CARD,
        card_id=card_id,
        coupon_id=_coupon(p, camp, card_buyer),
    )
    assert paid["fee_fen"] == 25  # a merchant coupon is a discount: the fee is on 25.00
    assert settlement.pending_fen(p, m) == 25_00 - 25
    trades.refund(p, m, 30_00, "all", trade_no=t["id"])  # the card gets back what it paid
    assert settlement.pending_fen(p, m) == 0

    hb = huabei_user(p, line_fen=1_000_00, unit=1)
    h = trades.create(p, req(m, 40_00), hb)
    trades.pay(p, h["id"], hb, PAY_PASSWORD, funding=trades.HUABEI, coupon_id=_coupon(p, plat, hb))
    assert credit.summary(p, hb)["available_fen"] == 1_000_00 - 37_00
    assert settlement.pending_fen(p, m) == 40_00 - 40  # the platform pays the coupon's 3.00
    trades.refund(p, m, 20_00, "half", trade_no=h["id"])  # 1.50 back to the platform
    assert credit.summary(p, hb)["available_fen"] == 1_000_00 - 37_00 + 18_50

    bill = settlement.merchant_bill(p, m, D)
    gross = [x["gross_fen"] for x in bill.lines]
    assert sorted(gross) == sorted([25_00, -25_00, 40_00, -20_00])
    assert settlement.reconcile(p, m, D)["difference_fen"] == 0
    clock.set(datetime(2026, 9, 2, 0, 5))
    settlement.run_settlement(p)
    assert bill.net_fen == sum(b["net_fen"] for b in settlement.list_batches(p, m, day=D))
    assert merchant_fen(p, m) == bill.net_fen
    assert_ledger_clean(p)


def test_coupon_api_static_qr_replay_and_cli(sqlite_platform, tmp_path, monkeypatch):
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    c = TestClient(create_app(p, extra_routers=[trade_api.router, marketing_api.router]))
    m = new_merchant(p)
    _, op_key = members.create_operator(p, "marketer", "admin")
    ops = {"Authorization": f"Bearer {op_key}"}
    buyer = new_user(p, balance_fen=100_00)
    phone = members.get_user(p, buyer)["phone"]
    tok = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN_PASSWORD}).json()
    me = {"Authorization": f"Bearer {tok['token']}"}
    body = {
        "name": "开学季",
        "funder": "PLATFORM",
        "face_fen": 5_00,
        "min_spend_fen": 20_00,
        "valid_from": "2026-09-01",
        "valid_until": "2026-09-08",
        "per_user_limit": 2,
        "budget_fen": 100_00,
    }
    r = c.post("/api/v1/ops/coupon-campaigns", json={**body, "min_spend_fen": 5_00}, headers=ops)
    assert r.status_code == 400 and r.json()["code"] == "CAMPAIGN_INVALID"
    camp = c.post("/api/v1/ops/coupon-campaigns", json=body, headers=ops)
    assert camp.status_code == 201, camp.text
    url = f"/api/v1/ops/coupon-campaigns/{camp.json()['id']}/coupons"
    got = [c.post(url, json={"user_id": buyer, "request_id": f"i{i}"}, headers=ops) for i in (1, 2)]
    assert [g.status_code for g in got] == [201, 201]
    assert c.post(url, json={"user_id": buyer, "request_id": "i3"}, headers=ops).status_code == 409
    mine = c.get("/api/v1/me/coupons", headers=me).json()
    assert [x["usable_now"] for x in mine] == [True, True]
    t = trades.create(p, req(m, 30_00), buyer)
    r = c.post(
        f"/api/v1/me/trades/{t['id']}/pay",
        json={"pay_password": PAY_PASSWORD, "coupon_id": mine[0]["coupon_id"]},
        headers=me,
    )
    assert r.status_code == 200 and r.json()["coupon_fen"] == 5_00, r.text
    assert balance(p, buyer) == 100_00 - 25_00

    pay = dict(coupon_id=mine[1]["coupon_id"])
    first = trades.pay_static_qr(p, m, buyer, 40_00, PAY_PASSWORD, "qr-1", **pay)
    before = (balance(p, buyer), merchant_fen(p, m), _postings(p))
    again = trades.pay_static_qr(p, m, buyer, 40_00, PAY_PASSWORD, "qr-1", **pay)
    assert again["id"] == first["id"] and before == (
        balance(p, buyer),
        merchant_fen(p, m),
        _postings(p),
    )
    assert balance(p, buyer) == 100_00 - 25_00 - 35_00
    assert [x["status"] for x in c.get("/api/v1/me/coupons", headers=me).json()] == ["USED"] * 2
    assert_ledger_clean(p)

    monkeypatch.setenv("QIANBAO_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("QIANBAO_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("QIANBAO_PASSWORD_MEMORY_KIB", "1024")
    runner = CliRunner()
    args = ["coupon", "create-campaign", "CLI 活动", "--face", "5", "--min-spend", "20"]
    args += ["--budget", "10", "--valid-from", "2026-09-01", "--valid-until", "2026-09-30"]
    out = runner.invoke(cli.app, args)
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli.app, ["coupon", "campaigns"])
    assert out.exit_code == 0 and "CLI" in out.output
    out = runner.invoke(cli.app, ["coupon", "issue", "nope", "nobody", "r1"])
    assert out.exit_code == 1 and "NOT_FOUND" in out.output


def test_cashier_page_offers_and_uses_a_coupon(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    c = TestClient(create_app(p, extra_routers=[trade_api.pages]))
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=100_00)
    coupon = _coupon(p, _campaign(p, face=8_00, min_spend=30_00), buyer)
    t = trades.create(p, req(m, 30_00), buyer)
    phone = members.get_user(p, buyer)["phone"]
    csrf = page_csrf(c, f"/cashier/t/{t['id']}")
    c.post(
        "/cashier/login",
        data={
            "phone": phone,
            "password": LOGIN_PASSWORD,
            "next": f"/cashier/t/{t['id']}",
            "csrf_token": csrf,
        },
    )
    page = c.get(f"/cashier/t/{t['id']}").text
    assert 'id="coupon"' in page and coupon in page
    r = c.post(
        f"/cashier/t/{t['id']}/pay",
        data={
            "pay_password": PAY_PASSWORD,
            "funding": "BALANCE",
            "coupon_id": coupon,
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 200, r.text
    assert balance(p, buyer) == 100_00 - 22_00 and _status(p, coupon) == "USED"
    assert 'id="coupon"' not in c.get(f"/cashier/t/{t['id']}").text
    assert_ledger_clean(p)


def test_a_coupon_refunded_in_small_parts_comes_back_exactly(sqlite_platform):
    """Each part's coupon share is measured on the amount refunded so far: four refunds of 4 fen
    and the rest give the platform exactly its 10.00 back and the buyer exactly its 70.00
    (measured on the coupon's own refunded total, the four parts took [1, 1, 1, 1] fen)."""
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    m = new_merchant(p)
    buyer = new_user(p, unit=1, balance_fen=100_00)
    coupon = _coupon(p, _campaign(p), buyer)
    t = trades.create(p, req(m, 80_00), buyer)
    trades.pay(p, t["id"], buyer, PAY_PASSWORD, coupon_id=coupon)
    shares = [trades.refund(p, m, 4, f"part-{i}", trade_no=t["id"]) for i in range(4)]
    assert [r["coupon_refund_fen"] for r in shares] == [1, 0, 1, 0]  # 0.5 fen each, half-up
    trades.refund(p, m, 80_00 - 16, "rest", trade_no=t["id"])
    assert account_fen(p, "marketing_expense", 1) == 0
    assert balance(p, buyer) == 100_00 and merchant_fen(p, m) == 0
    assert_ledger_clean(p)
