"""The biller's daily file against our payments, and automatic payment (代扣) with consent."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from qianbao.billpay import autopay, reconcile
from qianbao.billpay import service as billpay
from qianbao.billpay.errors import AgreementLimitInvalid, ReconDayNotOver
from qianbao.members.errors import WrongPayPassword
from qianbao.platform.clock import clock
from tests.billpay.helpers import account_with_bills, bill_ids, water
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.moneyout.helpers import at
from tests.trades.helpers import balance

DAY = date(2026, 10, 12)


def test_the_daily_file_balances_and_shows_an_unsettled_write_off(platform):
    p = platform
    try:
        at(DAY)
        biller = water(p)
        acct = account_with_bills(p, biller, 12_34, 56_78, 90_12)
        u = new_user(p, balance_fen=300_00)
        first, second, third = bill_ids(p, biller, acct)
        billpay.pay_bill(p, u, biller, acct, first, "d-1", PAY_PASSWORD)
        billpay.pay_bill(p, u, biller, acct, second, "d-2", PAY_PASSWORD)
        p.billers.lose_answers = 1  # written off at the biller, its answer lost
        lost = billpay.pay_bill(p, u, biller, acct, third, "d-3", PAY_PASSWORD)
        with pytest.raises(ReconDayNotOver):
            reconcile.reconcile(p, biller, DAY)
        at(DAY + timedelta(days=1), 2)
        report = reconcile.reconcile(p, biller, DAY)
        assert lost["status"] == "PAID"
        assert report.status == reconcile.DIFFERENCES
        assert [d.problem for d in report.differences] == ["NOT_SETTLED"]
        billpay.resolve_unanswered(p)
        report = reconcile.reconcile(p, biller, DAY)
        assert report.status == reconcile.BALANCED, report.as_dict()
        expected = 12_34 + 56_78 + 90_12
        assert report.biller_total_fen == report.platform_total_fen == expected
        assert reconcile.stored_report(p, biller, DAY)["status"] == "BALANCED"
        assert balance(p, u) == 300_00 - expected
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()


def test_automatic_payment_pays_each_bill_once_within_the_consent(sqlite_platform):
    p = sqlite_platform
    biller = water(p)
    acct = account_with_bills(p, biller, 88_00, 350_00)
    u = new_user(p, balance_fen=1_000_00)
    with pytest.raises(WrongPayPassword):
        autopay.sign(p, u, biller, acct, 200_00, "000000")
    with pytest.raises(AgreementLimitInvalid):
        autopay.sign(p, u, biller, acct, 5_000_01, PAY_PASSWORD)
    agreement = autopay.sign(p, u, biller, acct, 200_00, PAY_PASSWORD)
    assert autopay.sign(p, u, biller, acct, 200_00, PAY_PASSWORD)["id"] == agreement["id"]
    first = autopay.run_autopay(p, DAY)
    assert [x["amount_fen"] for x in first["paid"]] == [88_00]
    assert first["paid"][0]["automatic"] is True
    assert len(first["waiting"]) == 1  # 350 CNY is above the agreed 200
    again = autopay.run_autopay(p, DAY)
    assert again["paid"] == [] and balance(p, u) == 1_000_00 - 88_00
    p.billers.issue_bill(biller, acct, "2026-03", 99_00, "2026-03-25")
    autopay.cancel(p, u, agreement["id"])
    assert autopay.run_autopay(p, DAY + timedelta(days=1))["paid"] == []
    assert [a["status"] for a in autopay.agreements(p, u)] == ["CANCELLED"]
    assert balance(p, u) == 1_000_00 - 88_00
    assert_ledger_clean(p)
