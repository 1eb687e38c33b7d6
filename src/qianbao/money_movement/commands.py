"""The engine's commands: plain, frozen, serialisable data (see ``platform/commands.py``).

A command is built by ``pay.prepare`` / ``refund.prepare`` after the reads and the
authorisation, so it carries what the unit needs and nothing secret (no password): the fee rate
and limits in force when it was authorised, the merchant's settlement cycle, the coupon as
peeked. The unit re-checks everything that can change under it (balances, lines, the coupon's
state, the trade's state) inside the command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qianbao.money_movement.context import current as current_context

# funding sources
BALANCE, CARD, HUABEI = "BALANCE", "CARD", "HUABEI"
YUEBAO = "YUEBAO"  # Yu'e Bao (余额宝) fund shares, implemented by ``wealth.funding``
# the merchant's settlement cycles
INSTANT, T1 = "INSTANT", "T1"
# purposes: whose rows record the movement
PAYMENT, TRADE, HUABEI_PURCHASE = "PAYMENT", "TRADE", "HUABEI_PURCHASE"


@dataclass(frozen=True, slots=True)
class Pay:
    """The payer pays a merchant ``amount_fen`` (before any coupon) for ``purpose``."""

    purpose: str
    payment_id: str  # the new record's id (for a trade: the trade's id)
    payer_id: str
    merchant_id: str
    amount_fen: int
    request_id: str | None  # the idempotency key; None when the purpose's state guards replays
    funding: str = BALANCE
    fee_rate: str = "0"  # the merchant's contract rate, as a decimal string
    daily_limit_fen: int = 0  # the payer's KYC daily limit
    settle_cycle: str = "INSTANT"  # the merchant's contract: INSTANT or T1
    escrowed: bool = False  # a secured trade: the money waits in escrow, no fee yet
    coupon_id: str | None = None
    coupon_fen: int = 0
    coupon_funder: str = ""
    # a full-reduction offer (满减) as found at the cashier; the unit takes it from its budget
    offer_id: str | None = None
    offer_fen: int = 0
    offer_funder: str = ""
    card_id: str | None = None
    card_channel: str = ""
    charge_ref: str = ""  # the bank request that charged the card before the command
    installments: int | None = None
    subsidised: bool = False
    category: str = "everyday"
    auth_code: str | None = None  # a payment code the merchant scanned
    memo: str = ""
    # the request's device, IP, user agent, location (``context.py``): the risk check's inputs
    context: str = field(default_factory=current_context)

    def fingerprint(self) -> dict[str, str | int | bool | None]:
        """What the idempotency key must match on a replay: the payer's ask, not our reads."""
        return {
            "merchant_id": self.merchant_id,
            "amount_fen": self.amount_fen,
            "funding": self.funding,
            "card_id": self.card_id,
            "coupon_id": self.coupon_id,
            "installments": self.installments,
            "subsidised": self.subsidised,
            "category": self.category,
            "memo": self.memo,
        }


@dataclass(frozen=True, slots=True)
class Refund:
    """The merchant gives back ``amount_fen`` of the payment ``paid_id`` made for ``purpose``."""

    purpose: str
    refund_id: str
    merchant_id: str
    paid_id: str  # the payment, trade or Huabei purchase being refunded
    amount_fen: int
    request_id: str | None
    reason: str = ""
    settle_cycle: str = "INSTANT"  # the merchant's contract when the refund was asked
    kind: str = "REFUND"  # or DISPUTE_REFUND (an operator's decision on a secured trade)
    context: str = field(default_factory=current_context)  # see ``Pay.context``

    def fingerprint(self) -> dict[str, str | int | bool | None]:
        return {"amount_fen": self.amount_fen, "reason": self.reason}
