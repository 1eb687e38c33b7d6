"""The one engine on a real platform: commands are data that replay unchanged, and every kind
of payment honours the merchant's settlement contract."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from qianbao.credit import service as credit
from qianbao.members import service as members
from qianbao.money_movement import guards
from qianbao.money_movement import pay as money_pay
from qianbao.money_movement.commands import PAYMENT, Pay
from qianbao.payments import service as payments
from qianbao.payments import settlement
from qianbao.platform.clock import clock
from qianbao.platform.errors import InvalidArgument
from qianbao.platform.ids import bucket_of, new_id
from tests.conftest import assert_ledger_clean
from tests.credit.helpers import huabei_user
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.helpers import balance, merchant_fen, new_merchant

D = date(2026, 8, 3)


def _pay(p, payer: str, merchant: str, amount_fen: int, request_id: str) -> Pay:
    return money_pay.command(
        purpose=PAYMENT,
        payment_id=new_id(bucket_of(payer)),
        payer=guards.authorise(p, payer, amount_fen, PAY_PASSWORD),
        merchant=guards.payable_merchant(p, merchant),
        amount_fen=amount_fen,
        request_id=request_id,
    )


def test_a_command_travels_as_json_and_replays_to_the_first_answer(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    u = new_user(p, unit=0, balance_fen=100_00)
    command = _pay(p, u, m, 12_34, "json-1")
    wire = json.dumps(p.commands.encode(command))  # logged, or sent to a unit process
    again = p.commands.decode(json.loads(wire))
    assert again == command
    first = p.commands.submit(0, again)
    replay = p.commands.submit(0, p.commands.decode(json.loads(wire)))
    assert replay["id"] == first["id"] == command.payment_id
    assert balance(p, u) == 100_00 - 12_34  # the replay moved nothing
    assert merchant_fen(p, m) == 12_34 - 7
    assert_ledger_clean(p)


def test_a_malformed_command_is_refused(sqlite_platform):
    p = sqlite_platform
    with pytest.raises(InvalidArgument):
        p.commands.decode({"type": "Steal", "fields": {}})
    fields = p.commands.encode(_pay(p, new_user(p, balance_fen=1_00), new_merchant(p), 1, "x"))
    del fields["fields"]["amount_fen"]
    with pytest.raises(InvalidArgument):
        p.commands.decode(fields)
    with pytest.raises(LookupError):
        p.commands.encode(object())


def test_every_kind_of_payment_honours_t1(sqlite_platform):
    """Wallet, Huabei and trade payments of a T+1 merchant wait in its pending account and the
    day's batch; a refund takes its net back out of the batch; the day end settles it once."""
    p = sqlite_platform
    clock.set(datetime(D.year, D.month, D.day, 10, 0))
    m = new_merchant(p)
    members.set_settle_cycle(p, m, "T1")
    buyer = new_user(p, unit=0, balance_fen=1_000_00, password_free_fen=100_000)
    payment = payments.pay_merchant(p, buyer, m, 100_00, "w-1")  # fee 60
    huabei = huabei_user(p, unit=0, line_fen=1_000_00)
    purchase = credit.pay_merchant_with_huabei(p, huabei, m, 50_00, "h-1")  # fee 30
    assert merchant_fen(p, m) == 0  # nothing reaches the balance before the day end
    assert settlement.pending_fen(p, m) == 100_00 - 60 + 50_00 - 30
    payments.refund(p, m, payment["id"], 10_00, "w-r1")  # fee back 6
    credit.refund_huabei_purchase(p, m, purchase["id"], 50_00, "h-r1")  # fee back 30
    assert settlement.pending_fen(p, m) == 90_00 - 54
    (batch,) = settlement.list_batches(p, m, day=D)
    assert (batch["gross_fen"], batch["refund_fen"], batch["fee_fen"]) == (150_00, 60_00, 54)
    clock.set(datetime(D.year, D.month, D.day, 10, 0) + timedelta(days=1))
    assert settlement.run_settlement(p)["batches"] == 1
    assert settlement.run_settlement(p)["batches"] == 0  # once
    assert merchant_fen(p, m) == 90_00 - 54 and settlement.pending_fen(p, m) == 0
    assert_ledger_clean(p)


def test_a_paid_trade_answers_the_row_as_stored(sqlite_platform):
    """The trade purpose builds its answer from the row it read and the columns it moved; the
    answer is exactly what a fresh read returns."""
    from qianbao.payments import trades
    from tests.trades.helpers import req

    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, unit=1, balance_fen=100_00, password_free_fen=100_000)
    t = trades.create(p, req(m, 12_34), buyer)
    paid = trades.pay(p, t["id"], buyer, None)
    assert paid == trades.get_trade(p, t["id"])
    assert paid["status"] == trades.TRADE_SUCCESS and paid["fee_fen"] == 7


def test_a_payment_is_visible_to_its_payer_and_merchant_only(sqlite_platform):
    """Ownership is the use case's rule (the routes pass the caller): anyone else is told the
    payment does not exist, and cannot list or make its refunds."""
    from qianbao.payments.errors import PaymentNotFound

    p = sqlite_platform
    m, other_m = new_merchant(p), new_merchant(p)
    payer = new_user(p, balance_fen=10_00, password_free_fen=100_000)
    stranger = new_user(p)
    row = payments.pay_merchant(p, payer, m, 5_00, "own-1")
    assert payments.get_payment(p, row["id"], payer)["id"] == row["id"]
    assert payments.get_payment(p, row["id"], m)["id"] == row["id"]
    for outsider in (stranger, other_m, "not-an-id"):
        with pytest.raises(PaymentNotFound):
            payments.get_payment(p, row["id"], outsider)
        with pytest.raises(PaymentNotFound):
            payments.list_refunds(p, row["id"], outsider)
    for not_the_merchant in (payer, other_m):
        with pytest.raises(PaymentNotFound):
            payments.refund(p, not_the_merchant, row["id"], 1_00, "steal")
    assert balance(p, payer) == 5_00
    assert_ledger_clean(p)
