"""The business clock. All business logic reads time from here, never from ``datetime.now``.

In production it follows the real clock; tests and simulations set or advance it so a year of
bills runs in a second. Timestamps are UTC epoch milliseconds; business dates are in the
platform's time zone (Asia/Shanghai).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


class BusinessClock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fixed_ms: int | None = None
        self._offset_ms = 0

    def now_ms(self) -> int:
        fixed = self._fixed_ms
        if fixed is not None:
            return fixed
        return int(time.time() * 1000) + self._offset_ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, tz=UTC)

    def today(self) -> date:
        """The business date in the platform's time zone."""
        return self.now().astimezone(TZ).date()

    def set(self, moment: datetime) -> None:
        """Freeze the clock at ``moment`` (aware, or naive meaning Asia/Shanghai)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=TZ)
        with self._lock:
            self._fixed_ms = int(moment.timestamp() * 1000)

    def advance(self, delta: timedelta) -> None:
        step_ms = int(delta.total_seconds() * 1000)
        with self._lock:
            if self._fixed_ms is not None:
                self._fixed_ms += step_ms
            else:
                self._offset_ms += step_ms

    def use_real_time(self) -> None:
        with self._lock:
            self._fixed_ms = None
            self._offset_ms = 0


clock = BusinessClock()


def day_of(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(TZ).date()


def start_of_day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp() * 1000)
