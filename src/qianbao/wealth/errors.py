"""Yu'e Bao's error codes (stable: clients match on them) and the errors that carry them."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Conflict, InsufficientBalance, InvalidArgument, NotFound


class Code(StrEnum):
    YUEBAO_AMOUNT_INVALID = "YUEBAO_AMOUNT_INVALID"
    YUEBAO_SOURCE_INVALID = "YUEBAO_SOURCE_INVALID"
    YUEBAO_MODE_INVALID = "YUEBAO_MODE_INVALID"
    YUEBAO_NOT_OPENED = "YUEBAO_NOT_OPENED"
    YUEBAO_SHARES_NOT_ENOUGH = "YUEBAO_SHARES_NOT_ENOUGH"
    YUEBAO_FAST_LIMIT_EXCEEDED = "YUEBAO_FAST_LIMIT_EXCEEDED"
    YUEBAO_ORDER_NOT_FOUND = "YUEBAO_ORDER_NOT_FOUND"
    YUEBAO_DAY_INVALID = "YUEBAO_DAY_INVALID"
    YUEBAO_DAY_OUT_OF_ORDER = "YUEBAO_DAY_OUT_OF_ORDER"
    YUEBAO_CONFIG_INVALID = "YUEBAO_CONFIG_INVALID"
    YUEBAO_RATE_MISSING = "YUEBAO_RATE_MISSING"


class AmountInvalid(InvalidArgument):
    code = Code.YUEBAO_AMOUNT_INVALID


class SourceInvalid(InvalidArgument):
    code = Code.YUEBAO_SOURCE_INVALID


class ModeInvalid(InvalidArgument):
    code = Code.YUEBAO_MODE_INVALID


class NotOpened(Conflict):
    code = Code.YUEBAO_NOT_OPENED


class SharesNotEnough(InsufficientBalance):
    code = Code.YUEBAO_SHARES_NOT_ENOUGH


class FastLimitExceeded(Conflict):
    code = Code.YUEBAO_FAST_LIMIT_EXCEEDED


class OrderNotFound(NotFound):
    code = Code.YUEBAO_ORDER_NOT_FOUND


class DayInvalid(InvalidArgument):
    code = Code.YUEBAO_DAY_INVALID


class DayOutOfOrder(Conflict):
    code = Code.YUEBAO_DAY_OUT_OF_ORDER


class ConfigInvalid(InvalidArgument):
    code = Code.YUEBAO_CONFIG_INVALID


class RateMissing(Conflict):
    code = Code.YUEBAO_RATE_MISSING
