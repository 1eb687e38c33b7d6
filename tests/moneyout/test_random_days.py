"""A day of random money out and bill payments against a bank and a biller that decline and
lose answers: after the follow-ups every order is settled, the ledger sums to zero, no balance
moved twice, and the bank's and the biller's files reconcile to the fen."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from qianbao.billpay import reconcile as bill_recon
from qianbao.billpay import service as billpay
from qianbao.channels import reconcile as recon
from qianbao.payments import service as payments
from qianbao.payments.moneyout import cards, orders, payouts
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from tests.billpay.helpers import account_with_bills, bill_ids, water
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.moneyout.helpers import at, fresh_card, paid_merchant
from tests.trades.helpers import balance, merchant_fen

DAY = date(2026, 10, 20)


@pytest.mark.parametrize("seed", [7, 2026])
def test_a_random_day_settles_and_reconciles(sqlite_platform, seed):
    p, rnd = sqlite_platform, random.Random(seed)
    try:
        at(DAY)
        m = paid_merchant(p, 400_00)
        payouts.set_settlement_account(p, m, fresh_card(), "随机商户")
        p.test_merchant = m
        biller = water(p)
        acct = account_with_bills(p, biller, *[rnd.randint(1, 150_00) for _ in range(6)])
        users = [new_user(p, unit=u % 2, balance_fen=600_00) for u in range(3)]
        bank, billers = p.channels["SIMBANK"], p.billers
        requests: list[tuple] = []
        for i in range(24):
            bank.failure_rate = billers.failure_rate = rnd.choice([0.0, 0.0, 0.5])
            bank.timeout_rate = billers.timeout_rate = rnd.choice([0.0, 0.0, 0.6])
            kind = rnd.choice(["payout", "card", "bill"])
            args = (kind, f"{kind}-{i}", rnd.choice(users), rnd.randint(1, 90_00))
            requests.append(args)
            _run(p, args, biller, acct, rnd)
            if rnd.random() < 0.3:  # a client retries a request it sent before
                _run(p, rnd.choice(requests), biller, acct, rnd)
        bank.failure_rate = bank.timeout_rate = billers.failure_rate = billers.timeout_rate = 0.0
        orders.resolve_pending(p)
        billpay.resolve_unanswered(p)
        for db in p.units:
            with db.read() as tx:
                assert (
                    tx.scalar("SELECT COUNT(*) FROM money_out_orders WHERE status = 'PENDING'") == 0
                )
                assert tx.scalar("SELECT COUNT(*) FROM bill_payments WHERE status = 'PAID'") == 0
        _check_books(p, m, users, biller, acct)
        at(DAY + timedelta(days=1), 1)
        assert recon.reconcile(p, "SIMBANK", DAY).status == recon.BALANCED
        assert bill_recon.reconcile(p, biller, DAY).status == bill_recon.BALANCED
        assert_ledger_clean(p)
    finally:
        clock.use_real_time()


def _run(p, args: tuple, biller: str, acct: str, rnd: random.Random) -> None:
    kind, request_id, user, amount = args
    try:
        if kind == "payout":
            payouts.request_payout(p, _merchant(p), amount, request_id)
        elif kind == "card":
            cards.transfer_to_card(
                p, user, _card(request_id), "王五", amount, request_id, PAY_PASSWORD
            )
        else:
            open_bills = bill_ids(p, biller, acct)
            if open_bills:
                billpay.pay_bill(
                    p, user, biller, acct, rnd.choice(open_bills), request_id, PAY_PASSWORD
                )
    except QianbaoError:
        pass  # refused (balance, a bill paid meanwhile, a key reused): nothing may have moved


_CARDS: dict[str, str] = {}


def _merchant(p) -> str:
    """The one merchant with an account on file in this test."""
    return str(p.test_merchant)


def _card(request_id: str) -> str:
    return _CARDS.setdefault(request_id, fresh_card())


def _check_books(p, m: str, users: list[str], biller: str, acct: str) -> None:
    """Every balance equals its opening minus what its settled orders say (nothing twice)."""
    paid_out = sum(
        int(o["amount_fen"]) for o in payouts.list_payouts(p, m, 1000) if o["status"] == "SUCCEEDED"
    )
    assert merchant_fen(p, m) == 800_00 - paid_out
    for u in users:
        sent = sum(
            int(o["amount_fen"]) + int(o["fee_fen"])
            for o in cards.list_card_transfers(p, u, 1000)
            if o["status"] == "SUCCEEDED"
        )
        bills = sum(
            int(b["amount_fen"])
            for b in billpay.list_payments(p, u, 1000)
            if b["status"] == "SUCCEEDED"
        )
        assert balance(p, u) == 600_00 - sent - bills
    assert payments.merchant_balance(p, str(billpay.get_biller(p, biller)["merchant_id"]))[
        "balance_fen"
    ] == sum(
        int(b["amount_fen"])
        for u in users
        for b in billpay.list_payments(p, u, 1000)
        if b["status"] == "SUCCEEDED"
    )
