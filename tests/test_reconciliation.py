"""Channel reconciliation: the bank's statement of a day against our journal and our ledger."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from qianbao.channels import reconcile as recon
from qianbao.members import service as members
from qianbao.members.vault import card_number
from qianbao.payments import service as payments
from qianbao.payments import trades
from qianbao.platform.clock import TZ, clock
from qianbao.server import build_app
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import PAY_PASSWORD, approve_via, new_user, operator_headers
from tests.trades.helpers import new_merchant, req

DAY = date(2026, 3, 10)


def _at(day: date, hour: int = 10) -> None:
    clock.set(datetime(day.year, day.month, day.day, hour, tzinfo=TZ))


def _card(p, user_id: str) -> dict:
    return members.list_cards(p, user_id)[0]


def _card_trade(p, buyer: str, amount_fen: int) -> dict:
    t = trades.create(p, req(new_merchant(p), amount_fen), buyer)
    card_id = _card(p, buyer)["id"]
    return trades.pay(p, t["id"], buyer, PAY_PASSWORD, funding=trades.CARD, card_id=card_id)


def _day_of_traffic(p) -> tuple[str, str]:
    a = new_user(p, unit=0, balance_fen=50_000)  # top-ups go through the bank
    b = new_user(p, unit=1, balance_fen=20_000)
    payments.withdraw(p, a, _card(p, a)["id"], 12_000, "w-a", PAY_PASSWORD)
    p.channels["SIMBANK"].failure_rate = 1.0
    failed = payments.withdraw(p, b, _card(p, b)["id"], 5_000, "w-b", PAY_PASSWORD)
    p.channels["SIMBANK"].failure_rate = 0.0
    assert failed["status"] == "FAILED"  # reversed in our books, FAILED on the statement
    paid = _card_trade(p, b, 3_000)
    trades.refund(p, paid["merchant_id"], 1_000, "r-1", trade_no=paid["id"])
    return a, b


def test_a_clean_day_balances_line_by_line_and_in_total(platform):
    p = platform
    try:
        _at(DAY)
        _day_of_traffic(p)
        _at(DAY + timedelta(days=1), 9)
        report = recon.reconcile(p, "SIMBANK", DAY)
        assert report.status == recon.BALANCED, report.as_dict()
        assert report.matched == report.bank_lines == 6  # 2 top-ups, 2 payouts, charge, refund
        assert (
            report.ledger_closing_fen == report.bank_closing_fen == 50_000 + 20_000 - 12_000 + 2_000
        )
        assert recon.reconcile(p, "SIMBANK", DAY).as_dict() == report.as_dict()  # a re-run
        assert recon.stored_report(p, "SIMBANK", DAY) == report.as_dict()
        nothing = recon.reconcile(p, "SIMBANK", DAY - timedelta(days=1))
        assert (nothing.status, nothing.bank_lines, nothing.bank_closing_fen) == (
            recon.BALANCED,
            0,
            0,
        )
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()


def _problems(report: recon.Report) -> dict[str, str]:
    return {d.request_id: d.problem for d in report.differences}


def test_every_kind_of_difference_is_found_and_named(tmp_path):
    p = make_platform("sqlite", tmp_path, bank_seed=7)
    bank = p.channels["SIMBANK"]
    try:
        _at(DAY)
        a, b = _day_of_traffic(p)
        # The bank's answer to a top-up is lost on the way back: the bank has the money, we
        # still wait (the follow-up job has not run yet).
        bank.timeout_rate = 1.0
        lost = None
        for n in range(20):
            order = payments.topup(p, a, _card(p, a)["id"], 700, f"t-lost-{n}")
            if bank.inner.query(order["id"]) == "SUCCEEDED":
                lost = order["id"]
                break
        bank.timeout_rate = 0.0
        assert lost is not None
        # Money moved at the bank on a request we never sent.
        bank.inner.charge("stray-1", card_number(p, _card(p, b)), 300)
        # A card refund the bank declines: booked in our ledger, never paid at the bank.
        paid = _card_trade(p, a, 2_000)
        bank.failure_rate = 1.0
        refund = trades.refund(p, paid["merchant_id"], 2_000, "r-x", trade_no=paid["id"])
        bank.failure_rate = 0.0
        # Our journal tampered with: a failed payout marked succeeded, an amount changed.
        with p.global_db.transaction() as tx:
            tx.execute(
                "UPDATE channel_requests SET status = 'SUCCEEDED' WHERE status = 'FAILED'"
                " AND kind = 'payout' AND request_id NOT LIKE 'R%'"
            )
            tx.execute(
                "UPDATE channel_requests SET amount_fen = amount_fen + 1"
                " WHERE request_id = 'r-1' OR request_id LIKE 'R%' AND amount_fen = 1000"
            )
        _at(DAY + timedelta(days=1), 9)
        report = recon.reconcile(p, "SIMBANK", DAY)
        problems = _problems(report)
        assert report.status == recon.DIFFERENCES
        assert problems.pop(lost) == "NOT_SETTLED"
        assert problems.pop("stray-1") == "BANK_ONLY"
        assert sorted(problems.values()) == ["AMOUNT_MISMATCH", "PLATFORM_ONLY"]
        assert f"R{refund['id']}" in report.failed_payouts
        # The ledger has the lost top-up's 7.00 not yet, the stray 3.00 never, and the declined
        # refund's 20.00 already gone: the reserve differs by what the lines explain.
        assert report.balance_difference_fen == -700 - 300 - 2_000
        csv = recon.differences_csv(recon.stored_report(p, "SIMBANK", DAY))
        assert csv.count("\n") == 1 + len(report.differences) and "NOT_SETTLED" in csv
        # The follow-up settles the lost top-up (booked today): yesterday's line is now settled.
        payments.resolve_pending_bank_orders(p)
        assert lost not in _problems(recon.reconcile(p, "SIMBANK", DAY))
    finally:
        clock.use_real_time()
        p.close()


def test_reconciliation_over_http_needs_an_operator_and_a_finished_day(sqlite_platform):
    p = sqlite_platform
    c = TestClient(build_app(p))
    admin, auditor = operator_headers(p, "admin"), operator_headers(p, "auditor")
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    base = "/api/v1/ops/reconciliations/SIMBANK"
    assert c.get(f"{base}/{yesterday}", headers=auditor).json()["code"] == "RECON_NOT_FOUND"
    assert c.post(f"{base}/{yesterday}", headers=auditor).status_code == 403  # read-only role
    r = c.post(f"{base}/{yesterday}", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "BALANCED", r.text
    assert c.get(f"{base}/{yesterday}", headers=auditor).json() == r.json()
    csv = c.get(f"{base}/{yesterday}/differences.csv", headers=auditor)
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("request_id")
    today = clock.today().isoformat()
    assert c.post(f"{base}/{today}", headers=admin).json()["code"] == "DAY_NOT_OVER"
    r = c.post(f"/api/v1/ops/reconciliations/NOBANK/{yesterday}", headers=admin)
    assert r.status_code == 404 and r.json()["code"] == "CHANNEL_NOT_FOUND"
    assert c.post(f"{base}/2026-02-30", headers=admin).status_code == 422
    user = new_user(p)
    token, _ = members.login(p, members.get_user(p, user)["phone"], "abc12345")
    r = c.post(f"{base}/{yesterday}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (401, 403)


@pytest.mark.parametrize(
    ("args", "exit_code", "says"),
    [
        ([], 0, "BALANCED"),
        (["--day", "2026-13-01"], 2, "INVALID_ARGUMENT"),
        (["--day", "2999-01-01"], 1, "DAY_NOT_OVER"),
        (["--channel", "NOBANK"], 1, "CHANNEL_NOT_FOUND"),
    ],
)
def test_cli_reconciles_yesterday_and_explains_bad_input(
    args, exit_code, says, tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from qianbao.cli import app

    monkeypatch.setenv("QIANBAO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QIANBAO_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("QIANBAO_PASSWORD_MEMORY_KIB", "1024")
    result = CliRunner().invoke(app, ["reconcile", *args])
    assert result.exit_code == exit_code and says in result.output, result.output


def test_a_declined_card_refund_is_redriven_once_and_the_day_balances(platform):
    p = platform
    bank = p.channels["SIMBANK"]
    c = TestClient(build_app(p))
    admin = operator_headers(p, "admin")
    checker = operator_headers(p, "finance")  # maker-checker: a second operator approves
    try:
        _at(DAY)
        buyer = new_user(p, unit=0)
        paid = _card_trade(p, buyer, 2_500)
        card_no = card_number(p, _card(p, buyer))
        before = bank.balance_fen(card_no)
        bank.failure_rate = 1.0
        refund = trades.refund(p, paid["merchant_id"], 2_500, "r-d", trade_no=paid["id"])
        bank.failure_rate = 0.0
        request_id = f"R{refund['id']}"
        url = f"/api/v1/ops/channel-requests/SIMBANK/{request_id}/redrive"
        r = approve_via(c, c.post(url, headers=admin), checker)
        assert r.status_code == 200 and r.json()["result"] == {
            "request_id": f"{request_id}~1",
            "redrive_of": request_id,
            "status": "SUCCEEDED",
        }
        assert bank.balance_fen(card_no) == before + 2_500  # the buyer has the money now
        again = approve_via(c, c.post(url, headers=admin), checker)  # pays nothing more
        assert again.status_code == 409 and again.json()["code"] == "PAYOUT_ALREADY_PAID"
        assert bank.balance_fen(card_no) == before + 2_500
        _at(DAY + timedelta(days=1), 9)
        report = recon.reconcile(p, "SIMBANK", DAY)
        assert report.status == recon.BALANCED, report.as_dict()
        # What cannot be re-driven says why, and changes nothing.
        order = members.list_cards(p, buyer)  # a top-up's bank order id is not a payout
        topup_id = payments.topup(p, buyer, order[0]["id"], 100, "t-x")["id"]
        cases = {
            "nope": (404, "REQUEST_NOT_FOUND"),
            topup_id: (400, "NOT_A_PAYOUT"),
        }
        for rid, (status, code) in cases.items():
            url = f"/api/v1/ops/channel-requests/SIMBANK/{rid}/redrive"
            r = approve_via(c, c.post(url, headers=admin), checker)
            assert (r.status_code, r.json()["code"]) == (status, code)
        p.channels["SIMBANK"].failure_rate = 1.0
        w = payments.withdraw(p, buyer, order[0]["id"], 50, "w-x", PAY_PASSWORD)
        p.channels["SIMBANK"].failure_rate = 0.0
        url = f"/api/v1/ops/channel-requests/SIMBANK/{w['id']}/redrive"
        r = approve_via(c, c.post(url, headers=admin), checker)
        assert r.json()["code"] == "BANK_ORDER_NOT_REDRIVEN"
        assert bank.balance_fen(card_no) == before + 2_500 - 100
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()


def test_money_the_bank_moved_unasked_is_booked_to_suspense_once(platform):
    p = platform
    bank = p.channels["SIMBANK"]
    c = TestClient(build_app(p))
    admin = operator_headers(p, "admin")
    checker = operator_headers(p, "finance")
    try:
        _at(DAY)
        user = new_user(p, unit=1, balance_fen=1_000)
        card_no = card_number(p, _card(p, user))
        bank.inner.charge("stray-in", card_no, 450)  # 长款: the bank has more than our books
        bank.inner.payout("stray-out", card_no, 120)  # 短款: the bank has less
        _at(DAY + timedelta(days=1), 9)
        report = recon.reconcile(p, "SIMBANK", DAY)
        assert _problems(report) == {"stray-in": "BANK_ONLY", "stray-out": "BANK_ONLY"}
        assert report.balance_difference_fen == -450 + 120
        base = f"/api/v1/ops/reconciliations/SIMBANK/{DAY}/differences"
        for _ in range(2):  # booking twice books once
            r = approve_via(c, c.post(f"{base}/stray-in/suspense", headers=admin), checker)
            assert r.status_code == 200 and r.json()["result"]["amount_fen"] == 450, r.text
        r = approve_via(c, c.post(f"{base}/stray-out/suspense", headers=admin), checker)
        assert r.status_code == 200
        r = approve_via(c, c.post(f"{base}/nope/suspense", headers=admin), checker)
        assert (r.status_code, r.json()["code"]) == (404, "DIFFERENCE_NOT_FOUND")
        with p.units[0].read() as tx:
            suspense = tx.scalar("SELECT balance_fen FROM accounts WHERE id = 'suspense:u0'")
        assert suspense == 450 - 120
        # The lines are ours now; the bookings are dated today, so today's books balance.
        _at(DAY + timedelta(days=2), 9)
        report = recon.reconcile(p, "SIMBANK", DAY + timedelta(days=1))
        assert report.status == recon.BALANCED, report.as_dict()
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()
