"""The worked examples of docs/credit.md, reproduced to the fen."""

from __future__ import annotations

from datetime import date

import pytest

from qianbao.credit import schedule as sched
from qianbao.credit import service as credit
from qianbao.credit.errors import CreditFrozen
from qianbao.payments import service as payments
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean, make_platform
from tests.credit.helpers import at, counters_match_ledger, huabei_user, live, merchant
from tests.factories import PAY_PASSWORD

D = date


def only_statement(p: Platform, user_id: str, bill_date: str) -> dict:
    return next(s for s in credit.list_statements(p, user_id) if s["bill_date"] == bill_date)


def test_example_1_bill_paid_in_full(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=500_000, balance_fen=200_000)
    shop = merchant(p)
    at(D(2026, 3, 5))
    pur = credit.pay_merchant_with_huabei(p, user, shop, 123_456, "ex1")
    assert pur["merchant_fee_fen"] == 741  # 0.6% of 1,234.56 = 7.40736 -> 7.41
    assert payments.merchant_balance(p, shop)["balance_fen"] == 122_715
    assert credit.summary(p, user)["available_fen"] == 500_000 - 123_456
    live(p, D(2026, 3, 5), D(2026, 4, 7))
    st = only_statement(p, user, "2026-04-01")
    assert (st["total_fen"], st["minimum_fen"], st["due_date"]) == (123_456, 12_346, "2026-04-10")
    assert [
        i["principal_fen"] for i in credit.get_statement(p, user, st["statement_id"])["items"]
    ] == [123_456]
    at(D(2026, 4, 8))
    credit.repay(p, user, 123_456, "ex1-repay", PAY_PASSWORD)
    live(p, D(2026, 4, 8), D(2026, 4, 20))
    st = only_statement(p, user, "2026-04-01")
    assert (st["status"], st["interest_fen"], st["owed_fen"]) == ("PAID", 0, 0)
    assert payments.balance(p, user)["balance_fen"] == 200_000 - 123_456
    assert credit.summary(p, user)["available_fen"] == 500_000
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


def test_example_2_bill_paid_17_days_late(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=500_000)
    shop = merchant(p)
    at(D(2026, 3, 10))
    credit.pay_merchant_with_huabei(p, user, shop, 345_678, "ex2", PAY_PASSWORD)
    live(p, D(2026, 3, 10), D(2026, 4, 26))
    st = only_statement(p, user, "2026-04-01")
    assert (st["status"], st["overdue_since"]) == ("OVERDUE", "2026-04-11")
    assert st["interest_fen"] == 173 * 16  # 0.05% of 3,456.78 = 1.72839 -> 1.73 a day, 11th–26th
    assert credit.summary(p, user)["overdue_days"] == 16
    at(D(2026, 4, 27))
    with pytest.raises(CreditFrozen):
        credit.pay_merchant_with_huabei(p, user, shop, 100, "ex2-frozen")
    # the 27th is the 17th day late: its interest is charged when the user repays that day
    payments.topup(p, user, _card(p, user), 348_619, "ex2-topup")
    credit.repay(p, user, 345_678 + 173 * 17, "ex2-repay", PAY_PASSWORD)
    st = only_statement(p, user, "2026-04-01")
    assert (st["status"], st["interest_fen"], st["owed_fen"]) == ("PAID", 2_941, 0)
    assert credit.summary(p, user)["overdue_days"] == 0  # thawed at once
    credit.pay_merchant_with_huabei(p, user, shop, 100, "ex2-thawed")
    assert credit.repayment_history(p, user) == {
        "huabei_bills_paid_on_time": 0,
        "huabei_bills_overdue": 1,
        "max_overdue_days": 17,
        "current_overdue_fen": 0,
    }
    reminders = _reminders(p, user)
    assert [r["days_past_due"] for r in reminders] == [1, 3, 7, 15]
    assert all(r["scheduled_at_ms"] % 86_400_000 == 0 for r in reminders)  # 08:00 Shanghai
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


def test_example_3_six_period_bill_installment(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=500_000)
    shop = merchant(p)
    at(D(2026, 3, 3))
    credit.pay_merchant_with_huabei(p, user, shop, 123_457, "ex3")
    live(p, D(2026, 3, 3), D(2026, 4, 4))
    st = only_statement(p, user, "2026-04-01")
    at(D(2026, 4, 5))
    plan = credit.install_bill(p, user, st["statement_id"], 6, "ex3-split")
    assert (plan["principal_fen"], plan["fee_fen"]) == (123_457, 5_556)  # 4.5% = 55.55565
    rows = credit.plan_schedule(p, user, plan["id"])["schedule"]
    assert [(r["bill_date"], r["principal_fen"], r["fee_fen"]) for r in rows] == [
        ("2026-05-01", 20_577, 926),
        ("2026-06-01", 20_576, 926),
        ("2026-07-01", 20_576, 926),
        ("2026-08-01", 20_576, 926),
        ("2026-09-01", 20_576, 926),
        ("2026-10-01", 20_576, 926),
    ]
    st = only_statement(p, user, "2026-04-01")
    assert (st["status"], st["owed_fen"], st["installed_fen"]) == ("PAID", 0, 123_457)
    assert credit.summary(p, user)["available_fen"] == 500_000 - 123_457  # still used
    live(p, D(2026, 4, 5), D(2026, 5, 2))
    may = only_statement(p, user, "2026-05-01")
    assert (may["total_fen"], may["minimum_fen"]) == (21_503, 21_503)
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


def test_example_4_merchant_subsidised_12_periods(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=1_000_000)
    shop = merchant(p)
    at(D(2026, 3, 3))
    pur = credit.pay_merchant_with_huabei(
        p, user, shop, 599_999, "ex4", PAY_PASSWORD, installments=12, subsidised=True
    )
    # merchant: 5,999.99 - 36.00 fee (0.6%) - 450.00 installment fee (7.5%, 449.99925)
    assert payments.merchant_balance(p, shop)["balance_fen"] == 551_399
    plan = credit.plan_schedule(p, user, pur["plan_id"])
    assert (plan["fee_fen"], plan["subsidised"]) == (45_000, True)
    assert [r["principal_fen"] for r in plan["schedule"]] == [50_000] * 11 + [49_999]
    assert {r["fee_fen"] for r in plan["schedule"]} == {3_750}
    assert credit.summary(p, user)["installment_outstanding_fen"] == 599_999
    live(p, D(2026, 3, 3), D(2026, 4, 2))
    st = only_statement(p, user, "2026-04-01")
    assert (st["total_fen"], st["inst_fee_fen"], st["minimum_fen"]) == (50_000, 0, 50_000)
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


def test_example_5_refund_on_a_billed_purchase(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=500_000, balance_fen=100_000)
    shop = merchant(p)
    at(D(2026, 3, 3))
    a = credit.pay_merchant_with_huabei(p, user, shop, 50_000, "ex5-a")
    at(D(2026, 3, 20))
    b = credit.pay_merchant_with_huabei(p, user, shop, 30_000, "ex5-b")
    live(p, D(2026, 3, 20), D(2026, 4, 2))
    at(D(2026, 4, 3))
    credit.repay(p, user, 10_000, "ex5-repay1", PAY_PASSWORD)
    at(D(2026, 4, 5))
    credit.refund_huabei_purchase(p, shop, b["id"], 30_000, "ex5-refund-b")
    st = only_statement(p, user, "2026-04-01")
    assert (st["purchase_fen"], st["paid_fen"], st["owed_fen"]) == (50_000, 10_000, 40_000)
    assert credit.summary(p, user)["available_fen"] == 500_000 - 40_000
    assert payments.merchant_balance(p, shop)["balance_fen"] == (50_000 - 300) + 0
    credit.repay(p, user, 40_000, "ex5-repay2", PAY_PASSWORD)
    credit.refund_huabei_purchase(p, shop, a["id"], 20_000, "ex5-refund-a")
    st = only_statement(p, user, "2026-04-01")
    assert (st["purchase_fen"], st["paid_fen"], st["status"]) == (30_000, 30_000, "PAID")
    assert payments.balance(p, user)["balance_fen"] == 100_000 - 50_000 + 20_000
    assert payments.merchant_balance(p, shop)["balance_fen"] == 30_000 - 180
    counters_match_ledger(p, user)
    assert_ledger_clean(p)


@pytest.mark.parametrize("waived", [True, False])
def test_example_6_early_settlement(tmp_path, waived: bool) -> None:
    p = make_platform("sqlite", tmp_path, extra={"credit": {"early_settlement_fee_waived": waived}})
    try:
        at(D(2026, 3, 1))
        user = huabei_user(p, line_fen=500_000, balance_fen=400_000)
        shop = merchant(p)
        at(D(2026, 3, 3))
        pur = credit.pay_merchant_with_huabei(
            p, user, shop, 300_000, "ex6", PAY_PASSWORD, installments=6
        )
        plan = credit.plan_schedule(p, user, pur["plan_id"])
        assert plan["fee_fen"] == 13_500
        assert {(r["principal_fen"], r["fee_fen"]) for r in plan["schedule"]} == {(50_000, 2_250)}
        live(
            p,
            D(2026, 3, 3),
            D(2026, 5, 14),
            {
                D(2026, 4, 5): lambda: credit.repay(p, user, 52_250, "ex6-r1", PAY_PASSWORD),
                D(2026, 5, 5): lambda: credit.repay(p, user, 52_250, "ex6-r2", PAY_PASSWORD),
            },
        )
        at(D(2026, 5, 15))
        before = payments.balance(p, user)["balance_fen"]
        done = credit.settle_plan(p, user, pur["plan_id"], "ex6-settle")
        assert done["status"] == "SETTLED"
        paid = before - payments.balance(p, user)["balance_fen"]
        assert paid == (200_000 if waived else 209_000)
        assert credit.summary(p, user)["receivable_fen"] == 0
        assert credit.summary(p, user)["available_fen"] == 500_000
        counters_match_ledger(p, user)
        assert_ledger_clean(p)
    finally:
        from qianbao.platform.clock import clock

        clock.use_real_time()
        p.close()


def test_schedule_prints_and_sums() -> None:
    rows = sched.installment_schedule(123_457, 6, 5_556, D(2026, 5, 1), 1)
    text = sched.format_schedule(rows)
    assert "1234.57" in text and "55.56" in text
    assert sum(r.principal_fen for r in rows) == 123_457
    assert sum(r.fee_fen for r in rows) == 5_556


def _card(p: Platform, user: str) -> str:
    from tests.factories import card_of

    return card_of(p, user)


def _reminders(p: Platform, user: str) -> list[Row]:
    with p.db_for(user).read() as tx:
        return tx.all("SELECT * FROM credit_reminders WHERE user_id = :u ORDER BY day", {"u": user})


def test_use_is_frozen_from_the_day_after_the_due_date(platform: Platform) -> None:
    p = platform
    at(D(2026, 3, 1))
    user = huabei_user(p, line_fen=500_000)
    shop = merchant(p)
    at(D(2026, 3, 10))
    credit.pay_merchant_with_huabei(p, user, shop, 10_000, "f1")
    live(p, D(2026, 3, 10), D(2026, 4, 10))
    at(D(2026, 4, 11))
    with pytest.raises(CreditFrozen):
        credit.pay_merchant_with_huabei(p, user, shop, 100, "f2")
