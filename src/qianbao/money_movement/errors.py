"""The engine's error codes (stable: clients match on them)."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import (
    Conflict,
    Forbidden,
    InvalidArgument,
    LimitExceeded,
    QianbaoError,
)


class Code(StrEnum):
    AMOUNT_INVALID = "AMOUNT_INVALID"
    AMOUNT_TOO_LARGE = "AMOUNT_TOO_LARGE"
    MERCHANT_FROZEN = "MERCHANT_FROZEN"
    REFUND_AMOUNT_EXCEEDED = "REFUND_AMOUNT_EXCEEDED"
    FUNDING_INVALID = "FUNDING_INVALID"
    CARD_CHARGE_FAILED = "CARD_CHARGE_FAILED"
    INSTALLMENT_NOT_ALLOWED = "CREDIT_INSTALLMENT_NOT_ALLOWED"
    SINGLE_LIMIT_EXCEEDED = "SINGLE_LIMIT_EXCEEDED"
    DAILY_LIMIT_EXCEEDED = "DAILY_LIMIT_EXCEEDED"


class AmountInvalid(InvalidArgument):
    code = Code.AMOUNT_INVALID


class AmountTooLarge(InvalidArgument):
    code = Code.AMOUNT_TOO_LARGE


class MerchantFrozen(Forbidden):
    code = Code.MERCHANT_FROZEN


class RefundAmountExceeded(InvalidArgument):
    code = Code.REFUND_AMOUNT_EXCEEDED


class FundingInvalid(InvalidArgument):
    code = Code.FUNDING_INVALID


class CardChargeFailed(QianbaoError):
    code = Code.CARD_CHARGE_FAILED


class InstallmentNotAllowed(Conflict):
    """An escrowed payment (a secured trade) cannot be split into installments."""

    code: StrEnum = Code.INSTALLMENT_NOT_ALLOWED  # credit refines it with its own enum's codes


class SingleLimitExceeded(LimitExceeded):
    """One payment above the payer's per-payment limit (by KYC level)."""

    code = Code.SINGLE_LIMIT_EXCEEDED


class DailyLimitExceeded(LimitExceeded):
    """The payer's spending today would pass the daily limit."""

    code = Code.DAILY_LIMIT_EXCEEDED
