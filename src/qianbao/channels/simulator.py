"""A bank simulator with its own database: card accounts, the platform's reserve account and a
journal of requests. Latency, failure and timeout rates are configurable, so the platform's
pending → succeeded/failed handling and its queries for unknown outcomes run against something
that behaves like a bank. A timeout is either lost on the way in (never processed) or on the way
out (processed, answer lost): only ``query`` tells which.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import date, timedelta
from typing import Any

from qianbao.channels.base import (
    FAILED,
    SUCCEEDED,
    UNKNOWN,
    BankStatement,
    CardRejected,
    ChannelTimeout,
    StatementLine,
)
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.db import Database

RESERVE = "PLATFORM-RESERVE"
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS bank_accounts (account_no TEXT PRIMARY KEY, holder TEXT NOT NULL,"
    " balance_fen INTEGER NOT NULL CHECK (balance_fen >= 0))",
    "CREATE TABLE IF NOT EXISTS bank_requests (request_id TEXT PRIMARY KEY, kind TEXT NOT NULL,"
    " account_no TEXT NOT NULL, amount_fen INTEGER NOT NULL, status TEXT NOT NULL,"
    " reason TEXT NOT NULL, at_ms INTEGER NOT NULL)",
]


class BankSimulator:
    def __init__(
        self,
        db: Database,
        code: str = "SIMBANK",
        *,
        latency_ms: float = 0.0,
        failure_rate: float = 0.0,
        timeout_rate: float = 0.0,
        seed: int | None = None,
        sandbox_open_balance_fen: int = 0,
        hang_ms: float = 0.0,
    ) -> None:
        self.code = code
        self.db = db
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.timeout_rate = timeout_rate
        self.sandbox_open_balance_fen = sandbox_open_balance_fen
        # ``unreachable``: every call (a card check, a charge, a payout, a query) is lost on the
        # way in after ``hang_ms`` (or until the bank is reachable again): a dead bank.
        self.unreachable = False
        self.hang_ms = hang_ms
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        with db.transaction() as tx:
            for ddl in _SCHEMA:
                tx.execute(ddl)
            tx.execute(
                "INSERT INTO bank_accounts VALUES (:no, 'Qianbao', 0) ON CONFLICT DO NOTHING",
                {"no": RESERVE},
            )

    # --- the bank's own administration --------------------------------------------------------
    def open_card(self, card_no: str, holder: str, balance_fen: int) -> None:
        with self._lock, self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO bank_accounts VALUES (:no, :h, :b) ON CONFLICT DO NOTHING",
                {"no": card_no, "h": holder, "b": balance_fen},
            )

    def balance_fen(self, account_no: str = RESERVE) -> int:
        with self.db.read() as tx:
            return int(
                tx.scalar(
                    "SELECT balance_fen FROM bank_accounts WHERE account_no = :n", {"n": account_no}
                )
                or 0
            )

    # --- the gateway ---------------------------------------------------------------------------
    def verify_card(self, card_no: str, holder_name: str) -> None:
        self._unreachable("verify")
        with self.db.read() as tx:
            row = tx.one("SELECT holder FROM bank_accounts WHERE account_no = :n", {"n": card_no})
        if row is None and self.sandbox_open_balance_fen:
            self.open_card(card_no, holder_name, self.sandbox_open_balance_fen)
            return
        if row is None or row["holder"] != holder_name:
            raise CardRejected("the bank does not know this card under this name")

    def charge(self, request_id: str, card_no: str, amount_fen: int) -> str:
        return self._call("charge", request_id, card_no, amount_fen)

    def payout(self, request_id: str, card_no: str, amount_fen: int) -> str:
        return self._call("payout", request_id, card_no, amount_fen)

    def query(self, request_id: str) -> str:
        self._unreachable(request_id)
        self._sleep()
        with self.db.read() as tx:
            row = tx.one(
                "SELECT status FROM bank_requests WHERE request_id = :r", {"r": request_id}
            )
        return str(row["status"]) if row else UNKNOWN

    def statement(self, day: date) -> BankStatement:
        start, end = start_of_day_ms(day), start_of_day_ms(day + timedelta(days=1))
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT * FROM bank_requests WHERE at_ms >= :s AND at_ms < :e ORDER BY at_ms",
                {"s": start, "e": end},
            )
            opening, closing = (self._reserve_before(tx, t) for t in (start, end))
        lines = [
            StatementLine(
                r["request_id"],
                r["kind"],
                r["account_no"],
                r["amount_fen"],
                r["status"],
                r["at_ms"],
            )
            for r in rows
        ]
        return BankStatement(day, lines, opening, closing)

    @staticmethod
    def _reserve_before(tx: Any, before_ms: int) -> int:
        """The reserve's balance from its movements (charges in, payouts out) before a time."""
        return int(
            tx.scalar(
                "SELECT COALESCE(SUM(CASE kind WHEN 'charge' THEN amount_fen ELSE -amount_fen END),"
                " 0) FROM bank_requests WHERE status = 'SUCCEEDED' AND at_ms < :t",
                {"t": before_ms},
            )
            or 0
        )

    def _sleep(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)

    def _unreachable(self, what: str) -> None:
        """While the bank is unreachable: wait as a dead network does, then time out."""
        if not self.unreachable:
            return
        deadline_s = time.monotonic() + self.hang_ms / 1000
        while self.unreachable and time.monotonic() < deadline_s:
            time.sleep(min(0.05, max(0.0, deadline_s - time.monotonic())))
        raise ChannelTimeout(f"{self.code} did not answer {what} (unreachable)")

    def _call(self, kind: str, request_id: str, card_no: str, amount_fen: int) -> str:
        self._unreachable(request_id)
        self._sleep()
        with self._lock:
            roll = self._random.random()
            lost_on_the_way_in = roll < self.timeout_rate / 2
            lost_on_the_way_out = self.timeout_rate / 2 <= roll < self.timeout_rate
            refuse = self._random.random() < self.failure_rate
        if lost_on_the_way_in:
            raise ChannelTimeout(f"{self.code} did not answer {request_id}")
        status = self._process(kind, request_id, card_no, amount_fen, refuse)
        if lost_on_the_way_out:
            raise ChannelTimeout(f"{self.code} did not answer {request_id}")
        return status

    def _process(
        self, kind: str, request_id: str, card_no: str, amount_fen: int, refuse: bool
    ) -> str:
        source, target = (card_no, RESERVE) if kind == "charge" else (RESERVE, card_no)
        with self._lock, self.db.transaction() as tx:
            seen = tx.one(
                "SELECT status FROM bank_requests WHERE request_id = :r", {"r": request_id}
            )
            if seen is not None:
                return str(seen["status"])
            reason = "declined by the bank" if refuse else ""
            if not refuse and not tx.execute(
                "UPDATE bank_accounts SET balance_fen = balance_fen - :a"
                " WHERE account_no = :n AND balance_fen >= :a",
                {"a": amount_fen, "n": source},
            ):
                reason = "insufficient funds or unknown account"
            if not reason and not tx.execute(
                "UPDATE bank_accounts SET balance_fen = balance_fen + :a WHERE account_no = :n",
                {"a": amount_fen, "n": target},
            ):
                raise RuntimeError(f"bank account {target} missing")  # rolls the debit back
            status = FAILED if reason else SUCCEEDED
            tx.execute(
                "INSERT INTO bank_requests VALUES (:r, :k, :n, :a, :s, :why, :at)",
                {
                    "r": request_id,
                    "k": kind,
                    "n": card_no,
                    "a": amount_fen,
                    "s": status,
                    "why": reason,
                    "at": clock.now_ms(),
                },
            )
        return status

    def close(self) -> None:
        self.db.close()
