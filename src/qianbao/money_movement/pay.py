"""One pay: every payment, whatever funds it and whatever it is for, runs ``handle_pay`` in
the payer's unit (trades: the trade's unit, which is the buyer's).

    idempotency key → purpose still open → coupon taken → daily limit → funding legs
    → coupon funder legs → merchant proceeds (by contract) or escrow, and the fee
    → one voucher → the purpose's rows → its answer

All of it is one writer command: it commits whole or not at all. The use cases build the
``Pay`` command after their reads and the authorisation (``guards``); ``submit`` / ``run``
charge a card first when the card funds it and send the money back if the command refuses.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qianbao.ledger.service import Leg, post
from qianbao.members import service as members
from qianbao.money_movement import guards
from qianbao.money_movement.commands import CARD, INSTANT, Pay
from qianbao.money_movement.funding import charge_card, reverse_card
from qianbao.money_movement.ports import Movement, Ports
from qianbao.money_movement.proceeds import escrow_legs, fee_leg
from qianbao.money_movement.quote import Quote, quote_pay
from qianbao.platform import idempotency
from qianbao.platform.db import Row
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


def command(
    *,
    purpose: str,
    payment_id: str,
    payer: guards.Authorised,
    merchant: Row,
    amount_fen: int,
    request_id: str | None,
    memo: str = "",
    **options: Any,
) -> Pay:
    """The ``Pay`` of an authorised payer to a payable merchant (see ``guards``), with the
    merchant's fee rate, settlement cycle and category in force now (the category decides
    whether a Huabei purchase may use the medical line: the merchant's, never the buyer's)."""
    return Pay(
        purpose=purpose,
        payment_id=payment_id,
        payer_id=str(payer.payer["id"]),
        merchant_id=str(merchant["id"]),
        amount_fen=amount_fen,
        request_id=None if request_id is None else idempotency.check_key(request_id),
        fee_rate=str(merchant["fee_rate"]),
        daily_limit_fen=payer.daily_limit_fen,
        settle_cycle=str(merchant["settle_cycle"] or INSTANT),
        category=str(merchant["category"] or "everyday"),
        memo=memo[:100],
        **options,
    )


def quote_of(pay: Pay) -> Quote:
    return quote_pay(
        pay.amount_fen,
        Decimal(pay.fee_rate),
        coupon_fen=pay.coupon_fen,
        coupon_funder=pay.coupon_funder,
        escrowed=pay.escrowed,
        offer_fen=pay.offer_fen,
        offer_funder=pay.offer_funder,
    )


def handle_pay(ctx: WriteContext, pay: Pay) -> Row:
    """The unit command of one payment (registered for ``Pay`` in bootstrap)."""
    ports: Ports = ctx.platform.money
    purpose = ports.purposes[pay.purpose]
    if pay.request_id is not None:
        scope = f"{purpose.scope}:{pay.payer_id}"
        first = idempotency.claim(ctx.tx, scope, pay.request_id, pay.fingerprint(), pay.payment_id)
        if first is not None:
            return purpose.replay(ctx, first)
    opened = purpose.open(ctx, pay)
    quote = quote_of(pay)
    # the guard step, before anything is written: a refusal is undone in memory, its record kept
    if ports.risk is not None:
        guards.check_risk(ctx, movement_of(pay, quote, purpose.scope))
    if pay.coupon_id is not None:
        assert ports.coupons is not None
        ports.coupons.take(ctx, pay)
    legs = offer_legs(ctx, ports, pay)
    guards.count_daily(ctx, pay.payer_id, quote.pays_fen, pay.daily_limit_fen)
    funded = ports.funding[pay.funding].take(ctx, pay, quote)
    legs += [*funded.legs, *coupon_legs(ctx, ports, pay.coupon_funder, quote.coupon_fen)]
    if pay.escrowed:
        legs += escrow_legs(ctx, pay.amount_fen)
    else:
        policy = ports.proceeds[pay.settle_cycle]
        merchant_fee = quote.fee_fen + funded.merchant_share_fen
        legs += policy.book_in(ctx, pay.merchant_id, quote.merchant_gross_fen, merchant_fee)
        legs.append(fee_leg(ctx, quote.fee_fen))
    post(ctx, purpose.pay_voucher, purpose.voucher_ref(pay, funded), legs, pay.memo)
    row = purpose.record(ctx, pay, quote, funded, opened)
    for observer in ports.observers:
        observer.paid(ctx, pay, quote)
    return row


def movement_of(pay: Pay, quote: Quote, scope: str = "") -> Movement:
    return Movement(
        kind="PAY",
        movement_id=pay.payment_id,
        party_id=pay.payer_id,
        amount_fen=quote.pays_fen,
        payee_id=pay.merchant_id,
        merchant_id=pay.merchant_id,
        funding=pay.funding,
        category=pay.category,
        card_id=pay.card_id or "",
        context=pay.context,
        command=pay,
        request_key=f"{scope}:{pay.payer_id}:{pay.request_id}" if pay.request_id else "",
    )


def coupon_legs(
    ctx: WriteContext, ports: Ports, funder: str, amount_fen: int, *, back: bool = False
) -> list[Leg]:
    """The coupon funder's legs (none for a merchant's discount or without a coupon)."""
    if not amount_fen:
        return []
    assert ports.coupons is not None
    return ports.coupons.funder_legs(ctx, funder, amount_fen, back=back)


def offer_legs(ctx: WriteContext, ports: Ports, pay: Pay) -> list[Leg]:
    """A full-reduction offer: spent from its budget, and its funder's legs (none for a
    merchant's discount)."""
    if pay.offer_id is None or not pay.offer_fen:
        return []
    assert ports.reductions is not None, "an offer needs the Reductions port"
    ports.reductions.take(ctx, pay)
    return ports.reductions.funder_legs(ctx, pay.offer_funder, pay.offer_fen, back=False)


def with_best_offer(
    p: Platform, options: dict[str, Any], merchant_id: str, amount_fen: int, unit: int
) -> int:
    """At the cashier: add the best full-reduction offer for ``amount_fen`` to the options of a
    ``Pay`` (``offer_id``, ``offer_fen``, ``offer_funder``); returns the price left after it
    (what a coupon's minimum spend is checked against)."""
    reductions = p.money.reductions if p.money is not None else None
    offer = reductions.best(p, merchant_id, amount_fen, unit) if reductions else None
    if offer is None:
        return amount_fen
    options.update(offer_id=offer.offer_id, offer_fen=offer.offer_fen, offer_funder=offer.funder)
    return amount_fen - offer.offer_fen


# --- running a Pay from a use case ------------------------------------------------------------
def submit(p: Platform, unit: int, pay: Pay) -> Row:
    card = _charge_first(p, pay)
    try:
        result: Row = p.commands.submit(unit, pay)
    except QianbaoError:
        _undo_charge(p, pay, card)
        raise
    return result


async def run(p: Platform, unit: int, pay: Pay) -> Row:
    """``submit`` for asyncio callers: the command joins the unit's next batch."""
    card = _charge_first(p, pay)
    try:
        result: Row = await p.commands.run(unit, pay)
    except QianbaoError:
        _undo_charge(p, pay, card)
        raise
    return result


def _charge_first(p: Platform, pay: Pay) -> Row | None:
    if pay.funding != CARD:
        return None
    card = members.get_card(p, pay.payer_id, pay.card_id or "")
    charge_card(p, card, pay.charge_ref, quote_of(pay).pays_fen)
    return card


def _undo_charge(p: Platform, pay: Pay, card: Row | None) -> None:
    if card is not None:
        reverse_card(p, card, pay.charge_ref, quote_of(pay).pays_fen)
