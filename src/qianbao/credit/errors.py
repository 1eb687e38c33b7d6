"""Huabei errors, each with a stable code."""

from __future__ import annotations

from qianbao.money_movement import errors as money_errors
from qianbao.platform.errors import Conflict, Forbidden, InvalidArgument, NotFound, QianbaoError


class CreditError(QianbaoError):
    code = "CREDIT_ERROR"


class NotEligible(Forbidden):
    code = "CREDIT_NOT_ELIGIBLE"


class AccountExists(Conflict):
    code = "CREDIT_ACCOUNT_EXISTS"


class AccountNotFound(NotFound):
    code = "CREDIT_ACCOUNT_NOT_FOUND"


class LineExceeded(CreditError):
    code = "CREDIT_LINE_EXCEEDED"


class CreditFrozen(Forbidden):
    code = "CREDIT_FROZEN"


class StatementNotFound(NotFound):
    code = "CREDIT_STATEMENT_NOT_FOUND"


class PlanNotFound(NotFound):
    code = "CREDIT_PLAN_NOT_FOUND"


class PurchaseNotFound(NotFound):
    code = "CREDIT_PURCHASE_NOT_FOUND"


# The engine refuses it for any escrowed payment; credit raises the same error.
InstallmentNotAllowed = money_errors.InstallmentNotAllowed


class RepaymentExceedsOwed(InvalidArgument):
    code = "CREDIT_REPAYMENT_EXCEEDS_OWED"
