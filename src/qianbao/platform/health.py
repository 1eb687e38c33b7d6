"""Readiness that tells the truth: every database answers a fresh connection, the owned units'
writers run, and the broker (when messages go through one) is connected.

Liveness (``/healthz``) says only that the process answers. Readiness (``/readyz``) is what a
load balancer asks before it sends traffic: each check opens its own connection with a short
timeout, so a pool that still holds an old connection to a database that went away does not
hide the outage.
"""

from __future__ import annotations

import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qianbao.platform.db import Database

if TYPE_CHECKING:
    from qianbao.platform.runtime import Platform

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "ms": round(self.ms, 1)}


def probe(db: Database, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """None when a new connection to ``db`` answers ``SELECT 1``, else why not."""
    try:
        if db.dialect == "sqlite":
            if not db.path.exists():
                return f"{db.path} does not exist"
            raw = sqlite3.connect(f"file:{db.path}?mode=rw", uri=True, timeout=timeout_s)
            try:
                raw.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            finally:
                raw.close()
        else:
            import psycopg

            conninfo = re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", db.url)
            with psycopg.connect(conninfo, connect_timeout=max(1, int(timeout_s))) as conn:
                conn.execute("SELECT 1").fetchone()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


def _timed(name: str, fn: Any) -> Check:
    started = time.monotonic()
    try:
        problem = fn()
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    return Check(name, problem is None, problem or "ok", (time.monotonic() - started) * 1000)


def readiness(p: Platform) -> list[Check]:
    """Every check, run in parallel (the slowest bounds the answer)."""
    checks: list[tuple[str, Any]] = [("db:global", lambda: probe(p.global_db))]
    for unit, db in enumerate(p.units):
        checks.append((f"db:unit{unit}", lambda db=db: probe(db)))
    for unit in p.owned_units:
        writer = p.writers[unit]
        checks.append((f"writer:unit{unit}", lambda w=writer: None if w.alive() else "not running"))
    checks.append(("relay", lambda: None if p.relay.running() else "relay is not running"))
    checks.append(("broker", p.relay.delivery.problem))
    with ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="readyz") as pool:
        return list(pool.map(lambda c: _timed(*c), checks))
