"""The ledger's guarantees and the group-commit writer's isolation between commands."""

from __future__ import annotations

import threading

import pytest

from qianbao.ledger import service as ledger
from qianbao.ledger.chart import account_id, unit_account
from qianbao.payments import service as payments
from qianbao.platform.errors import Busy, InsufficientBalance, NotFound
from qianbao.platform.writer import UnitWriter
from tests.factories import PAY_PASSWORD, new_user


def test_unbalanced_voucher_is_refused(sqlite_platform):
    p = sqlite_platform
    u = new_user(p, unit=0, balance_fen=1_000)
    acct = payments.user_account(u)
    with pytest.raises(AssertionError):
        p.writers[0].submit(
            lambda ctx: ledger.post(
                ctx,
                "bad",
                "x",
                [ledger.debit(acct, 100), ledger.credit(unit_account("fee_income", 0), 99)],
            )
        )
    assert ledger.check_platform(p).ok
    assert payments.balance(p, u)["balance_fen"] == 1_000


def test_failing_command_rolls_back_alone_inside_a_batch(sqlite_platform):
    """Many commands share one commit; a failing one loses only its own savepoint."""
    p = sqlite_platform
    rich = new_user(p, unit=0, balance_fen=10_000)
    poor = new_user(p, unit=0)
    fee = unit_account("fee_income", 0)

    def move(src: str, amount: int):
        return lambda ctx: ledger.post(
            ctx,
            "test",
            src,
            [ledger.debit(payments.user_account(src), amount), ledger.credit(fee, amount)],
        )

    futures = [p.writers[0].submit_async(move(rich if i % 2 else poor, 100)) for i in range(40)]
    outcomes = []
    for f in futures:
        try:
            f.result(timeout=10)
            outcomes.append("ok")
        except InsufficientBalance:
            outcomes.append("poor")
    assert outcomes.count("ok") == 20 and outcomes.count("poor") == 20
    assert payments.balance(p, rich)["balance_fen"] == 8_000
    assert ledger.check_platform(p).ok


def test_hot_account_credit_then_debit_in_one_batch(sqlite_platform):
    """A hot account credited earlier in the batch can be debited later in the same batch."""
    p = sqlite_platform
    u = new_user(p, unit=0, balance_fen=1_000)
    merchant = account_id("merchant_balance", "m@u0")
    p.writers[0].submit(ledger.opener(merchant, "m"))
    user = payments.user_account(u)
    gate = threading.Event()
    p.writers[0].submit_async(lambda ctx: gate.wait(5))  # hold the writer so the next queue up
    credit = p.writers[0].submit_async(
        lambda ctx: ledger.post(
            ctx, "t", "c", [ledger.debit(user, 500), ledger.credit(merchant, 500)]
        )
    )
    too_much = p.writers[0].submit_async(
        lambda ctx: ledger.post(
            ctx, "t", "d", [ledger.debit(merchant, 600), ledger.credit(user, 600)]
        )
    )
    back = p.writers[0].submit_async(
        lambda ctx: ledger.post(
            ctx, "t", "e", [ledger.debit(merchant, 200), ledger.credit(user, 200)]
        )
    )
    gate.set()
    credit.result(10)
    with pytest.raises(InsufficientBalance):
        too_much.result(10)
    back.result(10)
    assert ledger.get_account(p.units[0], merchant)["balance_fen"] == 300
    assert ledger.check_platform(p).ok


def test_ledger_check_finds_a_tampered_balance(sqlite_platform):
    p = sqlite_platform
    u = new_user(p, unit=0, balance_fen=1_000)
    with p.units[0].transaction() as tx:
        tx.execute(
            "UPDATE accounts SET balance_fen = balance_fen + 1 WHERE id = :id",
            {"id": payments.user_account(u)},
        )
    result = ledger.check_platform(p)
    assert not result.ok
    assert result.units[0].mismatched == [(payments.user_account(u), 1_001, 1_000)]


def test_holds_freeze_available_balance(sqlite_platform):
    p = sqlite_platform
    u = new_user(p, unit=0, balance_fen=1_000)
    acct = payments.user_account(u)
    hold = p.writers[0].submit(lambda ctx: ledger.place_hold(ctx, acct, 800, "escrow-1"))
    assert payments.balance(p, u) == {"balance_fen": 1_000, "frozen_fen": 800, "available_fen": 200}
    with p.units[0].read() as tx:  # the read used inside commands (credit day end)
        assert ledger.balance_in(tx, acct) == 1_000
        assert ledger.balance_in(tx, acct, available=True) == 200
        assert ledger.balance_in(tx, account_id("user_balance", "nobody")) == 0
    with pytest.raises(InsufficientBalance):
        payments.pay_merchant(p, u, _merchant(p), 300, "h1", PAY_PASSWORD)
    assert p.writers[0].submit(lambda ctx: ledger.release_hold(ctx, hold)) == 800
    with pytest.raises(NotFound):
        p.writers[0].submit(lambda ctx: ledger.release_hold(ctx, hold))
    payments.pay_merchant(p, u, _merchant(p), 300, "h2", PAY_PASSWORD)
    assert ledger.check_platform(p).ok


def _merchant(p) -> str:
    from qianbao.members import service as members

    try:
        return members.create_merchant(p, "Hold Shop")[0]["id"]
    except Exception:
        return members.list_merchants(p)[0]["id"]


def test_statement_running_balance(sqlite_platform):
    p = sqlite_platform
    a = new_user(p, unit=0, balance_fen=10_000)
    b = new_user(p, unit=0)
    for i in range(3):
        payments.transfer(p, a, b, 1_000 * (i + 1), f"s{i}", PAY_PASSWORD)
    lines = ledger.statement(p.units[0], payments.user_account(a))
    assert [x["amount_fen"] for x in lines] == [-3_000, -2_000, -1_000, 10_000]
    assert [x["balance_after_fen"] for x in lines] == [4_000, 7_000, 9_000, 10_000]
    older = ledger.statement(
        p.units[0], payments.user_account(a), limit=2, before_id=lines[1]["posting_id"]
    )
    assert [x["balance_after_fen"] for x in older] == [9_000, 10_000]


def test_full_queue_is_busy_not_a_wait(sqlite_platform):
    p = sqlite_platform
    writer = UnitWriter(0, p.units[0], p, queue_max=2)
    with pytest.raises(Busy):  # not started: nobody would answer
        writer.submit_async(lambda ctx: None)
    writer.start()
    gate, taken = threading.Event(), threading.Event()
    writer.submit_async(lambda ctx: (taken.set(), gate.wait(5)))
    assert taken.wait(5)  # the writer is busy with the first command
    queued = [writer.submit_async(lambda ctx: "ok") for _ in range(2)]
    with pytest.raises(Busy) as err:
        writer.submit_async(lambda ctx: None)
    assert err.value.code == "SYSTEM_BUSY"
    gate.set()
    assert [f.result(5) for f in queued] == ["ok", "ok"]
    writer.stop()
