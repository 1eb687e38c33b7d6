"""Shared helpers for the Yu'e Bao tests: a configured platform and the business calendar."""

from __future__ import annotations

from datetime import date, datetime

from qianbao.platform.clock import TZ, clock
from qianbao.platform.runtime import Platform
from qianbao.wealth import jobs, state

# the Dragon Boat Festival (端午节) 2026 is Friday 19 June: a holiday in the worked week
HOLIDAYS = ["2026-06-19"]
CONFIG = {"yuebao": {"holidays": HOLIDAYS, "fast_redeem_daily_fen": 1_000_000}}


def at(day: date, hour: int = 10, minute: int = 0) -> None:
    clock.set(datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ))


def publish(p: Platform, rates: dict[date, str]) -> None:
    for day, per_10k in rates.items():
        state.of(p).fund.publish_rate(day, per_10k)


def start(p: Platform, day: date) -> None:
    """The start of ``day`` (00:30): the fund's confirmations of T+1."""
    at(day, 0, 30)
    jobs.start_of_day(p, day)


def end(p: Platform, day: date) -> dict[str, object]:
    """The end of ``day``, run just after midnight (00:10 the next day)."""
    clock.set(datetime(day.year, day.month, day.day, 23, 59, tzinfo=TZ))
    at(date.fromordinal(day.toordinal() + 1), 0, 10)
    return jobs.end_of_day(p, day)
