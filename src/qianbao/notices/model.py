"""When a notice may go out (pure): quiet hours, the lawful collection window, one collection
reminder a user a day. Times are UTC epoch milliseconds; windows are local (Asia/Shanghai)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from qianbao.notices.templates import ACCOUNT, COLLECTION, SECURITY
from qianbao.platform.clock import TZ

MINUTES_PER_DAY = 24 * 60
# 《互联网金融逾期债务催收自律公约》 and the banks' practice: contact 08:00-21:00 only.
COLLECTION_WINDOW_MIN = (8 * 60, 21 * 60)


@dataclass(frozen=True)
class Prefs:
    language: str = "zh"
    channel: str = "SMS"
    email: str | None = None
    quiet_start_min: int = 22 * 60  # 22:00 ...
    quiet_end_min: int = 8 * 60  # ... to 08:00

    def quiet(self) -> bool:
        return self.quiet_start_min != self.quiet_end_min


def _local(now_ms: int) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, tz=TZ)


def _at(day: date, minute: int) -> int:
    moment = datetime(day.year, day.month, day.day, tzinfo=TZ) + timedelta(minutes=minute)
    return int(moment.timestamp() * 1000)


def in_window(minute: int, start: int, end: int) -> bool:
    """Is ``minute`` in [start, end) on a 24-hour circle (a window may wrap midnight)?"""
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def end_of_quiet(now_ms: int, prefs: Prefs) -> int:
    """``now_ms`` when outside the user's quiet hours, else the moment they end."""
    local = _local(now_ms)
    minute = local.hour * 60 + local.minute
    if not prefs.quiet() or not in_window(minute, prefs.quiet_start_min, prefs.quiet_end_min):
        return now_ms
    day = local.date()
    if minute >= prefs.quiet_end_min:  # quiet until tomorrow's end
        day += timedelta(days=1)
    return _at(day, prefs.quiet_end_min)


def next_collection_slot(now_ms: int, last_sent_day: date | None) -> int:
    """The first moment a collection reminder may go: inside 08:00-21:00, and not on a local
    day that already had one."""
    start, end = COLLECTION_WINDOW_MIN
    local = _local(now_ms)
    day = local.date()
    minute = local.hour * 60 + local.minute
    if last_sent_day is not None and last_sent_day >= day:
        return _at(last_sent_day + timedelta(days=1), start)
    if minute < start:
        return _at(day, start)
    if minute >= end:
        return _at(day + timedelta(days=1), start)
    return now_ms


def deliver_at(now_ms: int, category: str, prefs: Prefs, last_collection: date | None) -> int:
    """When a notice of ``category`` may be delivered, given ``now_ms`` (== now: send it)."""
    if category == SECURITY:
        return now_ms
    if category == ACCOUNT:
        return end_of_quiet(now_ms, prefs)
    assert category == COLLECTION, category
    moment = now_ms
    for _ in range(4):  # the user's quiet hours and the lawful window: settle on a moment
        later = end_of_quiet(next_collection_slot(moment, last_collection), prefs)
        if later == moment:
            return moment
        moment = later
    return next_collection_slot(moment, last_collection)  # the law wins over a preference


def local_day(ms: int) -> date:
    return _local(ms).date()
