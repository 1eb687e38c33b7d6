"""Merchant installment offers (花呗分期 ``hb_fq_num`` / ``hb_fq_seller_percent``): validated
and stored in the trade's order unit before the trade exists; read by the trade pay path and
the payment-code path to decide whether the merchant pays the plan's fee."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qianbao.credit import ports, store
from qianbao.credit.accounts import now_ms
from qianbao.credit.config import config_for
from qianbao.credit.errors import InstallmentOfferConflict, InstallmentOfferInvalid
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

SELLER_PERCENTS = (0, 100)  # the merchant pays none or all of the installment fee


@dataclass(frozen=True)
class InstallmentOffer:
    """A merchant's offer on one trade: ``periods`` at the cashier; with ``seller_percent`` 100
    the merchant pays that plan's fee (免息 for the buyer)."""

    periods: int
    seller_percent: int

    @property
    def subsidised(self) -> bool:
        return self.seller_percent == 100

    def to_dict(self) -> dict[str, int]:
        return {"hb_fq_num": self.periods, "hb_fq_seller_percent": self.seller_percent}


def _offer_int(value: Any, name: str) -> int:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isdigit() or len(text) > 3:
        raise InstallmentOfferInvalid(f"{name} must be a whole number")
    return int(text)


def check_offer(
    p: Platform,
    periods: Any,
    seller_percent: Any,
    *,
    amount_fen: int,
    secured: bool = False,
) -> InstallmentOffer:
    """Validate an offer before anything is recorded (400 ``INSTALLMENT_OFFER_INVALID``)."""
    cfg = config_for(p)
    n = _offer_int(periods, "hb_fq_num")
    pct = 0 if seller_percent in (None, "") else _offer_int(seller_percent, "hb_fq_seller_percent")
    offered = sorted(cfg.purchase_installment_rates)
    if n not in cfg.purchase_installment_rates:
        raise InstallmentOfferInvalid(f"hb_fq_num must be one of {offered}")
    if pct not in SELLER_PERCENTS:
        raise InstallmentOfferInvalid(f"hb_fq_seller_percent must be one of {SELLER_PERCENTS}")
    if secured:
        raise InstallmentOfferInvalid("a secured trade cannot be paid in installments")
    if amount_fen < max(cfg.installment_min_fen, n):
        raise InstallmentOfferInvalid(
            f"installments need at least {max(cfg.installment_min_fen, n)} fen"
        )
    return InstallmentOffer(n, pct)


def _order_unit(p: Platform, merchant_id: str, out_trade_no: str) -> int:
    """The trade's order unit (0301), where its offer lives."""
    return p.unit_of_bucket(ports.trade_orders().order_bucket(merchant_id, out_trade_no))


def _offer_writer(p: Platform, merchant_id: str, out_trade_no: str) -> Any:
    return p.writers[_order_unit(p, merchant_id, out_trade_no)]


@dataclass(frozen=True, slots=True)
class DeclareOffer:
    """Record a merchant's offer in the trade's order unit (a command as data; its own
    ``__call__`` is its handler). The same offer again is a no-op."""

    merchant_id: str
    out_trade_no: str
    periods: int
    seller_percent: int

    def __call__(self, ctx: WriteContext) -> InstallmentOffer:
        tx, offer = ctx.tx, InstallmentOffer(self.periods, self.seller_percent)
        old = store.offer(tx, self.merchant_id, self.out_trade_no)
        if old is not None:
            if _offer_of(old) != offer:
                raise InstallmentOfferConflict("this trade already has another installment offer")
            return offer
        if store.trade_order_exists(tx, self.merchant_id, self.out_trade_no):
            raise InstallmentOfferConflict(
                f"out_trade_no {self.out_trade_no!r} was used for a trade without an"
                " installment offer"
            )
        store.insert_offer(
            tx, self.merchant_id, self.out_trade_no, self.periods, self.seller_percent, now_ms()
        )
        return offer


@dataclass(frozen=True, slots=True)
class DiscardOrphanOffer:
    """Forget a trade's offer unless a trade holds the number. A command as data."""

    merchant_id: str
    out_trade_no: str

    def __call__(self, ctx: WriteContext) -> None:
        store.delete_orphan_offer(ctx.tx, self.merchant_id, self.out_trade_no)


def declare_offer(
    p: Platform, merchant_id: str, out_trade_no: str, offer: InstallmentOffer
) -> InstallmentOffer:
    """Record ``offer`` for the merchant's trade ``out_trade_no`` *before* the trade is
    created. The same offer again is a no-op; another offer, or an offer for an out_trade_no
    already used without one, is 409 ``INSTALLMENT_OFFER_CONFLICT``."""
    command = DeclareOffer(merchant_id, out_trade_no, offer.periods, offer.seller_percent)
    _offer_writer(p, merchant_id, out_trade_no).submit(command)
    return offer


def discard_orphan_offer(p: Platform, merchant_id: str, out_trade_no: str) -> None:
    """The trade could not be created: forget its offer unless a trade holds the number."""
    _offer_writer(p, merchant_id, out_trade_no).submit(
        DiscardOrphanOffer(merchant_id, out_trade_no)
    )


def _offer_of(row: Row) -> InstallmentOffer:
    return InstallmentOffer(int(row["periods"]), int(row["seller_percent"]))


def offer_for(p: Platform, merchant_id: str, out_trade_no: str) -> InstallmentOffer | None:
    """The offer of a trade, if its merchant declared one (offers never change once set)."""
    db = p.units[_order_unit(p, merchant_id, out_trade_no)]
    with db.read() as tx:
        row = store.offer(tx, merchant_id, out_trade_no)
    return None if row is None else _offer_of(row)


def offer_subsidises(p: Platform, trade: Row, funding: str, installments: int | None) -> bool:
    """Hook of the trade pay path: the merchant pays the fee when the buyer pays with Huabei in
    exactly the periods its offer on this trade subsidises."""
    if funding != "HUABEI" or installments is None:
        return False
    offer = offer_for(p, trade["merchant_id"], trade["out_trade_no"])
    return offer is not None and offer.subsidised and offer.periods == installments


def code_installments(p: Platform, trade: Row, funding: str) -> int | None:
    """Hook of the payment-code path: a Huabei code pays a trade carrying a merchant-subsidised
    offer in the offered periods, fee-free for the buyer. A buyer at a till cannot choose, so
    an offer the buyer would pay a fee for is not applied (the purchase is billed in full)."""
    if funding != "HUABEI":
        return None
    offer = offer_for(p, trade["merchant_id"], trade["out_trade_no"])
    return offer.periods if offer is not None and offer.subsidised else None


class TradeOffers:
    """The engine's ``InstallmentOffers`` port: a merchant's offer on a trade."""

    def subsidises(self, p: Platform, trade: Row, funding: str, installments: int | None) -> bool:
        return offer_subsidises(p, trade, funding, installments)

    def code_installments(self, p: Platform, trade: Row, funding: str) -> int | None:
        return code_installments(p, trade, funding)
