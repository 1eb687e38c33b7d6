"""The HTTP API's own error codes (stable: clients match on them) and the errors that carry them.

``INTERNAL_ERROR`` is the body of a 500 (a bug, logged); every other code comes from a package's
enum and is listed in the OpenAPI description."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Forbidden, InvalidArgument, NotFound


class Code(StrEnum):
    INSTALLMENT_OFFER_NOT_FOUND = "INSTALLMENT_OFFER_NOT_FOUND"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND"
    INSTALLMENTS_INVALID = "INSTALLMENTS_INVALID"
    DAY_INVALID = "DAY_INVALID"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    DAY_IN_FUTURE = "DAY_IN_FUTURE"
    ROUTE_NOT_FOUND = "ROUTE_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    BODY_NOT_JSON = "BODY_NOT_JSON"
    CSRF_TOKEN_INVALID = "CSRF_TOKEN_INVALID"
    DUPLICATE_IN_BATCH = "DUPLICATE_IN_BATCH"


class InstallmentOfferNotFound(NotFound):
    code = Code.INSTALLMENT_OFFER_NOT_FOUND


class RequestTooLarge(InvalidArgument):
    code = Code.REQUEST_TOO_LARGE
    http_status = 413


class AccountNotFound(NotFound):
    code = Code.ACCOUNT_NOT_FOUND


class InstallmentsInvalid(InvalidArgument):
    code = Code.INSTALLMENTS_INVALID


class DayInvalid(InvalidArgument):
    code = Code.DAY_INVALID


class DayInFuture(InvalidArgument):
    code = Code.DAY_IN_FUTURE


class CsrfTokenInvalid(Forbidden):
    code = Code.CSRF_TOKEN_INVALID


class DuplicateInBatch(InvalidArgument):
    """An item of a batch repeats an earlier item's key (``api/merchant_batch.py``)."""

    code = Code.DUPLICATE_IN_BATCH
