"""Secured trades (担保交易) after payment: ship, confirm receipt, release from escrow, disputes
and an operator's decision, compensation; and the scheduler that auto-confirms and finishes
trades on the business clock. Paying and refunding a trade is in ``payments.trades`` (through
the money-movement engine); this module moves trades that are already paid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qianbao.ledger.chart import unit_account, user_account
from qianbao.ledger.service import credit, debit, open_account, post
from qianbao.members import service as members
from qianbao.money_movement.commands import BALANCE, TRADE, Refund
from qianbao.money_movement.guards import check_amount
from qianbao.money_movement.refund import refund_in
from qianbao.openapi import notify
from qianbao.payments import settlement
from qianbao.payments.errors import (
    AlreadyCompensated,
    CompensationExceeded,
    DecisionInvalid,
    ReasonRequired,
    SplitInvalid,
    TradeNotExist,
    TradeNotSecured,
)
from qianbao.payments.trade_purpose import paid_of
from qianbao.payments.trades import (
    DAY_MS,
    INSTANT_TRADE,
    JOB_BATCH_MAX,
    SECURED,
    SECURED_TRADE,
    TRADE_CLOSED,
    TRADE_DISPUTED,
    TRADE_FINISHED,
    TRADE_SUCCESS,
    WAIT_BUYER_CONFIRM_GOODS,
    WAIT_BUYER_PAY,
    WAIT_SELLER_SEND_GOODS,
    CloseOrder,
    CloseTrade,
    get_trade,
    load_row,
    machine,
    refuse,
    setting,
)
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.errors import (
    QianbaoError,
)
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.money import apply_rate
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

log = logging.getLogger("qianbao.trades")


# --- secured trades: ship, confirm, release, disputes, compensation ---------------------------
def _release_in(ctx: WriteContext, t: Row, seller_fen: int) -> Row:
    """Pay ``seller_fen`` from escrow to the seller minus the contract fee; the trade finishes.
    A Huabei-funded trade's purchase enters the bill of the month it is released in."""
    merchant = members.get_merchant_cached(ctx.platform, t["merchant_id"])
    ctx.platform.money.funding[t["funding"] or BALANCE].confirm(ctx, t["id"])
    fee = apply_rate(seller_fen, Decimal(merchant["fee_rate"]))
    post(
        ctx,
        "trade.release",
        t["id"],
        [
            debit(unit_account("escrow", ctx.unit), seller_fen),
            *settlement.book_in(ctx, t["merchant_id"], seller_fen, fee),
            credit(unit_account("fee_income", ctx.unit), fee),
        ],
    )
    machine(t).move(
        ctx.tx,
        t["id"],
        t["status"],
        TRADE_FINISHED,
        released_fen=seller_fen,
        fee_fen=fee,
        ended_at_ms=clock.now_ms(),
    )
    done = load_row(ctx.tx, "trades", t["id"])
    notify.enqueue(ctx, done, "TRADE_FINISHED")
    return done


def _secured(ctx: WriteContext, trade_id: str, action: str) -> Row:
    t = load_row(ctx.tx, "trades", trade_id)
    if t["product"] != SECURED:
        raise TradeNotSecured("only secured trades can " + action)
    return t


@dataclass(frozen=True, slots=True)
class ShipTrade:
    """The seller shipped (a command as data; its own ``__call__`` is its handler)."""

    trade_id: str
    auto_confirm_days: int

    def __call__(self, ctx: WriteContext) -> Row:
        t = _secured(ctx, self.trade_id, "ship")
        if t["status"] != WAIT_SELLER_SEND_GOODS:
            raise refuse(t, "ship")
        now = clock.now_ms()
        SECURED_TRADE.move(
            ctx.tx,
            self.trade_id,
            t["status"],
            WAIT_BUYER_CONFIRM_GOODS,
            shipped_at_ms=now,
            auto_confirm_at_ms=now + self.auto_confirm_days * DAY_MS,
        )
        return load_row(ctx.tx, "trades", self.trade_id)


@dataclass(frozen=True, slots=True)
class ConfirmReceipt:
    """The buyer confirmed receipt (authorised before): escrow is released to the seller."""

    trade_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        t = _secured(ctx, self.trade_id, "confirm")
        if t["status"] != WAIT_BUYER_CONFIRM_GOODS:
            raise refuse(t, "confirm receipt of")
        return _release_in(ctx, t, t["total_amount_fen"] - t["refunded_fen"])


@dataclass(frozen=True, slots=True)
class OpenDispute:
    """A party disputes a paid secured trade: it freezes until an operator decides."""

    trade_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        t = _secured(ctx, self.trade_id, "dispute")
        if t["status"] not in (WAIT_SELLER_SEND_GOODS, WAIT_BUYER_CONFIRM_GOODS):
            raise refuse(t, "dispute")
        SECURED_TRADE.move(
            ctx.tx, self.trade_id, t["status"], TRADE_DISPUTED, dispute_from=t["status"]
        )
        return load_row(ctx.tx, "trades", self.trade_id)


@dataclass(frozen=True, slots=True)
class ResolveDispute:
    """An operator's decision on a disputed trade: release, refund, or split."""

    trade_id: str
    operator_id: str
    decision: str
    buyer_fen: int
    note: str
    refund_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        t = _secured(ctx, self.trade_id, "resolve")
        if t["status"] != TRADE_DISPUTED:
            raise refuse(t, "resolve a dispute on")
        left = t["total_amount_fen"] - t["refunded_fen"]
        back = {"release": 0, "refund": left, "split": self.buyer_fen}[self.decision]
        if not 0 <= back <= left or (self.decision == "split" and not 0 < back < left):
            raise SplitInvalid(f"the buyer's part must be within 1–{left - 1} fen")
        if back:
            refund_in(ctx, self._refund(t, back), paid_of(t))
            t = load_row(ctx.tx, "trades", self.trade_id)
        if t["status"] == TRADE_CLOSED:
            return t
        return _release_in(ctx, t, left - back)

    def _refund(self, t: Row, back_fen: int) -> Refund:
        return Refund(
            purpose=TRADE,
            refund_id=self.refund_id,
            merchant_id=t["merchant_id"],
            paid_id=self.trade_id,
            amount_fen=back_fen,
            request_id=f"DISPUTE-{self.operator_id}"[:64],
            reason=f"dispute {self.decision} {self.note}"[:100],
            kind="DISPUTE_REFUND",
        )


def ship(p: Platform, merchant_id: str, trade_id: str) -> Row:
    """The seller shipped: the buyer is asked to confirm; auto-confirm is scheduled."""
    trade = get_trade(p, trade_id)
    if trade["merchant_id"] != merchant_id:
        raise TradeNotExist("trade does not exist")
    days = int(setting(p, "trade_auto_confirm_days"))
    return p.writer_for(trade_id).submit(ShipTrade(trade_id, days))


def confirm_receipt(p: Platform, buyer_id: str, trade_id: str, pay_password: str) -> Row:
    """The buyer confirms receipt (with the payment password): the seller is paid."""
    trade = get_trade(p, trade_id)
    if trade["buyer_id"] != buyer_id:
        raise TradeNotExist("trade does not exist")
    members.authorize_payment(p, buyer_id, trade["total_amount_fen"], pay_password)
    return p.writer_for(trade_id).submit(ConfirmReceipt(trade_id))


def open_dispute(p: Platform, party_id: str, trade_id: str, reason: str = "") -> Row:
    """Buyer or seller disputes a paid secured trade: it freezes until an operator decides."""
    trade = get_trade(p, trade_id)
    if party_id not in (trade["buyer_id"], trade["merchant_id"]):
        raise TradeNotExist("trade does not exist")
    return p.writer_for(trade_id).submit(OpenDispute(trade_id))


def resolve_dispute(
    p: Platform, operator_id: str, trade_id: str, decision: str, buyer_fen: int = 0, note: str = ""
) -> Row:
    """The operator decides: ``release`` to the seller, ``refund`` to the buyer, or ``split``
    (``buyer_fen`` back to the buyer, the rest released to the seller minus the fee)."""
    if decision not in ("release", "refund", "split"):
        raise DecisionInvalid("decision must be release, refund or split")
    refund_id = new_id(bucket_of(trade_id))
    command = ResolveDispute(trade_id, operator_id, decision, buyer_fen, note, refund_id)
    return p.writer_for(trade_id).submit(command)


@dataclass(frozen=True, slots=True)
class CompensateTrade:
    """全额赔付 of a proven fraud loss, paid to the buyer from the compensation expense."""

    trade_id: str
    operator_id: str
    amount_fen: int
    reason: str
    comp_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        tx = ctx.tx
        t = load_row(tx, "trades", self.trade_id)
        if t["paid_at_ms"] is None:
            raise refuse(t, "compensate")
        if self.amount_fen > t["total_amount_fen"]:
            raise CompensationExceeded("compensation above the trade amount")
        if tx.one("SELECT 1 AS x FROM trade_compensations WHERE trade_id = :t", {"t": t["id"]}):
            raise AlreadyCompensated("this trade was already compensated")
        expense = unit_account("compensation_expense", ctx.unit)
        open_account(tx, expense, f"u{ctx.unit}")
        post(
            ctx,
            "trade.compensation",
            self.comp_id,
            [debit(expense, self.amount_fen), credit(user_account(t["buyer_id"]), self.amount_fen)],
            memo=self.trade_id,
        )
        tx.execute(
            "INSERT INTO trade_compensations (id, trade_id, buyer_id, amount_fen, operator_id,"
            " reason, created_at_ms) VALUES (:id, :t, :b, :a, :op, :r, :now)",
            {
                "id": self.comp_id,
                "t": self.trade_id,
                "b": t["buyer_id"],
                "a": self.amount_fen,
                "op": self.operator_id,
                "r": self.reason[:200],
                "now": clock.now_ms(),
            },
        )
        return load_row(tx, "trade_compensations", self.comp_id)


def compensate(p: Platform, operator_id: str, trade_id: str, amount_fen: int, reason: str) -> Row:
    """全额赔付: a proven fraud loss on a trade is paid to the buyer from the platform's
    compensation expense (once per trade, at most the trade amount)."""
    check_amount(p, amount_fen)
    if not reason.strip():
        raise ReasonRequired("a compensation needs its reason")
    comp_id = new_id(bucket_of(trade_id))
    command = CompensateTrade(trade_id, operator_id, amount_fen, reason, comp_id)
    return p.writer_for(trade_id).submit(command)


# --- the scheduler (business clock) ---------------------------------------------------------------
def run_due_jobs(p: Platform, limit: int = JOB_BATCH_MAX) -> dict[str, int]:
    """Close unpaid trades past their timeout, auto-confirm secured trades, and finish instant
    trades whose refund window is over. Safe to run from several places: every move is guarded.
    """
    now = clock.now_ms()
    window_ms = setting(p, "trade_refund_window_days") * DAY_MS
    done = {"orders_closed": 0, "trades_closed": 0, "auto_confirmed": 0, "finished": 0}
    for unit, db in p.owned_dbs():
        with db.read() as tx:
            orders = tx.all(
                "SELECT id FROM trade_orders WHERE status = 'OPEN'"
                " AND timeout_at_ms <= :now LIMIT :l",
                {"now": now, "l": limit},
            )
            unpaid = tx.all(
                "SELECT id FROM trades WHERE status = :s AND timeout_at_ms <= :now LIMIT :l",
                {"s": WAIT_BUYER_PAY, "now": now, "l": limit},
            )
            confirm = tx.all(
                "SELECT id FROM trades WHERE status = :s AND auto_confirm_at_ms <= :now LIMIT :l",
                {"s": WAIT_BUYER_CONFIRM_GOODS, "now": now, "l": limit},
            )
            finish = tx.all(
                "SELECT id FROM trades WHERE status = :s AND paid_at_ms <= :cut LIMIT :l",
                {"s": TRADE_SUCCESS, "cut": now - window_ms, "l": limit},
            )
        writer = p.writers[unit]
        for r in orders:
            done["orders_closed"] += writer.submit(CloseOrder(r["id"]))["status"] == "CLOSED"
        for r in unpaid:
            done["trades_closed"] += _run_guarded(writer, CloseTrade(r["id"], "timeout"))
        for r in confirm:
            done["auto_confirmed"] += _run_guarded(writer, AutoConfirm(r["id"]))
        for r in finish:
            done["finished"] += _run_guarded(writer, FinishTrade(r["id"]))
    return done


def _run_guarded(writer: Any, command: Any) -> int:
    try:
        writer.submit(command)
        return 1
    except QianbaoError as exc:  # the trade moved on meanwhile (paid, refunded, disputed)
        log.info("scheduled move skipped: %s", exc)
        return 0


@dataclass(frozen=True, slots=True)
class AutoConfirm:
    """Confirm a shipped secured trade whose auto-confirm time has come. A command as data."""

    trade_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        t = load_row(ctx.tx, "trades", self.trade_id)
        if t["status"] != WAIT_BUYER_CONFIRM_GOODS or t["auto_confirm_at_ms"] > clock.now_ms():
            raise refuse(t, "auto-confirm")
        return _release_in(ctx, t, t["total_amount_fen"] - t["refunded_fen"])


@dataclass(frozen=True, slots=True)
class FinishTrade:
    """Finish an instant trade whose refund window is over. A command as data."""

    trade_id: str

    def __call__(self, ctx: WriteContext) -> Row:
        t = load_row(ctx.tx, "trades", self.trade_id)
        if t["status"] != TRADE_SUCCESS:
            raise refuse(t, "finish")
        INSTANT_TRADE.move(
            ctx.tx, self.trade_id, TRADE_SUCCESS, TRADE_FINISHED, ended_at_ms=clock.now_ms()
        )
        return load_row(ctx.tx, "trades", self.trade_id)


COMMANDS: tuple[type, ...] = (
    ShipTrade,
    ConfirmReceipt,
    OpenDispute,
    ResolveDispute,
    CompensateTrade,
    AutoConfirm,
    FinishTrade,
)
