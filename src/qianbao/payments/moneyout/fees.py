"""The fee rules of money out, as configuration (pure: no I/O).

Transfer to a bank card (转账到卡): free up to a monthly allowance per user; above it, a rate on
the part above the allowance, at least ``min_fee_fen`` and at most ``max_fee_fen`` per transfer,
rounded half-up to the fen once (``platform.money.apply_rate``). A merchant payout is free (the
merchant paid its fee on every payment). The rules come from ``settings.extra["money_out"]``:

    {"card_transfer": {"monthly_free_fen": 2000000, "rate": "0.001",
                       "min_fee_fen": 100, "max_fee_fen": 2500},
     "auto_payout_min_fen": 100}

See docs/decisions/0721-card-transfer-fees.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from qianbao.payments.moneyout.errors import FeeConfigInvalid
from qianbao.platform.money import apply_rate


@dataclass(frozen=True, slots=True)
class CardTransferFees:
    monthly_free_fen: int = 2_000_000  # 20,000 CNY a calendar month free
    rate: Decimal = Decimal("0.001")  # 0.1% above the allowance
    min_fee_fen: int = 100  # at least 1 CNY when a fee is due
    max_fee_fen: int = 2_500  # at most 25 CNY a transfer

    def __post_init__(self) -> None:
        if self.monthly_free_fen < 0 or self.min_fee_fen < 0:
            raise FeeConfigInvalid("allowance and minimum fee must not be negative")
        if not Decimal(0) <= self.rate < Decimal("0.1"):
            raise FeeConfigInvalid("card transfer rate must be in [0, 0.1)")
        if self.max_fee_fen < self.min_fee_fen:
            raise FeeConfigInvalid("max_fee_fen must be at least min_fee_fen")

    def fee(self, amount_fen: int, used_this_month_fen: int) -> tuple[int, int]:
        """(fee, free allowance used) of a transfer of ``amount_fen``."""
        free_part = max(0, min(amount_fen, self.monthly_free_fen - used_this_month_fen))
        feeable = amount_fen - free_part
        if not feeable:
            return 0, free_part
        fee = min(max(apply_rate(feeable, self.rate), self.min_fee_fen), self.max_fee_fen)
        return fee, free_part


@dataclass(frozen=True, slots=True)
class MoneyOutConfig:
    card_transfer: CardTransferFees = CardTransferFees()
    auto_payout_min_fen: int = 100  # an automatic payout below 1 CNY waits for the next day


def load(raw: dict[str, Any] | None) -> MoneyOutConfig:
    """The configuration from ``settings.extra["money_out"]`` (a bad value stops the start)."""
    raw = raw or {}
    card = dict(raw.get("card_transfer") or {})
    try:
        if "rate" in card:
            card["rate"] = Decimal(str(card["rate"]))
        fees = CardTransferFees(**{k: card[k] for k in card})
        minimum = int(raw.get("auto_payout_min_fen", 100))
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise FeeConfigInvalid(f"money_out configuration: {exc}") from exc
    if minimum < 1:
        raise FeeConfigInvalid("auto_payout_min_fen must be at least 1")
    return MoneyOutConfig(fees, minimum)
