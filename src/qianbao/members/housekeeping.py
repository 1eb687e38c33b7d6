"""Bounded tables: ended sessions, spent throttle counts and old step-up challenges are deleted
by the ``serve`` job loop (hourly), so the global database does not grow with every login."""

from __future__ import annotations

from qianbao.members import store
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform

ENDED_SESSION_KEEP_DAYS = 7  # an ended session stays listed for the audit of a week
CHALLENGE_KEEP_DAYS = 1
DAY_MS = 86_400_000


def purge(p: Platform) -> dict[str, int]:
    now_ms = clock.now_ms()
    window_start = now_ms - p.settings.login_failure_window_minutes * 60_000
    with p.global_db.transaction() as tx:
        return {
            "sessions": store.purge_sessions(tx, now_ms - ENDED_SESSION_KEEP_DAYS * DAY_MS),
            "throttle": store.purge_throttle(tx, window_start, now_ms),
            "challenges": store.purge_challenges(tx, now_ms - CHALLENGE_KEEP_DAYS * DAY_MS),
        }
