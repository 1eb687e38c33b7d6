"""Pure arithmetic of a payment and a refund: who pays what, what the merchant earns, what
the fee is, and what comes back pro rata. No database, no platform: testable by hand.

Coupons: the buyer's funding pays the amount minus the coupon's face. A platform coupon is paid
by the platform (the merchant's gross is the full amount); a merchant coupon is a discount (the
merchant's gross is what the buyer paid). The fee is the merchant's contract rate on its gross,
rounded half-up once (``platform.money.apply_rate``); an escrowed payment takes no fee until it
is released. A refund gives the coupon's and the fee's shares back in proportion
(``proportional_fen``), so a payment refunded in any number of parts returns exactly its fee and
its coupon.

A full-reduction offer (满减, ``offer_fen``) is a sibling of the coupon: taken off the price first
(the coupon's minimum spend is then met by what is left), funded by the platform (marketing
expense; the merchant's gross stays the price) or by the merchant (a discount), and given back
pro rata on a refund in the same way (docs/decisions/0723-full-reduction-offers.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from qianbao.money_movement.errors import RefundAmountExceeded
from qianbao.platform.money import apply_rate, proportional_fen

MERCHANT_FUNDER = "MERCHANT"  # a coupon the merchant pays for (a discount)


@dataclass(frozen=True, slots=True)
class Quote:
    amount_fen: int  # the price
    pays_fen: int  # what the buyer's funding source pays
    coupon_fen: int
    merchant_gross_fen: int  # what the merchant's fee is computed on
    fee_fen: int
    offer_fen: int = 0  # a full-reduction offer's part of the price

    def __str__(self) -> str:
        return (
            f"price {self.amount_fen} = funding {self.pays_fen} + coupon {self.coupon_fen}"
            f"{f' + offer {self.offer_fen}' if self.offer_fen else ''};"
            f" merchant gross {self.merchant_gross_fen}, fee {self.fee_fen},"
            f" net {self.merchant_gross_fen - self.fee_fen}"
        )


def quote_pay(
    amount_fen: int,
    fee_rate: Decimal,
    *,
    coupon_fen: int = 0,
    coupon_funder: str = "",
    escrowed: bool = False,
    offer_fen: int = 0,
    offer_funder: str = "",
) -> Quote:
    assert 0 <= coupon_fen < amount_fen, "a coupon is checked to be below the amount"
    assert offer_fen >= 0 and coupon_fen + offer_fen < amount_fen, "the buyer pays at least 1 fen"
    pays = amount_fen - coupon_fen - offer_fen
    gross = amount_fen - (coupon_fen if coupon_funder == MERCHANT_FUNDER else 0)
    gross -= offer_fen if offer_funder == MERCHANT_FUNDER else 0
    fee = 0 if escrowed else apply_rate(gross, fee_rate)
    return Quote(amount_fen, pays, coupon_fen, gross, fee, offer_fen)


@dataclass(frozen=True, slots=True)
class Paid:
    """What a refund needs to know of the payment it gives back (any purpose)."""

    paid_id: str
    payer_id: str
    merchant_id: str
    amount_fen: int
    refunded_fen: int
    fee_fen: int
    funding: str
    funding_ref: str  # where the funding source finds its own record (a purchase's ref)
    escrowed: bool = False
    coupon_fen: int = 0
    coupon_funder: str = ""
    card_id: str | None = None
    offer_fen: int = 0  # the full-reduction offer it was paid with (the engine fills it in)
    offer_funder: str = ""


@dataclass(frozen=True, slots=True)
class RefundQuote:
    amount_fen: int
    coupon_back_fen: int  # back to whoever funded the coupon
    buyer_back_fen: int  # back to the buyer's funding source
    merchant_gross_fen: int  # taken back from the merchant's gross
    fee_back_fen: int  # the fee's share, back to the merchant
    offer_back_fen: int = 0  # back to whoever funded the full-reduction offer

    def __str__(self) -> str:
        return (
            f"refund {self.amount_fen} = buyer {self.buyer_back_fen} + coupon"
            f" {self.coupon_back_fen}"
            f"{f' + offer {self.offer_back_fen}' if self.offer_back_fen else ''}; merchant gross"
            f" -{self.merchant_gross_fen}, fee back"
            f" {self.fee_back_fen}"
        )


def quote_refund(paid: Paid, amount_fen: int) -> RefundQuote:
    """Refuse more than is left; split the refund between buyer, coupon and fee pro rata."""
    refundable = paid.amount_fen - paid.refunded_fen
    if not 0 < amount_fen <= refundable:
        raise RefundAmountExceeded(f"only {refundable} fen can still be refunded")
    # the share after this refund minus the share before it, both of the amount refunded (the
    # coupon's own refunded total is not a point on that scale)
    coupon_back = proportional_fen(paid.coupon_fen, paid.refunded_fen, amount_fen, paid.amount_fen)
    offer_back = proportional_fen(paid.offer_fen, paid.refunded_fen, amount_fen, paid.amount_fen)
    merchant_gross = amount_fen - (coupon_back if paid.coupon_funder == MERCHANT_FUNDER else 0)
    merchant_gross -= offer_back if paid.offer_funder == MERCHANT_FUNDER else 0
    fee_back = 0
    if not paid.escrowed:
        fee_back = proportional_fen(paid.fee_fen, paid.refunded_fen, amount_fen, paid.amount_fen)
    buyer_back = amount_fen - coupon_back - offer_back
    return RefundQuote(amount_fen, coupon_back, buyer_back, merchant_gross, fee_back, offer_back)
