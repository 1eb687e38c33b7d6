"""Yu'e Bao as a way to pay (the engine's ``FundingSource``) and as a Huabei auto-debit source.

Paying with Yu'e Bao redeems the buyer's shares at once, the platform advancing the money
until the fund pays the redemption (an order of mode PAY sent in the next application file).
A refund goes back to Yu'e Bao as a subscription (mode REFUND) confirmed on T+1 like any other:
the holder sees it pending until then. A Huabei auto-debit on the due date redeems what the
wallet could not pay (mode AUTODEBIT, no fast-redemption limit: it is a repayment, not cash
out) into the wallet, from which credit repays the bill.
"""

from __future__ import annotations

from datetime import date

from qianbao.ledger.chart import user_account
from qianbao.ledger.service import balance_in, credit, get_account, post
from qianbao.money_movement.commands import YUEBAO, Pay, Refund
from qianbao.money_movement.ports import Funded
from qianbao.money_movement.quote import Paid, Quote
from qianbao.platform.errors import IdempotencyKeyReused, NotFound
from qianbao.platform.idempotency import claim
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from qianbao.wealth import state
from qianbao.wealth.errors import NotOpened
from qianbao.wealth.orders import (
    AUTODEBIT,
    PAY,
    REDEEM,
    REFUND,
    SUBSCRIBE,
    new_order_id,
    record_order,
    take_shares,
)

__all__ = ["YUEBAO", "YuebaoAutodebit", "YuebaoFunding"]


class YuebaoFunding:
    def check_usable(self, p: Platform, payer_id: str) -> None:
        try:
            get_account(p.db_for(payer_id), state.shares(payer_id))
        except NotFound:
            raise NotOpened("this user has no Yu'e Bao yet: subscribe first") from None

    def confirm(self, ctx: WriteContext, ref: str) -> None:
        pass

    def take(self, ctx: WriteContext, pay: Pay, quote: Quote) -> Funded:
        leg = take_shares(ctx, pay.payer_id, quote.pays_fen)
        order_id = new_order_id(pay.payer_id)
        record_order(ctx, order_id, pay.payer_id, REDEEM, PAY, quote.pays_fen, ref=pay.payment_id)
        return Funded([leg], record_id=order_id)

    def give_back(self, ctx: WriteContext, refund: Refund, paid: Paid, amount_fen: int) -> Funded:
        order_id = new_order_id(paid.payer_id)
        record_order(
            ctx, order_id, paid.payer_id, SUBSCRIBE, REFUND, amount_fen, ref=refund.refund_id
        )
        return Funded([credit(state.pending(paid.payer_id), amount_fen)], record_id=order_id)


class YuebaoAutodebit:
    """``credit.ports.AutodebitSource``: between the wallet and the bound card."""

    def draw(self, p: Platform, user_id: str, shortfall_fen: int, day: date) -> int:
        if shortfall_fen <= 0:
            return 0

        def command(ctx: WriteContext) -> int:
            held = balance_in(ctx.tx, state.shares(user_id), available=True)
            take = min(held, shortfall_fen)
            if take <= 0:
                return 0
            order_id = new_order_id(user_id)
            key = f"autodebit-{day.isoformat()}"
            try:
                if claim(ctx.tx, f"yeb-auto:{user_id}", key, {"amount_fen": take}, order_id):
                    return 0  # drawn already for this due date: credit repaid it then
            except IdempotencyKeyReused:
                return 0
            legs = [take_shares(ctx, user_id, take), credit(user_account(user_id), take)]
            post(ctx, "YEB_REDEEM", order_id, legs, memo="Huabei auto-debit")
            record_order(ctx, order_id, user_id, REDEEM, AUTODEBIT, take, request_id=key)
            return take

        return int(p.writer_for(user_id).submit(command))
