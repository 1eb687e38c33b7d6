"""Growing the platform: one more unit, then buckets moved to it (ADR 0936).

``add_unit`` writes a route version with one more unit and no bucket; the next start of the
embedded process (``bootstrap.with_stored_routes``) creates and migrates ``unitN.db`` and opens its
writer. ``rebalance`` moves buckets, one ``move.run`` each, from the units that hold most until
the new unit holds its fair share (``BUCKETS // units``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from qianbao.cluster.buckets import move
from qianbao.cluster.buckets.errors import UnitInvalid
from qianbao.ledger.service import opener
from qianbao.members import service as members
from qianbao.platform import route_store
from qianbao.platform.db import Database
from qianbao.platform.ids import BUCKETS
from qianbao.platform.settings import Settings


def add_unit(settings: Settings) -> int:
    """Record one more unit; returns its number (the process opens it on its next start)."""
    db = Database(settings.global_database_url)
    try:
        base = route_store.latest(db)
        if base is None:
            from qianbao.platform.routing import parse_route_table

            routes = parse_route_table(settings.route_table, settings.unit_count)
            base = route_store.RouteVersion(0, settings.unit_count, routes, frozenset())
        new = route_store.add_unit_version(db, base, f"unit {base.unit_count} added")
    finally:
        db.close()
    return new.unit_count - 1


def plan_rebalance(routes: tuple[int, ...], units: int, to_unit: int) -> list[int]:
    """The buckets to move to ``to_unit``, in order: from the fullest unit each time, its last
    bucket (so the units keep contiguous ranges)."""
    if not 0 <= to_unit < units:
        raise UnitInvalid(f"unit {to_unit} does not exist ({units} units)")
    table = list(routes)
    counts = Counter(table)
    share = BUCKETS // units
    chosen: list[int] = []
    while counts[to_unit] < share:
        fullest = max((u for u in range(units) if u != to_unit), key=lambda u: (counts[u], -u))
        bucket = max(b for b, u in enumerate(table) if u == fullest)
        table[bucket] = to_unit
        counts[fullest] -= 1
        counts[to_unit] += 1
        chosen.append(bucket)
    return chosen


def open_merchant_accounts(p: Any, unit: int) -> int:
    """Every merchant's settlement sub-account in ``unit`` (a new unit has none yet: ADR 0001
    gives a merchant one in every unit); idempotent."""
    merchants = members.list_merchants(p)
    for merchant in merchants:
        account = members.merchant_account(str(merchant["id"]), unit)
        p.writers[unit].submit(opener(account, str(merchant["id"])))
    return len(merchants)


def rebalance(
    p: Any, to_unit: int, *, limit: int = BUCKETS, grace_s: float = move.GRACE_S
) -> list[dict[str, Any]]:
    """Move up to ``limit`` of the planned buckets to ``to_unit``, one after another."""
    route_store.refresh(p)
    open_merchant_accounts(p, to_unit)
    buckets = plan_rebalance(p.routes, len(p.units), to_unit)[:limit]
    return [move.run(p, bucket, to_unit, grace_s=grace_s) for bucket in buckets]
