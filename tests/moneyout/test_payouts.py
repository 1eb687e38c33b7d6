"""Merchant payouts: the settlement balance over every unit to the account on file, through the
bank channel (PENDING → SUCCEEDED, or FAILED and reversed), idempotent, and the daily payout."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from qianbao.channels import reconcile as recon
from qianbao.money_movement.errors import AmountInvalid
from qianbao.payments import service as payments
from qianbao.payments.moneyout import orders, payouts
from qianbao.payments.moneyout.errors import (
    MerchantBalanceNotEnough,
    PayoutAccountInvalid,
    PayoutAccountMissing,
)
from qianbao.platform.clock import clock
from qianbao.platform.errors import IdempotencyKeyReused
from tests.conftest import assert_ledger_clean
from tests.moneyout.helpers import at, bank_fen, fresh_card, paid_merchant
from tests.trades.helpers import merchant_fen

DAY = date(2026, 9, 7)


def _on_file(p, m: str, *, auto: bool = False) -> str:
    card = fresh_card()
    payouts.set_settlement_account(p, m, card, "杭州某某商贸有限公司", auto_payout=auto)
    return card


def test_a_payout_gathers_every_unit_and_reaches_the_bank(platform):
    p = platform
    try:
        at(DAY)
        m = paid_merchant(p, 300_00)  # 300 CNY in each unit's sub-account
        card = _on_file(p, m)
        before = bank_fen(p, card)
        order = payouts.request_payout(p, m, 450_00, "po-1")
        assert order["status"] == "SUCCEEDED" and order["fee_fen"] == 0
        assert merchant_fen(p, m) == 150_00
        assert bank_fen(p, card) - before == 450_00
        by_unit = payments.merchant_balance(p, m)["by_unit_fen"]
        assert by_unit[p.unit_of(m)] + sum(by_unit) - by_unit[p.unit_of(m)] == 150_00
        # the same request again: the first answer, nothing moves (no second sweep either)
        again = payouts.request_payout(p, m, 450_00, "po-1")
        assert again["id"] == order["id"] and merchant_fen(p, m) == 150_00
        assert payments.merchant_balance(p, m)["by_unit_fen"] == by_unit
        with pytest.raises(IdempotencyKeyReused):
            payouts.request_payout(p, m, 100_00, "po-1")
        assert [r["id"] for r in payouts.list_payouts(p, m)] == [order["id"]]
        assert_ledger_clean(p)
        at(DAY + timedelta(days=1))
        report = recon.reconcile(p, "SIMBANK", DAY)
        assert report.status == recon.BALANCED, report.as_dict()
    finally:
        clock.use_real_time()


def test_a_declined_payout_is_reversed_in_full(sqlite_platform):
    p = sqlite_platform
    m = paid_merchant(p, 100_00)
    card = _on_file(p, m)
    p.channels["SIMBANK"].failure_rate = 1.0
    order = payouts.request_payout(p, m, 200_00, "po-x")
    p.channels["SIMBANK"].failure_rate = 0.0
    assert order["status"] == "FAILED"
    assert merchant_fen(p, m) == 200_00  # all back, in the home unit now
    assert bank_fen(p, card) == p.settings.bank_sandbox_open_balance_fen
    assert_ledger_clean(p)


def test_a_lost_answer_is_settled_by_the_follow_up(sqlite_platform):
    p = sqlite_platform
    m = paid_merchant(p, 100_00)
    _on_file(p, m)
    p.channels["SIMBANK"].timeout_rate = 1.0  # half lost on the way in, half on the way out
    opened = [payouts.request_payout(p, m, 10_00, f"t-{i}") for i in range(8)]
    p.channels["SIMBANK"].timeout_rate = 0.0
    assert {o["status"] for o in opened} == {"PENDING"}
    assert orders.resolve_pending(p) == 8
    done = [payouts.get_payout(p, m, o["id"]) for o in opened]
    paid = sum(o["amount_fen"] for o in done if o["status"] == "SUCCEEDED")
    assert {o["status"] for o in done} <= {"SUCCEEDED", "FAILED"}
    assert merchant_fen(p, m) == 200_00 - paid
    assert_ledger_clean(p)


def test_bad_requests_change_nothing(sqlite_platform):
    p = sqlite_platform
    m = paid_merchant(p, 50_00)
    with pytest.raises(PayoutAccountMissing):
        payouts.request_payout(p, m, 10_00, "no-account")
    with pytest.raises(PayoutAccountInvalid):
        payouts.set_settlement_account(p, m, "6225000000000001", "某公司")  # fails Luhn
    _on_file(p, m)
    with pytest.raises(MerchantBalanceNotEnough):
        payouts.request_payout(p, m, 100_01, "too-much")
    for bad in (0, -1, 1.5):
        with pytest.raises(AmountInvalid):
            payouts.request_payout(p, m, bad, "bad")  # type: ignore[arg-type]
    assert merchant_fen(p, m) == 100_00
    assert payouts.list_payouts(p, m) == []
    assert_ledger_clean(p)


def test_the_daily_payout_runs_once_a_day(sqlite_platform):
    p = sqlite_platform
    try:
        at(DAY)
        auto = paid_merchant(p, 80_00)
        manual = paid_merchant(p, 10_00)
        card = _on_file(p, auto, auto=True)
        _on_file(p, manual)
        before = bank_fen(p, card)
        first = payouts.run_auto_payouts(p, DAY)
        assert [x["amount_fen"] for x in first["paid"]] == [160_00]
        assert payouts.run_auto_payouts(p, DAY) == {
            "day": DAY.isoformat(),
            "paid": [],
            "skipped": [auto],
            "failed": [],
        }
        assert merchant_fen(p, auto) == 0 and merchant_fen(p, manual) == 20_00
        assert bank_fen(p, card) - before == 160_00
        assert payouts.run_auto_payouts(p, DAY + timedelta(days=1))["skipped"] == [auto]
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()


def test_concurrent_payouts_never_take_more_than_the_balance(sqlite_platform):
    import threading

    from qianbao.platform.errors import QianbaoError

    p = sqlite_platform
    m = paid_merchant(p, 150_00)  # 300 CNY over two units
    _on_file(p, m)
    results: list[str] = []

    def pay_out(i: int) -> None:
        try:
            results.append(payouts.request_payout(p, m, 70_00, f"c-{i}")["status"])
        except QianbaoError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=pay_out, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    paid = results.count("SUCCEEDED")
    assert paid == 4 and len(results) == 6, results  # 4 × 70 fit in 300, two are refused
    assert set(results) <= {"SUCCEEDED", "MERCHANT_BALANCE_NOT_ENOUGH", "BALANCE_NOT_ENOUGH"}
    assert merchant_fen(p, m) == 300_00 - paid * 70_00
    assert_ledger_clean(p)
