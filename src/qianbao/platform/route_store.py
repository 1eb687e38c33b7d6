"""The route table in force, kept as versions in the global database (ADR 0935).

Once a version exists it overrides the ``unit_count`` and ``route_table`` settings (a move or
an added unit must survive a restart); ``paused`` lists the buckets whose writes wait for a move.
Every change is a new version, written with a guarded insert (the version is the primary key),
so two operators cannot both believe they wrote version N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from qianbao.platform.clock import clock
from qianbao.platform.db import Database
from qianbao.platform.errors import Conflict
from qianbao.platform.routing import format_route_table, parse_route_table
from qianbao.platform.settings import Settings

if TYPE_CHECKING:
    from qianbao.platform.runtime import Platform

REFRESH_S = 0.5  # how often a serving process reads the version in force (server.py's job)


@dataclass(frozen=True)
class RouteVersion:
    version: int
    unit_count: int
    routes: tuple[int, ...]
    paused: frozenset[int]


def _paused_text(paused: frozenset[int]) -> str:
    return ",".join(str(b) for b in sorted(paused))


def latest(db: Database) -> RouteVersion | None:
    with db.read() as tx:
        row = tx.one("SELECT * FROM route_versions ORDER BY version DESC LIMIT 1")
    if row is None:
        return None
    units = int(row["unit_count"])
    paused = frozenset(int(b) for b in str(row["paused"]).split(",") if b)
    return RouteVersion(int(row["version"]), units, parse_route_table(row["routes"], units), paused)


def current(p: Platform) -> RouteVersion:
    """The version in force (version 0: the settings' table, never written yet)."""
    stored = latest(p.global_db)
    if stored is not None:
        return stored
    return RouteVersion(0, p.settings.unit_count, p.routes, frozenset())


def write(
    db: Database, base: RouteVersion, routes: tuple[int, ...], paused: frozenset[int], reason: str
) -> RouteVersion:
    """Version ``base.version + 1``; ``Conflict`` if someone wrote it first."""
    units = max(base.unit_count, max(routes) + 1)
    return _insert(db, RouteVersion(base.version + 1, units, routes, paused), reason)


def add_unit_version(db: Database, base: RouteVersion, reason: str) -> RouteVersion:
    """One more unit (no bucket yet): the table keeps its routes, ``unit_count`` grows."""
    new = RouteVersion(base.version + 1, base.unit_count + 1, base.routes, base.paused)
    return _insert(db, new, reason)


def _insert(db: Database, new: RouteVersion, reason: str) -> RouteVersion:
    with db.transaction() as tx:
        written = tx.execute(
            "INSERT INTO route_versions (version, unit_count, routes, paused, reason,"
            " created_at_ms) VALUES (:v, :units, :routes, :paused, :reason, :now)"
            " ON CONFLICT (version) DO NOTHING",
            {
                "v": new.version,
                "units": new.unit_count,
                "routes": format_route_table(new.routes),
                "paused": _paused_text(new.paused),
                "reason": reason[:200],
                "now": clock.now_ms(),
            },
        )
    if not written:
        raise Conflict(f"route version {new.version} was written concurrently")
    return new


def apply(p: Platform, version: RouteVersion) -> None:
    """Make ``version`` this process's view (the gate reads ``paused_buckets``)."""
    if max(version.routes) >= len(p.units):  # a unit added since this process started
        raise Conflict(
            f"route version {version.version} routes to unit {max(version.routes)}; this"
            f" process opened {len(p.units)} units: restart it to open the new unit"
        )
    with p.route_gate:  # after this, no writer queues a command of a newly paused bucket
        p.routes = version.routes
        p.paused_buckets = version.paused
        p.route_version = version.version


def refresh(p: Platform) -> bool:
    """Apply the stored version if it is newer than this process's (True when it was)."""
    stored = latest(p.global_db)
    if stored is None or stored.version <= p.route_version:
        return False
    apply(p, stored)
    return True


def stored_settings(settings: Settings) -> Settings:
    """``settings`` with the stored unit count and routes, once a version exists."""
    db = Database(settings.global_database_url)
    try:
        stored = latest(db)
    finally:
        db.close()
    if stored is None:
        return settings
    return settings.with_(
        unit_count=stored.unit_count, route_table=format_route_table(stored.routes)
    )
