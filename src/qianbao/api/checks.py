"""Checks the operator endpoints share: a business date an operator names must have begun.

A day-end, a day close, a reconciliation or a settlement run for a future date would cut bills,
close books or pay merchants early (a real bill was cut a month early this way), so every
operator endpoint that takes a date refuses one after today on the business clock; and one
before the platform's earliest business date, where a day's arithmetic (the day before, the
month's first) would leave the calendar."""

from __future__ import annotations

from datetime import date

from qianbao.api.errors import DayInFuture, DayInvalid
from qianbao.platform.clock import clock

EARLIEST_DAY = date(2000, 1, 1)


def not_future(day: date) -> date:
    if day < EARLIEST_DAY:
        raise DayInvalid(f"{day.isoformat()} is before {EARLIEST_DAY.isoformat()}")
    today = clock.today()
    if day > today:
        raise DayInFuture(f"{day.isoformat()} is after today ({today.isoformat()})")
    return day


def not_future_or_none(day: date | None) -> date | None:
    return None if day is None else not_future(day)
