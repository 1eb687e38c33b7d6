"""Payments' error codes (stable: clients and merchants match on them), one class per code.

``MERCHANT_FROZEN`` and the amount and funding codes belong to the engine
(``qianbao.money_movement.errors``); payments raises those classes from there.
"""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    InvalidArgument,
    NotFound,
)


class Code(StrEnum):
    # trades: lookups and requests
    TRADE_NOT_EXIST = "TRADE_NOT_EXIST"
    MISSING_TRADE_NO = "MISSING_TRADE_NO"
    OUT_TRADE_NO_USED = "OUT_TRADE_NO_USED"
    SUBJECT_INVALID = "SUBJECT_INVALID"
    PRODUCT_INVALID = "PRODUCT_INVALID"
    TIMEOUT_INVALID = "TIMEOUT_INVALID"
    NOTIFY_URL_INVALID = "NOTIFY_URL_INVALID"
    COUPON_NOT_APPLICABLE = "COUPON_NOT_APPLICABLE"
    INSTALLMENTS_INVALID = "INSTALLMENTS_INVALID"
    TRADE_BUYER_NOT_MATCH = "TRADE_BUYER_NOT_MATCH"
    # trades: a status that does not allow the action
    TRADE_STATUS_ERROR = "TRADE_STATUS_ERROR"
    TRADE_HAS_CLOSED = "TRADE_HAS_CLOSED"
    TRADE_HAS_FINISHED = "TRADE_HAS_FINISHED"
    TRADE_HAS_SUCCESS = "TRADE_HAS_SUCCESS"
    TRADE_IN_DISPUTE = "TRADE_IN_DISPUTE"
    TRADE_NOT_SECURED = "TRADE_NOT_SECURED"
    # secured trades: disputes and compensation
    DECISION_INVALID = "DECISION_INVALID"
    SPLIT_INVALID = "SPLIT_INVALID"
    REASON_REQUIRED = "REASON_REQUIRED"
    COMPENSATION_EXCEEDED = "COMPENSATION_EXCEEDED"
    ALREADY_COMPENSATED = "ALREADY_COMPENSATED"
    # payments, orders and transfers
    PAYMENT_NOT_FOUND = "PAYMENT_NOT_FOUND"
    ORDER_NOT_FOUND = "ORDER_NOT_FOUND"
    TRANSFER_TO_SELF = "TRANSFER_TO_SELF"
    # payment codes (付款码)
    PAYMENT_CODE_INVALID = "PAYMENT_CODE_INVALID"
    CODE_FUNDING_INVALID = "CODE_FUNDING_INVALID"
    # settlement
    SETTLEMENT_NOT_FOUND = "SETTLEMENT_NOT_FOUND"
    SETTLEMENT_DAY_CLOSED = "SETTLEMENT_DAY_CLOSED"
    DAY_NOT_OVER = "DAY_NOT_OVER"
    # the same code StateMachine.move raises (platform/states.py) for a lost race
    CONCURRENT_UPDATE = "CONCURRENT_UPDATE"


# --- trades: lookups and requests ----------------------------------------------------------------
class TradeNotExist(NotFound):
    code = Code.TRADE_NOT_EXIST


class MissingTradeNo(InvalidArgument):
    code = Code.MISSING_TRADE_NO


class OutTradeNoUsed(IdempotencyKeyReused):
    code = Code.OUT_TRADE_NO_USED


class SubjectInvalid(InvalidArgument):
    code = Code.SUBJECT_INVALID


class ProductInvalid(InvalidArgument):
    code = Code.PRODUCT_INVALID


class TimeoutInvalid(InvalidArgument):
    code = Code.TIMEOUT_INVALID


class NotifyUrlInvalid(InvalidArgument):
    code = Code.NOTIFY_URL_INVALID


class CouponNotApplicable(InvalidArgument):
    code = Code.COUPON_NOT_APPLICABLE


class InstallmentsInvalid(InvalidArgument):
    code = Code.INSTALLMENTS_INVALID


class TradeBuyerNotMatch(Forbidden):
    code = Code.TRADE_BUYER_NOT_MATCH


# --- trades: a status that does not allow the action (all are TradeError, a 409) ----------------
class TradeError(Conflict):
    code = Code.TRADE_STATUS_ERROR


class TradeHasClosed(TradeError):
    code = Code.TRADE_HAS_CLOSED


class TradeHasFinished(TradeError):
    code = Code.TRADE_HAS_FINISHED


class TradeHasSuccess(TradeError):
    code = Code.TRADE_HAS_SUCCESS


class TradeInDispute(TradeError):
    code = Code.TRADE_IN_DISPUTE


class TradeNotSecured(TradeError):
    code = Code.TRADE_NOT_SECURED


# --- secured trades: disputes and compensation ---------------------------------------------------
class DecisionInvalid(InvalidArgument):
    code = Code.DECISION_INVALID


class SplitInvalid(InvalidArgument):
    code = Code.SPLIT_INVALID


class ReasonRequired(InvalidArgument):
    code = Code.REASON_REQUIRED


class CompensationExceeded(InvalidArgument):
    code = Code.COMPENSATION_EXCEEDED


class AlreadyCompensated(Conflict):
    code = Code.ALREADY_COMPENSATED


# --- payments, orders and transfers --------------------------------------------------------------
class PaymentNotFound(NotFound):
    code = Code.PAYMENT_NOT_FOUND


class OrderNotFound(NotFound):
    code = Code.ORDER_NOT_FOUND


class TransferToSelf(InvalidArgument):
    code = Code.TRANSFER_TO_SELF


# --- payment codes -------------------------------------------------------------------------------
class PaymentCodeInvalid(InvalidArgument):
    """A code that is not 18 digits starting with 28 (400)."""

    code = Code.PAYMENT_CODE_INVALID


class PaymentCodeUnknown(NotFound):
    """A well-formed code that is unknown, used or expired (404, same code)."""

    code = Code.PAYMENT_CODE_INVALID


class CodeFundingInvalid(InvalidArgument):
    code = Code.CODE_FUNDING_INVALID


# --- settlement ----------------------------------------------------------------------------------
class SettlementNotFound(NotFound):
    code = Code.SETTLEMENT_NOT_FOUND


class SettlementDayClosed(Conflict):
    code = Code.SETTLEMENT_DAY_CLOSED


class DayNotOver(InvalidArgument):
    code = Code.DAY_NOT_OVER


class ConcurrentUpdate(Conflict):
    code = Code.CONCURRENT_UPDATE
