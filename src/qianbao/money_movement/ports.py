"""The ports through which products plug into the engine (wired in ``bootstrap.py``).

- ``FundingSource``: where the buyer's money comes from and goes back to (balance and card
  here; Huabei in ``credit``; Yu'e Bao later).
- ``ProceedsPolicy``: how the merchant is paid by its contract (instant here; T+1 in
  ``payments.settlement``).
- ``Purpose``: whose rows record the movement (a plain payment, a trade, a Huabei purchase) and
  what it answers.
- ``Coupons``: a coupon used with a funding source (``marketing``).
- ``Reductions``: a full-reduction offer (满减) on the price (``marketing.reductions``).
- ``RiskCheck``: the risk decision on every movement (``risk``), in the guard step.

Every method runs inside the payer's unit command and may only change that unit's database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from qianbao.ledger.service import Leg
from qianbao.money_movement.commands import Pay, Refund
from qianbao.money_movement.quote import Paid, Quote, RefundQuote
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext


@dataclass(frozen=True, slots=True)
class Funded:
    """What a funding source booked: its legs for the voucher, what the merchant pays out of
    its proceeds (a subsidised installment fee) or gets back on a refund, and its record."""

    legs: list[Leg]
    merchant_share_fen: int = 0
    record_id: str = ""


class FundingSource(Protocol):
    def check_usable(self, p: Platform, payer_id: str) -> None:
        """Before any payment is prepared: may this payer choose this source at all (Huabei
        needs an open account)? Whether it can pay this amount is decided in ``take``."""
        ...

    def take(self, ctx: WriteContext, pay: Pay, quote: Quote) -> Funded: ...

    def confirm(self, ctx: WriteContext, ref: str) -> None:
        """An escrowed payment under ``ref`` was released to the merchant (a secured trade's
        Huabei purchase now enters the bill)."""
        ...

    def give_back(self, ctx: WriteContext, refund: Refund, paid: Paid, amount_fen: int) -> Funded:
        """``amount_fen`` (the buyer's part of a refund, > 0) goes back where it came from."""
        ...


class ProceedsPolicy(Protocol):
    def book_in(
        self, ctx: WriteContext, merchant_id: str, gross_fen: int, fee_fen: int
    ) -> list[Leg]: ...

    def book_out(
        self, ctx: WriteContext, merchant_id: str, gross_fen: int, fee_fen: int
    ) -> list[Leg]: ...


class Purpose(Protocol):
    pay_voucher: str  # the voucher kinds (reports and bills select on them)
    refund_voucher: str
    scope: str  # the idempotency scope prefix of its payments

    def open(self, ctx: WriteContext, pay: Pay) -> Row | None:
        """Check the purpose allows the payment now (a trade still waiting to be paid); returns
        the purpose's record as read (handed to ``record``), if it has one."""
        ...

    def replay(self, ctx: WriteContext, first_id: str) -> Row: ...

    def voucher_ref(self, pay: Pay, funded: Funded) -> str: ...

    def record(
        self, ctx: WriteContext, pay: Pay, quote: Quote, funded: Funded, opened: Row | None
    ) -> Row: ...

    def paid(self, ctx: WriteContext, refund: Refund) -> Paid:
        """The payment being refunded, owned by ``refund.merchant_id`` (or NotFound)."""
        ...

    def check_refundable(self, ctx: WriteContext, paid: Paid) -> None: ...

    def replay_refund(self, ctx: WriteContext, refund: Refund, first_id: str) -> Row: ...

    def record_refund(
        self, ctx: WriteContext, refund: Refund, paid: Paid, quote: RefundQuote, funded: Funded
    ) -> Row: ...


class InstallmentOffers(Protocol):
    """A merchant's installment offer on one trade (Huabei's 分期, implemented by credit)."""

    def subsidises(self, p: Platform, trade: Row, funding: str, installments: int | None) -> bool:
        """Does the merchant pay the fee of this plan (the buyer chose exactly its periods)?"""
        ...

    def code_installments(self, p: Platform, trade: Row, funding: str) -> int | None:
        """The periods a payment code pays this trade in (a subsidised offer only)."""
        ...


class Coupons(Protocol):
    def take(self, ctx: WriteContext, pay: Pay) -> None:
        """The coupon turns USED for this payment (or the command fails)."""
        ...

    def funder_legs(
        self, ctx: WriteContext, funder: str, amount_fen: int, *, back: bool
    ) -> list[Leg]: ...


class PaymentObserver(Protocol):
    def paid(self, ctx: WriteContext, pay: Pay, quote: Quote) -> None:
        """Inside the paying command, after its voucher and record (not on a replay): a
        customer notice, say. It must stay cheap: it runs on the hot path."""
        ...


@dataclass(frozen=True, slots=True)
class Offer:
    """A full-reduction offer found for a price at the cashier (before the command)."""

    offer_id: str
    offer_fen: int
    funder: str  # PLATFORM | MERCHANT


class Reductions(Protocol):
    def best(self, p: Platform, merchant_id: str, amount_fen: int, unit: int) -> Offer | None:
        """The offer that takes most off ``amount_fen`` at this merchant now with budget left
        in the payer's ``unit``, if any (reads only)."""
        ...

    def take(self, ctx: WriteContext, pay: Pay) -> None:
        """Spend the offer from its budget for this payment (guarded), or the command fails."""
        ...

    def used(self, ctx: WriteContext, paid_id: str) -> tuple[int, str]:
        """(offer fen, funder) a payment was made with; (0, "") without an offer."""
        ...

    def give_back(self, ctx: WriteContext, paid_id: str, amount_fen: int) -> None:
        """A refund returned ``amount_fen`` of the payment's offer (to its budget)."""
        ...

    def funder_legs(
        self, ctx: WriteContext, funder: str, amount_fen: int, *, back: bool
    ) -> list[Leg]: ...


@dataclass(frozen=True, slots=True)
class Movement:
    """What the risk check sees of one money movement, whatever command moves it."""

    kind: str  # PAY, REFUND, TRANSFER, WITHDRAW, TOPUP (products may add their own)
    movement_id: str  # the payment's, refund's, transfer's or bank order's id
    party_id: str  # who sends the money (a refund: the merchant)
    amount_fen: int
    payee_id: str = ""  # the merchant, the receiving user, the bank card
    merchant_id: str = ""
    funding: str = ""
    category: str = ""
    card_id: str = ""
    context: str = ""  # the encoded request context (``money_movement/context.py``)
    command: Any = None  # the command itself: a challenge keeps it to resume it when answered
    request_key: str = ""  # scope and idempotency key: a retry of a refused request answers alike


class RiskCheck(Protocol):
    def check(self, ctx: WriteContext, movement: Movement) -> None:
        """Decide inside the party's unit command, reading nothing from another unit: return
        to let the movement go on, or raise (rejected, or a challenge to answer first). The
        decision is stored in this batch either way; a refused movement moves no money."""
        ...

    def warm(self, ctx: WriteContext) -> None:
        """Load what the unit's decisions read, once, as the unit starts (before it serves)."""
        ...


@dataclass
class Ports:
    """The engine's wiring, one per platform (``Platform.money``)."""

    funding: dict[str, FundingSource] = field(default_factory=dict)
    proceeds: dict[str, ProceedsPolicy] = field(default_factory=dict)
    purposes: dict[str, Purpose] = field(default_factory=dict)
    coupons: Coupons | None = None
    offers: InstallmentOffers | None = None
    observers: list[PaymentObserver] = field(default_factory=list)  # large-payment alerts
    reductions: Reductions | None = None
    risk: RiskCheck | None = None
