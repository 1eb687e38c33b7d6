"""Posting vouchers, holds, statements and the ledger check.

``post`` runs inside a unit writer command. Debits on no-negative accounts are guarded updates
(``WHERE balance_fen - hold_fen >= amount``), never read-then-write. Vouchers, postings and
credits to hot accounts (merchants, fee income, in-transit) are staged per command and written
once per batch, just before the batch commits; a command that fails drops what it staged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from qianbao.ledger.chart import SUBJECTS, Subject, subject_of
from qianbao.platform.clock import clock
from qianbao.platform.db import Database, Row, Tx
from qianbao.platform.errors import InsufficientBalance, InvalidArgument, NotFound
from qianbao.platform.ids import new_id
from qianbao.platform.writer import WriteContext

Leg = tuple[str, int]  # (account id, signed amount: credit +, debit -)


def debit(account: str, amount_fen: int) -> Leg:
    return (account, -amount_fen)


def credit(account: str, amount_fen: int) -> Leg:
    return (account, amount_fen)


class _Staged:
    """Batch participant: vouchers, postings and hot-account credits staged until the batch
    commits. ``log`` records every change to ``pending`` so a savepoint can undo its own."""

    def __init__(self) -> None:
        self.vouchers: list[dict[str, Any]] = []
        self.postings: list[dict[str, Any]] = []
        self.pending: dict[str, int] = defaultdict(int)
        self.log: list[tuple[str, int]] = []

    def add_credit(self, account: str, amount_fen: int) -> None:
        self.pending[account] += amount_fen
        self.log.append((account, amount_fen))

    def flush_credit(self, tx: Tx, account: str) -> None:
        """Apply the staged credit of ``account`` before it is debited."""
        amount = self.pending.pop(account, 0)
        if amount:
            _apply(tx, account, amount)
            self.log.append((account, -amount))

    def mark(self) -> tuple[int, int, int]:
        return len(self.vouchers), len(self.postings), len(self.log)

    def rollback_to(self, mark: tuple[int, int, int] | None) -> None:
        vouchers, postings, log = mark or (0, 0, 0)
        del self.vouchers[vouchers:]
        del self.postings[postings:]
        for account, delta in reversed(self.log[log:]):
            self.pending[account] -= delta
        del self.log[log:]

    def before_commit(self, tx: Tx) -> None:
        tx.executemany(
            "INSERT INTO vouchers (id, kind, ref, memo, created_at_ms)"
            " VALUES (:id, :kind, :ref, :memo, :at)",
            self.vouchers,
        )
        tx.executemany(
            "INSERT INTO postings (voucher_id, account_id, amount_fen, created_at_ms)"
            " VALUES (:voucher_id, :account_id, :amount_fen, :at)",
            self.postings,
        )
        for account, amount in sorted(self.pending.items()):
            if amount:
                _apply(tx, account, amount)
        self.pending.clear()

    def after_commit(self) -> None:
        pass


def _apply(tx: Tx, account: str, delta_fen: int) -> None:
    if not tx.execute(
        "UPDATE accounts SET balance_fen = balance_fen + :d WHERE id = :id",
        {"d": delta_fen, "id": account},
    ):
        raise NotFound(f"account {account} does not exist", code="ACCOUNT_NOT_FOUND")


def _guarded_decrease(tx: Tx, account: str, subject: Subject, amount_fen: int) -> None:
    if tx.execute(
        "UPDATE accounts SET balance_fen = balance_fen - :a"
        " WHERE id = :id AND balance_fen - hold_fen >= :a",
        {"a": amount_fen, "id": account},
    ):
        return
    if tx.one("SELECT 1 AS x FROM accounts WHERE id = :id", {"id": account}) is None:
        raise NotFound(f"account {account} does not exist", code="ACCOUNT_NOT_FOUND")
    raise InsufficientBalance(f"not enough available balance in {subject.code}")


def post(ctx: WriteContext, kind: str, ref: str, legs: Iterable[Leg], memo: str = "") -> str:
    """Book one balanced voucher and return its id; an unbalanced one is refused first."""
    legs = [(a, int(x)) for a, x in legs if x]
    if sum(x for _, x in legs) != 0 or not legs:
        raise AssertionError(f"voucher {kind} for {ref} does not balance: {legs}")
    staged: _Staged = ctx.state("ledger", _Staged)
    tx = ctx.tx
    now_ms = clock.now_ms()
    voucher_id = new_id(ctx.platform.first_bucket(ctx.unit))
    for account, amount in legs:
        subject = subject_of(account)
        change = subject.side * amount
        if change < 0:
            staged.flush_credit(tx, account)
            if subject.no_negative:
                _guarded_decrease(tx, account, subject, -change)
            else:
                _apply(tx, account, change)
        elif subject.hot:
            staged.add_credit(account, change)
        else:
            _apply(tx, account, change)
        staged.postings.append(
            {"voucher_id": voucher_id, "account_id": account, "amount_fen": amount, "at": now_ms}
        )
    staged.vouchers.append(
        {"id": voucher_id, "kind": kind, "ref": ref, "memo": memo[:200], "at": now_ms}
    )
    return voucher_id


def open_account(tx: Tx, account: str, owner_id: str) -> None:
    tx.execute(
        "INSERT INTO accounts (id, subject, owner_id, balance_fen, hold_fen, created_at_ms)"
        " VALUES (:id, :subject, :owner, 0, 0, :now) ON CONFLICT (id) DO NOTHING",
        {
            "id": account,
            "subject": subject_of(account).code,
            "owner": owner_id,
            "now": clock.now_ms(),
        },
    )


def opener(account: str, owner_id: str) -> Callable[[WriteContext], None]:
    """A writer command that opens ``account`` if it does not exist yet."""
    return lambda ctx: open_account(ctx.tx, account, owner_id)


# --- holds (frozen amounts) -------------------------------------------------------------------
def place_hold(ctx: WriteContext, account: str, amount_fen: int, ref: str) -> str:
    if amount_fen <= 0:
        raise InvalidArgument("a hold must be positive")
    staged: _Staged = ctx.state("ledger", _Staged)
    staged.flush_credit(ctx.tx, account)
    if not ctx.tx.execute(
        "UPDATE accounts SET hold_fen = hold_fen + :a"
        " WHERE id = :id AND balance_fen - hold_fen >= :a",
        {"a": amount_fen, "id": account},
    ):
        raise InsufficientBalance("not enough available balance to freeze")
    hold_id = new_id(ctx.platform.first_bucket(ctx.unit))
    now_ms = clock.now_ms()
    ctx.tx.execute(
        "INSERT INTO holds (id, account_id, amount_fen, status, ref, created_at_ms, updated_at_ms)"
        " VALUES (:id, :acct, :a, 'ACTIVE', :ref, :now, :now)",
        {"id": hold_id, "acct": account, "a": amount_fen, "ref": ref, "now": now_ms},
    )
    return hold_id


def release_hold(ctx: WriteContext, hold_id: str) -> int:
    """Unfreeze; returns the amount released. Releasing twice is an error."""
    row = ctx.tx.one("SELECT * FROM holds WHERE id = :id AND status = 'ACTIVE'", {"id": hold_id})
    if row is None:
        raise NotFound(f"no active hold {hold_id}", code="HOLD_NOT_FOUND")
    ctx.tx.execute(
        "UPDATE holds SET status = 'RELEASED', updated_at_ms = :now WHERE id = :id",
        {"id": hold_id, "now": clock.now_ms()},
    )
    ctx.tx.execute(
        "UPDATE accounts SET hold_fen = hold_fen - :a WHERE id = :id",
        {"a": row["amount_fen"], "id": row["account_id"]},
    )
    return int(row["amount_fen"])


# --- reads ---------------------------------------------------------------------------------------
def balance_in(tx: Tx, account: str, *, available: bool = False) -> int:
    """The balance of ``account`` read inside a unit command (0 when it does not exist yet);
    ``available`` subtracts the frozen (held) amount. Credits to hot accounts staged by the
    running batch are not included: they land when the batch commits."""
    row = tx.one("SELECT balance_fen, hold_fen FROM accounts WHERE id = :id", {"id": account})
    if row is None:
        return 0
    return int(row["balance_fen"]) - (int(row["hold_fen"]) if available else 0)


def get_account(db: Database, account: str) -> Row:
    with db.read() as tx:
        row = tx.one("SELECT * FROM accounts WHERE id = :id", {"id": account})
    if row is None:
        raise NotFound(f"account {account} does not exist", code="ACCOUNT_NOT_FOUND")
    return row


def statement(
    db: Database, account: str, limit: int = 50, before_id: int | None = None
) -> list[dict[str, Any]]:
    """Postings of ``account``, newest first, each with the running balance after it."""
    side = subject_of(account).side
    with db.read() as tx:
        rows = tx.all(
            "SELECT * FROM (SELECT p.id, p.amount_fen, p.created_at_ms, v.kind, v.ref, v.memo,"
            " SUM(p.amount_fen) OVER (ORDER BY p.id) AS running_fen"
            " FROM postings p JOIN vouchers v ON v.id = p.voucher_id"
            " WHERE p.account_id = :acct) s WHERE s.id < :before ORDER BY s.id DESC LIMIT :limit",
            {"acct": account, "before": before_id or 2**62, "limit": limit},
        )
    return [
        {
            "posting_id": r["id"],
            "amount_fen": side * int(r["amount_fen"]),
            "balance_after_fen": side * int(r["running_fen"]),
            "kind": r["kind"],
            "ref": r["ref"],
            "memo": r["memo"],
            "created_at_ms": r["created_at_ms"],
        }
        for r in rows
    ]


@dataclass
class LedgerCheck:
    unit: int
    postings_sum_fen: int
    accounts: int
    mismatched: list[tuple[str, int, int]]  # (account, cached, from postings)
    unbalanced_vouchers: list[str]
    negative: list[str]

    @property
    def ok(self) -> bool:
        return not (
            self.postings_sum_fen or self.mismatched or self.unbalanced_vouchers or self.negative
        )


def check_unit(unit: int, db: Database) -> LedgerCheck:
    """Prove the unit's ledger sums to zero and every cached balance equals its postings."""
    with db.read(snapshot=True) as tx:
        total = int(tx.scalar("SELECT COALESCE(SUM(amount_fen), 0) AS s FROM postings") or 0)
        sums = {
            r["account_id"]: int(r["s"])
            for r in tx.all(
                "SELECT account_id, SUM(amount_fen) AS s FROM postings GROUP BY account_id"
            )
        }
        accounts = tx.all("SELECT id, subject, balance_fen, hold_fen FROM accounts")
        unbalanced = [
            r["voucher_id"]
            for r in tx.all(
                "SELECT voucher_id FROM postings GROUP BY voucher_id HAVING SUM(amount_fen) <> 0"
            )
        ]
    mismatched, negative = [], []
    for a in accounts:
        subject = SUBJECTS[a["subject"]]
        derived = subject.side * sums.pop(a["id"], 0)
        if derived != a["balance_fen"]:
            mismatched.append((a["id"], int(a["balance_fen"]), derived))
        if subject.no_negative and a["balance_fen"] - a["hold_fen"] < 0:
            negative.append(a["id"])
    mismatched.extend((acct, 0, s) for acct, s in sums.items())  # postings without an account
    return LedgerCheck(unit, total, len(accounts), mismatched, unbalanced, negative)


@dataclass
class PlatformCheck:
    units: list[LedgerCheck]
    in_transit_fen: int  # Σ in-transit balances over all units: 0 once the relay is drained

    @property
    def ok(self) -> bool:
        return all(u.ok for u in self.units)


def check_platform(platform: Any) -> PlatformCheck:
    units = [check_unit(u, db) for u, db in enumerate(platform.units)]
    in_transit_fen = 0
    for db in platform.units:
        with db.read() as tx:
            in_transit_fen += int(
                tx.scalar(
                    "SELECT COALESCE(SUM(balance_fen), 0) AS s FROM accounts"
                    " WHERE subject = 'in_transit'"
                )
                or 0
            )
    return PlatformCheck(units, in_transit_fen)
