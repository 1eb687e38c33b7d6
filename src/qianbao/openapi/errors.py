"""Open platform error codes (stable: clients match on them) and the errors that carry them."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import InvalidArgument, NotFound


class Code(StrEnum):
    APP_KEY_INVALID = "APP_KEY_INVALID"
    APP_NAME_INVALID = "APP_NAME_INVALID"
    APP_NOT_FOUND = "APP_NOT_FOUND"
    MISSING_OUT_TRADE_NO = "MISSING_OUT_TRADE_NO"
    MISSING_SUBJECT = "MISSING_SUBJECT"
    MISSING_BUYER_ID = "MISSING_BUYER_ID"
    MISSING_AUTH_CODE = "MISSING_AUTH_CODE"
    MISSING_TRADE_NO = "MISSING_TRADE_NO"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    INVALID_TIMEOUT = "INVALID_TIMEOUT"
    INVALID_PRODUCT_CODE = "INVALID_PRODUCT_CODE"
    INVALID_NOTIFY_URL = "INVALID_NOTIFY_URL"
    INSTALLMENT_OFFER_INVALID = "INSTALLMENT_OFFER_INVALID"
    INVALID_SCENE = "INVALID_SCENE"
    NOTIFY_NOT_FOUND = "NOTIFY_NOT_FOUND"
    NOTIFY_URL_REFUSED = "NOTIFY_URL_REFUSED"


class SubCode(StrEnum):
    """The gateway envelope's ``sub_code`` values (``POST /gateway.do``): 40001 for a missing
    parameter, 40002 for the others. A business failure is 40004 with ``ACQ.<Code>``."""

    MISSING_APP_ID = "isv.missing-app_id"
    MISSING_METHOD = "isv.missing-method"
    MISSING_CHARSET = "isv.missing-charset"
    MISSING_SIGN_TYPE = "isv.missing-sign_type"
    MISSING_TIMESTAMP = "isv.missing-timestamp"
    MISSING_VERSION = "isv.missing-version"
    MISSING_SIGN = "isv.missing-sign"
    INVALID_PARAMETER = "isv.invalid-parameter"
    INVALID_APP_ID = "isv.invalid-app-id"
    APP_UNAVAILABLE = "isv.app-unavailable"
    INVALID_CHARSET = "isv.invalid-charset"
    INVALID_SIGNATURE_TYPE = "isv.invalid-signature-type"
    INVALID_VERSION = "isv.invalid-version"
    INVALID_SIGNATURE = "isv.invalid-signature"
    SIGNATURE_KEY_MISMATCH = "isv.signature-key-mismatch"
    INVALID_TIMESTAMP = "isv.invalid-timestamp"
    DUPLICATE_REQUEST = "isv.duplicate-request"
    INVALID_METHOD = "isv.invalid-method"
    INVALID_BIZ_CONTENT = "isv.invalid-biz-content"


class AppKeyInvalid(InvalidArgument):
    code = Code.APP_KEY_INVALID


class AppNameInvalid(InvalidArgument):
    code = Code.APP_NAME_INVALID


class AppNotFound(NotFound):
    code = Code.APP_NOT_FOUND


class TradeNoMissing(InvalidArgument):
    code = Code.MISSING_TRADE_NO


class InvalidParameter(InvalidArgument):
    code = Code.INVALID_PARAMETER


class InvalidAmount(InvalidArgument):
    code = Code.INVALID_AMOUNT


class InvalidTimeout(InvalidArgument):
    code = Code.INVALID_TIMEOUT


class InvalidProductCode(InvalidArgument):
    code = Code.INVALID_PRODUCT_CODE


class InvalidNotifyUrl(InvalidArgument):
    code = Code.INVALID_NOTIFY_URL


class InstallmentOfferInvalid(InvalidArgument):
    code = Code.INSTALLMENT_OFFER_INVALID


class InvalidScene(InvalidArgument):
    code = Code.INVALID_SCENE


class NotifyNotFound(NotFound):
    code = Code.NOTIFY_NOT_FOUND


class MissingParameter(InvalidArgument):
    """A required ``biz_content`` field is absent; the code names it (``MISSING_OUT_TRADE_NO``).
    A field without its member in ``Code`` fails here, so every such code is listed."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is required", code=Code("MISSING_" + name.upper()))


class NotifyUrlRefused(InvalidArgument):
    """A webhook whose host does not resolve, or resolves to a private, loopback or link-local
    address (refused outside the sandbox: ``openapi/outbound.py``)."""

    code = Code.NOTIFY_URL_REFUSED
