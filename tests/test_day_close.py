"""The books' end of day: daily balances, subject summary, trial balance and closing (日结)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qianbao.ledger import closing
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.clock import TZ, clock
from qianbao.server import build_app
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user, operator_headers

D1 = date(2026, 4, 1)


def _at(day: date, hour: int = 10) -> None:
    clock.set(datetime(day.year, day.month, day.day, hour, tzinfo=TZ))


def _subjects(tb: closing.TrialBalance) -> dict[str, closing.SubjectDay]:
    return {s.subject: s for s in tb.subjects()}


def _traffic(p, merchant_id: str) -> tuple[str, str]:
    a = new_user(p, unit=0, balance_fen=10_000)
    b = new_user(p, unit=1, balance_fen=5_000)
    payments.transfer(p, a, b, 2_000, f"t-{a}", PAY_PASSWORD)  # across units
    paid = payments.pay_merchant(p, b, merchant_id, 3_000, f"p-{b}", PAY_PASSWORD)
    payments.refund(p, merchant_id, paid["id"], 1_000, f"r-{b}")
    p.relay.drain()
    return a, b


def test_two_days_close_with_balanced_books_that_carry_over(platform):
    p = platform
    merchant, _ = members.create_merchant(p, "Day Shop")
    try:
        _at(D1)
        a, b = _traffic(p, merchant["id"])
        _at(D1 + timedelta(days=1))
        _traffic(p, merchant["id"])  # the next day goes on while yesterday closes
        first = closing.close_day(p, D1)
        assert first.ok and first.closed, [u.problems for u in first.units]
        s = _subjects(first)
        assert s["user_balance"].closing_fen == 10_000 + 5_000 - 3_000 + 1_000
        assert s["user_balance"].opening_fen == 0 and s["user_balance"].accounts >= 2
        fee = s["fee_income"]
        assert (fee.credit_fen, fee.debit_fen, fee.closing_fen) == (18, 6, 12)  # 0.6%, 1/3 back
        assert s["bank_reserve"].closing_fen == 15_000 and s["in_transit"].closing_fen == 0
        for u in first.units:
            assert u.debit_fen == u.credit_fen > 0 and u.vouchers > 0
        assert closing.close_day(p, D1).as_dict() == first.as_dict()  # closed stays closed
        assert closing.trial_balance(p, D1).as_dict() == first.as_dict()

        _at(D1 + timedelta(days=2))
        second = closing.close_day(p, D1 + timedelta(days=1))
        assert second.ok and second.closed
        for code, line in _subjects(second).items():
            assert line.opening_fen == s[code].closing_fen, code
        with p.db_for(a).read() as tx:
            rows = tx.all(
                "SELECT * FROM ledger_account_days WHERE account_id = :a ORDER BY day",
                {"a": payments.user_account(a)},
            )
        assert [(r["day"], r["opening_fen"], r["closing_fen"]) for r in rows] == [
            (D1.isoformat(), 0, 8_000)
        ]
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()


def test_a_day_that_does_not_balance_stays_open_and_says_why(sqlite_platform):
    p = sqlite_platform
    try:
        _at(D1)
        user = new_user(p, unit=0, balance_fen=10_000)
        _at(D1 + timedelta(days=1))
        account = payments.user_account(user)
        with p.units[0].transaction() as tx:  # a cached balance tampered with
            tx.execute(
                "UPDATE accounts SET balance_fen = balance_fen + 1 WHERE id = :a", {"a": account}
            )
        tb = closing.close_day(p, D1)
        assert not tb.ok and not tb.units[0].closed and tb.units[1].closed
        assert tb.units[0].problems == [f"account {account}: balance differs from its postings"]
        with p.units[0].read() as tx:
            assert tx.scalar("SELECT COUNT(*) FROM ledger_day_closings") == 0
        with p.units[0].transaction() as tx:
            tx.execute(
                "UPDATE accounts SET balance_fen = balance_fen - 1 WHERE id = :a", {"a": account}
            )
        assert closing.close_day(p, D1).closed
        # A stored closing changed behind the books' back: the next day will not open on it.
        with p.units[0].transaction() as tx:
            tx.execute(
                "UPDATE ledger_subject_days SET closing_fen = closing_fen + 5"
                " WHERE subject = 'user_balance'"
            )
        _at(D1 + timedelta(days=2))
        problems = closing.close_day(p, D1 + timedelta(days=1)).units[0].problems
        assert problems == [
            "subject user_balance opens at 10000 fen, the previous closed day closed at 10005"
        ]
    finally:
        clock.use_real_time()


def test_day_close_over_http_and_cli(sqlite_platform, tmp_path, monkeypatch):
    p = sqlite_platform
    c = TestClient(build_app(p))
    admin, auditor = operator_headers(p, "admin"), operator_headers(p, "auditor")
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    path = f"/api/v1/ops/ledger/days/{yesterday}"
    assert c.get(path, headers=auditor).json()["closed"] is False
    assert c.post(f"{path}/close", headers=auditor).status_code == 403
    r = c.post(f"{path}/close", headers=admin)
    assert r.status_code == 200 and r.json()["ok"] and r.json()["closed"], r.text
    assert c.get(path, headers=auditor).json() == r.json()
    today = clock.today().isoformat()
    assert c.post(f"/api/v1/ops/ledger/days/{today}/close", headers=admin).json()["code"] == (
        "DAY_NOT_OVER"
    )
    assert c.get("/api/v1/ops/ledger/days/2026-02-30", headers=admin).status_code == 422

    from qianbao.cli import app

    monkeypatch.setenv("QIANBAO_DATA_DIR", str(tmp_path / "cli"))
    runner = CliRunner()
    result = runner.invoke(app, ["ledger", "close-day"])
    assert result.exit_code == 0 and "closed" in result.output, result.output
    result = runner.invoke(app, ["ledger", "trial-balance", "--day", "someday"])
    assert result.exit_code == 2 and "INVALID_ARGUMENT" in result.output


def test_days_close_in_order_and_a_missed_day_is_caught_up(sqlite_platform):
    p = sqlite_platform
    merchant, _ = members.create_merchant(p, "Gap Shop")
    try:
        days = [D1 + timedelta(days=i) for i in range(4)]
        for day in days:
            _at(day)
            _traffic(p, merchant["id"])
        _at(days[-1] + timedelta(days=1))
        assert closing.close_day(p, days[0]).closed
        skipped = closing.close_day(p, days[2])  # days[1] is still open
        assert not skipped.closed
        assert skipped.units[0].problems == [
            f"{days[1]} is not closed: close the days in order (from {days[1]})"
        ]
        caught_up = closing.close_through(p, days[-1])
        assert [tb.day for tb in caught_up] == days[1:] and all(tb.closed for tb in caught_up)
        assert closing.close_through(p, days[-1]) == []  # nothing left to close
    finally:
        clock.use_real_time()


def test_empty_days_between_closings_do_not_block_the_books(sqlite_platform):
    """An operator closing a long-gone day (nothing booked since) must not block the next close."""
    p = sqlite_platform
    merchant, _ = members.create_merchant(p, "Quiet Shop")
    try:
        _at(D1)
        _traffic(p, merchant["id"])
        _at(D1 + timedelta(days=1))
        assert closing.close_day(p, date(2001, 1, 1)).closed  # nothing was booked back then
        assert closing.close_day(p, D1).closed  # the empty days in between need no closing
    finally:
        clock.use_real_time()


def _closing_by_subject(p, unit: int, end_ms: int) -> dict[str, int]:
    """Each subject's closing from every posting before the cut (the whole history)."""
    from qianbao.ledger.chart import SUBJECTS

    with p.units[unit].read() as tx:
        rows = tx.all(
            "SELECT a.subject, SUM(x.amount_fen) AS s FROM postings x"
            " JOIN accounts a ON a.id = x.account_id WHERE x.created_at_ms < :e"
            " GROUP BY a.subject",
            {"e": end_ms},
        )
    return {r["subject"]: SUBJECTS[r["subject"]].side * int(r["s"]) for r in rows}


def test_a_close_starts_from_the_previous_one_and_catches_late_postings(sqlite_platform):
    """Day 2 reads only the postings after day 1's last one, on top of day 1's sums, and
    still closes to what the whole history says; a posting dated into a closed day is caught."""
    from qianbao.platform.clock import start_of_day_ms

    p = sqlite_platform
    merchant, _ = members.create_merchant(p, "Carry Shop")
    try:
        days = [D1 + timedelta(days=i) for i in range(3)]
        for day in days[:2]:
            _at(day)
            _traffic(p, merchant["id"])
        _at(days[2])
        first, second = closing.close_day(p, days[0]), closing.close_day(p, days[1])
        assert first.closed and second.closed
        for unit in second.units:
            assert unit.last_posting_id > first.units[unit.unit].last_posting_id
            truth = _closing_by_subject(p, unit.unit, start_of_day_ms(days[2]))
            assert {s.subject: s.closing_fen for s in unit.subjects if s.closing_fen} == {
                k: v for k, v in truth.items() if v
            }
        with p.units[0].read() as tx:
            carried = tx.scalar("SELECT COUNT(*) FROM ledger_account_closings")
        assert carried > 0
        _at(days[1] + timedelta(hours=13))  # a clock set back: a booking dated into day 2
        new_user(p, unit=0, balance_fen=700)
        _at(days[2] + timedelta(days=1))
        late = closing.close_day(p, days[2])
        assert not late.units[0].closed and late.units[1].closed
        assert "postings of a closed day were booked after it was closed" in (
            " ".join(late.units[0].problems)
        )
    finally:
        clock.use_real_time()
