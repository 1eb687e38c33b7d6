"""T+1 settlement: T1 merchants' money waits in the pending account until the day-end job moves
each day's batch to the balance, once; refunds come out of the day's pot first."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qianbao import cli
from qianbao.api import trades as trade_api
from qianbao.api.app import create_app
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import credit, debit, post
from qianbao.members import credentials
from qianbao.members import service as members
from qianbao.payments import secured, settlement, trades
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.helpers import balance, merchant_fen, new_merchant, req

D = date(2026, 8, 3)


def _t1_merchant(p: Platform, fee_rate: str = "0.006") -> str:
    m = new_merchant(p, fee_rate)
    assert members.set_settle_cycle(p, m, "t1")["settle_cycle"] == "T1"
    return m


def _paid(p: Platform, m: str, buyer: str, amount: int, **kw: object) -> dict:
    t = trades.create(p, req(m, amount, **kw), buyer)
    return trades.pay(p, t["id"], buyer, PAY_PASSWORD)


def _postings(p: Platform) -> int:
    total = 0
    for db in p.units:
        with db.read() as tx:
            total += int(tx.scalar("SELECT COUNT(*) FROM postings") or 0)
    return total


def _batch_total(rows: list[dict]) -> int:
    return sum(b["gross_fen"] - b["refund_fen"] - b["fee_fen"] for b in rows)


def test_t1_money_waits_for_day_end_and_settles_once(platform):
    p = platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    m = _t1_merchant(p)
    b0 = new_user(p, unit=0, balance_fen=1_000_00)
    b1 = new_user(p, unit=1, balance_fen=1_000_00)
    a = _paid(p, m, b0, 100_00)  # fee 60
    _paid(p, m, b1, 50_00)  # fee 30
    s = _paid(p, m, b1, 30_00, product=trades.SECURED)
    secured.ship(p, m, s["id"])
    secured.confirm_receipt(p, b1, s["id"], PAY_PASSWORD)  # released: fee 18
    trades.refund(p, m, 10_00, "r1", trade_no=a["id"])  # before settlement: fee back 6
    assert merchant_fen(p, m) == 0
    pending = 100_00 - 60 + 50_00 - 30 + 30_00 - 18 - (10_00 - 6)
    assert settlement.pending_fen(p, m) == pending
    with pytest.raises(QianbaoError) as e:
        settlement.run_settlement(p, D)
    assert e.value.code == "DAY_NOT_OVER"

    clock.set(datetime(2026, 8, 4, 0, 5))
    _paid(p, m, b0, 20_00)  # tomorrow's money stays pending
    first = settlement.run_settlement(p)
    assert first == {"batches": 2, "net_fen": pending, "failed": 0}
    assert merchant_fen(p, m) == pending
    assert settlement.pending_fen(p, m) == 20_00 - 12
    rows = settlement.list_batches(p, m, day=D)
    assert sorted(b["unit"] for b in rows) == [0, 1]
    assert all(b["status"] == "SETTLED" and b["voucher_id"] for b in rows)
    u0 = next(b for b in rows if b["unit"] == 0)
    assert (u0["gross_fen"], u0["refund_fen"], u0["fee_fen"]) == (100_00, 10_00, 54)
    assert u0["net_fen"] == 100_00 - 10_00 - 54 and u0["from_balance_fen"] == 0

    postings = _postings(p)
    again = settlement.run_settlement(p, D)  # re-run: nothing left to settle
    assert again == {"batches": 0, "net_fen": 0, "failed": 0}
    assert _postings(p) == postings and merchant_fen(p, m) == pending

    bill = settlement.merchant_bill(p, m, D)
    assert bill.cycle == "T1" and len(bill.batches) == 2
    assert bill.net_fen == _batch_total(bill.batches) == pending
    assert settlement.reconcile(p, m, D)["difference_fen"] == 0
    assert settlement.reconcile(p, m, D + timedelta(days=1))["difference_fen"] == 0
    csv_text = settlement.bill_csv(bill)
    assert csv_text.count("\nSETTLEMENT,") == 2 and "settlement T1" in csv_text.splitlines()[0]
    assert_ledger_clean(p)


def _drain(p: Platform, m: str, unit: int, amount: int) -> None:
    """The merchant's balance is used elsewhere (an operator adjustment through the ledger)."""

    def command(ctx: WriteContext) -> None:
        post(
            ctx,
            "test.adjustment",
            m,
            [
                debit(members.merchant_account(m, unit), amount),
                credit(unit_account("fee_income", unit), amount),
            ],
        )

    p.writers[unit].submit(command)


def test_refunds_after_settlement_and_a_short_pot(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 9, 0))
    m = _t1_merchant(p, "0.01")
    buyer = new_user(p, unit=0, balance_fen=1_000_00)
    old = _paid(p, m, buyer, 100_00)  # net 99_00
    clock.set(datetime(2026, 8, 4, 0, 1))
    settlement.run_settlement(p)
    assert merchant_fen(p, m) == 99_00

    today = _paid(p, m, buyer, 20_00)  # net 19_80 in today's pot
    trades.refund(p, m, 50_00, "late", trade_no=old["id"])  # net 49_50: 19_80 pot + 29_70 balance
    assert settlement.pending_fen(p, m) == 0
    assert merchant_fen(p, m) == 99_00 - 29_70
    day = date(2026, 8, 4)
    [batch] = settlement.list_batches(p, m, day=day)
    assert batch["net_fen"] == 0 and batch["from_balance_fen"] == 29_70
    assert batch["refund_fen"] == 50_00 and batch["fee_fen"] == 20 - 50

    _drain(p, m, 0, 60_00)  # 9_30 left
    before = (balance(p, buyer), merchant_fen(p, m), _postings(p), batch)
    with pytest.raises(QianbaoError) as e:  # pot empty and the balance short: nothing moves
        trades.refund(p, m, 50_00, "rest", trade_no=old["id"])
    assert e.value.code == "BALANCE_NOT_ENOUGH"
    [batch_now] = settlement.list_batches(p, m, day=day)
    assert (balance(p, buyer), merchant_fen(p, m), _postings(p), batch_now) == before
    assert trades.get_trade(p, old["id"])["refunded_fen"] == 50_00
    trades.refund(p, m, 5_00, "today", trade_no=today["id"])  # net 4_95 from the balance
    assert merchant_fen(p, m) == 9_30 - 4_95

    bill = settlement.merchant_bill(p, m, day)
    assert bill.net_fen == _batch_total(bill.batches)
    assert settlement.reconcile(p, m, day)["difference_fen"] == 0
    clock.set(datetime(2026, 8, 5, 0, 1))
    assert settlement.run_settlement(p)["batches"] == 1
    [batch] = settlement.list_batches(p, m, day=day)
    assert batch["status"] == "SETTLED" and batch["voucher_id"] is None  # nothing to move
    assert_ledger_clean(p)


def test_cycle_changes_and_instant_merchants_are_unchanged(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 9, 0))
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=100_00)
    for bad in ("T2", "", "daily"):
        with pytest.raises(QianbaoError) as e:
            members.set_settle_cycle(p, m, bad)
        assert e.value.code == "SETTLE_CYCLE_INVALID"
    with pytest.raises(QianbaoError) as e:
        members.set_settle_cycle(p, "999999", "T1")
    assert e.value.code == "MERCHANT_NOT_FOUND"
    assert members.get_merchant(p, m)["settle_cycle"] == "INSTANT"
    _paid(p, m, buyer, 10_00)
    assert merchant_fen(p, m) == 10_00 - 6 and settlement.list_batches(p, m) == []
    members.set_settle_cycle(p, m, "T1")
    _paid(p, m, buyer, 10_00)
    assert merchant_fen(p, m) == 10_00 - 6 and settlement.pending_fen(p, m) == 10_00 - 6
    members.set_settle_cycle(p, m, "INSTANT")  # today's pot still settles at day end
    clock.set(datetime(2026, 8, 4, 0, 1))
    assert settlement.run_settlement(p)["net_fen"] == 10_00 - 6
    assert merchant_fen(p, m) == 2 * (10_00 - 6)
    with pytest.raises(QianbaoError) as e:
        settlement.BATCH.check("SETTLED", "OPEN")
    assert e.value.code == "INVALID_STATE_TRANSITION"
    assert_ledger_clean(p)


def test_settlement_api_and_cli(sqlite_platform, tmp_path, monkeypatch):
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 9, 0))
    c = TestClient(create_app(p, extra_routers=[trade_api.router]))
    m, m_key = members.create_merchant(p, "T1 Shop", Decimal("0.006"))
    _, op_key = members.create_operator(p, "settler", "admin")
    _, auditor_key = members.create_operator(p, "reader", "auditor")
    ops = {"Authorization": f"Bearer {op_key}"}
    mh = {"Authorization": f"Bearer {m_key}"}
    url = f"/api/v1/ops/merchants/{m['id']}/settle-cycle"
    r = c.post(url, json={"settle_cycle": "T1"}, headers={"Authorization": f"Bearer {auditor_key}"})
    assert r.status_code == 403
    assert c.post(url, json={"settle_cycle": "T9"}, headers=ops).json()["code"] == (
        "SETTLE_CYCLE_INVALID"
    )
    assert c.post(url, json={"settle_cycle": "T1"}, headers=ops).json()["settle_cycle"] == "T1"
    buyer = new_user(p, balance_fen=100_00)
    _paid(p, m["id"], buyer, 50_00)
    body = c.get("/api/v1/merchant/settlements", headers=mh).json()
    assert body["settle_cycle"] == "T1" and body["pending_fen"] == 50_00 - 30
    assert body["batches"][0]["status"] == "OPEN"
    assert c.get("/api/v1/merchant/settlements?day=x", headers=mh).json()["code"] == "DAY_INVALID"
    r = c.post("/api/v1/ops/settlement/run", params={"day": D.isoformat()}, headers=ops)
    assert r.status_code == 400 and r.json()["code"] == "DAY_NOT_OVER"
    clock.set(datetime(2026, 8, 4, 1, 0))
    assert c.post("/api/v1/ops/settlement/run", headers=ops).json()["batches"] == 1
    batch = c.get("/api/v1/merchant/settlements", headers=mh).json()["batches"][0]
    assert batch["status"] == "SETTLED" and batch["net_fen"] == batch["bill_net_fen"] == 49_70
    bill = c.get(f"/api/v1/merchant/bills/{D.isoformat()}", headers=mh).text
    assert "SETTLEMENT," in bill
    pages = TestClient(create_app(p, extra_routers=[trade_api.pages]))
    pages.cookies.set(trade_api.MERCHANT_COOKIE, credentials.web_session(p, m_key))
    page = pages.get("/merchant").text
    assert 'id="settle-cycle">T1<' in page and 'id="batches"' in page

    # the CLI on its own platform (settings from the environment)
    monkeypatch.setenv("QIANBAO_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("QIANBAO_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("QIANBAO_PASSWORD_MEMORY_KIB", "1024")
    runner = CliRunner()
    out = runner.invoke(cli.app, ["merchant", "create", "CLI Shop"])
    assert out.exit_code == 0, out.output
    from qianbao.bootstrap import open_platform
    from qianbao.platform.settings import load_settings

    with open_platform(load_settings()) as q:
        mid = members.list_merchants(q)[0]["id"]
    out = runner.invoke(cli.app, ["merchant", "set-cycle", mid, "T1"])
    assert out.exit_code == 0 and "T1" in out.output
    assert runner.invoke(cli.app, ["merchant", "set-cycle", mid, "T7"]).exit_code == 1
    out = runner.invoke(cli.app, ["settlement", "run"])
    assert out.exit_code == 0 and "batches" in out.output, out.output
    out = runner.invoke(cli.app, ["settlement", "list", mid])
    assert out.exit_code == 0 and "T1" in out.output


def test_the_server_job_settles_yesterday_once(sqlite_platform):
    from qianbao.server import _settlement_days

    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 22, 0))
    m = _t1_merchant(p)
    buyer = new_user(p, balance_fen=10_00)
    _paid(p, m, buyer, 10_00)
    job = _settlement_days(p)
    job()  # the day is not over: nothing moves
    assert merchant_fen(p, m) == 0
    clock.set(datetime(2026, 8, 4, 0, 0, 5))
    job()
    job()
    assert merchant_fen(p, m) == 10_00 - 6 and settlement.pending_fen(p, m) == 0
    assert len(settlement.list_batches(p, m)) == 1
    assert_ledger_clean(p)
