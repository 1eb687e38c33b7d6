"""Paying bills: to the fen, from balance, card and Huabei, the biller's write-off and receipt,
a refusal refunded in full, a lost answer settled by the follow-up, replays and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qianbao.billpay import service as billpay
from qianbao.billpay.errors import (
    BillAccountNotFound,
    BillerCategoryInvalid,
    BillerNotFound,
    BillFundingInvalid,
    BillNotFound,
)
from qianbao.members.errors import WrongPayPassword
from qianbao.money_movement.commands import CARD, HUABEI
from qianbao.platform.clock import clock
from qianbao.platform.errors import IdempotencyKeyReused, InsufficientBalance
from tests.billpay.helpers import account_with_bills, bill_ids, water
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import huabei_user
from tests.factories import PAY_PASSWORD, card_of, new_user
from tests.trades.helpers import balance, merchant_fen


def _merchant(p, biller: str) -> str:
    return str(billpay.get_biller(p, biller)["merchant_id"])


def test_a_water_bill_paid_from_the_balance(platform):
    p = platform
    biller = water(p)
    acct = account_with_bills(p, biller, 86_35, 92_10)
    u = new_user(p, balance_fen=500_00)
    bills = billpay.lookup(p, biller, acct)
    assert [(b.period, b.amount_fen, b.holder) for b in bills] == [
        ("2026-01", 86_35, "张三"),
        ("2026-02", 92_10, "张三"),
    ]
    paid = billpay.pay_bill(p, u, biller, acct, bills[0].bill_id, "wb-1", PAY_PASSWORD)
    receipt = billpay.public_payment(paid)
    assert receipt["status"] == "SUCCEEDED" and receipt["receipt_no"].startswith("R" + biller)
    assert balance(p, u) == 500_00 - 86_35
    assert merchant_fen(p, _merchant(p, biller)) == 86_35  # a biller pays no fee by default
    assert bill_ids(p, biller, acct) == [bills[1].bill_id]  # written off at the biller
    again = billpay.pay_bill(p, u, biller, acct, bills[0].bill_id, "wb-1", PAY_PASSWORD)
    assert again["id"] == paid["id"] and balance(p, u) == 500_00 - 86_35
    with pytest.raises(IdempotencyKeyReused):
        billpay.pay_bill(p, u, biller, acct, bills[1].bill_id, "wb-1", PAY_PASSWORD)
    with pytest.raises(BillNotFound):  # paid: no longer payable under another request id
        billpay.pay_bill(p, u, biller, acct, bills[0].bill_id, "wb-2", PAY_PASSWORD)
    assert billpay.get_payment(p, u, paid["id"])["receipt_no"] == receipt["receipt_no"]
    assert [r["id"] for r in billpay.list_payments(p, u)] == [paid["id"]]
    assert_ledger_clean(p)


def test_a_bill_the_biller_refuses_is_refunded_in_full(sqlite_platform):
    p = sqlite_platform
    biller = water(p)
    acct = account_with_bills(p, biller, 45_00)
    u = new_user(p, balance_fen=100_00)
    p.billers.failure_rate = 1.0
    row = billpay.pay_bill(p, u, biller, acct, bill_ids(p, biller, acct)[0], "r-1", PAY_PASSWORD)
    p.billers.failure_rate = 0.0
    assert (row["status"], row["refunded_fen"]) == ("REFUNDED", 45_00)
    assert "biller refused" in row["reason"]
    assert balance(p, u) == 100_00 and merchant_fen(p, _merchant(p, biller)) == 0
    assert len(bill_ids(p, biller, acct)) == 1  # still unpaid at the biller
    assert_ledger_clean(p)


def test_card_and_huabei_pay_bills_and_a_refused_card_payment_goes_back(sqlite_platform):
    p = sqlite_platform
    biller = water(p)
    acct = account_with_bills(p, biller, 30_00, 40_00, 50_00)
    ids = bill_ids(p, biller, acct)
    u = new_user(p)
    card = card_of(p, u)
    from qianbao.members import service as members
    from qianbao.members import vault

    card_no = vault.card_number(p, members.get_card(p, u, card))
    before = p.channels["SIMBANK"].balance_fen(card_no)
    row = billpay.pay_bill(
        p, u, biller, acct, ids[0], "c-1", PAY_PASSWORD, funding=CARD, card_id=card
    )
    assert row["status"] == "SUCCEEDED"
    assert p.channels["SIMBANK"].balance_fen(card_no) == before - 30_00
    p.billers.failure_rate = 1.0
    refused = billpay.pay_bill(
        p, u, biller, acct, ids[1], "c-2", PAY_PASSWORD, funding=CARD, card_id=card
    )
    p.billers.failure_rate = 0.0
    assert refused["status"] == "REFUNDED"
    assert p.channels["SIMBANK"].balance_fen(card_no) == before - 30_00  # paid back to the card
    h = huabei_user(p, line_fen=1_000_00)
    acct2 = account_with_bills(p, biller, 77_77)
    huabei = billpay.pay_bill(
        p, h, biller, acct2, bill_ids(p, biller, acct2)[0], "h-1", PAY_PASSWORD, funding=HUABEI
    )
    assert huabei["status"] == "SUCCEEDED"
    from qianbao.credit import service as credit

    assert credit.summary(p, h)["available_fen"] == 1_000_00 - 77_77
    assert merchant_fen(p, _merchant(p, biller)) == 30_00 + 77_77
    assert_ledger_clean(p)


def test_a_lost_answer_is_settled_by_the_follow_up(sqlite_platform):
    p = sqlite_platform
    biller = water(p)
    acct = account_with_bills(p, biller, *[10_00 + i for i in range(6)])
    u = new_user(p, balance_fen=200_00)
    p.billers.timeout_rate = 1.0  # half lost on the way in, half on the way out
    rows = [
        billpay.pay_bill(p, u, biller, acct, bill, f"t-{i}", PAY_PASSWORD)
        for i, bill in enumerate(bill_ids(p, biller, acct))
    ]
    p.billers.timeout_rate = 0.0
    assert {r["status"] for r in rows} == {"PAID"}
    assert billpay.resolve_unanswered(p) == 6
    done = [billpay.get_payment(p, u, r["id"], refresh=False) for r in rows]
    kept = sum(r["amount_fen"] for r in done if r["status"] == "SUCCEEDED")
    assert {r["status"] for r in done} <= {"SUCCEEDED", "REFUNDED"}
    assert balance(p, u) == 200_00 - kept
    assert merchant_fen(p, _merchant(p, biller)) == kept
    assert len(bill_ids(p, biller, acct)) == sum(r["status"] == "REFUNDED" for r in done)
    assert_ledger_clean(p)


def test_bad_input_moves_nothing(sqlite_platform):
    p = sqlite_platform
    biller = water(p)
    acct = account_with_bills(p, biller, 500_01)
    bill = bill_ids(p, biller, acct)[0]
    u = new_user(p, balance_fen=500_00)
    with pytest.raises(BillerNotFound):
        billpay.lookup(p, "NOPE", acct)
    with pytest.raises(BillAccountNotFound):
        billpay.lookup(p, biller, "999")
    with pytest.raises(BillerCategoryInvalid):
        billpay.register_biller(p, "X1", "某公司", "BEER")
    with pytest.raises(BillNotFound):
        billpay.pay_bill(p, u, biller, acct, "made-up", "b-1", PAY_PASSWORD)
    with pytest.raises(BillFundingInvalid):
        billpay.pay_bill(p, u, biller, acct, bill, "b-2", PAY_PASSWORD, funding="GOLD")
    with pytest.raises(WrongPayPassword):
        billpay.pay_bill(p, u, biller, acct, bill, "b-3", "000000")
    with pytest.raises(InsufficientBalance):
        billpay.pay_bill(p, u, biller, acct, bill, "b-4", PAY_PASSWORD)
    assert balance(p, u) == 500_00
    assert bill_ids(p, biller, acct) == [bill]
    assert [r["status"] for r in billpay.list_payments(p, u)] == ["CREATED"]  # no money taken
    clock.set(clock.now() + timedelta(minutes=31))  # abandoned: the follow-up closes it
    try:
        assert billpay.resolve_unanswered(p) == 1
    finally:
        clock.use_real_time()
    assert [r["status"] for r in billpay.list_payments(p, u)] == ["CLOSED"]
    assert_ledger_clean(p)


def test_a_biller_is_not_paid_out_what_it_has_not_answered(sqlite_platform):
    from qianbao.payments.moneyout import payouts
    from qianbao.payments.moneyout.errors import MerchantBalanceNotEnough
    from tests.moneyout.helpers import fresh_card

    p = sqlite_platform
    biller = water(p)
    acct = account_with_bills(p, biller, 40_00, 25_00)
    first, second = bill_ids(p, biller, acct)
    u = new_user(p, balance_fen=100_00)
    billpay.pay_bill(p, u, biller, acct, first, "h-1", PAY_PASSWORD)
    p.billers.lose_answers = 1
    waiting = billpay.pay_bill(p, u, biller, acct, second, "h-2", PAY_PASSWORD)
    assert waiting["status"] == "PAID"
    m = _merchant(p, biller)
    payouts.set_settlement_account(p, m, fresh_card(), "杭州水务")
    assert merchant_fen(p, m) == 65_00
    with pytest.raises(MerchantBalanceNotEnough):  # 25 may still go back to the user
        payouts.request_payout(p, m, 65_00, "all")
    assert payouts.request_payout(p, m, 40_00, "answered")["status"] == "SUCCEEDED"
    assert billpay.resolve_unanswered(p) == 1  # written off: the hold ends
    assert payouts.request_payout(p, m, 25_00, "rest")["status"] == "SUCCEEDED"
    assert merchant_fen(p, m) == 0
    assert_ledger_clean(p)
