"""A trade as a purpose of the money-movement engine: what paying and refunding it does to
the trade's own rows (the state move, the refund row, the merchant's notification), and the
trade as a refund sees it. Registered in ``bootstrap.py``; ``payments.trades`` builds the
commands.
"""

from __future__ import annotations

from typing import Any

from qianbao.marketing import service as marketing
from qianbao.money_movement.commands import BALANCE, Pay, Refund
from qianbao.money_movement.ports import Funded
from qianbao.money_movement.quote import Paid, Quote, RefundQuote
from qianbao.openapi import notify
from qianbao.payments import codes, store
from qianbao.payments.errors import (
    TradeNotExist,
)
from qianbao.payments.trades import (
    INSTANT_TRADE,
    SECURED,
    SECURED_TRADE,
    TRADE_CLOSED,
    TRADE_SUCCESS,
    WAIT_BUYER_CONFIRM_GOODS,
    WAIT_BUYER_PAY,
    WAIT_SELLER_SEND_GOODS,
    check_payable,
    load_row,
    machine,
    refuse,
)
from qianbao.platform.clock import clock
from qianbao.platform.db import Row
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

# A trade's refund is recorded SUCCEEDED inside the refunding command.
TRADE_REFUND = StateMachine(
    "trade refund", "trade_refunds", {"SUCCEEDED": set()}, initial={"SUCCEEDED"}
)


class TradePurpose:
    """A trade paid and refunded through the engine: the trade row moves, the merchant hears."""

    pay_voucher, refund_voucher, scope = "trade.pay", "trade.refund", "trade"

    def open(self, ctx: WriteContext, pay: Pay) -> Row | None:
        """The trade, payable (from the writer's memory when it opened it: ``store.Waiting``)."""
        trade = store.waiting(ctx).find(ctx, pay.payment_id)
        if trade is None:
            raise TradeNotExist("trade does not exist")
        check_payable(trade)
        if pay.auth_code:
            codes.use_code(ctx, pay.auth_code, pay.payer_id, pay.payment_id)
        return trade

    def replay(self, ctx: WriteContext, first_id: str) -> Row:
        return load_row(ctx.tx, "trades", first_id)

    def voucher_ref(self, pay: Pay, funded: Funded) -> str:
        return pay.payment_id

    def record(
        self, ctx: WriteContext, pay: Pay, quote: Quote, funded: Funded, opened: Row | None
    ) -> Row:
        """The trade moves to paid; its row as now stored is ``opened`` with the moved columns
        (no second read)."""
        assert opened is not None
        states = SECURED_TRADE if pay.escrowed else INSTANT_TRADE  # escrowed: a secured trade
        target = WAIT_SELLER_SEND_GOODS if pay.escrowed else TRADE_SUCCESS
        columns = {
            "fee_fen": quote.fee_fen,
            "subsidy_fen": funded.merchant_share_fen,
            "funding": pay.funding,
            "card_id": pay.card_id,
            "coupon_id": pay.coupon_id,
            "coupon_fen": quote.coupon_fen,
            "coupon_funder": pay.coupon_funder,
            "offer_id": pay.offer_id,
            "offer_fen": quote.offer_fen,
            "offer_funder": pay.offer_funder,
            "paid_at_ms": clock.now_ms(),
        }
        moves = store.waiting(ctx)  # one guarded update for the batch's paid trades
        moved_ms = moves.move_paid(
            ctx.tx, states, pay.payment_id, WAIT_BUYER_PAY, target, **columns
        )
        paid = {**opened, **columns, "status": target, "updated_at_ms": moved_ms}
        notify.enqueue(ctx, paid, "TRADE_PAID")
        return paid

    def paid(self, ctx: WriteContext, refund: Refund) -> Paid:
        t = load_row(ctx.tx, "trades", refund.paid_id)
        if t["merchant_id"] != refund.merchant_id:
            raise TradeNotExist("trade does not exist")
        return paid_of(t)

    def check_refundable(self, ctx: WriteContext, paid: Paid) -> None:
        t = load_row(ctx.tx, "trades", paid.paid_id)
        if t["status"] not in _REFUNDABLE:
            raise refuse(t, "refund")

    def replay_refund(self, ctx: WriteContext, refund: Refund, first_id: str) -> Row:
        return load_row(ctx.tx, "trade_refunds", first_id)

    def record_refund(
        self, ctx: WriteContext, refund: Refund, paid: Paid, quote: RefundQuote, funded: Funded
    ) -> Row:
        t = load_row(ctx.tx, "trades", paid.paid_id)
        _move_refunded(ctx, t, quote, funded.merchant_share_fen)
        _insert_refund(ctx, refund, t, quote, funded.merchant_share_fen)
        after = load_row(ctx.tx, "trades", paid.paid_id)
        notify.enqueue(
            ctx,
            after,
            "REFUND",
            {"out_biz_no": refund.request_id, "refund_amount_fen": refund.amount_fen},
        )
        return load_row(ctx.tx, "trade_refunds", refund.refund_id)


def paid_of(t: Row) -> Paid:
    """A trade as the engine's refund sees it."""
    return Paid(
        paid_id=t["id"],
        payer_id=t["buyer_id"],
        merchant_id=t["merchant_id"],
        amount_fen=int(t["total_amount_fen"]),
        refunded_fen=int(t["refunded_fen"]),
        fee_fen=int(t["fee_fen"]),
        funding=t["funding"] or BALANCE,
        funding_ref=t["id"],
        escrowed=t["product"] == SECURED,  # refunds of secured trades come before release
        coupon_fen=int(t["coupon_fen"] or 0),
        coupon_funder=t["coupon_funder"] or "",
        card_id=t["card_id"],
        offer_fen=int(t["offer_fen"] or 0),
        offer_funder=t["offer_funder"] or "",
    )


_REFUNDABLE = {TRADE_SUCCESS, WAIT_SELLER_SEND_GOODS, WAIT_BUYER_CONFIRM_GOODS}


def _move_refunded(ctx: WriteContext, t: Row, quote: RefundQuote, merchant_back_fen: int) -> None:
    """The trade's refunded totals grow; refunded in full, it closes (and its coupon comes
    back while valid). A dispute's split keeps the trade frozen until the release after it."""
    refunded = t["refunded_fen"] + quote.amount_fen
    target = TRADE_CLOSED if refunded == t["total_amount_fen"] else t["status"]
    cols: dict[str, Any] = {
        "refunded_fen": refunded,
        "fee_refunded_fen": t["fee_refunded_fen"] + quote.fee_back_fen,
        "subsidy_refunded_fen": t["subsidy_refunded_fen"] + merchant_back_fen,
        "coupon_refunded_fen": t["coupon_refunded_fen"] + quote.coupon_back_fen,
        "offer_refunded_fen": t["offer_refunded_fen"] + quote.offer_back_fen,
    }
    if target == TRADE_CLOSED:
        cols["ended_at_ms"] = clock.now_ms()
        if t["coupon_id"]:
            marketing.give_back(ctx, t["coupon_id"])
    machine(t).move(ctx.tx, t["id"], t["status"], target, **cols)


def _insert_refund(
    ctx: WriteContext, refund: Refund, t: Row, quote: RefundQuote, merchant_back_fen: int
) -> None:
    now = clock.now_ms()
    ctx.tx.execute(
        "INSERT INTO trade_refunds (id, trade_id, merchant_id, out_request_no, kind, amount_fen,"
        " fee_refund_fen, subsidy_refund_fen, coupon_refund_fen, offer_refund_fen, reason, status,"
        " created_at_ms, updated_at_ms) VALUES (:id, :t, :m, :o, :k, :a, :f, :sub, :cb, :ob, :r,"
        " 'SUCCEEDED', :now, :now)",
        {
            "id": refund.refund_id,
            "t": t["id"],
            "m": t["merchant_id"],
            "o": refund.request_id,
            "k": refund.kind,
            "a": refund.amount_fen,
            "f": quote.fee_back_fen,
            "sub": merchant_back_fen,
            "cb": quote.coupon_back_fen,
            "ob": quote.offer_back_fen,
            "r": refund.reason,
            "now": now,
        },
    )
