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
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from qianbao.channels import queries
from qianbao.channels.base import SUCCEEDED, BankStatement, StatementLine
from qianbao.channels.errors import ChannelNotFound, DayNotOver, ReconNotFound, RequestNotFound
from qianbao.ledger.chart import SUBJECTS, unit_account
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.runtime import Platform

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
    bank = channel_of(p, channel)
    if day >= clock.today():
        raise DayNotOver(
            f"{day.isoformat()} is not over yet: only a finished day can be reconciled"
        )
    statement = bank.statement(day)
    journal = _journal(p, channel, day, statement)
    differences, matched = _compare(bank, statement, journal)
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


def channel_of(p: Platform, channel: str) -> Any:
    if channel not in p.channels:
        raise ChannelNotFound(f"no channel {channel!r}")
    return p.channels[channel]


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
    bank: Any, statement: BankStatement, journal: dict[str, dict[str, Any]]
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
        if bank.query(request_id) != SUCCEEDED:
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
        raise ReconNotFound(f"{channel} has not been reconciled for {day.isoformat()}")
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


def runs(p: Platform, limit: int = 100) -> list[dict[str, Any]]:
    """The stored reconciliations, the latest day first (the back office's list)."""
    with p.global_db.read() as tx:
        return [dict(r) for r in queries.reconciliation_runs(tx, limit)]


def journal_request(p: Platform, channel: str, request_id: str) -> dict[str, Any]:
    """One request of our channel journal (what was sent, for how much, and its status)."""
    with p.global_db.read() as tx:
        row = queries.channel_request(tx, channel, request_id)
    if row is None:
        raise RequestNotFound(f"we never sent {request_id[:64]!r} to {channel}")
    return dict(row)
