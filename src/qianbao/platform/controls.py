"""Run-time controls: flow limits and degradation switches (分级与降级) that operators change
without a restart (docs/decisions/0940-flow-control.md, 0942-degradation-switches.md).

The configured limits (``flow_limits``) are the floor; an operator's change is a row of
``runtime_controls`` in the global database. Every process re-reads the table at most every
``flow_refresh_ms`` (one indexed read of a handful of rows, on the first request after the
interval), so a change made through any process reaches all of them within that interval, on
SQLite and PostgreSQL alike. A failed re-read keeps the last known controls.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from qianbao.platform.clock import clock
from qianbao.platform.db import Database
from qianbao.platform.errors import (
    CouponsOff,
    InstallmentsOff,
    InvalidArgument,
    RegistrationsPaused,
    ScoreRefreshPaused,
    SwitchedOff,
)
from qianbao.platform.flow import InFlight, Limit, Limiter, check_name, parse_limit, parse_limits
from qianbao.platform.settings import Settings

T = TypeVar("T")
LIMIT, SWITCH = "limit", "switch"
STALE_KEYS_MAX = 10_000
NOTIFY_DEFER = "notify.defer"
ACTIVITY_STALE = "activity.stale"
SCORE_PAUSED = "score.refresh.paused"
COUPONS_OFF = "coupons.off"
INSTALLMENTS_OFF = "installments.off"
REGISTRATIONS_PAUSED = "registrations.paused"


@dataclass(frozen=True)
class Switch:
    name: str
    turns_off: str
    user_sees: str
    refusal: type[SwitchedOff] | None = None


SWITCHES: dict[str, Switch] = {
    s.name: s
    for s in (
        Switch(
            NOTIFY_DEFER,
            "merchant notifications (webhooks) are queued, not sent",
            "nothing; merchants receive every notification once the switch is off",
        ),
        Switch(
            ACTIVITY_STALE,
            "the activity index and statements are served from a cache up to activity_stale_s old",
            "lists a little behind, marked stale (header X-Qianbao-Stale)",
        ),
        Switch(
            SCORE_PAUSED,
            "score refresh (a new credit score on request)",
            "503 SCORE_REFRESH_PAUSED; the last score stays in force",
            ScoreRefreshPaused,
        ),
        Switch(COUPONS_OFF, "coupon issue and coupons at checkout", "503 COUPONS_OFF", CouponsOff),
        Switch(
            INSTALLMENTS_OFF,
            "turning Huabei bills into installments",
            "503 INSTALLMENTS_OFF; the bill can still be repaid",
            InstallmentsOff,
        ),
        Switch(
            REGISTRATIONS_PAUSED,
            "new user registrations",
            "503 REGISTRATIONS_PAUSED; existing users log in and pay as usual",
            RegistrationsPaused,
        ),
    )
}


class Controls:
    """One process's view of the controls, its flow buckets and its in-flight count."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.refresh_s = settings.flow_refresh_ms / 1000
        self.defaults = parse_limits(settings.flow_limits)
        self.limiter = Limiter(settings.flow_keys_max)
        self.in_flight = InFlight(settings.flow_max_in_flight)
        self.stale_s = settings.activity_stale_s
        self._stale: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._rows: dict[tuple[str, str], dict[str, Any]] = {}
        self._loaded_at_s = -math.inf
        self._lock = threading.Lock()

    # --- reading -------------------------------------------------------------------------------
    def _current(self) -> dict[tuple[str, str], dict[str, Any]]:
        now_s = time.monotonic()
        if now_s - self._loaded_at_s >= self.refresh_s:
            with self._lock:
                if now_s - self._loaded_at_s >= self.refresh_s:
                    self._reload(now_s)
        return self._rows

    def _reload(self, now_s: float) -> None:
        try:
            with self.db.read() as tx:
                rows = tx.all("SELECT * FROM runtime_controls")
        except Exception:
            self._loaded_at_s = now_s  # keep the last known controls; try again later
            return
        self._rows = {(r["kind"], r["name"]): dict(r) for r in rows}
        self._loaded_at_s = now_s

    def limits(self) -> dict[str, Limit | None]:
        found = dict(self.defaults)
        for (kind, name), row in self._current().items():
            if kind == LIMIT:
                found[name] = parse_limit(row["value"])
        return found

    def limit(self, name: str) -> Limit | None:
        return self.limits().get(name)

    def route_limits(self) -> list[tuple[str, str, Limit]]:
        found = []
        for name, limit in self.limits().items():
            if name.startswith("route:") and limit is not None:
                method, _, prefix = name[len("route:") :].partition(" ")
                found.append((method.upper(), prefix, limit))
        return found

    def switch_on(self, name: str) -> bool:
        row = self._current().get((SWITCH, name))
        return row is not None and row["value"] == "on"

    def refuse_if_on(self, name: str) -> None:
        """Raise the switch's own 503 while it is on."""
        switch = SWITCHES[name]
        if switch.refusal is not None and self.switch_on(name):
            raise switch.refusal(f"{switch.turns_off} is switched off for now ({name})")

    def served_stale(self, key: str, compute: Callable[[], T]) -> tuple[T, float | None]:
        """``compute()``, or while ``activity.stale`` is on its last answer if younger than
        ``activity_stale_s``: the value and its age in seconds (None: fresh). Every fresh answer
        is kept (at most ``STALE_KEYS_MAX``, least recently used out) so one is there to serve."""
        now_s = time.monotonic()
        if self.switch_on(ACTIVITY_STALE):
            hit = self._stale.get(key)
            if hit is not None and now_s - hit[0] < self.stale_s:
                return hit[1], now_s - hit[0]
        value = compute()
        with self._lock:
            self._stale[key] = (now_s, value)
            self._stale.move_to_end(key)
            while len(self._stale) > STALE_KEYS_MAX:
                self._stale.popitem(last=False)
        return value, None

    # --- flow ----------------------------------------------------------------------------------
    def check(self, kind: str, key: str) -> None:
        """Take a token for ``key`` under the ``kind`` limit; 429 RATE_LIMITED when empty."""
        self.limiter.check(kind, key, self.limit(kind), time.monotonic())

    # --- changing ------------------------------------------------------------------------------
    def set_limit(self, name: str, value: str, actor: str, reason: str = "") -> dict[str, Any]:
        try:
            limit = parse_limit(value)
            check_name(name)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        return self._put(LIMIT, name, str(limit) if limit else "off", actor, reason)

    def set_switch(self, name: str, on: bool, actor: str, reason: str = "") -> dict[str, Any]:
        if name not in SWITCHES:
            raise InvalidArgument(f"unknown switch {name!r}: one of {', '.join(SWITCHES)}")
        return self._put(SWITCH, name, "on" if on else "off", actor, reason)

    def _put(self, kind: str, name: str, value: str, actor: str, reason: str) -> dict[str, Any]:
        row = {"k": kind, "n": name, "v": value, "r": reason[:200], "by": actor[:40]}
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO runtime_controls (kind, name, value, reason, updated_by,"
                " updated_at_ms) VALUES (:k, :n, :v, :r, :by, :at) ON CONFLICT (kind, name)"
                " DO UPDATE SET value = :v, reason = :r, updated_by = :by, updated_at_ms = :at",
                {**row, "at": clock.now_ms()},
            )
        with self._lock:
            self._reload(time.monotonic())
        return {"kind": kind, "name": name, "value": value, "reason": reason, "updated_by": actor}

    def describe(self) -> dict[str, Any]:
        rows = self._current()
        limits = {name: str(limit) if limit else "off" for name, limit in self.limits().items()}
        switches = [
            {
                "name": s.name,
                "on": self.switch_on(s.name),
                "turns_off": s.turns_off,
                "user_sees": s.user_sees,
                "changed_by": (rows.get((SWITCH, s.name)) or {}).get("updated_by", ""),
            }
            for s in SWITCHES.values()
        ]
        flow = {"in_flight": self.in_flight.current, "max_in_flight": self.in_flight.limit}
        return {"limits": limits, "switches": switches, "flow": flow}
