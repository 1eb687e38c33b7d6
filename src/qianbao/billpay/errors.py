"""Bill payment's error codes (stable: clients match on them), one class per code."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Conflict, InvalidArgument, NotFound, QianbaoError


class Code(StrEnum):
    BILLER_NOT_FOUND = "BILLER_NOT_FOUND"
    BILLER_EXISTS = "BILLER_EXISTS"
    BILLER_CATEGORY_INVALID = "BILLER_CATEGORY_INVALID"
    BILL_ACCOUNT_NOT_FOUND = "BILL_ACCOUNT_NOT_FOUND"
    BILL_NOT_FOUND = "BILL_NOT_FOUND"
    BILL_ALREADY_PAID = "BILL_ALREADY_PAID"
    BILL_PAYMENT_NOT_FOUND = "BILL_PAYMENT_NOT_FOUND"
    BILL_FUNDING_INVALID = "BILL_FUNDING_INVALID"
    BILLER_TIMEOUT = "BILLER_TIMEOUT"
    AGREEMENT_NOT_FOUND = "AGREEMENT_NOT_FOUND"
    AGREEMENT_LIMIT_INVALID = "AGREEMENT_LIMIT_INVALID"
    RECON_DAY_NOT_OVER = "RECON_DAY_NOT_OVER"
    BILL_RECON_NOT_FOUND = "BILL_RECON_NOT_FOUND"


class BillerNotFound(NotFound):
    code = Code.BILLER_NOT_FOUND


class BillerExists(Conflict):
    code = Code.BILLER_EXISTS


class BillerCategoryInvalid(InvalidArgument):
    code = Code.BILLER_CATEGORY_INVALID


class BillAccountNotFound(NotFound):
    code = Code.BILL_ACCOUNT_NOT_FOUND


class BillNotFound(NotFound):
    code = Code.BILL_NOT_FOUND


class BillAlreadyPaid(Conflict):
    code = Code.BILL_ALREADY_PAID


class BillPaymentNotFound(NotFound):
    code = Code.BILL_PAYMENT_NOT_FOUND


class BillFundingInvalid(InvalidArgument):
    code = Code.BILL_FUNDING_INVALID


class BillerTimeout(QianbaoError):
    """The biller did not answer in time: the outcome is unknown until queried."""

    code = Code.BILLER_TIMEOUT
    http_status = 504


class AgreementNotFound(NotFound):
    code = Code.AGREEMENT_NOT_FOUND


class AgreementLimitInvalid(InvalidArgument):
    code = Code.AGREEMENT_LIMIT_INVALID


class ReconDayNotOver(InvalidArgument):
    code = Code.RECON_DAY_NOT_OVER


class BillReconNotFound(NotFound):
    code = Code.BILL_RECON_NOT_FOUND
