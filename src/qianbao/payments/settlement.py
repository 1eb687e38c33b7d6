"""The merchant's daily bill (对账单) of trades, and its reconciliation with the ledger.

Settlement is instant: a trade's net amount reaches the merchant's settlement account when it is
paid (instant trades) or released from escrow (secured trades), and a refund takes it back. The
bill lists those lines from the trade tables; ``reconcile`` recomputes the day's movement of the
merchant's accounts from ledger postings independently, and the two must agree to the fen.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from qianbao.members import service as members
from qianbao.platform.clock import start_of_day_ms
from qianbao.platform.money import fen_to_yuan
from qianbao.platform.runtime import Platform

TRADE_VOUCHERS = ("trade.pay", "trade.release", "trade.refund")
COLUMNS = (
    "type",
    "trade_no",
    "out_trade_no",
    "out_request_no",
    "subject",
    "time",
    "gross_fen",
    "fee_fen",
    "net_fen",
)


@dataclass
class Bill:
    merchant_id: str
    day: date
    lines: list[dict[str, Any]]

    @property
    def gross_fen(self) -> int:
        return sum(int(x["gross_fen"]) for x in self.lines)

    @property
    def fee_fen(self) -> int:
        return sum(int(x["fee_fen"]) for x in self.lines)

    @property
    def net_fen(self) -> int:
        return sum(int(x["net_fen"]) for x in self.lines)


def _window(day: date) -> dict[str, int]:
    return {"a": start_of_day_ms(day), "b": start_of_day_ms(day + timedelta(days=1))}


def merchant_bill(p: Platform, merchant_id: str, day: date) -> Bill:
    members.get_merchant(p, merchant_id)
    args = {"m": merchant_id, **_window(day)}
    lines: list[dict[str, Any]] = []
    for db in p.units:
        with db.read() as tx:
            for t in tx.all(
                "SELECT * FROM trades WHERE merchant_id = :m AND product = 'INSTANT'"
                " AND paid_at_ms >= :a AND paid_at_ms < :b",
                args,
            ):
                fee = t["fee_fen"] + t["subsidy_fen"]  # a subsidised Huabei installment fee
                lines.append(_line("PAYMENT", t, "", t["paid_at_ms"], t["total_amount_fen"], fee))
            for t in tx.all(
                "SELECT * FROM trades WHERE merchant_id = :m AND product = 'SECURED'"
                " AND status = 'TRADE_FINISHED' AND ended_at_ms >= :a"
                " AND ended_at_ms < :b",
                args,
            ):
                lines.append(
                    _line("RELEASE", t, "", t["ended_at_ms"], t["released_fen"], t["fee_fen"])
                )
            for r in tx.all(
                "SELECT r.*, t.out_trade_no, t.subject, t.product FROM trade_refunds r"
                " JOIN trades t ON t.id = r.trade_id WHERE r.merchant_id = :m"
                " AND r.created_at_ms >= :a AND r.created_at_ms < :b",
                args,
            ):
                if r["product"] == "SECURED":  # from escrow: the merchant had not been paid
                    continue
                trade = {
                    "id": r["trade_id"],
                    "out_trade_no": r["out_trade_no"],
                    "subject": r["subject"],
                }
                lines.append(
                    _line(
                        "REFUND",
                        trade,
                        r["out_request_no"],
                        r["created_at_ms"],
                        -r["amount_fen"],
                        -(r["fee_refund_fen"] + r["subsidy_refund_fen"]),
                    )
                )
    lines.sort(key=lambda x: (x["time_ms"], x["trade_no"], x["type"]))
    return Bill(merchant_id, day, lines)


def _line(
    kind: str, t: Any, out_request_no: str, at_ms: int, gross: int, fee: int
) -> dict[str, Any]:
    from qianbao.openapi.notify import ms_to_text

    return {
        "type": kind,
        "trade_no": t["id"],
        "out_trade_no": t["out_trade_no"],
        "out_request_no": out_request_no,
        "subject": t["subject"],
        "time": ms_to_text(at_ms),
        "time_ms": at_ms,
        "gross_fen": int(gross),
        "fee_fen": int(fee),
        "net_fen": int(gross) - int(fee),
    }


def ledger_net_fen(p: Platform, merchant_id: str, day: date) -> int:
    """What trade vouchers of ``day`` did to the merchant's settlement accounts, from postings."""
    total = 0
    for unit, db in enumerate(p.units):
        with db.read() as tx:
            total += int(
                tx.scalar(
                    "SELECT COALESCE(SUM(ps.amount_fen), 0) FROM postings ps"
                    " JOIN vouchers v ON v.id = ps.voucher_id WHERE ps.account_id = :acct"
                    " AND v.kind IN ('trade.pay', 'trade.release', 'trade.refund')"
                    " AND v.created_at_ms >= :a AND v.created_at_ms < :b",
                    {"acct": members.merchant_account(merchant_id, unit), **_window(day)},
                )
                or 0
            )
    return total  # credit-positive: a liability to the merchant


def reconcile(p: Platform, merchant_id: str, day: date) -> dict[str, int]:
    bill = merchant_bill(p, merchant_id, day)
    ledger = ledger_net_fen(p, merchant_id, day)
    return {
        "bill_net_fen": bill.net_fen,
        "ledger_net_fen": ledger,
        "difference_fen": bill.net_fen - ledger,
    }


def bill_csv(bill: Bill) -> str:
    """The downloadable bill: amounts in yuan, a header block and a totals line."""
    out = io.StringIO()
    out.write(f"# Qianbao merchant bill {bill.day.isoformat()} merchant {bill.merchant_id}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "type",
            "trade_no",
            "out_trade_no",
            "out_request_no",
            "subject",
            "time",
            "gross_amount",
            "fee",
            "net_amount",
        ]
    )
    for x in bill.lines:
        writer.writerow(
            [
                x["type"],
                x["trade_no"],
                x["out_trade_no"],
                x["out_request_no"],
                x["subject"],
                x["time"],
                fen_to_yuan(x["gross_fen"]),
                fen_to_yuan(x["fee_fen"]),
                fen_to_yuan(x["net_fen"]),
            ]
        )
    writer.writerow(
        [
            "TOTAL",
            "",
            "",
            "",
            f"{len(bill.lines)} lines",
            "",
            fen_to_yuan(bill.gross_fen),
            fen_to_yuan(bill.fee_fen),
            fen_to_yuan(bill.net_fen),
        ]
    )
    return out.getvalue()
