"""SQL of trade orders and trades (the rows ``payments.trades`` opens), and the row a fresh
insert stores, built in memory (``stored_row``) so opening an order or a trade needs no
read-back inside the writer's batch (a read would flush the batch's staged inserts first).

Paying a trade needs no statement of its own either (``Waiting``): the trade's row comes from
the writer's memory of the trades it opened, and the move to paid is one guarded multi-row
update per batch.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from qianbao.payments.trades_tables import trade_orders, trades
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.states import StateMachine
from qianbao.platform.uow import Unverified, WriteContext

_INSERT_ORDER = (
    "INSERT INTO trade_orders (id, merchant_id, out_trade_no, request_hash, product, subject,"
    " total_amount_fen, timeout_at_ms, app_id, notify_url, trade_id, buyer_id, status,"
    " created_at_ms, updated_at_ms) VALUES (:id, :merchant_id, :out_trade_no, :request_hash,"
    " :product, :subject, :total_amount_fen, :timeout_at_ms, :app_id, :notify_url, :trade_id,"
    " :buyer_id, :status, :created_at_ms, :updated_at_ms)"
)
_INSERT_NEW_ORDER = _INSERT_ORDER + " ON CONFLICT (merchant_id, out_trade_no) DO NOTHING"
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
    return {name: values.get(name, default) for name, default in _row_shape(table)}


@lru_cache(maxsize=16)
def _row_shape(table: sa.Table) -> tuple[tuple[str, Any], ...]:
    """Each column's name and the value a row gets without one (computed once per table)."""
    shape: list[tuple[str, Any]] = []
    for column in table.columns:
        default = None
        if column.server_default is not None:
            text = str(column.server_default.arg)  # type: ignore[attr-defined]
            default = int(text) if isinstance(column.type, sa.Integer) else text
        shape.append((column.name, default))
    return tuple(shape)


def find_order(tx: Tx, merchant_id: str, out_trade_no: str) -> Row | None:
    row = tx.one(
        "SELECT * FROM trade_orders WHERE merchant_id = :m AND out_trade_no = :o",
        {"m": merchant_id, "o": out_trade_no},
    )
    return None if row is None else dict(row)


def insert_trade(tx: Tx, values: dict[str, Any]) -> Row | None:
    """Insert a trade unless one with its id exists; the row as stored, or None when it
    existed (the caller reads it)."""
    if tx.execute(_INSERT_TRADE, values) != 1:
        return None
    return stored_row(trades, values)


# The columns a pay sets on its trade (``TradePurpose.record``), with its status and stamp.
PAID_COLUMNS = (
    "fee_fen",
    "subsidy_fen",
    "funding",
    "card_id",
    "coupon_id",
    "coupon_fen",
    "coupon_funder",
    "offer_id",
    "offer_fen",
    "offer_funder",
    "paid_at_ms",
)
WAITING_CACHED_MAX = 50_000  # trades opened by a writer and not paid yet, kept in its memory


class Waiting:
    """Batch participant: the trades waiting for their buyer that this writer opened (kept
    across batches in the writer's cache, ``trades.waiting``), and the batch's moves of trades
    to paid, written with one guarded update (``status`` still the one decided on) before the
    commit. A move that does not hold there (the trade changed outside this memory) makes the
    batch run again precisely, where the trade is read fresh and moved at once.

    A statement through ``ctx.tx`` that names ``trades`` (a close, a refund) first writes the
    pending moves and forgets the memory, which is only a shortcut for the next pay."""

    tables = frozenset({"trades"})

    def __init__(self, ctx: WriteContext) -> None:
        self.precise = ctx.precise
        self.known: OrderedDict[str, Row] = ctx.cache("trades.waiting", OrderedDict)
        self.opened: list[Row] = []
        self.moves: list[dict[str, Any]] = []
        self.moved: set[str] = set()
        self.states: dict[str, StateMachine] = {}  # by target: instant and secured trades

    def opened_trade(self, row: Row) -> None:
        """A trade this batch opens (remembered once the batch commits)."""
        self.opened.append(row)

    def find(self, ctx: WriteContext, trade_id: str) -> Row | None:
        """The trade: as this writer opened it while it waits, else read. The read goes through
        the bare connection (no flush of the batch's staged rows) unless this batch opened or
        moved the trade, whose row only ``ctx.tx`` (flushing first) shows as it is now."""
        staged = self.precise or trade_id in self.moved
        if not staged:
            hit = self.known.get(trade_id)
            if hit is not None:
                return hit
            staged = any(row["id"] == trade_id for row in self.opened)
        row = (ctx.tx if staged else ctx.db).one(
            "SELECT * FROM trades WHERE id = :id", {"id": trade_id}
        )
        return None if row is None else dict(row)

    def move_paid(
        self, tx: Tx, states: StateMachine, trade_id: str, current: str, target: str, **paid: Any
    ) -> int:
        """``states.move`` of a trade to paid with the ``PAID_COLUMNS``; returns the stamp."""
        states.check(current, target)
        if self.precise or trade_id in self.moved:  # at once (a second move: its Conflict)
            return states.move(tx, trade_id, current, target, **paid)
        now_ms = clock.now_ms()
        self.moves.append(
            {"id": trade_id, "from_state": current, "to_state": target, "stamp": now_ms}
            | {c: paid[c] for c in PAID_COLUMNS}
        )
        self.states.setdefault(target, states)
        self.moved.add(trade_id)
        return now_ms

    def mark(self) -> tuple[int, int]:
        return len(self.opened), len(self.moves)

    def rollback_to(self, mark: tuple[int, int] | None) -> None:
        opened, moves = mark or (0, 0)
        del self.opened[opened:]
        for move in self.moves[moves:]:
            self.moved.discard(move["id"])
        del self.moves[moves:]

    def flush(self, tx: Tx) -> bool:
        wrote = self.checkpoint(tx)
        self.known.clear()  # the statement that follows may change any trade
        return wrote

    def checkpoint(self, tx: Tx) -> bool:
        if not self.moves:
            return False
        moved = 0
        for target, states in self.states.items():
            moves = [move for move in self.moves if move["to_state"] == target]
            moved += states.move_each(tx, moves, PAID_COLUMNS) if moves else 0
        if moved != len(self.moves):
            raise Unverified("a trade moved to paid was no longer in its state")
        for move in self.moves:
            self.known.pop(move["id"], None)
        self.moves.clear()  # ``moved`` stays: a second pay in the batch reads the trade
        return True

    def before_commit(self, tx: Tx) -> None:
        self.checkpoint(tx)

    def after_commit(self) -> None:
        for trade_id in self.moved:
            self.known.pop(trade_id, None)
        for row in self.opened:
            self.known[row["id"]] = row
        while len(self.known) > WAITING_CACHED_MAX:
            self.known.popitem(last=False)


def waiting(ctx: WriteContext) -> Waiting:
    found: Waiting = ctx.participant("trades.waiting", Waiting)
    return found


ORDERS_CACHED_MAX = 50_000  # orders bound to their buyer when claimed, kept in a writer's memory


class ClaimedOrders:
    """Batch participant: the orders this writer knows, by (merchant, out_trade_no) — the
    running batch's claims and, across batches, the orders it claimed with their buyer (such a
    row never changes: only an OPEN order is bound or closed). Any other ``out_trade_no`` is
    taken as new without a read, as idempotency keys are: the batch's new orders are written
    with one ``INSERT ... ON CONFLICT DO NOTHING`` before the commit, which must insert every
    row; one that met an existing order (a replay this writer did not remember) makes the batch
    run again precisely, where the order is read first and inserted at once. A statement
    through ``ctx.tx`` that names ``trade_orders`` writes the batch's new orders first."""

    tables = frozenset({"trade_orders"})

    def __init__(self, ctx: WriteContext) -> None:
        self.db = ctx.db
        self.precise = ctx.precise
        self.recent: OrderedDict[tuple[str, str], Row] = ctx.cache("trades.orders", OrderedDict)
        self.rows: dict[tuple[str, str], Row] = {}  # the batch's claims
        self.log: list[tuple[str, str]] = []
        self.pending: list[dict[str, Any]] = []  # new orders not written yet
        self.written: list[Row] = []

    def find(self, key: tuple[str, str]) -> Row | None:
        """The order claimed under ``key`` as far as this writer knows (precisely: read)."""
        hit = self.rows.get(key) or self.recent.get(key)
        if hit is not None or not self.precise:
            return hit
        return find_order(self.db, *key)

    def claim(self, tx: Tx, key: tuple[str, str], values: dict[str, Any]) -> Row:
        """A new order under ``key`` (``find`` found none); returns the row as stored."""
        if self.precise:
            tx.execute(_INSERT_ORDER, values)  # at once, in the command's savepoint
        else:
            self.pending.append(values)
        order = stored_row(trade_orders, values)
        self.rows[key] = order
        self.log.append(key)
        return order

    def mark(self) -> tuple[int, int, int]:
        return len(self.log), len(self.pending), len(self.written)

    def rollback_to(self, mark: tuple[int, int, int] | None) -> None:
        log, pending, written = mark or (0, 0, 0)
        for key in self.log[log:]:
            self.rows.pop(key, None)
        del self.log[log:]
        del self.pending[pending:]
        del self.written[written:]  # written inside a savepoint that was rolled back

    def flush(self, tx: Tx) -> bool:
        if not self.pending:
            return False
        if tx.execute_values(_INSERT_NEW_ORDER, self.pending) != len(self.pending):
            raise Unverified("an out_trade_no taken as new was already claimed")
        self.written += [stored_row(trade_orders, values) for values in self.pending]
        self.pending.clear()
        return True

    def before_commit(self, tx: Tx) -> None:
        self.flush(tx)

    def after_commit(self) -> None:
        for order in self.written:
            if order["status"] == "BOUND":
                self.recent[(order["merchant_id"], order["out_trade_no"])] = order
        while len(self.recent) > ORDERS_CACHED_MAX:
            self.recent.popitem(last=False)


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
