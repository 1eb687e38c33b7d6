"""A biller network simulator with its own database: each biller's customer accounts, the bills
it issued, the write-offs (销账) the platform asked for, and the daily file it sends back.

Failure and timeout rates are configurable like the bank simulator's: a timeout is lost on the
way in (never processed) or on the way out (processed, answer lost), and only ``query`` tells
which. A bill paid elsewhere (at the counter: ``pay_at_counter``) is refused to the platform,
so the platform must give the user's money back.
"""

from __future__ import annotations

import itertools
import random
import threading
from datetime import date, timedelta

from qianbao.billpay.biller import store
from qianbao.billpay.channel import FAILED, SUCCEEDED, UNKNOWN, Answer, Bill, BillerFile, FileLine
from qianbao.billpay.errors import BillAccountNotFound, BillerTimeout
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.db import Database, Row


class BillerSimulator:
    def __init__(
        self,
        db: Database,
        *,
        failure_rate: float = 0.0,
        timeout_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.db = db
        self.failure_rate = failure_rate
        self.timeout_rate = timeout_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.lose_answers = 0  # the next N requests are processed and their answers lost
        with db.transaction() as tx:
            store.create(tx)

    # --- the billers' own administration ----------------------------------------------------
    def open_account(self, biller_code: str, account_no: str, holder: str) -> None:
        with self.db.transaction() as tx:
            store.open_account(tx, biller_code, account_no, holder)

    def issue_bill(
        self, biller_code: str, account_no: str, period: str, amount_fen: int, due_date: str
    ) -> str:
        bill_id = f"{biller_code}-{account_no}-{period}"
        with self.db.transaction() as tx:
            if store.account(tx, biller_code, account_no) is None:
                raise BillAccountNotFound(f"{biller_code} has no account {account_no}")
            store.insert_bill(
                tx,
                {
                    "bill_id": bill_id,
                    "biller_code": biller_code,
                    "account_no": account_no,
                    "period": period,
                    "amount_fen": amount_fen,
                    "due_date": due_date,
                },
            )
        return bill_id

    def pay_at_counter(self, bill_id: str) -> bool:
        """The customer paid at the biller's counter: the bill is no longer payable online."""
        with self._lock, self.db.transaction() as tx:
            return store.write_off(tx, bill_id, "COUNTER", clock.now_ms())

    # --- the channel ----------------------------------------------------------------------------
    def lookup(self, biller_code: str, account_no: str) -> list[Bill]:
        with self.db.read() as tx:
            acct = store.account(tx, biller_code, account_no)
            if acct is None:
                raise BillAccountNotFound(f"no {biller_code} account {account_no}")
            rows = store.unpaid_bills(tx, biller_code, account_no)
        return [_bill(r, str(acct["holder"])) for r in rows]

    def pay(self, request_id: str, biller_code: str, bill_id: str, amount_fen: int) -> Answer:
        with self._lock:
            roll = self._random.random()
            refuse = self._random.random() < self.failure_rate
            lose = self.lose_answers > 0
            self.lose_answers -= lose
        if roll < self.timeout_rate / 2 and not lose:
            raise BillerTimeout(f"biller did not answer {request_id}")
        answer = self._write_off(request_id, biller_code, bill_id, amount_fen, refuse)
        if lose or roll < self.timeout_rate:
            raise BillerTimeout(f"biller did not answer {request_id}")
        return answer

    def query(self, request_id: str) -> Answer:
        with self.db.read() as tx:
            row = store.writeoff(tx, request_id)
        return _answer(row) if row else Answer(UNKNOWN)

    def daily_file(self, biller_code: str, day: date) -> BillerFile:
        start, end = start_of_day_ms(day), start_of_day_ms(day + timedelta(days=1))
        with self.db.read() as tx:
            rows = store.writeoffs_between(tx, biller_code, start, end)
        lines = [
            FileLine(
                r["request_id"],
                r["bill_id"],
                r["account_no"],
                int(r["amount_fen"]),
                r["receipt_no"],
                int(r["at_ms"]),
            )
            for r in rows
        ]
        return BillerFile(biller_code, day, lines, sum(x.amount_fen for x in lines))

    def _write_off(
        self, request_id: str, biller_code: str, bill_id: str, amount_fen: int, refuse: bool
    ) -> Answer:
        with self._lock, self.db.transaction() as tx:
            seen = store.writeoff(tx, request_id)
            if seen is not None:
                return _answer(seen)
            bill = store.bill(tx, bill_id)
            now = clock.now_ms()
            reason = _refusal(bill, biller_code, amount_fen, refuse)
            if not reason and not store.write_off(tx, bill_id, request_id, now):
                reason = "the bill is paid already"
            outcome = FAILED if reason else SUCCEEDED
            receipt = "" if reason else f"R{biller_code}{now}{next(self._seq):04d}"
            store.record_writeoff(
                tx,
                {
                    "request_id": request_id,
                    "biller_code": biller_code,
                    "bill_id": bill_id,
                    "account_no": bill["account_no"] if bill else "",
                    "amount_fen": amount_fen,
                    "outcome": outcome,
                    "receipt_no": receipt,
                    "reason": reason,
                    "at_ms": now,
                },
            )
        return Answer(outcome, receipt, reason)

    def close(self) -> None:
        self.db.close()


def _refusal(bill: Row | None, biller_code: str, amount_fen: int, refuse: bool) -> str:
    if refuse:
        return "declined by the biller"
    if bill is None or bill["biller_code"] != biller_code:
        return "no such bill"
    if bill["paid_by"] is not None:
        return "the bill is paid already"
    if int(bill["amount_fen"]) != amount_fen:
        return "the amount is not the bill's"
    return ""


def _bill(row: Row, holder: str) -> Bill:
    return Bill(
        row["bill_id"],
        row["biller_code"],
        row["account_no"],
        holder,
        row["period"],
        int(row["amount_fen"]),
        row["due_date"],
    )


def _answer(row: Row) -> Answer:
    return Answer(str(row["outcome"]), str(row["receipt_no"]), str(row["reason"]))
