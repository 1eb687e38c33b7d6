"""Yu'e Bao's scheduled jobs on the business calendar (the server's day-end thread runs them).

``start_of_day(p, day)``: on a trading day, the fund's confirmation of T+1 is applied.
``end_of_day(p, day)``: the application file (trading days), the day's net cash with the fund
through the bank, the day's income, reconciliation.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from qianbao.platform.runtime import Platform
from qianbao.wealth import state
from qianbao.wealth.dayend import INCOME, confirm, income, send_orders
from qianbao.wealth.reconcile import reconcile
from qianbao.wealth.settle import settle
from qianbao.wealth.store import orders as store

CATCH_UP_DAYS_MAX = 31  # a longer outage is an operator's decision (run-day by hand)


def start_of_day(p: Platform, day: date) -> dict[str, Any]:
    if not state.of(p).config.is_trading_day(day):
        return {"day": day.isoformat(), "confirmed": 0}
    return confirm(p, day)


def end_of_day(p: Platform, day: date) -> dict[str, Any]:
    out: dict[str, Any] = {"day": day.isoformat()}
    if state.of(p).config.is_trading_day(day):
        out["sent"] = send_orders(p, day)
    out["settled"] = settle(p, day)
    out["income"] = income(p, day)
    out["reconciliation"] = [r["status"] for r in reconcile(p, day)]
    return out


def catch_up(p: Platform, today: date) -> list[dict[str, Any]]:
    """Every day not run yet, oldest first (after the earliest unit's last income day, or from
    the first order; at most ``CATCH_UP_DAYS_MAX`` back, at least yesterday), then today's
    start."""
    starts = []
    for db in p.units:
        with db.read() as tx:
            last = store.last_step_day(tx, INCOME)
            oldest = store.first_order_day(tx)
        if last is not None:
            starts.append(date.fromisoformat(last) + timedelta(days=1))
        elif oldest is not None:  # never ran: from the first order on
            starts.append(date.fromisoformat(oldest))
    first = min(starts, default=today)
    first = min(first, today - timedelta(days=1))
    first = max(first, today - timedelta(days=CATCH_UP_DAYS_MAX))
    out = run_days(p, first, today - timedelta(days=1))
    start_of_day(p, today)
    return out


def run_days(p: Platform, first: date, last: date) -> list[dict[str, Any]]:
    """Every day from ``first`` to ``last``: start of day, then end of day (simulations)."""
    out, day = [], first
    while day <= last:
        start_of_day(p, day)
        out.append(end_of_day(p, day))
        day += timedelta(days=1)
    return out
