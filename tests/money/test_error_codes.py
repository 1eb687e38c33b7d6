"""The error codes of payments, credit and the money engine: one ``Code`` enum per package, every
raised code listed there, and not one ``code="..."`` literal left outside the ``errors.py``."""

from __future__ import annotations

import inspect
from enum import StrEnum
from types import ModuleType

import pytest

from qianbao.credit import errors as credit_errors
from qianbao.money_movement import errors as money_errors
from qianbao.payments import errors as payment_errors
from qianbao.platform.errors import QianbaoError
from tests.tidy.core import real_modules
from tests.tidy.literals import check_error_codes

PACKAGES = {"payments": payment_errors, "credit": credit_errors, "money_movement": money_errors}

# The codes clients match on, byte for byte: a rename here is a breaking change.
EXPECTED = {
    "payments": {
        "TRADE_NOT_EXIST",
        "MISSING_TRADE_NO",
        "OUT_TRADE_NO_USED",
        "SUBJECT_INVALID",
        "PRODUCT_INVALID",
        "TIMEOUT_INVALID",
        "NOTIFY_URL_INVALID",
        "COUPON_NOT_APPLICABLE",
        "INSTALLMENTS_INVALID",
        "TRADE_BUYER_NOT_MATCH",
        "TRADE_STATUS_ERROR",
        "TRADE_HAS_CLOSED",
        "TRADE_HAS_FINISHED",
        "TRADE_HAS_SUCCESS",
        "TRADE_IN_DISPUTE",
        "TRADE_NOT_SECURED",
        "DECISION_INVALID",
        "SPLIT_INVALID",
        "REASON_REQUIRED",
        "COMPENSATION_EXCEEDED",
        "ALREADY_COMPENSATED",
        "PAYMENT_NOT_FOUND",
        "ORDER_NOT_FOUND",
        "TRANSFER_TO_SELF",
        "PAYMENT_CODE_INVALID",
        "CODE_FUNDING_INVALID",
        "SETTLEMENT_NOT_FOUND",
        "SETTLEMENT_DAY_CLOSED",
        "DAY_NOT_OVER",
        "CONCURRENT_UPDATE",
    },  # fmt: skip
    "credit": {
        "CREDIT_ERROR",
        "CREDIT_NOT_ELIGIBLE",
        "CREDIT_ACCOUNT_EXISTS",
        "CREDIT_ACCOUNT_NOT_FOUND",
        "CREDIT_ACCOUNT_CLOSED",
        "CREDIT_LINE_EXCEEDED",
        "CREDIT_LINE_INVALID",
        "CREDIT_DUE_DAY_INVALID",
        "CREDIT_FROZEN",
        "CREDIT_OVERDUE",
        "CATEGORY_INVALID",
        "CATEGORY_NOT_THE_MERCHANTS",
        "CREDIT_STATEMENT_NOT_FOUND",
        "CREDIT_PLAN_NOT_FOUND",
        "CREDIT_PURCHASE_NOT_FOUND",
        "CREDIT_INSTALLMENT_TOO_SMALL",
        "INSTALLMENT_PERIODS_INVALID",
        "INSTALLMENT_OFFER_INVALID",
        "INSTALLMENT_OFFER_CONFLICT",
        "CREDIT_REPAYMENT_EXCEEDS_OWED",
        "CREDIT_NOTHING_OWED",
        "CREDIT_CARD_PAYMENT_FAILED",
    },  # fmt: skip
    "money_movement": {
        "AMOUNT_INVALID",
        "AMOUNT_TOO_LARGE",
        "MERCHANT_FROZEN",
        "REFUND_AMOUNT_EXCEEDED",
        "FUNDING_INVALID",
        "CARD_CHARGE_FAILED",
        "CREDIT_INSTALLMENT_NOT_ALLOWED",
        "SINGLE_LIMIT_EXCEEDED",
        "DAILY_LIMIT_EXCEEDED",
    },  # fmt: skip
}


def _error_classes(module: ModuleType) -> list[type[QianbaoError]]:
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, QianbaoError) and obj.__module__ == module.__name__
    ]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_the_code_enum_lists_the_codes_clients_know(package: str) -> None:
    code = PACKAGES[package].Code
    assert issubclass(code, StrEnum)
    assert {str(member) for member in code} == EXPECTED[package]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_error_class_raises_a_listed_code(package: str) -> None:
    listed = {member for errors in PACKAGES.values() for member in errors.Code}
    for cls in _error_classes(PACKAGES[package]):
        assert cls.code in listed, f"{cls.__name__}.code {cls.code!r} is in no Code enum"
        assert isinstance(cls.code, StrEnum), f"{cls.__name__}.code is a bare string"


def test_no_code_literal_is_left_in_these_packages() -> None:
    left = [f.detail for f in check_error_codes(real_modules()) if f.key.split("/")[0] in PACKAGES]
    assert not left, "\n".join(left)


def test_http_statuses_follow_the_base_classes() -> None:
    assert payment_errors.TradeNotExist().http_status == 404
    assert payment_errors.PaymentCodeInvalid().http_status == 400
    assert payment_errors.PaymentCodeUnknown().http_status == 404
    assert payment_errors.TradeHasClosed().http_status == 409
    assert payment_errors.TradeBuyerNotMatch().http_status == 403
    assert credit_errors.CreditOverdue().http_status == 403
    assert credit_errors.InstallmentTooSmall().http_status == 409
    assert credit_errors.NothingOwed().http_status == 400
    assert money_errors.SingleLimitExceeded().http_status == 400
