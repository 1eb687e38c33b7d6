"""Property tests: random months of Huabei activity keep every promise.

The line is never exceeded, nobody owes a negative amount, the account counters equal the
ledger's receivable, and every unit's ledger sums to zero.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qianbao.credit import dayend
from qianbao.credit import service as credit
from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from tests.conftest import assert_ledger_clean, make_platform
from tests.credit.helpers import at, huabei_user, merchant, receivable_balance
from tests.factories import PAY_PASSWORD

OPS = st.one_of(
    st.tuples(
        st.just("buy"), st.integers(1, 400_000), st.sampled_from([None, 3, 6, 12]), st.booleans()
    ),
    st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 200_000), st.just(None)),
    st.tuples(st.just("repay"), st.integers(1, 300_000), st.just(None), st.just(None)),
    st.tuples(st.just("install"), st.sampled_from([3, 6, 9, 12]), st.just(None), st.just(None)),
    st.tuples(st.just("settle"), st.integers(0, 50), st.just(None), st.just(None)),
    st.tuples(st.just("days"), st.integers(1, 25), st.just(None), st.just(None)),
)


def check_invariants(p: Platform, users: list[str]) -> None:
    for user in users:
        s = credit.summary(p, user)
        used = s["unbilled_fen"] + s["billed_unpaid_fen"] + s["installment_outstanding_fen"]
        assert used <= s["line_fen"], s
        assert (
            min(
                s["unbilled_fen"],
                s["billed_unpaid_fen"],
                s["installment_outstanding_fen"],
                s["charges_unpaid_fen"],
                s["owed_now_fen"],
            )
            >= 0
        ), s
        assert s["receivable_fen"] == receivable_balance(p, user), s
        for bill in credit.list_statements(p, user):
            assert bill["owed_fen"] >= 0 and bill["paid_fen"] >= 0, bill


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=st.lists(OPS, min_size=10, max_size=40), seed_user=st.integers(0, 1))
def test_random_months_keep_the_books(ops: list[tuple], seed_user: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = make_platform("sqlite", Path(tmp))
        try:
            _play(p, ops, seed_user)
        finally:
            clock.use_real_time()
            p.close()


def _play(p: Platform, ops: list[tuple], seed_user: int) -> None:
    day = date(2026, 1, 20)
    at(day)
    users = [
        huabei_user(p, line_fen=600_000, balance_fen=2_000_000, autodebit=bool(i % 2))
        for i in range(2)
    ]
    shop = merchant(p)
    purchases: list[tuple[str, str]] = []
    for n, (op, a, b, c) in enumerate(ops, start=1):
        user = users[(n + seed_user) % 2]
        try:
            if op == "buy":
                row = credit.pay_merchant_with_huabei(
                    p, user, shop, a, f"b{n}", PAY_PASSWORD, installments=b, subsidised=c
                )
                purchases.append((user, row["id"]))
            elif op == "refund" and purchases:
                _, pid = purchases[a % len(purchases)]
                pur = credit.get_purchase(p, pid)
                left = pur["amount_fen"] - pur["refunded_fen"]
                if left:
                    credit.refund_huabei_purchase(p, shop, pid, min(b, left), f"r{n}")
            elif op == "repay":
                owed = credit.summary(p, user)["owed_now_fen"]
                if owed:
                    credit.repay(p, user, min(a, owed), f"p{n}", PAY_PASSWORD)
            elif op == "install":
                open_bills = [s for s in credit.list_statements(p, user) if s["status"] == "OPEN"]
                if open_bills:
                    credit.install_bill(p, user, open_bills[0]["statement_id"], a, f"i{n}")
            elif op == "settle":
                plans = [x for x in credit.list_plans(p, user) if x["status"] == "ACTIVE"]
                if plans:
                    credit.settle_plan(p, user, plans[a % len(plans)]["id"], f"s{n}")
            elif op == "days":
                dayend.run_days(p, day, day + timedelta(days=a - 1))
                day += timedelta(days=a)
                at(day)
        except QianbaoError as exc:  # refusals are fine; they must change nothing
            assert exc.code in {
                "CREDIT_LINE_EXCEEDED",
                "CREDIT_OVERDUE",
                "CREDIT_FROZEN",
                "CREDIT_INSTALLMENT_NOT_ALLOWED",
                "CREDIT_INSTALLMENT_TOO_SMALL",
                "BALANCE_NOT_ENOUGH",
                "DAILY_LIMIT_EXCEEDED",
                "SINGLE_LIMIT_EXCEEDED",
                "CREDIT_NOTHING_OWED",
            }, exc.code
        check_invariants(p, users)
    dayend.run_days(p, day, day + timedelta(days=45))
    check_invariants(p, users)
    for user in users:
        assert payments.balance(p, user)["balance_fen"] >= 0
    assert_ledger_clean(p)


def test_a_scripted_month_exercises_every_path(platform: Platform) -> None:
    ops = [
        ("buy", 150_000, None, False),
        ("buy", 90_000, 6, False),
        ("buy", 80_000, 3, True),
        ("days", 20, None, None),
        ("install", 3, None, None),
        ("refund", 0, 10_000, None),
        ("repay", 50_000, None, None),
        ("days", 12, None, None),
        ("settle", 0, None, None),
        ("buy", 700_000, None, False),
        ("days", 25, None, None),
        ("days", 25, None, None),
    ]
    _play(platform, ops, 0)
