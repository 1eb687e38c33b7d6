"""Yu'e Bao's configuration and its trading calendar (pure).

A trading day is a weekday that is not a configured holiday. An order placed on a trading day
before the cut (15:00 Asia/Shanghai) trades that day (T); later, or on a non-trading day, it
trades on the next trading day. The fund company confirms on the trading day after T (T+1), and
confirmed shares earn from that day on. Configuration (``[yuebao]`` in the settings):
``holidays`` (ISO dates), ``cut`` ("15:00"), ``fast_redeem_daily_fen`` (default 1,000,000 fen =
10,000 CNY a person a day), ``annual_yield`` (the simulated fund's yield, e.g. "0.018").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from qianbao.platform.clock import TZ
from qianbao.wealth.errors import ConfigInvalid

FAST_REDEEM_DAILY_FEN = 1_000_000  # 10,000 CNY a person a day
SEARCH_DAYS_MAX = 60  # no holiday run is longer than this


@dataclass(frozen=True)
class YuebaoConfig:
    holidays: frozenset[date] = frozenset()
    cut: time = time(15, 0)
    fast_redeem_daily_fen: int = FAST_REDEEM_DAILY_FEN
    annual_yield: Decimal = Decimal("0.018")

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def next_trading_day(self, day: date) -> date:
        """The first trading day strictly after ``day``."""
        for step in range(1, SEARCH_DAYS_MAX + 1):
            candidate = day + timedelta(days=step)
            if self.is_trading_day(candidate):
                return candidate
        raise ConfigInvalid(f"no trading day within {SEARCH_DAYS_MAX} days after {day}")

    def trade_date(self, at_ms: int) -> date:
        """T of an order placed at ``at_ms``: today before the cut on a trading day, else the
        next trading day."""
        local = datetime.fromtimestamp(at_ms / 1000, tz=TZ)
        day = local.date()
        if self.is_trading_day(day) and local.time() < self.cut:
            return day
        return self.next_trading_day(day)

    def confirm_date(self, trade_day: date) -> date:
        """T+1: the trading day after ``trade_day``; shares earn from this day."""
        return self.next_trading_day(trade_day)


def load(raw: Mapping[str, Any] | None) -> YuebaoConfig:
    """The configuration from the settings' ``[yuebao]`` table; a bad value stops the start."""
    raw = raw or {}
    try:
        holidays = frozenset(date.fromisoformat(str(d)) for d in raw.get("holidays", ()))
        hours, minutes = (int(x) for x in str(raw.get("cut", "15:00")).split(":"))
        cut = time(hours, minutes)
        fast = int(raw.get("fast_redeem_daily_fen", FAST_REDEEM_DAILY_FEN))
        yield_ = Decimal(str(raw.get("annual_yield", "0.018")))
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise ConfigInvalid(f"bad [yuebao] configuration: {exc}") from None
    if fast < 0 or not Decimal(0) <= yield_ < Decimal(1):
        raise ConfigInvalid("fast_redeem_daily_fen must be >= 0 and annual_yield in [0, 1)")
    return YuebaoConfig(holidays, cut, fast, yield_)
