"""The biller channel interface (缴费渠道): how the platform reaches a biller's books. Every
write is idempotent on ``request_id`` (the platform's bill-payment order id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from qianbao.billpay.errors import BillerTimeout

SUCCEEDED, FAILED, UNKNOWN = "SUCCEEDED", "FAILED", "UNKNOWN"
CATEGORIES = ("WATER", "POWER", "GAS", "PHONE", "TRAFFIC_FINE")

__all__ = ["BillerTimeout"]


@dataclass(frozen=True)
class Bill:
    bill_id: str
    biller_code: str
    account_no: str
    holder: str
    period: str  # e.g. 2026-09 (a fine: its decision number)
    amount_fen: int
    due_date: str


@dataclass(frozen=True)
class Answer:
    status: str  # SUCCEEDED | FAILED | UNKNOWN (a query for a request never received)
    receipt_no: str = ""
    reason: str = ""


@dataclass(frozen=True)
class FileLine:
    request_id: str
    bill_id: str
    account_no: str
    amount_fen: int
    receipt_no: str
    at_ms: int


@dataclass(frozen=True)
class BillerFile:
    """The biller's daily reconciliation file (对账文件): every bill it wrote off as paid
    through the platform that day, and the total it expects to be settled."""

    biller_code: str
    day: date
    lines: list[FileLine]
    total_fen: int


class BillerChannel(Protocol):
    def lookup(self, biller_code: str, account_no: str) -> list[Bill]:
        """The unpaid bills of an account (empty when none; an unknown account raises)."""
        ...

    def pay(self, request_id: str, biller_code: str, bill_id: str, amount_fen: int) -> Answer:
        """Write the bill off as paid (销账); FAILED if unknown, paid already or mismatched."""
        ...

    def query(self, request_id: str) -> Answer: ...

    def daily_file(self, biller_code: str, day: date) -> BillerFile: ...
