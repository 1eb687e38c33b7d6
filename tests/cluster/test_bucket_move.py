"""Moving a route bucket between units online, and adding a unit (issue 12 item 2, ADR 0935).

Real SQLite unit databases, real HTTP (uvicorn), real services: concurrent payments and
transfers run while a bucket moves; every acknowledged request is applied once, nothing else is
applied, no fen is created or lost, and every unit's ledger sums to zero.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from qianbao.bootstrap import open_platform
from qianbao.cluster.buckets import grow, move
from qianbao.cluster.buckets.classify import TABLES, Follows
from qianbao.cluster.store import money_row_ids
from qianbao.ledger.service import check_platform
from qianbao.members import service as members
from qianbao.members.identity import make_card_no, make_id_number
from qianbao.payments import service as payments
from qianbao.platform import route_store
from qianbao.platform.errors import BucketMoving
from qianbao.platform.ids import bucket_for_key, bucket_of
from qianbao.platform.runtime import Platform
from qianbao.platform.schema import unit_metadata
from tests.conftest import ENGINES, assert_ledger_clean, fast_settings, make_platform
from tests.http_server import serving

PAY = "246810"
LOGIN = "pass1234"
SEED_FEN = 50_000
_seq = itertools.count(1)
MONEY_SUBJECTS = ("user_balance", "merchant_balance", "merchant_unsettled", "fee_income")


def test_every_unit_table_is_classified() -> None:
    """A new unit table must say how its rows follow a bucket (classify.TABLES)."""
    import qianbao.bootstrap  # noqa: F401  (every package's tables)

    declared = set(unit_metadata.tables)
    assert declared - set(TABLES) == set(), "classify these tables in cluster/buckets/classify.py"
    assert set(TABLES) - declared == set(), "classify.TABLES names tables that do not exist"
    for table, rule in TABLES.items():
        if isinstance(rule, Follows):
            assert rule.column in unit_metadata.tables[table].c, (table, rule.column)


def _user_in_bucket(p: Platform, bucket: int) -> tuple[str, str]:
    """A real-name user whose phone routes to ``bucket``, with a card and SEED_FEN."""
    n = next(_seq)
    phone = next(
        str(k)
        for k in itertools.count(13900000000 + n * 10_000)
        if bucket_for_key(str(k)) == bucket
    )
    number = make_id_number("440106", date(1980 + n % 20, 1 + n % 12, 1 + n % 28), n)
    user_id = members.register_user(p, members.NewUser("迁移用户", number, phone, LOGIN, PAY))["id"]
    card_id = members.bind_card(p, user_id, make_card_no(f"62270{n:010d}"))["id"]
    payments.topup(p, user_id, card_id, SEED_FEN, f"seed-{user_id}")
    return str(user_id), phone


def _money_total(p: Platform) -> int:
    total = 0
    for db in p.units:
        with db.read() as tx:
            for subject in MONEY_SUBJECTS:
                total += int(
                    tx.scalar(
                        "SELECT COALESCE(SUM(balance_fen), 0) AS s FROM accounts"
                        " WHERE subject = :s",
                        {"s": subject},
                    )
                    or 0
                )
    return total


def _clearing_total(p: Platform) -> int:
    total = 0
    for db in p.units:
        with db.read() as tx:
            total += int(
                tx.scalar(
                    "SELECT COALESCE(SUM(balance_fen), 0) AS s FROM accounts"
                    " WHERE subject = 'bucket_move'"
                )
                or 0
            )
    return total


class Load:
    """Bounded concurrent payments and transfers over HTTP; a 503 BUCKET_MOVING is retried with
    the same request id after its Retry-After, as a client would."""

    def __init__(self, base: str, users: list[tuple[str, dict[str, str]]], merchant: str) -> None:
        self.base, self.users, self.merchant = base, users, merchant
        self.acked: dict[str, list[tuple[str, str, str, int]]] = {"payments": [], "transfers": []}
        self.moving = Counter[str]()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []

    def worker(self, index: int) -> None:
        try:
            self._work(index)
        except BaseException as exc:  # the test fails on it (a thread's assert would not)
            self.errors.append(exc)

    def _work(self, index: int) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as c:
            for n in itertools.count():
                if self.stop.is_set():
                    return
                payer, headers = self.users[(index + n) % len(self.users)]
                if n % 2:
                    payee = self.users[(index + n + 1) % len(self.users)][0]
                    body = {"to_user_id": payee, "amount_fen": 100 + n % 7, "pay_password": PAY}
                    self._send(c, "/api/v1/transfers", body, headers, payer, payee, f"t{index}-{n}")
                else:
                    body = {"merchant_id": self.merchant, "amount_fen": 200 + n % 5}
                    body["pay_password"] = PAY
                    self._send(
                        c, "/api/v1/payments", body, headers, payer, self.merchant, f"p{index}-{n}"
                    )

    def _send(
        self,
        c: httpx.Client,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        payer: str,
        payee: str,
        request_id: str,
    ) -> None:
        body = {**body, "request_id": request_id}
        while True:
            r = c.post(path, json=body, headers=headers)
            if r.status_code == 503 and r.json()["code"] == "BUCKET_MOVING":
                assert r.headers["Retry-After"]
                with self.lock:
                    self.moving[path] += 1
                time.sleep(min(0.05, float(r.headers["Retry-After"])))
                continue
            assert r.status_code == 200, r.text
            row = r.json()
            kind = "transfers" if "transfers" in path else "payments"
            row_id = row.get("transfer_id") or row.get("payment_id") or row.get("id")
            with self.lock:
                self.acked[kind].append((str(row_id), payer, payee, int(body["amount_fen"])))
            return


def _login(c: httpx.Client, phone: str) -> dict[str, str]:
    token = c.post("/api/v1/sessions", json={"phone": phone, "password": LOGIN})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


def _expected_balances(p: Platform, load: Load, user_ids: list[str]) -> dict[str, int]:
    expected = dict.fromkeys(user_ids, SEED_FEN)
    for _, payer, _, amount in load.acked["payments"]:
        expected[payer] -= amount
    for _, payer, payee, amount in load.acked["transfers"]:
        expected[payer] -= amount
        expected[payee] += amount
    return expected


def _platform(tmp_path: Path, **kw: Any) -> Platform:
    return open_platform(fast_settings(tmp_path, writer_wait_ms=1, **kw))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_bucket_moves_under_payments_and_transfers(tmp_path: Path, engine: str) -> None:
    p = make_platform(engine, tmp_path, writer_wait_ms=1)
    try:
        moved = 7  # routes to unit 0 in the even split
        assert p.routes[moved] == 0
        merchant, _ = members.create_merchant(p, "迁移测试商店")
        people = [_user_in_bucket(p, b) for b in (moved, moved, moved, 3, 60, 88)]
        user_ids = [u for u, _ in people]
        money_before = _money_total(p)
        with serving(p) as base, httpx.Client(base_url=base, timeout=30) as c:
            users = [(u, _login(c, phone)) for u, phone in people]
            load = Load(base, users, str(merchant["id"]))
            threads = [threading.Thread(target=load.worker, args=(i,)) for i in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.6)
            done = move.run(p, moved, 1, grace_s=0.3)  # a pause every worker runs into
            time.sleep(0.6)
            load.stop.set()
            for t in threads:
                t.join(timeout=30)
            # reads and writes of the moved users now go to unit 1, over the same API
            r = c.get("/api/v1/me/balance", headers=users[0][1])
            assert r.status_code == 200, r.text
        assert done["status"] == "RETIRED"
        report = json.loads(done["report"])
        assert report["ledgers_ok"] == {"0": True, "1": True} and report["vouchers_balanced"]
        assert report["balances_moved_out"] == report["balances_on_target"]
        assert p.routes[moved] == 1 and p.paused_buckets == frozenset()
        assert route_store.latest(p.global_db).routes[moved] == 1  # type: ignore[union-attr]
        assert not load.errors, load.errors[:3]
        assert sum(load.moving.values()) > 0  # the paused bucket answered 503 and was retried
        assert len(load.acked["payments"]) > 10 and len(load.acked["transfers"]) > 10
        assert_ledger_clean(p)
        assert _clearing_total(p) == 0
        assert _money_total(p) == money_before  # 0 fen created or lost
        rows = money_row_ids(p)  # every acknowledged request applied once, and nothing else
        assert sorted(rows["payments"]) == sorted(r[0] for r in load.acked["payments"])
        assert sorted(rows["transfers"]) == sorted(r[0] for r in load.acked["transfers"])
        expected = _expected_balances(p, load, user_ids)
        assert {u: payments.balance(p, u)["balance_fen"] for u in user_ids} == expected
        _assert_rows_where_routed(p)
    finally:
        p.close()


def _assert_rows_where_routed(p: Platform) -> None:
    """Every moved-kind row lives in the unit its bucket routes to (the source kept none)."""
    for unit, db in enumerate(p.units):
        with db.read() as tx:
            for table, rule in TABLES.items():
                if not isinstance(rule, Follows) or rule.via_accounts:
                    continue
                if table == "credit_installment_offers":
                    continue
                for row in tx.all(f"SELECT {rule.column} AS k FROM {table}"):
                    assert p.routes[bucket_of(str(row["k"]))] == unit, (table, row["k"], unit)


def test_a_killed_move_resumes_and_a_paused_bucket_answers_503(tmp_path: Path) -> None:
    p = _platform(tmp_path)
    moved = 12
    merchant, _ = members.create_merchant(p, "续跑测试商店")
    user, _ = _user_in_bucket(p, moved)
    other, _ = _user_in_bucket(p, 70)
    payments.pay_merchant(p, user, str(merchant["id"]), 1_000, "before", PAY)
    row = move.run(p, moved, 1, stop_after="PAUSED")
    assert row["status"] == "PAUSED"
    with pytest.raises(BucketMoving) as paused:
        payments.pay_merchant(p, user, str(merchant["id"]), 500, "during", PAY)
    assert paused.value.http_status == 503 and paused.value.headers["Retry-After"]
    payments.pay_merchant(p, other, str(merchant["id"]), 500, "other-bucket", PAY)
    p.close()  # the operator's process dies here: the pause is in the global database
    p = _platform(tmp_path)
    try:
        assert p.paused_buckets == frozenset({moved})
        assert move.run(p, moved, 1, stop_after="COPIED")["status"] == "COPIED"
        assert move.run(p, moved, 1)["status"] == "RETIRED"  # resumed, not started again
        assert len(move.store.list_moves(p.global_db)) == 1
        again = payments.pay_merchant(p, user, str(merchant["id"]), 1_000, "before", PAY)
        assert p.unit_of(str(again["id"])) == 1  # the idempotency key moved with the bucket
        assert payments.balance(p, user)["balance_fen"] == SEED_FEN - 1_000
        payments.pay_merchant(p, user, str(merchant["id"]), 500, "during", PAY)
        assert payments.balance(p, user)["balance_fen"] == SEED_FEN - 1_500
        assert_ledger_clean(p)
        assert _clearing_total(p) == 0
    finally:
        p.close()


def test_a_third_unit_is_added_and_filled(tmp_path: Path) -> None:
    p = _platform(tmp_path)
    merchant, _ = members.create_merchant(p, "扩容测试商店")
    plan = grow.plan_rebalance(p.routes, 3, 2)
    assert sorted(plan) == list(range(33, 50)) + list(range(84, 100))  # 33 = 100 // 3
    assert plan[:2] == [49, 99]
    buckets = [49, 99]  # the first two buckets a rebalance to unit 2 takes
    people = [_user_in_bucket(p, b) for b in buckets]
    before = _money_total(p)
    p.close()
    assert grow.add_unit(fast_settings(tmp_path)) == 2
    p = _platform(tmp_path)  # the restart opens unit2.db
    try:
        assert len(p.units) == 3
        moved = grow.rebalance(p, 2, limit=2)
        assert sorted(int(m["bucket"]) for m in moved) == buckets
        assert all(m["status"] == "RETIRED" for m in moved)
        for user, _ in people:
            assert p.unit_of(user) == 2
            assert payments.balance(p, user)["balance_fen"] == SEED_FEN
            payments.pay_merchant(p, user, str(merchant["id"]), 300, f"after-{user}", PAY)
        payments.transfer(p, people[0][0], people[1][0], 100, "t-new-unit", PAY)
        assert payments.balance(p, people[1][0])["balance_fen"] == SEED_FEN - 300 + 100
        assert_ledger_clean(p)
        assert check_platform(p).ok and _clearing_total(p) == 0
        assert _money_total(p) == before
    finally:
        p.close()


def test_the_units_cli_moves_a_bucket_and_grows(tmp_path: Path) -> None:
    """``qianbao units`` on a data directory: a bucket with a user, a payment and a transfer
    moves with a clean ledger check; bad input is a clear code; a unit is added and filled."""
    from typer.testing import CliRunner

    from qianbao.cli import app

    runner = CliRunner()
    env = {
        "QIANBAO_DATA_DIR": str(tmp_path),
        "QIANBAO_PASSWORD_TIME_COST": "1",
        "QIANBAO_PASSWORD_MEMORY_KIB": "1024",
        "COLUMNS": "200",
    }
    bucket = 13
    p = _platform(tmp_path)
    merchant, _ = members.create_merchant(p, "命令行测试商店")
    user, _ = _user_in_bucket(p, bucket)
    friend, _ = _user_in_bucket(p, 80)
    payments.pay_merchant(p, user, str(merchant["id"]), 1_200, "cli-pay", PAY)
    payments.transfer(p, user, friend, 300, "cli-transfer", PAY)
    p.close()
    moved = runner.invoke(app, ["units", "move-bucket", str(bucket), "--to", "1"], env=env)
    assert moved.exit_code == 0, moved.output
    assert "RETIRED" in moved.output and '"user_balance": 48500' in moved.output
    again = runner.invoke(app, ["units", "move-bucket", str(bucket), "--to", "1"], env=env)
    assert again.exit_code == 1 and "BUCKET_ALREADY_THERE" in again.output
    bad = runner.invoke(app, ["units", "move-bucket", "100", "--to", "1"], env=env)
    assert bad.exit_code == 1 and "BUCKET_INVALID" in bad.output
    assert runner.invoke(app, ["ledger", "check"], env=env).exit_code == 0
    assert runner.invoke(app, ["units", "add"], env=env).exit_code == 0
    grown = runner.invoke(app, ["units", "rebalance", "--to", "2", "--limit", "1"], env=env)
    assert grown.exit_code == 0, grown.output
    status = runner.invoke(app, ["units", "status", "--json"], env=env)
    body = json.loads(status.output)
    assert body["unit_count"] == 3 and body["paused"] == []
    assert body["buckets_per_unit"] == {"0": 49, "1": 50, "2": 1}  # from the fullest
    assert [m["status"] for m in body["moves"]] == ["RETIRED", "RETIRED"]
    assert runner.invoke(app, ["ledger", "check"], env=env).exit_code == 0
    p = _platform(tmp_path)
    try:
        assert p.unit_of(user) == 1 and payments.balance(p, user)["balance_fen"] == 48_500
        assert_ledger_clean(p)
    finally:
        p.close()


def _pool(p: Platform, subject: str, unit: int) -> int:
    with p.units[unit].read() as tx:
        return int(
            tx.scalar(
                "SELECT COALESCE(SUM(balance_fen), 0) AS s FROM accounts WHERE subject = :s",
                {"s": subject},
            )
            or 0
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_escrow_and_unclaimed_red_packets_move_with_their_bucket(
    tmp_path: Path, engine: str
) -> None:
    """The bucket's share of the unit pools moves: a secured trade paid into escrow and a red
    packet not yet claimed finish on the new unit, and both ledgers stay clean."""
    from qianbao.payments import secured, trades
    from qianbao.redpackets import claims
    from qianbao.redpackets import service as redpackets
    from tests.trades.helpers import new_merchant, req

    p = make_platform(engine, tmp_path, writer_wait_ms=1)
    try:
        moved = 21
        m = new_merchant(p)
        buyer, _ = _user_in_bucket(p, moved)
        stayer, _ = _user_in_bucket(p, 22)  # same unit, other bucket: its escrow stays
        friend, _ = _user_in_bucket(p, 75)
        mine = trades.create(p, req(m, 8_000, product=trades.SECURED), buyer)
        trades.pay(p, mine["id"], buyer, PAY)
        theirs = trades.create(p, req(m, 3_000, product=trades.SECURED), stayer)
        trades.pay(p, theirs["id"], stayer, PAY)
        packet = redpackets.send(
            p,
            buyer,
            kind=redpackets.PERSONAL,
            amount_fen=1_500,
            recipient_id=friend,
            request_id="rp-1",
            pay_password=PAY,
        )
        assert _pool(p, "escrow", 0) == 11_000 and _pool(p, "red_packet_holding", 0) == 1_500
        assert move.run(p, moved, 1)["status"] == "RETIRED"
        assert _pool(p, "escrow", 0) == 3_000 and _pool(p, "escrow", 1) == 8_000
        assert _pool(p, "red_packet_holding", 0) == 0
        assert _pool(p, "red_packet_holding", 1) == 1_500
        secured.ship(p, m, mine["id"])  # the trade lives on in unit 1
        done = secured.confirm_receipt(p, buyer, mine["id"], PAY)
        assert done["status"] == trades.TRADE_FINISHED
        claims.claim(p, str(packet["packet_id"]), friend)
        assert_ledger_clean(p)
        assert _pool(p, "escrow", 1) == 0 and _pool(p, "red_packet_holding", 1) == 0
        assert payments.balance(p, friend)["balance_fen"] == SEED_FEN + 1_500
        assert _clearing_total(p) == 0
    finally:
        p.close()


def test_a_paused_move_can_be_aborted_and_a_copied_one_cannot(tmp_path: Path) -> None:
    from qianbao.cluster.buckets.errors import MoveInProgress, MoveNotAbortable

    p = _platform(tmp_path)
    try:
        merchant, _ = members.create_merchant(p, "中止测试商店")
        user, _ = _user_in_bucket(p, 30)
        assert move.run(p, 30, 1, stop_after="PAUSED")["status"] == "PAUSED"
        with pytest.raises(MoveInProgress):
            move.plan(p, 30, 0)  # one unfinished move per bucket
        move.abort(p, 30)
        assert p.paused_buckets == frozenset() and p.routes[30] == 0
        payments.pay_merchant(p, user, str(merchant["id"]), 100, "after-abort", PAY)
        assert move.run(p, 30, 1, stop_after="COPIED")["status"] == "COPIED"
        with pytest.raises(MoveNotAbortable):
            move.abort(p, 30)
        assert move.run(p, 30, 1)["status"] == "RETIRED"
        assert payments.balance(p, user)["balance_fen"] == SEED_FEN - 100
        assert [m["status"] for m in move.store.list_moves(p.global_db)] == ["RETIRED", "ABORTED"]
        assert_ledger_clean(p)
    finally:
        p.close()
