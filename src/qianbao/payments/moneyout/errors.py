"""Money-out error codes (stable: merchants and clients match on them), one class per code."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Busy, Conflict, InvalidArgument, NotFound


class Code(StrEnum):
    PAYOUT_ACCOUNT_MISSING = "PAYOUT_ACCOUNT_MISSING"
    PAYOUT_ACCOUNT_INVALID = "PAYOUT_ACCOUNT_INVALID"
    MONEY_OUT_NOT_FOUND = "MONEY_OUT_NOT_FOUND"
    MERCHANT_BALANCE_NOT_ENOUGH = "MERCHANT_BALANCE_NOT_ENOUGH"
    FUNDS_IN_TRANSIT = "FUNDS_IN_TRANSIT"
    CARD_NO_INVALID = "CARD_NO_INVALID"
    HOLDER_NAME_INVALID = "HOLDER_NAME_INVALID"
    FEE_CONFIG_INVALID = "FEE_CONFIG_INVALID"


class PayoutAccountMissing(Conflict):
    code = Code.PAYOUT_ACCOUNT_MISSING


class PayoutAccountInvalid(InvalidArgument):
    code = Code.PAYOUT_ACCOUNT_INVALID


class MoneyOutNotFound(NotFound):
    code = Code.MONEY_OUT_NOT_FOUND


class MerchantBalanceNotEnough(Conflict):
    code = Code.MERCHANT_BALANCE_NOT_ENOUGH


class FundsInTransit(Busy):
    """The merchant's money from other units has not reached its home unit yet: retry."""

    code = Code.FUNDS_IN_TRANSIT


class CardNoInvalid(InvalidArgument):
    code = Code.CARD_NO_INVALID


class HolderNameInvalid(InvalidArgument):
    code = Code.HOLDER_NAME_INVALID


class FeeConfigInvalid(InvalidArgument):
    code = Code.FEE_CONFIG_INVALID
