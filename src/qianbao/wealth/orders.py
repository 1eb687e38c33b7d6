"""Subscriptions and redemptions as commands of the holder's unit (``Platform.commands``).

Subscribe (申购): from the wallet balance, or from a bound card charged at the bank first; the
money waits in ``fund_pending`` until the fund confirms on T+1. Redeem (赎回): FAST moves the
shares to the wallet at once, the platform advancing the money until the fund pays (at most
``fast_redeem_daily_fen`` a person a day); NORMAL parks them in ``fund_redeeming`` and credits
the wallet when the fund confirms on T+1. Every order carries the holder's request id
(idempotent: the same id and body answer the first order, another body is refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qianbao.ledger.chart import unit_account, user_account
from qianbao.ledger.service import Leg, balance_in, credit, debit, open_account, post
from qianbao.platform.clock import clock, day_of
from qianbao.platform.db import Row
from qianbao.platform.idempotency import claim
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext
from qianbao.wealth import state
from qianbao.wealth.errors import FastLimitExceeded, SharesNotEnough
from qianbao.wealth.store import orders as store

SUBSCRIBE, REDEEM = "SUBSCRIBE", "REDEEM"
BALANCE, CARD, REFUND = "BALANCE", "CARD", "REFUND"  # subscription modes
FAST, NORMAL, PAY, AUTODEBIT = "FAST", "NORMAL", "PAY", "AUTODEBIT"  # redemption modes
ACCEPTED, SENT, CONFIRMED, FAILED = "ACCEPTED", "SENT", "CONFIRMED", "FAILED"
ORDER = StateMachine(
    "yuebao order",
    "yuebao_orders",
    {ACCEPTED: {SENT}, SENT: {CONFIRMED, FAILED}},
    initial={ACCEPTED},
)
# the redemptions whose money the holder had at once (the platform advanced it)
ADVANCED = frozenset({FAST, PAY, AUTODEBIT})


@dataclass(frozen=True, slots=True)
class Subscribe:
    order_id: str
    user_id: str
    amount_fen: int
    request_id: str
    mode: str = BALANCE  # or CARD: the card was charged before the command
    card_id: str | None = None
    card_channel: str = ""

    def fingerprint(self) -> dict[str, str | int | bool | None]:
        return {"amount_fen": self.amount_fen, "mode": self.mode, "card_id": self.card_id}


@dataclass(frozen=True, slots=True)
class Redeem:
    order_id: str
    user_id: str
    amount_fen: int
    request_id: str
    mode: str = FAST  # or NORMAL

    def fingerprint(self) -> dict[str, str | int | bool | None]:
        return {"amount_fen": self.amount_fen, "mode": self.mode}


def public_order(row: Row | dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "kind", "mode", "amount_fen", "status", "day", "trade_date", "confirm_date")
    return {k: row[k] for k in keys} | {"request_id": row["request_id"], "ref": row["ref"]}


def open_holder(ctx: WriteContext, user_id: str) -> None:
    for account in (state.shares(user_id), state.pending(user_id), state.redeeming(user_id)):
        open_account(ctx.tx, account, user_id)


def record_order(
    ctx: WriteContext,
    order_id: str,
    user_id: str,
    kind: str,
    mode: str,
    amount_fen: int,
    *,
    request_id: str | None = None,
    ref: str = "",
) -> dict[str, Any]:
    """The order row, born ACCEPTED with its T and T+1 by the trading calendar; a redemption
    that took the holder's shares now records the change (the income snapshot reads it)."""
    cfg = state.of(ctx.platform).config
    now_ms = clock.now_ms()
    trade = cfg.trade_date(now_ms)
    moved = -amount_fen if kind == REDEEM else 0
    row: dict[str, Any] = {
        "id": order_id,
        "user_id": user_id,
        "kind": kind,
        "mode": mode,
        "amount_fen": amount_fen,
        "status": ORDER.born(),
        "day": day_of(now_ms).isoformat(),
        "trade_date": trade.isoformat(),
        "confirm_date": cfg.confirm_date(trade).isoformat(),
        "request_id": request_id,
        "ref": ref or order_id,
        "shares_delta_fen": moved,
        "shares_at_ms": now_ms if moved else None,
        "now": now_ms,
    }
    store.insert_order(ctx.tx, row)
    return public_order(row)


def _replayed(
    ctx: WriteContext, user_id: str, request_id: str, fp: dict[str, Any], order_id: str
) -> dict[str, Any] | None:
    """The first order of a replayed request id (None when the id is new)."""
    first = claim(ctx.tx, f"yeb:{user_id}", request_id, fp, order_id)
    if first is None:
        return None
    row = store.order(ctx.tx, first)
    assert row is not None, f"request {request_id} claimed for a missing order {first}"
    return public_order(row)


def handle_subscribe(ctx: WriteContext, c: Subscribe) -> dict[str, Any]:
    first = _replayed(ctx, c.user_id, c.request_id, c.fingerprint(), c.order_id)
    if first is not None:
        return first
    open_holder(ctx, c.user_id)
    if c.mode == CARD:
        source = debit(unit_account("bank_reserve", ctx.unit, c.card_channel), c.amount_fen)
    else:
        source = debit(user_account(c.user_id), c.amount_fen)
    post(ctx, "YEB_SUBSCRIBE", c.order_id, [source, credit(state.pending(c.user_id), c.amount_fen)])
    return record_order(
        ctx, c.order_id, c.user_id, SUBSCRIBE, c.mode, c.amount_fen, request_id=c.request_id
    )


def take_shares(ctx: WriteContext, user_id: str, amount_fen: int) -> Leg:
    """The debit of the holder's confirmed shares, refused with a clear code if short."""
    if balance_in(ctx.tx, state.shares(user_id), available=True) < amount_fen:
        raise SharesNotEnough("not enough Yu'e Bao shares for this amount")
    return debit(state.shares(user_id), amount_fen)


def handle_redeem(ctx: WriteContext, c: Redeem) -> dict[str, Any]:
    first = _replayed(ctx, c.user_id, c.request_id, c.fingerprint(), c.order_id)
    if first is not None:
        return first
    if c.mode == FAST:
        limit = state.of(ctx.platform).config.fast_redeem_daily_fen
        used = store.fast_redeemed_fen(ctx.tx, c.user_id, clock.today().isoformat())
        if used + c.amount_fen > limit:
            raise FastLimitExceeded(
                f"fast redemption is at most {limit} fen a day; {limit - used} fen left today"
            )
        target = user_account(c.user_id)
    else:
        target = state.redeeming(c.user_id)
    legs = [take_shares(ctx, c.user_id, c.amount_fen), credit(target, c.amount_fen)]
    post(ctx, "YEB_REDEEM", c.order_id, legs)
    return record_order(
        ctx, c.order_id, c.user_id, REDEEM, c.mode, c.amount_fen, request_id=c.request_id
    )


def new_order_id(user_id: str) -> str:
    """An order id in the holder's route bucket (it lives in the holder's unit)."""
    return new_id(bucket_of(user_id))
