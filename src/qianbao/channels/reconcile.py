"""Channel reconciliation (渠道对账): a day of the bank's statement against our journal and ledger.

Two checks, both needed:

* **Line by line** (明细对账): every request on the bank's statement against the channel journal
  (``channels/journal.py``), by request id. A difference is one of
  ``BANK_ONLY`` (the bank moved money on a request we have no record of),
  ``NOT_SETTLED`` (the bank succeeded, we still think it failed or never heard back),
  ``PLATFORM_ONLY`` (we were told it succeeded, the bank has no success for it),
  ``AMOUNT_MISMATCH`` / ``KIND_MISMATCH``.
* **Balance** (余额对账): the bank's closing balance of our reserve account against the sum of
  the ledger's ``bank_reserve`` accounts for the channel over all units at the same instant (the
  end of the day). This catches what no journal line shows, e.g. a refund booked in the ledger
  whose payout the bank then declined.

A day is BALANCED when there is no difference and the two balances agree. The report is stored
per channel and day (a re-run replaces it) and can be written as CSV for the finance team.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from qianbao.channels.base import SUCCEEDED, UNKNOWN, BankStatement, ChannelTimeout, StatementLine
from qianbao.ledger.chart import SUBJECTS, unit_account
from qianbao.ledger.service import credit, debit, open_account, post
from qianbao.platform import idempotency
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.errors import Conflict, InvalidArgument, NotFound
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

BALANCED, DIFFERENCES = "BALANCED", "DIFFERENCES"
HINTS = {
    "BANK_ONLY": "the bank moved money on a request we never recorded: investigate at once",
    "NOT_SETTLED": "the bank succeeded but we did not book it: query the bank and settle",
    "PLATFORM_ONLY": "we booked a success the bank does not have: reverse or re-send",
    "AMOUNT_MISMATCH": "the amounts differ: investigate the request",
    "KIND_MISMATCH": "a charge on one side is a payout on the other: investigate",
}


@dataclass
class Difference:
    request_id: str
    problem: str
    kind: str
    bank_status: str
    platform_status: str
    bank_amount_fen: int
    platform_amount_fen: int
    hint: str


@dataclass
class Report:
    channel: str
    day: date
    status: str
    bank_lines: int
    matched: int
    bank_opening_fen: int
    bank_closing_fen: int
    ledger_closing_fen: int
    differences: list[Difference] = field(default_factory=list)
    failed_payouts: list[str] = field(default_factory=list)

    @property
    def balance_difference_fen(self) -> int:
        return self.ledger_closing_fen - self.bank_closing_fen

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["day"] = self.day.isoformat()
        data["balance_difference_fen"] = self.balance_difference_fen
        return data


def reconcile(p: Platform, channel: str, day: date) -> Report:
    """Reconcile ``channel`` for ``day`` (a finished business day) and store the report."""
    if channel not in p.channels:
        raise NotFound(f"no channel {channel!r}", code="CHANNEL_NOT_FOUND")
    if day >= clock.today():
        raise InvalidArgument(
            f"{day.isoformat()} is not over yet: only a finished day can be reconciled",
            code="DAY_NOT_OVER",
        )
    statement = p.channels[channel].statement(day)
    journal = _journal(p, channel, day, statement)
    differences, matched = _compare(p, channel, statement, journal)
    ledger_closing = _ledger_reserve_before(p, channel, start_of_day_ms(day + timedelta(days=1)))
    report = Report(
        channel,
        day,
        DIFFERENCES if differences or ledger_closing != statement.closing_balance_fen else BALANCED,
        len(statement.lines),
        matched,
        statement.opening_balance_fen,
        statement.closing_balance_fen,
        ledger_closing,
        differences,
        [x.request_id for x in statement.lines if x.kind == "payout" and x.status != SUCCEEDED],
    )
    _store(p, report)
    return report


def _journal(
    p: Platform, channel: str, day: date, statement: BankStatement
) -> dict[str, dict[str, Any]]:
    """Our requests sent that day, plus any the bank processed that day but we sent earlier."""
    start, end = start_of_day_ms(day), start_of_day_ms(day + timedelta(days=1))
    with p.global_db.read() as tx:
        rows = tx.all(
            "SELECT * FROM channel_requests WHERE channel = :c AND sent_at_ms >= :s"
            " AND sent_at_ms < :e",
            {"c": channel, "s": start, "e": end},
        )
        known = {r["request_id"] for r in rows}
        for line in statement.lines:
            if line.request_id not in known:
                row = tx.one(
                    "SELECT * FROM channel_requests WHERE channel = :c AND request_id = :r",
                    {"c": channel, "r": line.request_id},
                )
                rows += [row] if row else []
    return {r["request_id"]: dict(r) for r in rows}


def _compare(
    p: Platform, channel: str, statement: BankStatement, journal: dict[str, dict[str, Any]]
) -> tuple[list[Difference], int]:
    differences: list[Difference] = []
    matched = 0
    on_statement = {line.request_id: line for line in statement.lines}
    for line in statement.lines:
        ours = journal.get(line.request_id)
        problem = _line_problem(line, ours)
        if problem is None:
            matched += 1
        else:
            differences.append(_difference(line.request_id, problem, line, ours))
    for request_id, ours in journal.items():
        if request_id in on_statement or ours["status"] != SUCCEEDED:
            continue
        # Processed on another day? The bank's query is the authority on the request itself.
        if p.channels[channel].query(request_id) != SUCCEEDED:
            differences.append(_difference(request_id, "PLATFORM_ONLY", None, ours))
    return differences, matched


def _line_problem(line: StatementLine, ours: dict[str, Any] | None) -> str | None:
    if ours is None:
        return "BANK_ONLY" if line.status == SUCCEEDED else None
    if ours["kind"] != line.kind:
        return "KIND_MISMATCH"
    if ours["amount_fen"] != line.amount_fen:
        return "AMOUNT_MISMATCH"
    if line.status == SUCCEEDED and ours["status"] != SUCCEEDED:
        return "NOT_SETTLED"
    if line.status != SUCCEEDED and ours["status"] == SUCCEEDED:
        return "PLATFORM_ONLY"
    return None


def _difference(
    request_id: str, problem: str, line: StatementLine | None, ours: dict[str, Any] | None
) -> Difference:
    return Difference(
        request_id,
        problem,
        line.kind if line else str(ours["kind"] if ours else ""),
        line.status if line else "ABSENT",
        str(ours["status"]) if ours else "ABSENT",
        line.amount_fen if line else 0,
        int(ours["amount_fen"]) if ours else 0,
        HINTS[problem],
    )


def _ledger_reserve_before(p: Platform, channel: str, before_ms: int) -> int:
    """Σ over units of the ledger's reserve account for ``channel``, from postings before a time."""
    side = SUBJECTS["bank_reserve"].side
    total = 0
    for unit, db in enumerate(p.units):
        with db.read() as tx:
            total += side * int(
                tx.scalar(
                    "SELECT COALESCE(SUM(amount_fen), 0) FROM postings"
                    " WHERE account_id = :a AND created_at_ms < :t",
                    {"a": unit_account("bank_reserve", unit, channel), "t": before_ms},
                )
                or 0
            )
    return total


def _store(p: Platform, report: Report) -> None:
    with p.global_db.transaction() as tx:
        key = {"c": report.channel, "d": report.day.isoformat()}
        tx.execute("DELETE FROM channel_reconciliations WHERE channel = :c AND day = :d", key)
        tx.execute(
            "INSERT INTO channel_reconciliations (channel, day, status, bank_lines, matched,"
            " differences, bank_closing_fen, ledger_closing_fen, report_json, run_at_ms)"
            " VALUES (:c, :d, :status, :lines, :matched, :diffs, :bank, :ledger, :json, :now)",
            {
                **key,
                "status": report.status,
                "lines": report.bank_lines,
                "matched": report.matched,
                "diffs": len(report.differences),
                "bank": report.bank_closing_fen,
                "ledger": report.ledger_closing_fen,
                "json": json.dumps(report.as_dict(), ensure_ascii=False),
                "now": clock.now_ms(),
            },
        )


def stored_report(p: Platform, channel: str, day: date) -> dict[str, Any]:
    with p.global_db.read() as tx:
        raw = tx.scalar(
            "SELECT report_json FROM channel_reconciliations WHERE channel = :c AND day = :d",
            {"c": channel, "d": day.isoformat()},
        )
    if raw is None:
        raise NotFound(
            f"{channel} has not been reconciled for {day.isoformat()}", code="RECON_NOT_FOUND"
        )
    return dict(json.loads(raw))


def differences_csv(report: dict[str, Any]) -> str:
    """The differences of a stored report as CSV (one row each, amounts in fen)."""
    out = io.StringIO()
    names = [f for f in Difference.__dataclass_fields__]
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in report["differences"]:
        writer.writerow(row)
    return out.getvalue()


# --- resolving a difference -----------------------------------------------------------------------
def redrive_payout(p: Platform, channel: str, request_id: str) -> dict[str, Any]:
    """Send a payout the bank declined (a card refund, a reversed card charge) again.

    The ledger booked these payouts as made, so a declined one is money the platform still owes
    the card holder: reconciliation shows it as a failed payout and a reserve difference. Each
    attempt is a new bank request ``<id>~<n>`` (the bank keeps each id's answer); concurrent
    attempts compute the same id, so the bank pays at most once. Top-ups and withdrawals are not
    re-driven here: their failures are booked (a withdrawal is reversed) by ``resolve-bank``.
    """
    if channel not in p.channels:
        raise NotFound(f"no channel {channel!r}", code="CHANNEL_NOT_FOUND")
    bank = p.channels[channel]
    with p.global_db.read() as tx:
        row = tx.one(
            "SELECT * FROM channel_requests WHERE channel = :c AND request_id = :r",
            {"c": channel, "r": request_id},
        )
        attempts = tx.all(
            "SELECT request_id, status FROM channel_requests WHERE channel = :c"
            " AND redrive_of = :r",
            {"c": channel, "r": request_id},
        )
    if row is None:
        raise NotFound(f"we never sent {request_id!r} to {channel}", code="REQUEST_NOT_FOUND")
    if row["kind"] != "payout":
        raise InvalidArgument("only a payout can be re-driven", code="NOT_A_PAYOUT")
    if _is_bank_order(p, request_id):
        raise InvalidArgument(
            "top-ups and withdrawals settle through resolve-bank (a failed withdrawal is"
            " reversed to the wallet)",
            code="BANK_ORDER_NOT_REDRIVEN",
        )
    paid = [a["request_id"] for a in attempts if a["status"] == SUCCEEDED]
    if bank.query(request_id) == SUCCEEDED or paid:
        raise Conflict(f"{request_id} is already paid", code="PAYOUT_ALREADY_PAID")
    retry_id = f"{request_id}~{len(attempts) + 1}"
    status = _send_redrive(p, bank, row, retry_id)
    return {"request_id": retry_id, "redrive_of": request_id, "status": status}


def _send_redrive(p: Platform, bank: Any, row: Mapping[str, Any], retry_id: str) -> str:
    try:
        status = str(bank.payout(retry_id, row["account_no"], int(row["amount_fen"])))
    except ChannelTimeout:
        status = UNKNOWN
    with p.global_db.transaction() as tx:
        tx.execute(
            "UPDATE channel_requests SET redrive_of = :o WHERE channel = :c AND request_id = :r",
            {"o": row["request_id"], "c": row["channel"], "r": retry_id},
        )
    return status


def _is_bank_order(p: Platform, request_id: str) -> bool:
    for db in p.units:
        with db.read() as tx:
            if tx.scalar("SELECT COUNT(*) FROM bank_orders WHERE id = :r", {"r": request_id}):
                return True
    return False


def adopt_bank_only(p: Platform, channel: str, day: date, request_id: str) -> dict[str, Any]:
    """Book a ``BANK_ONLY`` line of a stored reconciliation to suspense (长款/短款 待处理).

    The bank moved money on a request we never sent: until someone identifies it, the reserve
    follows the bank (a charge: debit the reserve, credit ``suspense``; a payout: the reverse)
    and the request enters our journal, so the day reconciles. Booking twice changes nothing.
    Clearing suspense (returning the money, or recognising it) is a later, separate decision.
    """
    line = _bank_only_line(p, channel, day, request_id)
    if p.channels[channel].query(request_id) != SUCCEEDED:
        raise Conflict(f"the bank no longer shows {request_id} as done", code="NOT_AT_BANK")
    amount = int(line["bank_amount_fen"])
    reserve, suspense = unit_account("bank_reserve", 0, channel), unit_account("suspense", 0)
    legs = [debit(reserve, amount), credit(suspense, amount)]
    if line["kind"] == "payout":
        legs = [credit(reserve, amount), debit(suspense, amount)]

    def command(ctx: WriteContext) -> str:
        first = idempotency.claim(ctx.tx, f"suspense:{channel}", request_id, line, request_id)
        if first is None:
            open_account(ctx.tx, suspense, "u0")
            post(ctx, "recon.suspense", request_id, legs, memo=f"{channel} {day}")
        return request_id

    p.writers[0].submit(command)
    _adopt_into_journal(p, channel, line)
    return {
        "request_id": request_id,
        "kind": line["kind"],
        "amount_fen": amount,
        "account": suspense,
    }


def _bank_only_line(p: Platform, channel: str, day: date, request_id: str) -> dict[str, Any]:
    for d in stored_report(p, channel, day)["differences"]:
        if d["request_id"] == request_id and d["problem"] == "BANK_ONLY":
            return dict(d)
    raise NotFound(
        f"{request_id} is not a BANK_ONLY line of {channel} {day}", code="DIFFERENCE_NOT_FOUND"
    )


def _adopt_into_journal(p: Platform, channel: str, line: dict[str, Any]) -> None:
    with p.global_db.transaction() as tx:
        tx.execute(
            "INSERT INTO channel_requests (channel, request_id, kind, account_no, amount_fen,"
            " status, sent_at_ms, answered_at_ms) VALUES (:c, :r, :k, '', :a, 'SUCCEEDED', :now,"
            " :now) ON CONFLICT (channel, request_id) DO NOTHING",
            {
                "c": channel,
                "r": line["request_id"],
                "k": line["kind"],
                "a": line["bank_amount_fen"],
                "now": clock.now_ms(),
            },
        )
