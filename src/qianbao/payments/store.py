"""SQL of trade orders and trades (the rows ``payments.trades`` opens), and the row a fresh
insert stores, built in memory (``stored_row``) so opening an order or a trade needs no
read-back inside the writer's batch (a read would flush the batch's staged inserts first).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from qianbao.payments.trades_tables import trade_orders, trades
from qianbao.platform.db import Row, Tx
from qianbao.platform.uow import WriteContext

_INSERT_ORDER = (
    "INSERT INTO trade_orders (id, merchant_id, out_trade_no, request_hash, product, subject,"
    " total_amount_fen, timeout_at_ms, app_id, notify_url, trade_id, buyer_id, status,"
    " created_at_ms, updated_at_ms) VALUES (:id, :merchant_id, :out_trade_no, :request_hash,"
    " :product, :subject, :total_amount_fen, :timeout_at_ms, :app_id, :notify_url, :trade_id,"
    " :buyer_id, :status, :created_at_ms, :updated_at_ms)"
)
_INSERT_TRADE = (
    "INSERT INTO trades (id, order_id, merchant_id, out_trade_no, buyer_id, product, subject,"
    " total_amount_fen, status, timeout_at_ms, app_id, notify_url, created_at_ms, updated_at_ms)"
    " VALUES (:id, :order_id, :merchant_id, :out_trade_no, :buyer_id, :product, :subject,"
    " :total_amount_fen, :status, :timeout_at_ms, :app_id, :notify_url, :created_at_ms,"
    " :updated_at_ms) ON CONFLICT (id) DO NOTHING"
)


def stored_row(table: sa.Table, values: dict[str, Any]) -> Row:
    """The row ``SELECT *`` returns after inserting ``values``: every column in table order,
    the server default (or NULL) for the columns not given."""
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name in values:
            row[column.name] = values[column.name]
        elif column.server_default is not None:
            text = str(column.server_default.arg)  # type: ignore[attr-defined]
            row[column.name] = int(text) if isinstance(column.type, sa.Integer) else text
        else:
            row[column.name] = None
    return row


def find_order(tx: Tx, merchant_id: str, out_trade_no: str) -> Row | None:
    row = tx.one(
        "SELECT * FROM trade_orders WHERE merchant_id = :m AND out_trade_no = :o",
        {"m": merchant_id, "o": out_trade_no},
    )
    return None if row is None else dict(row)


def insert_order(tx: Tx, values: dict[str, Any]) -> Row:
    """Insert a new order; returns the row as stored."""
    tx.execute(_INSERT_ORDER, values)
    return stored_row(trade_orders, values)


def insert_trade(tx: Tx, values: dict[str, Any]) -> Row | None:
    """Insert a trade unless one with its id exists; the row as stored, or None when it
    existed (the caller reads it)."""
    if tx.execute(_INSERT_TRADE, values) != 1:
        return None
    return stored_row(trades, values)


class ClaimedOrders:
    """Batch participant: the orders claimed by the running batch, by (merchant, out_trade_no):
    their inserts are staged, so a read through the bare connection would not see them yet.
    Dropped with the command that claimed them if it fails."""

    def __init__(self, ctx: WriteContext) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.log: list[tuple[str, str]] = []

    def add(self, key: tuple[str, str], order: Row) -> None:
        self.rows[key] = order
        self.log.append(key)

    def mark(self) -> int:
        return len(self.log)

    def rollback_to(self, mark: int | None) -> None:
        for key in self.log[mark or 0 :]:
            self.rows.pop(key, None)
        del self.log[mark or 0 :]

    def before_commit(self, tx: Tx) -> None:
        pass

    def after_commit(self) -> None:
        pass


# --- the merchant's activity index ---------------------------------------------------------------
_INSERT_ACTIVITY = (
    "INSERT INTO merchant_activity (merchant_id, ref_id, kind, payment_id, amount_fen, fee_fen,"
    " at_ms) VALUES (:merchant_id, :ref_id, :kind, :payment_id, :amount_fen, :fee_fen, :at_ms)"
    " ON CONFLICT (merchant_id, ref_id) DO NOTHING"
)
_ACTIVITY_COLUMNS = (
    "merchant_id",
    "ref_id",
    "kind",
    "payment_id",
    "amount_fen",
    "fee_fen",
    "at_ms",
)


def insert_activity(tx: Tx, activity: dict[str, Any]) -> None:
    """One activity row (a replayed one is ignored); extra keys of ``activity`` are not
    columns (an older message carries its source ``unit``)."""
    if len(activity) != len(_ACTIVITY_COLUMNS):
        activity = {k: activity[k] for k in _ACTIVITY_COLUMNS}
    tx.execute(_INSERT_ACTIVITY, activity)


def voucher_exists(tx: Tx, ref: str) -> bool:
    return tx.one("SELECT 1 AS x FROM vouchers WHERE ref = :r", {"r": ref}) is not None
