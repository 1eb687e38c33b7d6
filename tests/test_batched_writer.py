"""Batched persistence: commands decided in memory, one statement per table per batch, and the
same answers as one command at a time (docs/decisions/0008-batched-persistence.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest

from qianbao.ledger import service as ledger
from qianbao.ledger.chart import unit_account
from qianbao.members import service as members
from qianbao.money_movement import guards
from qianbao.money_movement import pay as money_pay
from qianbao.money_movement.commands import PAYMENT
from qianbao.money_movement.limits import count_daily
from qianbao.payments import service as payments
from qianbao.platform.errors import IdempotencyKeyReused, InsufficientBalance, LimitExceeded
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import UnitWriter, WriteContext
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user


def _one_batch(writer: UnitWriter, commands: list[Callable[[WriteContext], Any]]) -> list[Future]:
    """Queue ``commands`` behind a held writer so they run as one batch (checked)."""
    gate, held = threading.Event(), threading.Event()
    writer.submit_async(lambda ctx: (held.set(), gate.wait(5)))
    assert held.wait(5)
    before = writer.batches
    futures = [writer.submit_async(c) for c in commands]
    gate.set()
    for f in futures:
        f.exception(timeout=10)
    assert writer.batches == before + 2, "the commands did not share one batch"
    return futures


def _shop(p: Platform) -> dict[str, Any]:
    merchant = members.create_merchant(p, f"Batch Shop {id(p)}")[0]
    return members.get_merchant_cached(p, merchant["id"])


def _payment(p: Platform, payer: str, shop: dict[str, Any], amount_fen: int, key: str, memo=""):
    """The writer callable of one plain payment (the engine's ``Pay``, bound to its handler)."""
    pay = money_pay.command(
        purpose=PAYMENT,
        payment_id=new_id(bucket_of(payer)),
        payer=guards.authorise(p, payer, amount_fen, PAY_PASSWORD),
        merchant=shop,
        amount_fen=amount_fen,
        request_id=key,
        memo=memo,
    )
    return p.commands.bind(pay)


def test_same_key_twice_in_one_batch_answers_the_first_payment(platform):
    p = platform
    payer = new_user(p, unit=0, balance_fen=10_000)
    shop = _shop(p)
    first, replay, other_body = _one_batch(
        p.writers[0],
        [
            _payment(p, payer, shop, 1_000, "k1"),
            _payment(p, payer, shop, 1_000, "k1"),
            _payment(p, payer, shop, 2_000, "k1"),
        ],
    )
    assert replay.result()["id"] == first.result()["id"]
    assert isinstance(other_body.exception(), IdempotencyKeyReused)
    assert payments.balance(p, payer)["balance_fen"] == 9_000
    # and across batches: the recent-key cache and the table answer alike
    again = p.writers[0].submit(_payment(p, payer, shop, 1_000, "k1"))
    assert again["id"] == first.result()["id"]
    p.relay.drain()
    assert_ledger_clean(p)


def test_overdraft_in_the_middle_of_a_batch_fails_alone(platform):
    p = platform
    payer = new_user(p, unit=0, balance_fen=2_500)
    shop = _shop(p)
    writer = p.writers[0]
    precise_before = writer.precise_batches
    outcomes = _one_batch(writer, [_payment(p, payer, shop, 1_000, f"o{i}") for i in range(4)])
    assert [f.exception() is None for f in outcomes] == [True, True, False, False]
    assert isinstance(outcomes[2].exception(), InsufficientBalance)
    assert payments.balance(p, payer)["balance_fen"] == 500
    assert writer.precise_batches == precise_before  # undone in memory, no second run
    p.relay.drain()
    assert_ledger_clean(p)


def test_daily_limit_reached_in_the_middle_of_a_batch(platform):
    p = platform
    payer = new_user(p, unit=0, balance_fen=10_000)
    per_day_fen = 1_000
    user, fee = payments.user_account(payer), unit_account("fee_income", 0)

    def spend(amount_fen: int, ref: str) -> Callable[[WriteContext], None]:
        def command(ctx: WriteContext) -> None:
            count_daily(ctx, payer, amount_fen, per_day_fen)
            ledger.post(
                ctx, "t", ref, [ledger.debit(user, amount_fen), ledger.credit(fee, amount_fen)]
            )

        return command

    amounts = [300, 300, 300, 200, 100]  # the fourth would pass the day's 1,000 fen
    outcomes = _one_batch(p.writers[0], [spend(a, f"d{i}") for i, a in enumerate(amounts)])
    assert [f.exception() is None for f in outcomes] == [True, True, True, False, True]
    assert isinstance(outcomes[3].exception(), LimitExceeded)
    assert payments.balance(p, payer)["balance_fen"] == 9_000
    with pytest.raises(LimitExceeded):  # the next batch reads the committed total
        p.writers[0].submit(spend(1, "d5"))
    assert_ledger_clean(p)


def test_hot_account_credited_by_many_is_one_update(platform):
    p = platform
    shop = _shop(p)
    payers = [new_user(p, unit=0, balance_fen=1_000) for _ in range(5)]
    outcomes = _one_batch(
        p.writers[0],
        [_payment(p, u, shop, 100, f"h{i}-{j}") for j in range(4) for i, u in enumerate(payers)],
    )
    assert all(f.exception() is None for f in outcomes)
    fee_fen = sum(f.result()["fee_fen"] for f in outcomes)
    merchant = members.merchant_account(shop["id"], 0)
    assert ledger.get_account(p.units[0], merchant)["balance_fen"] == 20 * 100 - fee_fen
    assert all(payments.balance(p, u)["balance_fen"] == 600 for u in payers)
    p.relay.drain()
    assert_ledger_clean(p)


def test_a_cache_gone_stale_is_verified_not_trusted(sqlite_platform):
    """Someone else changed a balance behind the writer: a refusal is checked on a fresh read,
    a success is checked by the guarded update (the batch then runs again precisely)."""
    p = sqlite_platform
    payer = new_user(p, unit=0, balance_fen=1_000)
    shop = _shop(p)
    writer = p.writers[0]
    writer.submit(_payment(p, payer, shop, 100, "s0"))  # the writer now caches 900
    _tamper(p, payer, +5_000)
    big = writer.submit(_payment(p, payer, shop, 3_000, "s1"))  # cache says no; fresh says yes
    assert big["amount_fen"] == 3_000
    _tamper(p, payer, -2_800)  # the cache now believes 2,900; the table holds 100
    with pytest.raises(InsufficientBalance):
        writer.submit(_payment(p, payer, shop, 1_000, "s2"))
    assert payments.balance(p, payer)["balance_fen"] == 100


def _tamper(p: Platform, user: str, delta_fen: int) -> None:
    with p.units[0].transaction() as tx:
        tx.execute(
            "UPDATE accounts SET balance_fen = balance_fen + :d WHERE id = :id",
            {"d": delta_fen, "id": payments.user_account(user)},
        )


def test_read_your_writes_and_a_failing_staged_insert(sqlite_platform):
    p = sqlite_platform
    writer = p.writers[0]
    sql = "INSERT INTO withdraw_quota (user_id, used_fen) VALUES (:u, :d)"  # a plain insert: staged
    read = "SELECT used_fen FROM withdraw_quota WHERE user_id = :u"

    def insert_then_read(ctx: WriteContext) -> int:
        ctx.tx.execute(sql, {"u": "rw-1", "d": 7})
        return int(ctx.tx.scalar(read, {"u": "rw-1"}))

    def duplicate(ctx: WriteContext) -> None:
        ctx.tx.execute(sql, {"u": "rw-1", "d": 8})

    seen, dup, fine = _one_batch(
        writer,
        [insert_then_read, duplicate, lambda ctx: ctx.tx.execute(sql, {"u": "rw-2", "d": 9})],
    )
    assert seen.result() == 7
    assert dup.exception() is not None  # the primary key, found when the batch ran precisely
    assert fine.exception() is None
    with p.units[0].read() as tx:
        rows = tx.all("SELECT user_id, used_fen FROM withdraw_quota ORDER BY user_id")
    assert [(r["user_id"], r["used_fen"]) for r in rows] == [("rw-1", 7), ("rw-2", 9)]


def test_a_consumer_batch_with_a_failing_message(sqlite_platform):
    """The relay hands a unit many messages as one command; one that fails is retried later,
    the others apply once."""
    p = sqlite_platform
    p.relay.stop()
    senders = [new_user(p, unit=0, balance_fen=5_000) for _ in range(4)]
    receivers = [new_user(p, unit=1) for _ in range(4)]
    for k, (a, b) in enumerate(zip(senders, receivers, strict=True)):
        payments.transfer(p, a, b, 100 * (k + 1), f"cb{k}", PAY_PASSWORD)
    real = p.relay.handlers["transfer.credit"]
    bad = receivers[2]

    def flaky(ctx: WriteContext, payload: dict[str, Any]) -> None:
        if payload["to_user_id"] == bad:
            raise RuntimeError("consumer crashed")
        real(ctx, payload)

    p.relay.handlers["transfer.credit"] = flaky
    try:
        pending = [m for m in p.relay.pending(0) if m["topic"] == "transfer.credit"]
        assert len(pending) == 4
        assert p.relay.deliver(0, pending + pending[:1]) == 3  # a duplicate too
    finally:
        p.relay.handlers["transfer.credit"] = real
    assert [payments.balance(p, b)["balance_fen"] for b in receivers] == [100, 200, 0, 400]
    assert p.relay.drain() >= 1
    assert [payments.balance(p, b)["balance_fen"] for b in receivers] == [100, 200, 300, 400]
    assert ledger.check_platform(p).in_transit_fen == 0
    assert_ledger_clean(p)


def test_balance_in_sees_the_batch_so_far(sqlite_platform):
    p = sqlite_platform
    payer = new_user(p, unit=0, balance_fen=1_000)
    fee = unit_account("fee_income", 0)
    user = payments.user_account(payer)

    def move_then_read(ctx: WriteContext) -> tuple[int, int]:
        ledger.post(ctx, "t", "b1", [ledger.debit(user, 300), ledger.credit(fee, 300)])
        return ledger.balance_in(ctx.tx, user), ledger.balance_in(ctx.tx, fee)

    before_fee = ledger.get_account(p.units[0], fee)["balance_fen"]
    assert p.writers[0].submit(move_then_read) == (700, before_fee + 300)


def test_a_command_failing_after_its_own_savepoint_leaves_nothing(sqlite_platform):
    """A savepoint writes what the command staged before it; a later failure of the command
    must still undo that (the batch then runs precisely)."""
    p = sqlite_platform
    payer = new_user(p, unit=0, balance_fen=1_000)
    user, fee = payments.user_account(payer), unit_account("fee_income", 0)

    def half_then_fail(ctx: WriteContext) -> None:
        ledger.post(ctx, "t", "sp1", [ledger.debit(user, 400), ledger.credit(fee, 400)])
        with ctx.savepoint():
            pass
        raise RuntimeError("after the savepoint")

    ok, failing = _one_batch(
        p.writers[0],
        [
            lambda ctx: ledger.post(
                ctx, "t", "sp0", [ledger.debit(user, 100), ledger.credit(fee, 100)]
            ),
            half_then_fail,
        ],
    )
    assert ok.exception() is None and isinstance(failing.exception(), RuntimeError)
    assert payments.balance(p, payer)["balance_fen"] == 900
    assert_ledger_clean(p)
