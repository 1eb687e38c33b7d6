"""The biller's daily reconciliation (缴费对账): its file of the bills it wrote off through the
platform on a day, against our bill payments, line by line and in total.

A difference is one of ``BILLER_ONLY`` (the biller wrote off a bill we have no payment for),
``NOT_SETTLED`` (written off, we still wait for its answer: the follow-up settles it),
``REFUNDED_BUT_WRITTEN_OFF`` (we gave the user the money back, the biller counts it paid),
``AMOUNT_MISMATCH``, and ``PLATFORM_ONLY`` (we hold a write-off the biller does not have). The
day is BALANCED when there is none and the file's total equals ours. A re-run replaces the
stored report.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from qianbao.billpay import service, store
from qianbao.billpay.channel import SUCCEEDED, FileLine
from qianbao.billpay.errors import BillReconNotFound, ReconDayNotOver
from qianbao.billpay.purpose import PAID, REFUNDED
from qianbao.platform.clock import clock, start_of_day_ms
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform

BALANCED, DIFFERENCES = "BALANCED", "DIFFERENCES"


@dataclass
class Difference:
    request_id: str
    problem: str
    biller_amount_fen: int
    platform_amount_fen: int
    platform_status: str


@dataclass
class Report:
    biller_code: str
    day: str
    status: str
    lines: int
    matched: int
    biller_total_fen: int
    platform_total_fen: int
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reconcile(p: Platform, biller_code: str, day: date) -> Report:
    """Reconcile a finished day of one biller and store the report."""
    biller = service.get_biller(p, biller_code)
    if day >= clock.today():
        raise ReconDayNotOver(f"{day.isoformat()} is not over yet")
    file = p.billers.daily_file(biller["code"], day)
    ours = _ours(p, biller["code"], day, file.lines)
    differences, matched, our_total = [], 0, 0
    for line in file.lines:
        row = ours.pop(line.request_id, None)
        problem = _problem(line, row)
        if row is not None and row["status"] == SUCCEEDED:
            our_total += int(row["amount_fen"])
        if problem is None:
            matched += 1
        else:
            differences.append(_difference(line.request_id, problem, line, row))
    for request_id, row in ours.items():  # succeeded with us that day, not on the file
        if p.billers.query(request_id).status != SUCCEEDED:
            differences.append(_difference(request_id, "PLATFORM_ONLY", None, row))
    balanced = not differences and our_total == file.total_fen
    report = Report(
        biller["code"],
        day.isoformat(),
        BALANCED if balanced else DIFFERENCES,
        len(file.lines),
        matched,
        file.total_fen,
        our_total,
        differences,
    )
    _store(p, report)
    return report


def _ours(p: Platform, biller_code: str, day: date, lines: list[FileLine]) -> dict[str, Row]:
    """Our payments answered SUCCEEDED that day, plus those the file names (any day)."""
    start, end = start_of_day_ms(day), start_of_day_ms(day + timedelta(days=1))
    found: dict[str, Row] = {}
    for db in p.units:
        with db.read() as tx:
            found.update({r["id"]: r for r in store.of_biller_between(tx, biller_code, start, end)})
    missing: dict[int, list[str]] = {}
    for line in lines:
        if line.request_id not in found:
            try:
                missing.setdefault(p.unit_of(line.request_id), []).append(line.request_id)
            except ValueError:
                continue  # not an id of ours: BILLER_ONLY
    for unit, ids in missing.items():
        with p.units[unit].read() as tx:
            found.update({r["id"]: r for r in store.payments_by_ids(tx, ids)})
    return found


def _problem(line: FileLine, row: Row | None) -> str | None:
    if row is None:
        return "BILLER_ONLY"
    if int(row["amount_fen"]) != line.amount_fen:
        return "AMOUNT_MISMATCH"
    if row["status"] == PAID:
        return "NOT_SETTLED"
    if row["status"] == REFUNDED:
        return "REFUNDED_BUT_WRITTEN_OFF"
    if row["status"] != SUCCEEDED:
        return "BILLER_ONLY"
    return None


def _difference(
    request_id: str, problem: str, line: FileLine | None, row: Row | None
) -> Difference:
    return Difference(
        request_id,
        problem,
        line.amount_fen if line else 0,
        int(row["amount_fen"]) if row else 0,
        str(row["status"]) if row else "ABSENT",
    )


def _store(p: Platform, report: Report) -> None:
    with p.global_db.transaction() as tx:
        store.save_report(
            tx,
            {
                "biller_code": report.biller_code,
                "day": report.day,
                "status": report.status,
                "lines": report.lines,
                "matched": report.matched,
                "differences": len(report.differences),
                "biller_total_fen": report.biller_total_fen,
                "platform_total_fen": report.platform_total_fen,
                "report_json": json.dumps(report.as_dict(), ensure_ascii=False),
                "run_at_ms": clock.now_ms(),
            },
        )


def stored_report(p: Platform, biller_code: str, day: date) -> dict[str, Any]:
    with p.global_db.read() as tx:
        row = store.report(tx, biller_code.strip().upper(), day.isoformat())
    if row is None:
        raise BillReconNotFound(f"{biller_code} has not been reconciled for {day.isoformat()}")
    return dict(json.loads(row["report_json"]))


def reconcile_all(p: Platform, day: date) -> list[Report]:
    return [reconcile(p, b["code"], day) for b in service.list_billers(p)]


def file_csv(p: Platform, biller_code: str, day: date) -> str:
    """The biller's daily file as it would arrive (CSV, amounts in fen), with its total line."""
    biller = service.get_biller(p, biller_code)
    file = p.billers.daily_file(biller["code"], day)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["request_id", "bill_id", "account_no", "amount_fen", "receipt_no", "at_ms"])
    for x in file.lines:
        writer.writerow(
            [x.request_id, x.bill_id, x.account_no, x.amount_fen, x.receipt_no, x.at_ms]
        )
    writer.writerow(["TOTAL", "", "", file.total_fen, len(file.lines), ""])
    return out.getvalue()
