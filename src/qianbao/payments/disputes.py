"""The back office's view of disputes and compensations over every unit (the decisions
themselves are ``payments/secured.py``'s: ``resolve_dispute`` and ``compensate``)."""

from __future__ import annotations

from qianbao.payments import queries
from qianbao.payments.trades import get_trade
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform

LIST_MAX = 200


def open_disputes(p: Platform, limit: int = LIST_MAX) -> list[Row]:
    """Every unit's disputed trades, the longest waiting first."""
    n = max(1, min(limit, LIST_MAX))
    rows: list[Row] = []
    for db in p.units:
        with db.read() as tx:
            rows += [dict(r) for r in queries.open_disputes(tx, n)]
    return sorted(rows, key=lambda r: (r["updated_at_ms"], r["id"]))[:n]


def compensations(p: Platform, limit: int = LIST_MAX) -> list[Row]:
    """Compensations paid, the newest first."""
    n = max(1, min(limit, LIST_MAX))
    rows: list[Row] = []
    for db in p.units:
        with db.read() as tx:
            rows += [dict(r) for r in queries.compensations(tx, n)]
    return sorted(rows, key=lambda r: (r["created_at_ms"], r["id"]), reverse=True)[:n]


def compensation_of(p: Platform, trade_id: str) -> Row | None:
    get_trade(p, trade_id)  # an unknown trade is a 404
    with p.db_for(trade_id).read() as tx:
        row = queries.compensation_of(tx, trade_id)
    return dict(row) if row else None
