"""Huabei's error codes (stable: clients match on them), one class per code.

The engine owns the codes credit shares with every funding source (``AMOUNT_INVALID``,
``REFUND_AMOUNT_EXCEEDED``, ``CREDIT_INSTALLMENT_NOT_ALLOWED``): credit raises those classes from
``qianbao.money_movement.errors``.
"""

from __future__ import annotations

from enum import StrEnum

from qianbao.money_movement import errors as money_errors
from qianbao.platform.errors import Conflict, Forbidden, InvalidArgument, NotFound, QianbaoError


class Code(StrEnum):
    CREDIT_ERROR = "CREDIT_ERROR"
    # accounts and lines
    NOT_ELIGIBLE = "CREDIT_NOT_ELIGIBLE"
    ACCOUNT_EXISTS = "CREDIT_ACCOUNT_EXISTS"
    ACCOUNT_NOT_FOUND = "CREDIT_ACCOUNT_NOT_FOUND"
    ACCOUNT_CLOSED = "CREDIT_ACCOUNT_CLOSED"
    LINE_EXCEEDED = "CREDIT_LINE_EXCEEDED"
    LINE_INVALID = "CREDIT_LINE_INVALID"
    DUE_DAY_INVALID = "CREDIT_DUE_DAY_INVALID"
    FROZEN = "CREDIT_FROZEN"
    OVERDUE = "CREDIT_OVERDUE"
    # purchases, statements and plans
    CATEGORY_INVALID = "CATEGORY_INVALID"
    CATEGORY_NOT_THE_MERCHANTS = "CATEGORY_NOT_THE_MERCHANTS"
    STATEMENT_NOT_FOUND = "CREDIT_STATEMENT_NOT_FOUND"
    PLAN_NOT_FOUND = "CREDIT_PLAN_NOT_FOUND"
    PURCHASE_NOT_FOUND = "CREDIT_PURCHASE_NOT_FOUND"
    # installments and merchant installment offers (花呗分期)
    INSTALLMENT_TOO_SMALL = "CREDIT_INSTALLMENT_TOO_SMALL"
    INSTALLMENT_PERIODS_INVALID = "INSTALLMENT_PERIODS_INVALID"
    INSTALLMENT_OFFER_INVALID = "INSTALLMENT_OFFER_INVALID"
    INSTALLMENT_OFFER_CONFLICT = "INSTALLMENT_OFFER_CONFLICT"
    # repayments
    REPAYMENT_EXCEEDS_OWED = "CREDIT_REPAYMENT_EXCEEDS_OWED"
    NOTHING_OWED = "CREDIT_NOTHING_OWED"
    CARD_PAYMENT_FAILED = "CREDIT_CARD_PAYMENT_FAILED"


class CreditError(QianbaoError):
    code = Code.CREDIT_ERROR


# --- accounts and lines --------------------------------------------------------------------------
class NotEligible(Forbidden):
    code = Code.NOT_ELIGIBLE


class AccountExists(Conflict):
    code = Code.ACCOUNT_EXISTS


class AccountNotFound(NotFound):
    code = Code.ACCOUNT_NOT_FOUND


class AccountClosed(Forbidden):
    code = Code.ACCOUNT_CLOSED


class LineExceeded(CreditError):
    code = Code.LINE_EXCEEDED


class LineInvalid(InvalidArgument):
    code = Code.LINE_INVALID


class DueDayInvalid(InvalidArgument):
    code = Code.DUE_DAY_INVALID


class CreditFrozen(Forbidden):
    code = Code.FROZEN


class CreditOverdue(CreditFrozen):
    """Huabei is frozen because a bill is overdue (a 403 like any freeze)."""

    code = Code.OVERDUE


# --- purchases, statements and plans -------------------------------------------------------------
class CategoryInvalid(InvalidArgument):
    code = Code.CATEGORY_INVALID


class CategoryNotTheMerchants(InvalidArgument):
    """A buyer declared a purchase category other than the merchant's (issue 11 item 8)."""

    code = Code.CATEGORY_NOT_THE_MERCHANTS


class StatementNotFound(NotFound):
    code = Code.STATEMENT_NOT_FOUND


class PlanNotFound(NotFound):
    code = Code.PLAN_NOT_FOUND


class PurchaseNotFound(NotFound):
    code = Code.PURCHASE_NOT_FOUND


# --- installments and merchant offers ------------------------------------------------------------
# The engine refuses it for any escrowed payment; credit raises the same error.
InstallmentNotAllowed = money_errors.InstallmentNotAllowed


class InstallmentTooSmall(InstallmentNotAllowed):
    code = Code.INSTALLMENT_TOO_SMALL


class InstallmentPeriodsInvalid(InvalidArgument):
    code = Code.INSTALLMENT_PERIODS_INVALID


class InstallmentOfferInvalid(InvalidArgument):
    code = Code.INSTALLMENT_OFFER_INVALID


class InstallmentOfferConflict(Conflict):
    code = Code.INSTALLMENT_OFFER_CONFLICT


# --- repayments ----------------------------------------------------------------------------------
class RepaymentExceedsOwed(InvalidArgument):
    code = Code.REPAYMENT_EXCEEDS_OWED


class NothingOwed(RepaymentExceedsOwed):
    code = Code.NOTHING_OWED


class CardPaymentFailed(Forbidden):
    code = Code.CARD_PAYMENT_FAILED
