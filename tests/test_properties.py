"""Property tests: random sequences of money operations, replays, bank failures and duplicated,
reordered message delivery keep the ledger summing to zero, no balance negative, and nothing in
transit once the relay is drained; every balance equals a simple model of what succeeded.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.errors import QianbaoError
from tests.conftest import assert_ledger_clean, make_platform
from tests.factories import PAY_PASSWORD, card_of, new_user

USERS = 4
amounts = st.integers(min_value=1, max_value=30_000)
user_ix = st.integers(min_value=0, max_value=USERS - 1)
op = st.one_of(
    st.tuples(st.just("topup"), user_ix, amounts),
    st.tuples(st.just("transfer"), user_ix, user_ix, amounts),
    st.tuples(st.just("pay"), user_ix, amounts),
    st.tuples(st.just("refund"), st.integers(0, 20), amounts),
    st.tuples(st.just("withdraw"), user_ix, amounts),
    st.tuples(st.just("replay"), st.integers(0, 50)),
    st.tuples(st.just("chaos"), st.integers(0, 2**16)),
)


class World:
    def __init__(self, p, seed: int) -> None:
        self.p = p
        self.users = [new_user(p, unit=i % 2) for i in range(USERS)]
        self.cards = [card_of(p, u) for u in self.users]
        self.merchant = members.create_merchant(p, f"Prop Shop {seed}")[0]["id"]
        self.expected: dict[str, int] = defaultdict(int)
        self.merchant_fen = 0
        self.payments: list[dict] = []
        self.orders: list[dict] = []
        self.calls: list[tuple] = []
        self.n = 0

    def key(self) -> str:
        self.n += 1
        return f"k{self.n}"

    def run(self, call: tuple, replay: bool = False):
        fn, args = call[0], call[1:]
        try:
            result = fn(self.p, *args)
        except QianbaoError:
            return None
        if not replay:
            self.calls.append((call, result["id"]))
        return result

    def apply(self, o: tuple) -> None:
        kind = o[0]
        if kind == "topup":
            u = self.users[o[1]]
            r = self.run((payments.topup, u, self.cards[o[1]], o[2], self.key()))
            if r is not None:
                self.orders.append(r)
        elif kind == "withdraw":
            u = self.users[o[1]]
            r = self.run((payments.withdraw, u, self.cards[o[1]], o[2], self.key(), PAY_PASSWORD))
            if r is not None:
                self.expected[u] -= r["amount_fen"] + r["fee_fen"]
                self.orders.append(r)
        elif kind == "transfer":
            a, b = self.users[o[1]], self.users[o[2]]
            r = self.run((payments.transfer, a, b, o[3], self.key(), PAY_PASSWORD))
            if r is not None:
                self.expected[a] -= o[3]
                self.expected[b] += o[3]
        elif kind == "pay":
            u = self.users[o[1]]
            r = self.run((payments.pay_merchant, u, self.merchant, o[2], self.key(), PAY_PASSWORD))
            if r is not None:
                self.expected[u] -= o[2]
                self.merchant_fen += o[2] - r["fee_fen"]
                self.payments.append(dict(r))
        elif kind == "refund" and self.payments:
            pay = self.payments[o[1] % len(self.payments)]
            r = self.run((payments.refund, self.merchant, pay["id"], o[2], self.key()))
            if r is not None:
                self.expected[pay["payer_id"]] += o[2]
                self.merchant_fen -= o[2] - r["fee_refund_fen"]
        elif kind == "replay" and self.calls:
            call, first_id = self.calls[o[1] % len(self.calls)]
            again = self.run(call, replay=True)
            assert again is not None and again["id"] == first_id
        elif kind == "chaos":
            self.deliver_shuffled(random.Random(o[1]))

    def deliver_shuffled(self, rnd: random.Random) -> None:
        """Deliver pending messages in random order, some twice, some not yet."""
        for unit in range(len(self.p.units)):
            batch = list(self.p.relay.pending(unit))
            chosen = [m for m in batch if rnd.random() < 0.7]
            chosen += [m for m in chosen if rnd.random() < 0.5]
            rnd.shuffle(chosen)
            if chosen:
                self.p.relay.deliver(unit, chosen)

    def finish(self) -> None:
        p = self.p
        payments.resolve_pending_bank_orders(p)
        payments.resolve_pending_bank_orders(p)  # a query can time out too
        for order in self.orders:
            final = payments.get_bank_order(p, order["user_id"], order["id"], refresh=False)
            if final["kind"] == "TOPUP" and final["status"] == "SUCCEEDED":
                self.expected[final["user_id"]] += final["amount_fen"]
            if final["kind"] == "WITHDRAW" and final["status"] == "FAILED":
                self.expected[final["user_id"]] += final["amount_fen"] + final["fee_fen"]
        assert_ledger_clean(p)
        for u in self.users:
            assert payments.balance(p, u)["balance_fen"] == self.expected[u]
        assert payments.merchant_balance(p, self.merchant)["balance_fen"] == self.merchant_fen


def _property(engine: str, tmp: Path, examples: int):
    p = make_platform(
        engine,
        tmp,
        bank_failure_rate=0.15,
        bank_timeout_rate=0.15,
        bank_seed=7,
        bank_sandbox_open_balance_fen=10**9,
    )
    p.relay.stop()  # the test delivers messages itself, in any order
    seeds = iter(range(10**6))

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(op, min_size=5, max_size=40))
    def check(ops):
        world = World(p, next(seeds))
        for o in ops:
            world.apply(o)
        world.finish()

    try:
        check()
    finally:
        p.close()


def test_random_operations_keep_the_books_sqlite(tmp_path):
    _property("sqlite", tmp_path, examples=60)


@pytest.mark.postgres
def test_random_operations_keep_the_books_postgres(tmp_path):
    _property("postgres", tmp_path, examples=15)
