"""Pure credit arithmetic: bill and due dates, installment schedules, minimums, buckets.

Nothing here touches a database, so every schedule can be printed and checked by hand
(the Fineract way). All rounding goes through ``platform.money``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from qianbao.credit.errors import (
    InstallmentPeriodsInvalid,
    InstallmentTooSmall,
)
from qianbao.platform.errors import InvalidArgument
from qianbao.platform.money import apply_rate, fen_to_yuan, round_fen, split_fen


def add_months(day: date, months: int, *, on_day: int | None = None) -> date:
    """``day`` moved by ``months`` (day of month clamped to the month's length)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(on_day or day.day, last))


def next_bill_date(day: date, bill_day: int) -> date:
    """The first bill date strictly after ``day``: a purchase on ``day`` is billed then."""
    this_month = add_months(day, 0, on_day=bill_day)
    return this_month if this_month > day else add_months(day, 1, on_day=bill_day)


def due_date_for(bill_date: date, due_day: int) -> date:
    """The due date of the statement cut on ``bill_date`` (the 9th or 10th after it)."""
    same = add_months(bill_date, 0, on_day=due_day)
    return same if same > bill_date else add_months(bill_date, 1, on_day=due_day)


def minimum_due(purchase_principal_fen: int, installment_fen: int, rate: Decimal) -> int:
    """最低还款: ``rate`` of the bill's purchases plus all installment amounts and fees due."""
    return apply_rate(purchase_principal_fen, rate) + installment_fen


@dataclass(frozen=True)
class Period:
    number: int
    bill_date: date
    principal_fen: int
    fee_fen: int

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.fee_fen


def installment_fee(
    principal_fen: int, periods: int, rates: dict[int, Decimal], minimum_fen: int = 0
) -> int:
    if principal_fen < max(minimum_fen, periods):
        raise InstallmentTooSmall(f"installments need at least {max(minimum_fen, periods)} fen")
    if periods not in rates:
        raise InstallmentPeriodsInvalid(f"installments must be one of {sorted(rates)} periods")
    return apply_rate(principal_fen, rates[periods])


def installment_schedule(
    principal_fen: int, periods: int, fee_fen: int, first_bill_date: date, bill_day: int
) -> list[Period]:
    """Equal principal and equal fee per period; the remainder fen go to the first periods, so
    the parts sum exactly to the principal and to the fee."""
    if principal_fen <= 0 or periods <= 0 or fee_fen < 0:
        raise InvalidArgument("an installment plan needs a positive principal and periods")
    principals = split_fen(principal_fen, periods)
    fees = split_fen(fee_fen, periods)
    return [
        Period(i + 1, add_months(first_bill_date, i, on_day=bill_day), principals[i], fees[i])
        for i in range(periods)
    ]


def format_schedule(schedule: list[Period]) -> str:
    lines = ["period  bill date   principal        fee      total"]
    for s in schedule:
        lines.append(
            f"{s.number:>6}  {s.bill_date}  {fen_to_yuan(s.principal_fen):>10}"
            f" {fen_to_yuan(s.fee_fen):>10} {fen_to_yuan(s.total_fen):>10}"
        )
    lines.append(
        f"{'total':>6}  {'':10}  {fen_to_yuan(sum(s.principal_fen for s in schedule)):>10}"
        f" {fen_to_yuan(sum(s.fee_fen for s in schedule)):>10}"
        f" {fen_to_yuan(sum(s.total_fen for s in schedule)):>10}"
    )
    return "\n".join(lines)


def bucket_index(days_past_due: int, bounds: tuple[int, ...]) -> int:
    """0 current, 1 for 1–30, 2 for 31–60, 3 for 61–90, 4 for 90+ (bounds (0, 30, 60, 90))."""
    for i, upper in enumerate(bounds):
        if days_past_due <= upper:
            return i
    return len(bounds)


def daily_interest(base_fen: int, rate: Decimal) -> int:
    """One day of simple overdue interest on ``base_fen``, rounded half-up to the fen."""
    return apply_rate(base_fen, rate) if base_fen > 0 else 0


@dataclass(frozen=True)
class PeriodCut:
    """A pending period after a refund took principal off it (REFUNDED when nothing is left)."""

    number: int
    principal_fen: int
    fee_fen: int

    @property
    def status(self) -> str:
        return "PENDING" if self.principal_fen else "REFUNDED"


def shorten_periods(pending: list[Period], amount_fen: int) -> tuple[list[PeriodCut], int]:
    """Take up to ``amount_fen`` of principal off ``pending`` periods, last period first; a
    shortened period keeps its fee in proportion (half-up). Returns the changed periods and
    the principal taken off."""
    left = amount_fen
    cuts: list[PeriodCut] = []
    for period in sorted(pending, key=lambda s: s.number, reverse=True):
        if not left:
            break
        cut = min(left, period.principal_fen)
        remaining = period.principal_fen - cut
        fee = (
            round_fen(Decimal(period.fee_fen) * remaining / period.principal_fen)
            if remaining
            else 0
        )
        cuts.append(PeriodCut(period.number, remaining, fee))
        left -= cut
    return cuts, amount_fen - left
