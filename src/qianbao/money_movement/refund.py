"""One refund, mirroring one pay: the buyer's part goes back to its funding source, the
coupon's part to whoever funded the coupon, the fee's part back to the merchant, and the
merchant's proceeds are taken back by its contract (or escrow pays it back), in one voucher.

``handle_refund`` is the unit command (idempotency key, ownership, the purpose's refundable
check); ``refund_in`` books a refund inside a command that already holds the payment (an
operator's dispute decision).
"""

from __future__ import annotations

from dataclasses import replace

from qianbao.ledger.service import post
from qianbao.money_movement import guards
from qianbao.money_movement.commands import Refund
from qianbao.money_movement.pay import coupon_legs
from qianbao.money_movement.ports import Funded, Movement, Ports
from qianbao.money_movement.proceeds import escrow_legs, fee_leg
from qianbao.money_movement.quote import Paid, quote_refund
from qianbao.platform import idempotency
from qianbao.platform.db import Row
from qianbao.platform.writer import WriteContext


def handle_refund(ctx: WriteContext, refund: Refund) -> Row:
    """The unit command of one refund (registered for ``Refund`` in bootstrap)."""
    purpose = ctx.platform.money.purposes[refund.purpose]
    paid = purpose.paid(ctx, refund)
    if refund.request_id is not None:
        scope = f"{purpose.scope}.refund:{refund.paid_id}"
        first = idempotency.claim(
            ctx.tx, scope, refund.request_id, refund.fingerprint(), refund.refund_id
        )
        if first is not None:
            return purpose.replay_refund(ctx, refund, first)
    purpose.check_refundable(ctx, paid)
    guards.check_risk(
        ctx,
        Movement(
            kind="REFUND",
            movement_id=refund.refund_id,
            party_id=refund.merchant_id,
            amount_fen=refund.amount_fen,
            payee_id=paid.payer_id,
            merchant_id=refund.merchant_id,
            funding=paid.funding,
            context=refund.context,
            command=refund,
            request_key=(
                f"{purpose.scope}.refund:{refund.paid_id}:{refund.request_id}"
                if refund.request_id
                else ""
            ),
        ),
    )
    return refund_in(ctx, refund, paid)


def refund_in(ctx: WriteContext, refund: Refund, paid: Paid) -> Row:
    ports: Ports = ctx.platform.money
    purpose = ports.purposes[refund.purpose]
    if ports.reductions is not None and not paid.offer_fen:
        offer_fen, offer_funder = ports.reductions.used(ctx, paid.paid_id)
        paid = replace(paid, offer_fen=offer_fen, offer_funder=offer_funder)
    quote = quote_refund(paid, refund.amount_fen)
    funded = Funded([])
    if quote.buyer_back_fen:
        source = ports.funding[paid.funding]
        funded = source.give_back(ctx, refund, paid, quote.buyer_back_fen)
    legs = [
        *funded.legs,
        *coupon_legs(ctx, ports, paid.coupon_funder, quote.coupon_back_fen, back=True),
    ]
    if quote.offer_back_fen:
        assert ports.reductions is not None
        ports.reductions.give_back(ctx, paid.paid_id, quote.offer_back_fen)
        legs += ports.reductions.funder_legs(
            ctx, paid.offer_funder, quote.offer_back_fen, back=True
        )
    if paid.escrowed:
        legs += escrow_legs(ctx, refund.amount_fen, back=True)
    else:
        policy = ports.proceeds[refund.settle_cycle]
        merchant_fee = quote.fee_back_fen + funded.merchant_share_fen
        legs += policy.book_out(ctx, paid.merchant_id, quote.merchant_gross_fen, merchant_fee)
        legs.append(fee_leg(ctx, quote.fee_back_fen, back=True))
    post(ctx, purpose.refund_voucher, refund.refund_id, legs, refund.reason or paid.paid_id)
    return purpose.record_refund(ctx, refund, paid, quote, funded)
