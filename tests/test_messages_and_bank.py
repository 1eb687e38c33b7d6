"""Transactional messages (duplicates, check-back) and the bank channel's unknown outcomes."""

from __future__ import annotations

from datetime import timedelta

from qianbao.payments import service as payments
from qianbao.platform.clock import clock
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import PAY_PASSWORD, card_of, new_user


def test_duplicate_delivery_credits_once(sqlite_platform):
    p = sqlite_platform
    p.relay.stop()
    a = new_user(p, unit=0, balance_fen=5_000)
    b = new_user(p, unit=1)
    payments.transfer(p, a, b, 1_234, "dup", PAY_PASSWORD)
    pending = p.relay.pending(0)
    # the money, and risk's word to the payee's unit about the transfer (ADR 0621)
    assert sorted(m["topic"] for m in pending) == ["risk.inbound", "transfer.credit"]
    for _ in range(3):
        p.relay.deliver(0, pending + pending)
    assert payments.balance(p, b)["balance_fen"] == 1_234
    inbound = p.money.risk.units[1].state.counters.log("payee", b)
    assert inbound is not None and len(inbound.live()) == 1  # counted once in b's unit too
    assert_ledger_clean(p)


def test_prepared_messages_are_checked_back(sqlite_platform):
    """A crash between commit and confirm leaves PREPARED messages: check-back confirms them."""
    p = sqlite_platform
    p.relay.stop()
    a = new_user(p, unit=0, balance_fen=5_000)
    b = new_user(p, unit=1)
    payments.transfer(p, a, b, 700, "cb", PAY_PASSWORD)
    # Simulate the lost confirmation, plus an orphan whose business transaction never committed.
    with p.units[0].transaction() as tx:
        tx.execute("UPDATE messages SET status = 'PREPARED'")
        tx.execute(
            "INSERT INTO messages (id, dest_unit, topic, payload, status, attempts, created_at_ms,"
            " updated_at_ms) VALUES ('orphan00000000000000', 1, 'transfer.credit',"
            ' \'{"transfer_id": "nope", "to_user_id": "x", "amount_fen": 5,'
            " \"source_unit\": 0}', 'PREPARED', 0, :now, :now)",
            {"now": clock.now_ms()},
        )
    assert p.relay.check_back() == 0  # not old enough yet
    clock.set(clock.now() + timedelta(seconds=p.settings.message_checkback_after_s + 1))
    assert p.relay.check_back() == 3  # the credit, risk's word about it (ADR 0621), the orphan
    with p.units[0].read() as tx:
        statuses = dict(tx.all("SELECT id, status FROM messages"))
    assert statuses["orphan00000000000000"] == "CANCELLED"
    assert sorted(statuses.values()) == ["CANCELLED", "CONFIRMED", "CONFIRMED"]
    p.relay.drain()
    assert payments.balance(p, b)["balance_fen"] == 700
    assert_ledger_clean(p)
    clock.use_real_time()


def test_a_consumer_error_is_retried_not_lost(sqlite_platform):
    p = sqlite_platform
    p.relay.stop()
    a = new_user(p, unit=0, balance_fen=5_000)
    b = new_user(p, unit=1)
    real = p.relay.handlers["transfer.credit"]
    calls = []

    def flaky(ctx, payload):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("consumer crashed")
        real(ctx, payload)

    p.relay.handlers["transfer.credit"] = flaky
    try:
        payments.transfer(p, a, b, 300, "flaky", PAY_PASSWORD)
        credits = [m for m in p.relay.pending(0) if m["topic"] == "transfer.credit"]
        assert p.relay.deliver(0, credits) == 0
        assert payments.balance(p, b)["balance_fen"] == 0
        assert p.relay.drain() >= 1  # the credit again (and risk's views, ADR 0621)
        assert len(calls) == 2 and not p.relay.pending(0)
    finally:
        p.relay.handlers["transfer.credit"] = real
    assert payments.balance(p, b)["balance_fen"] == 300
    assert_ledger_clean(p)


def test_bank_timeouts_resolve_by_query(tmp_path):
    p = make_platform("sqlite", tmp_path, bank_timeout_rate=1.0, bank_seed=1)
    try:
        u = new_user(p, unit=0)
        card = card_of(p, u)
        bank = p.channels["SIMBANK"]
        orders = [payments.topup(p, u, card, 1_000, f"t{i}") for i in range(6)]
        assert {o["status"] for o in orders} == {"PENDING"}
        bank.timeout_rate = 0.0
        assert payments.resolve_pending_bank_orders(p) == 6
        final = [payments.get_bank_order(p, u, o["id"], refresh=False) for o in orders]
        received = sum(f["status"] == "SUCCEEDED" for f in final)
        # Lost on the way in: failed (the bank never saw them); lost on the way out: succeeded.
        assert {f["status"] for f in final} <= {"SUCCEEDED", "FAILED"}
        assert payments.balance(p, u)["balance_fen"] == 1_000 * received
        assert bank.balance_fen() == 1_000 * received  # the bank's books agree with ours
        assert_ledger_clean(p)
    finally:
        p.close()


def test_failed_withdrawal_is_reversed_with_its_fee_and_quota(tmp_path):
    p = make_platform("sqlite", tmp_path, withdraw_free_quota_fen=1_000)
    try:
        u = new_user(p, unit=1, balance_fen=100_000)
        card = card_of(p, u)
        p.channels["SIMBANK"].failure_rate = 1.0
        order = payments.withdraw(p, u, card, 50_000, "w1", PAY_PASSWORD)
        assert (order["status"], order["fee_fen"]) == ("FAILED", 49)
        assert payments.balance(p, u)["balance_fen"] == 100_000
        p.channels["SIMBANK"].failure_rate = 0.0
        again = payments.withdraw(p, u, card, 50_000, "w2", PAY_PASSWORD)
        assert (again["status"], again["fee_fen"]) == ("SUCCEEDED", 49)  # quota was restored
        assert payments.balance(p, u)["balance_fen"] == 100_000 - 50_049
        assert_ledger_clean(p)
    finally:
        p.close()


def test_a_consumer_that_keeps_failing_goes_dead_then_requeues(tmp_path):
    p = make_platform("sqlite", tmp_path, message_max_attempts=3)
    p.relay.stop()
    real = p.relay.handlers["transfer.credit"]
    p.relay.handlers["transfer.credit"] = lambda ctx, payload: 1 / 0
    try:
        a = new_user(p, unit=0, balance_fen=5_000)
        b = new_user(p, unit=1)
        payments.transfer(p, a, b, 900, "dead-1", PAY_PASSWORD)
        for _ in range(5):  # bounded: stops after 3 failures
            p.relay.drain()
        [dead] = p.relay.dead()
        assert (dead["topic"], dead["attempts"]) == ("transfer.credit", 3)
        from qianbao.ledger.service import check_platform

        assert check_platform(p).in_transit_fen == 900  # visible to operators
    finally:
        p.relay.handlers["transfer.credit"] = real
    assert p.relay.requeue_dead() == 1
    p.relay.drain()
    assert payments.balance(p, b)["balance_fen"] == 900
    assert p.relay.dead() == []
    assert_ledger_clean(p)
    p.close()
