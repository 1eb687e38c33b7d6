"""Trades: every transition of instant trades, driven by the business clock where time matters."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from qianbao.payments import secured, trades
from qianbao.platform.clock import clock
from qianbao.platform.errors import QianbaoError
from tests.conftest import assert_ledger_clean
from tests.factories import PAY_PASSWORD, new_user
from tests.trades.helpers import balance, merchant_fen, new_merchant, req


def _code(exc_info: pytest.ExceptionInfo[QianbaoError]) -> str:
    return exc_info.value.code


def test_create_pay_query_books_fee_and_is_idempotent(platform):
    m = new_merchant(platform)
    buyer = new_user(platform, unit=1, balance_fen=100_00)
    r = req(m, 12_34)
    trade = trades.create(platform, r, buyer)
    assert trade["status"] == trades.WAIT_BUYER_PAY
    assert platform.unit_of(trade["id"]) == platform.unit_of(buyer)  # lives in the buyer's unit
    assert trades.create(platform, r, buyer)["id"] == trade["id"]  # same out_trade_no, same body
    with pytest.raises(QianbaoError) as e:
        trades.create(platform, req(m, 99, out_trade_no=r.out_trade_no), buyer)
    assert _code(e) == "OUT_TRADE_NO_USED"

    paid = trades.pay(platform, trade["id"], buyer, PAY_PASSWORD)
    assert paid["status"] == trades.TRADE_SUCCESS
    assert paid["fee_fen"] == 7  # 0.6% of 12.34 = 7.404 -> 7
    assert balance(platform, buyer) == 100_00 - 12_34
    assert merchant_fen(platform, m) == 12_34 - 7
    found = trades.lookup(platform, m, out_trade_no=r.out_trade_no)
    assert found["id"] == trade["id"] and found["status"] == trades.TRADE_SUCCESS
    with pytest.raises(QianbaoError) as e:
        trades.pay(platform, trade["id"], buyer, PAY_PASSWORD)
    assert _code(e) == "TRADE_HAS_SUCCESS"
    with pytest.raises(QianbaoError) as e:  # another merchant cannot see it
        trades.lookup(platform, new_merchant(platform), trade_no=trade["id"])
    assert _code(e) == "TRADE_NOT_EXIST"
    assert_ledger_clean(platform)


def test_failed_payments_change_nothing(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=10_00)
    other = new_user(p, balance_fen=10_00)
    trade = trades.create(p, req(m, 20_00), buyer)
    with pytest.raises(QianbaoError) as e:
        trades.pay(p, trade["id"], buyer, PAY_PASSWORD)
    assert _code(e) == "BALANCE_NOT_ENOUGH"
    with pytest.raises(QianbaoError) as e:
        trades.pay(p, trade["id"], other, PAY_PASSWORD)
    assert _code(e) == "TRADE_BUYER_NOT_MATCH"
    with pytest.raises(QianbaoError) as e:
        trades.pay(p, trade["id"], buyer, "000111")
    assert _code(e) == "WRONG_PAY_PASSWORD"
    assert trades.get_trade(p, trade["id"])["status"] == trades.WAIT_BUYER_PAY
    assert balance(p, buyer) == 10_00 and merchant_fen(p, m) == 0
    assert_ledger_clean(p)


@pytest.mark.parametrize("bad", [0, -1, 1.5, 10**15])
def test_bad_amounts_are_refused(sqlite_platform, bad):
    m = new_merchant(sqlite_platform)
    buyer = new_user(sqlite_platform)
    with pytest.raises(QianbaoError) as e:
        trades.create(sqlite_platform, req(m, bad), buyer)
    assert _code(e) in ("AMOUNT_INVALID", "AMOUNT_TOO_LARGE")


def test_unpaid_trade_closes_itself_on_the_business_clock(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(2026, 3, 1, 10, 0))
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=50_00)
    trade = trades.create(p, req(m, 10_00, timeout_minutes=30), buyer)
    clock.advance(timedelta(minutes=29))
    assert secured.run_due_jobs(p)["trades_closed"] == 0
    clock.advance(timedelta(minutes=2))
    with pytest.raises(QianbaoError) as e:  # timed out: refused even before the job runs
        trades.pay(p, trade["id"], buyer, PAY_PASSWORD)
    assert _code(e) == "TRADE_HAS_CLOSED"
    assert secured.run_due_jobs(p)["trades_closed"] == 1
    assert trades.get_trade(p, trade["id"])["status"] == trades.TRADE_CLOSED
    with pytest.raises(QianbaoError) as e:
        trades.close(p, m, trade_no=trade["id"])
    assert _code(e) == "TRADE_HAS_CLOSED"
    assert balance(p, buyer) == 50_00


def test_precreate_binds_the_first_scanning_buyer_in_its_own_unit(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    b0 = new_user(p, unit=0, balance_fen=50_00)
    b1 = new_user(p, unit=1, balance_fen=50_00)
    r = req(m, 8_88)
    order = trades.precreate(p, r)
    assert order["qr_code"].endswith(f"/cashier/o/{order['id']}")
    assert trades.lookup(p, m, out_trade_no=r.out_trade_no)["status"] == trades.WAIT_BUYER_PAY
    trade = trades.bind_buyer(p, order["id"], b1)
    assert p.unit_of(trade["id"]) == 1
    assert trades.bind_buyer(p, order["id"], b1)["id"] == trade["id"]  # scanning again is fine
    with pytest.raises(QianbaoError) as e:
        trades.bind_buyer(p, order["id"], b0)
    assert _code(e) == "TRADE_BUYER_NOT_MATCH"
    trades.pay(p, trade["id"], b1, PAY_PASSWORD)
    assert trades.lookup(p, m, out_trade_no=r.out_trade_no)["status"] == trades.TRADE_SUCCESS
    assert_ledger_clean(p)


def test_unscanned_precreate_times_out_and_close_is_final(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(2026, 3, 1, 10, 0))
    m = new_merchant(p)
    buyer = new_user(p)
    a = trades.precreate(p, req(m, 1_00, timeout_minutes=5))
    b = trades.precreate(p, req(m, 1_00))
    clock.advance(timedelta(minutes=6))
    assert secured.run_due_jobs(p)["orders_closed"] == 1
    assert trades.lookup(p, m, out_trade_no=a["out_trade_no"])["status"] == trades.TRADE_CLOSED
    trades.close(p, m, out_trade_no=b["out_trade_no"])
    for order in (a, b):
        with pytest.raises(QianbaoError) as e:
            trades.bind_buyer(p, order["id"], buyer)
        assert _code(e) == "TRADE_HAS_CLOSED"


def test_partial_and_full_refunds(platform):
    m = new_merchant(platform)
    buyer = new_user(platform, balance_fen=100_00)
    trade = trades.pay(
        platform, trades.create(platform, req(m, 100_00), buyer)["id"], buyer, PAY_PASSWORD
    )
    assert trade["fee_fen"] == 60
    r1 = trades.refund(platform, m, 33_33, "r1", trade_no=trade["id"])
    assert r1["fee_refund_fen"] == 20  # 60 × 33.33/100 = 19.998 -> 20
    assert trades.refund(platform, m, 33_33, "r1", trade_no=trade["id"])["id"] == r1["id"]
    with pytest.raises(QianbaoError) as e:
        trades.refund(platform, m, 1_00, "r1", trade_no=trade["id"])
    assert _code(e) == "IDEMPOTENCY_KEY_REUSED"
    trades.refund(platform, m, 33_33, "r2", out_trade_no=trade["out_trade_no"])
    with pytest.raises(QianbaoError) as e:
        trades.refund(platform, m, 33_35, "r3", trade_no=trade["id"])
    assert _code(e) == "REFUND_AMOUNT_EXCEEDED"
    assert trades.get_trade(platform, trade["id"])["status"] == trades.TRADE_SUCCESS
    last = trades.refund(platform, m, 33_34, "r3", trade_no=trade["id"])
    assert sum(r["fee_refund_fen"] for r in trades.list_refunds(platform, trade["id"])) == 60
    assert last["status"] == "SUCCEEDED"
    closed = trades.get_trade(platform, trade["id"])
    assert closed["status"] == trades.TRADE_CLOSED and closed["refunded_fen"] == 100_00
    assert balance(platform, buyer) == 100_00 and merchant_fen(platform, m) == 0
    with pytest.raises(QianbaoError) as e:
        trades.refund(platform, m, 1, "r4", trade_no=trade["id"])
    assert _code(e) == "TRADE_HAS_CLOSED"
    assert_ledger_clean(platform)


def test_refund_window_finishes_the_trade(sqlite_platform):
    p = sqlite_platform
    clock.set(datetime(2026, 1, 1, 9, 0))
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=10_00)
    trade = trades.pay(p, trades.create(p, req(m, 5_00), buyer)["id"], buyer, PAY_PASSWORD)
    clock.advance(timedelta(days=89))
    assert secured.run_due_jobs(p)["finished"] == 0
    clock.advance(timedelta(days=2))
    assert secured.run_due_jobs(p)["finished"] == 1
    assert trades.get_trade(p, trade["id"])["status"] == trades.TRADE_FINISHED
    for action in (
        lambda: trades.refund(p, m, 1_00, "late", trade_no=trade["id"]),
        lambda: trades.close(p, m, trade_no=trade["id"]),
        lambda: trades.cancel(p, m, trade_no=trade["id"]),
    ):
        with pytest.raises(QianbaoError) as e:
            action()
        assert _code(e) == "TRADE_HAS_FINISHED"


def test_close_and_cancel(sqlite_platform):
    p = sqlite_platform
    m = new_merchant(p)
    buyer = new_user(p, balance_fen=30_00)
    unpaid = trades.create(p, req(m, 10_00), buyer)
    paid = trades.pay(p, trades.create(p, req(m, 10_00), buyer)["id"], buyer, PAY_PASSWORD)
    with pytest.raises(QianbaoError) as e:
        trades.close(p, m, trade_no=paid["id"])
    assert _code(e) == "TRADE_HAS_SUCCESS"
    t, action = trades.cancel(p, m, trade_no=unpaid["id"])
    assert (t["status"], action) == (trades.TRADE_CLOSED, "close")
    with pytest.raises(QianbaoError) as e:
        trades.pay(p, unpaid["id"], buyer, PAY_PASSWORD)
    assert _code(e) == "TRADE_HAS_CLOSED"
    t, action = trades.cancel(p, m, trade_no=paid["id"])
    assert (t["status"], action) == (trades.TRADE_CLOSED, "refund")
    assert trades.cancel(p, m, trade_no=paid["id"])[1] == "refund"  # cancelling twice is harmless
    assert balance(p, buyer) == 30_00
    assert_ledger_clean(p)


def test_forbidden_transitions_name_their_error():
    sm = trades.INSTANT_TRADE
    for current, target in [
        (trades.TRADE_CLOSED, trades.TRADE_SUCCESS),
        (trades.TRADE_FINISHED, trades.TRADE_CLOSED),
        (trades.WAIT_BUYER_PAY, trades.TRADE_FINISHED),
    ]:
        with pytest.raises(QianbaoError) as e:
            sm.check(current, target)
        assert _code(e) == "INVALID_STATE_TRANSITION"
    with pytest.raises(QianbaoError):
        trades.SECURED_TRADE.check(trades.WAIT_SELLER_SEND_GOODS, trades.TRADE_FINISHED)
    with pytest.raises(QianbaoError):
        trades.SECURED_TRADE.check(trades.TRADE_DISPUTED, trades.WAIT_BUYER_CONFIRM_GOODS)


def test_created_trades_and_orders_answer_the_rows_as_stored(platform):
    """Create builds the order and the trade rows in memory (no read-back in the batch): the
    answers are exactly what fresh reads return, for a buyer in either unit."""
    m = new_merchant(platform)
    for unit in (0, 1):
        buyer = new_user(platform, unit=unit, balance_fen=100_00)
        trade = trades.create(
            platform, req(m, 5_00, app_id="app1", notify_url="https://x/n"), buyer
        )
        assert trade == trades.get_trade(platform, trade["id"])
        order = trades.get_order(platform, trade["order_id"])
        assert order == trades.find_order(platform, m, trade["out_trade_no"])
    pre = trades.precreate(platform, req(m, 7_00, timeout_minutes=5))
    assert {k: v for k, v in pre.items() if k != "qr_code"} == trades.get_order(platform, pre["id"])


def test_one_batch_claims_an_out_trade_no_once(platform):
    """Two orders for one out_trade_no in the same writer batch: the same request answers the
    first order, another body is OUT_TRADE_NO_USED — as when they come one after the other."""
    from tests.test_batched_writer import _one_batch

    m = new_merchant(platform)
    buyer = new_user(platform, unit=0, balance_fen=100_00)
    r = req(m, 3_00)
    unit = platform.unit_of_bucket(trades.order_bucket(m, r.out_trade_no))
    first, same, other = (
        trades._order_command(r, buyer),
        trades._order_command(r, buyer),
        trades._order_command(req(m, 4_00, out_trade_no=r.out_trade_no), buyer),
    )
    a, b, c = _one_batch(platform.writers[unit], [first, same, other])
    assert a.result()["id"] == b.result()["id"] == first.order_id
    assert isinstance(c.exception(), QianbaoError) and c.exception().code == "OUT_TRADE_NO_USED"
    assert trades.find_order(platform, m, r.out_trade_no)["id"] == first.order_id


def test_pay_decided_on_the_writers_memory_of_a_trade_is_checked_when_written(
    platform, monkeypatch
):
    """Paying a trade the writer opened reads nothing (``store.Waiting``); the batch's guarded
    update verifies it. A trade that changed where that memory did not see it (a direct update,
    while the caller still saw it waiting) is refused all the same, after the batch ran again
    precisely; a trade closed through the writer is refused too."""
    m = new_merchant(platform)
    buyer = new_user(platform, unit=0, balance_fen=100_00)
    changed = trades.create(platform, req(m, 3_00), buyer)
    writer = platform.writer_for(changed["id"])
    with platform.db_for(changed["id"]).transaction() as tx:
        tx.execute(
            "UPDATE trades SET status = 'TRADE_CLOSED' WHERE id = :id", {"id": changed["id"]}
        )
    precise = writer.precise_batches
    with monkeypatch.context() as patched:  # the caller read the trade before it changed
        patched.setattr(trades, "get_trade", lambda p, trade_id: changed)
        with pytest.raises(QianbaoError) as e:
            trades.pay(platform, changed["id"], buyer, PAY_PASSWORD)
    assert _code(e) == "TRADE_HAS_CLOSED"
    assert writer.precise_batches == precise + 1
    closed = trades.create(platform, req(m, 4_00), buyer)
    trades.close(platform, m, trade_no=closed["id"])
    with pytest.raises(QianbaoError) as e:
        trades.pay(platform, closed["id"], buyer, PAY_PASSWORD)
    assert _code(e) == "TRADE_HAS_CLOSED"
    paid = trades.pay(
        platform, trades.create(platform, req(m, 5_00), buyer)["id"], buyer, PAY_PASSWORD
    )
    assert paid == trades.get_trade(platform, paid["id"])  # the answer is the row as stored
    assert balance(platform, buyer) == 100_00 - 5_00
    assert_ledger_clean(platform)


def test_an_out_trade_no_is_taken_as_new_without_a_read_and_checked_when_written(platform):
    """Creating a trade reads no order (``store.ClaimedOrders``): a replay the order unit's
    writer remembers answers the first trade in the same batch run; one it does not remember
    (its memory dropped, as after a restart) meets the first order when the new one is written,
    and the batch runs again precisely: the same body answers the first trade, another body is
    OUT_TRADE_NO_USED. Nothing is left half-done, for a buyer in either unit."""
    m = new_merchant(platform)
    for unit in (0, 1):
        buyer = new_user(platform, unit=unit, balance_fen=100_00)
        r = req(m, 2_00)
        writer = platform.writers[trades._order_unit(platform, m, r.out_trade_no)]
        first = trades.create(platform, r, buyer)
        precise = writer.precise_batches
        assert trades.create(platform, r, buyer) == first  # remembered: no second run
        assert writer.precise_batches == precise
        writer._caches.pop("trades.orders")  # forgotten
        assert trades.create(platform, r, buyer) == first
        assert writer.precise_batches == precise + 1
        writer._caches.pop("trades.orders", None)
        with pytest.raises(QianbaoError) as e:
            trades.create(platform, req(m, 3_00, out_trade_no=r.out_trade_no), buyer)
        assert _code(e) == "OUT_TRADE_NO_USED"
        assert trades.find_order(platform, m, r.out_trade_no)["trade_id"] == first["id"]
        assert trades.list_buyer_trades(platform, buyer) == [first]
        paid = trades.pay(platform, first["id"], buyer, PAY_PASSWORD)
        assert trades.create(platform, r, buyer) == paid  # a replay after the pay: as stored
    assert_ledger_clean(platform)


def test_the_first_pay_of_a_trade_created_here_reads_no_trade_before_the_writer(
    platform, monkeypatch
):
    """``create`` keeps the trade for its first pay (``p.created_trades``): that pay's caller
    reads nothing; the writer still checks the trade, and any later attempt reads it again."""
    m = new_merchant(platform)
    buyer = new_user(platform, unit=0, balance_fen=100_00)
    other = new_user(platform, unit=1, balance_fen=100_00)
    read = trades.get_trade
    reads: list[str] = []
    monkeypatch.setattr(trades, "get_trade", lambda p, t: reads.append(t) or read(p, t))
    trade = trades.create(platform, req(m, 2_00), buyer)
    paid = trades.pay(platform, trade["id"], buyer, PAY_PASSWORD)
    assert reads == [] and paid == read(platform, trade["id"])
    with pytest.raises(QianbaoError) as e:
        trades.pay(platform, trade["id"], buyer, PAY_PASSWORD)
    assert _code(e) == "TRADE_HAS_SUCCESS" and reads == [trade["id"]]
    closed = trades.create(platform, req(m, 3_00), buyer)
    trades.close(platform, m, trade_no=closed["id"])
    with pytest.raises(QianbaoError) as e:
        trades.pay(platform, closed["id"], buyer, PAY_PASSWORD)
    assert _code(e) == "TRADE_HAS_CLOSED"
    theirs = trades.create(platform, req(m, 4_00), buyer)
    with pytest.raises(QianbaoError) as e:
        trades.pay(platform, theirs["id"], other, PAY_PASSWORD)
    assert _code(e) == "TRADE_BUYER_NOT_MATCH"
    assert trades.pay(platform, theirs["id"], buyer, PAY_PASSWORD)["status"] == trades.TRADE_SUCCESS
    assert balance(platform, buyer) == 100_00 - 2_00 - 4_00
    assert_ledger_clean(platform)
