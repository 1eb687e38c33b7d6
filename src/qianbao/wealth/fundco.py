"""A fund company simulator with its own database (like ``channels/simulator.py`` for the bank).

The platform is a distributor (销售机构): it holds one omnibus account per unit at the fund
company (``QB-YEB-u0``...) and exchanges files with it the way distributors and a fund's
transfer agent (TA) do:

- the **application file** (申请文件): after the cut of trading day T the platform sends the
  orders it accepted for T (subscriptions and redemptions, ``receive``);
- the **confirmation file** (确认文件): on T+1 the fund company confirms them (``confirm``),
  adding or removing shares in its books; a redemption larger than the account holds fails;
- the **income** (每日收益): every calendar day the fund publishes the income per 10,000 shares
  (万份收益, ``publish_rate`` / ``ensure_rate``) and books each account's income,
  ``floor(shares × 万份收益 ÷ 10,000)`` to the fen (``accrue``);
- the **daily file** (``daily_file``): the day's confirmations, each account's income and its
  closing shares, and the day's net cash (subscriptions − redemptions) the platform owes.

Every call is idempotent (an order id is processed once, a day's income booked once).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal

from qianbao.platform.clock import clock
from qianbao.platform.db import Database
from qianbao.platform.states import StateMachine
from qianbao.wealth.calendar import YuebaoConfig
from qianbao.wealth.errors import DayInvalid
from qianbao.wealth.store import fundco as store

SUBSCRIBE, REDEEM = "SUBSCRIBE", "REDEEM"
RECEIVED, CONFIRMED, FAILED = "RECEIVED", "CONFIRMED", "FAILED"
FUND_ORDER = StateMachine(
    "fund order",
    "fund_orders",
    {RECEIVED: {CONFIRMED, FAILED}},
    key="order_id",
    stamp=None,
    initial={RECEIVED},
)
E4 = Decimal("0.0001")


def per_10k_e4(per_10k: str | Decimal) -> int:
    """万份收益 "0.4932" (CNY per 10,000 shares, 4 decimals) -> 4932."""
    value = Decimal(str(per_10k))
    if value < 0 or value != value.quantize(E4):
        raise DayInvalid("万份收益 is a non-negative amount with at most 4 decimals")
    return int(value / E4)


def per_10k_text(e4: int) -> str:
    return str((Decimal(e4) * E4).quantize(E4))


@dataclass(frozen=True)
class OrderLine:
    order_id: str
    account_no: str
    kind: str  # SUBSCRIBE | REDEEM
    amount_fen: int
    trade_date: str
    confirm_date: str


@dataclass(frozen=True)
class Confirmation:
    order_id: str
    account_no: str
    kind: str
    amount_fen: int
    status: str  # CONFIRMED | FAILED


@dataclass(frozen=True)
class AccountDay:
    account_no: str
    shares_fen: int  # what earned (after the day's confirmations)
    income_fen: int
    closing_fen: int  # after the income


@dataclass
class FundFile:
    day: date
    per_10k_e4: int | None
    confirmations: list[Confirmation] = field(default_factory=list)
    accounts: list[AccountDay] = field(default_factory=list)

    def net_cash_fen(self, account_no: str) -> int:
        """What the distributor owes the fund for the day's confirmed orders (negative: the
        fund owes the distributor)."""
        sign = {SUBSCRIBE: 1, REDEEM: -1}
        return sum(
            sign[c.kind] * c.amount_fen
            for c in self.confirmations
            if c.account_no == account_no and c.status == CONFIRMED
        )


class FundCompany:
    def __init__(self, db: Database, config: YuebaoConfig, code: str = "YEBFUND") -> None:
        self.db = db
        self.code = code
        self.config = config
        self._lock = threading.Lock()
        with db.transaction() as tx:
            store.create(tx)

    def open_account(self, account_no: str) -> None:
        with self._lock, self.db.transaction() as tx:
            store.open_account(tx, account_no)

    def seed(self, account_no: str, shares_fen: int) -> None:
        """The fund's own administration (loaders and benchmarks): an account with shares."""
        with self._lock, self.db.transaction() as tx:
            store.open_account(tx, account_no)
            store.add_shares(tx, account_no, shares_fen)

    def shares_fen(self, account_no: str) -> int:
        with self.db.read() as tx:
            return store.shares(tx, account_no)

    # --- the application file --------------------------------------------------------------
    def receive(self, lines: list[OrderLine]) -> int:
        """Accept the distributor's orders; an order id seen before is ignored."""
        taken = 0
        with self._lock, self.db.transaction() as tx:
            for line in lines:
                if not self.config.is_trading_day(date.fromisoformat(line.trade_date)):
                    raise DayInvalid(f"{line.trade_date} is not a trading day")
                taken += store.receive_order(
                    tx,
                    {
                        "order_id": line.order_id,
                        "account_no": line.account_no,
                        "kind": line.kind,
                        "amount_fen": line.amount_fen,
                        "trade_date": line.trade_date,
                        "confirm_date": line.confirm_date,
                        "status": FUND_ORDER.born(),
                        "at": clock.now_ms(),
                    },
                )
        return taken

    # --- the confirmation file --------------------------------------------------------------
    def confirm(self, day: date) -> list[Confirmation]:
        """Confirm every order due by ``day`` (T+1), subscriptions first; returns the day's
        whole confirmation file (a second call returns the same lines)."""
        with self._lock, self.db.transaction() as tx:
            due = store.due_orders(tx, day.isoformat())
            due.sort(key=lambda r: (r["kind"] != SUBSCRIBE, r["order_id"]))
            for row in due:
                delta = row["amount_fen"] if row["kind"] == SUBSCRIBE else -row["amount_fen"]
                ok = store.add_shares(tx, row["account_no"], int(delta))
                FUND_ORDER.move(
                    tx,
                    row["order_id"],
                    RECEIVED,
                    CONFIRMED if ok else FAILED,
                    confirmed_on=day.isoformat(),
                )
            rows = store.confirmed_on(tx, day.isoformat())
        return [
            Confirmation(r["order_id"], r["account_no"], r["kind"], r["amount_fen"], r["status"])
            for r in rows
        ]

    # --- income -------------------------------------------------------------------------------
    def publish_rate(self, day: date, per_10k: str | Decimal) -> bool:
        """Publish 万份收益 for ``day`` (once: a day's published figure never changes)."""
        with self._lock, self.db.transaction() as tx:
            return bool(store.publish_rate(tx, day.isoformat(), per_10k_e4(per_10k)))

    def rate(self, day: date) -> int | None:
        with self.db.read() as tx:
            return store.rate(tx, day.isoformat())

    def rates(self, first: date, last: date) -> dict[date, int]:
        with self.db.read() as tx:
            rows = store.rates(tx, first.isoformat(), last.isoformat())
        return {date.fromisoformat(r["day"]): int(r["per_10k_e4"]) for r in rows}

    def ensure_rate(self, day: date) -> int:
        """The day's 万份收益, published from the fund's yield if not yet: annual yield ÷ 365
        × 10,000, varied ±5% per day by a digest of the date (reproducible)."""
        known = self.rate(day)
        if known is not None:
            return known
        wobble = int(hashlib.sha256(day.isoformat().encode()).hexdigest()[:4], 16) % 1001
        base = self.config.annual_yield / 365 * 10_000 * Decimal(9_500 + wobble) / 10_000
        self.publish_rate(day, base.quantize(E4, rounding=ROUND_DOWN))
        return int(self.rate(day) or 0)

    def accrue(self, day: date) -> list[AccountDay]:
        """Book ``day``'s income on every account once; returns the day's income lines."""
        key = day.isoformat()
        with self._lock, self.db.transaction() as tx:
            e4 = store.rate(tx, key)
            if e4 is None:
                raise DayInvalid(f"no 万份收益 published for {key}")
            if not store.income_rows(tx, key):
                for acct in store.accounts(tx):
                    held = int(acct["shares_fen"])
                    income = held * e4 // 100_000_000
                    store.book_income(tx, key, acct["account_no"], held, income)
                    store.add_shares(tx, acct["account_no"], income)
            rows = store.income_rows(tx, key)
        return [
            AccountDay(r["account_no"], r["shares_fen"], r["income_fen"], r["closing_fen"])
            for r in rows
        ]

    def daily_file(self, day: date) -> FundFile:
        key = day.isoformat()
        with self.db.read() as tx:
            confirmations = [
                Confirmation(
                    r["order_id"], r["account_no"], r["kind"], r["amount_fen"], r["status"]
                )
                for r in store.confirmed_on(tx, key)
            ]
            accounts = [
                AccountDay(r["account_no"], r["shares_fen"], r["income_fen"], r["closing_fen"])
                for r in store.income_rows(tx, key)
            ]
            e4 = store.rate(tx, key)
        return FundFile(day, e4, confirmations, accounts)

    def close(self) -> None:
        self.db.close()
