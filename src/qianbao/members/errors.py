"""Members' error codes (stable: clients match on them) and the errors that carry them."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import (
    Conflict,
    Forbidden,
    InvalidArgument,
    NotFound,
    QianbaoError,
    Unauthorized,
)


class Code(StrEnum):
    MERCHANT_CATEGORY_INVALID = "MERCHANT_CATEGORY_INVALID"
    PASSWORD_TOO_WEAK = "PASSWORD_TOO_WEAK"
    PAY_PASSWORD_INVALID = "PAY_PASSWORD_INVALID"
    NAME_INVALID = "NAME_INVALID"
    ID_NUMBER_INVALID = "ID_NUMBER_INVALID"
    PHONE_INVALID = "PHONE_INVALID"
    USER_UNDERAGE = "USER_UNDERAGE"
    USER_EXISTS = "USER_EXISTS"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    USER_FROZEN = "USER_FROZEN"
    LOGIN_PASSWORD_LOCKED = "LOGIN_PASSWORD_LOCKED"
    PAY_PASSWORD_LOCKED = "PAY_PASSWORD_LOCKED"
    WRONG_LOGIN_PASSWORD = "WRONG_LOGIN_PASSWORD"
    WRONG_PAY_PASSWORD = "WRONG_PAY_PASSWORD"
    PAY_PASSWORD_REQUIRED = "PAY_PASSWORD_REQUIRED"
    TOKEN_INVALID = "TOKEN_INVALID"
    CARD_INVALID = "CARD_INVALID"
    CHANNEL_UNKNOWN = "CHANNEL_UNKNOWN"
    CARD_NOT_FOUND = "CARD_NOT_FOUND"
    FEE_RATE_INVALID = "FEE_RATE_INVALID"
    MERCHANT_EXISTS = "MERCHANT_EXISTS"
    MERCHANT_NOT_FOUND = "MERCHANT_NOT_FOUND"
    SETTLE_CYCLE_INVALID = "SETTLE_CYCLE_INVALID"
    OPERATOR_EXISTS = "OPERATOR_EXISTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    API_KEY_INVALID = "API_KEY_INVALID"
    # sessions, keys and the login throttle (issue 11)
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    LOGIN_THROTTLED = "LOGIN_THROTTLED"
    API_KEY_NOT_FOUND = "API_KEY_NOT_FOUND"
    API_KEY_LAST = "API_KEY_LAST"
    API_KEY_LIMIT = "API_KEY_LIMIT"
    KEY_OVERLAP_INVALID = "KEY_OVERLAP_INVALID"
    OPERATOR_NOT_FOUND = "OPERATOR_NOT_FOUND"
    STEP_UP_REQUIRED = "STEP_UP_REQUIRED"
    STEP_UP_CODE_WRONG = "STEP_UP_CODE_WRONG"


class PasswordTooWeak(InvalidArgument):
    code = Code.PASSWORD_TOO_WEAK


class PayPasswordInvalid(InvalidArgument):
    code = Code.PAY_PASSWORD_INVALID


class NameInvalid(InvalidArgument):
    code = Code.NAME_INVALID


class IdNumberInvalid(InvalidArgument):
    code = Code.ID_NUMBER_INVALID


class PhoneInvalid(InvalidArgument):
    code = Code.PHONE_INVALID


class UserUnderage(Forbidden):
    code = Code.USER_UNDERAGE


class UserExists(Conflict):
    code = Code.USER_EXISTS


class UserNotFound(NotFound):
    code = Code.USER_NOT_FOUND


class UserFrozen(Forbidden):
    code = Code.USER_FROZEN


class LoginPasswordLocked(Forbidden):
    code = Code.LOGIN_PASSWORD_LOCKED


class PayPasswordLocked(Forbidden):
    code = Code.PAY_PASSWORD_LOCKED


class WrongLoginPassword(Unauthorized):
    code = Code.WRONG_LOGIN_PASSWORD


class WrongPayPassword(Unauthorized):
    code = Code.WRONG_PAY_PASSWORD


class PayPasswordRequired(Unauthorized):
    code = Code.PAY_PASSWORD_REQUIRED


class TokenInvalid(Unauthorized):
    code = Code.TOKEN_INVALID


class CardInvalid(InvalidArgument):
    code = Code.CARD_INVALID


class ChannelUnknown(InvalidArgument):
    code = Code.CHANNEL_UNKNOWN


class CardNotFound(NotFound):
    code = Code.CARD_NOT_FOUND


class FeeRateInvalid(InvalidArgument):
    code = Code.FEE_RATE_INVALID


class MerchantExists(Conflict):
    code = Code.MERCHANT_EXISTS


class MerchantNotFound(NotFound):
    code = Code.MERCHANT_NOT_FOUND


class SettleCycleInvalid(InvalidArgument):
    code = Code.SETTLE_CYCLE_INVALID


class OperatorExists(Conflict):
    code = Code.OPERATOR_EXISTS


class PermissionDenied(Forbidden):
    code = Code.PERMISSION_DENIED


class ApiKeyInvalid(Unauthorized):
    code = Code.API_KEY_INVALID


class MerchantCategoryInvalid(InvalidArgument):
    code = Code.MERCHANT_CATEGORY_INVALID


# --- sessions, keys and the login throttle ----------------------------------------------------
class SessionNotFound(NotFound):
    code = Code.SESSION_NOT_FOUND


class LoginThrottled(QianbaoError):
    """Too many failed logins from this address or for this phone: wait ``retry_after_s``
    (growing with each failure); the account itself is never locked."""

    code = Code.LOGIN_THROTTLED
    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


class ApiKeyNotFound(NotFound):
    code = Code.API_KEY_NOT_FOUND


class ApiKeyLast(Conflict):
    code = Code.API_KEY_LAST


class ApiKeyLimit(Conflict):
    code = Code.API_KEY_LIMIT


class KeyOverlapInvalid(InvalidArgument):
    code = Code.KEY_OVERLAP_INVALID


class OperatorNotFound(NotFound):
    code = Code.OPERATOR_NOT_FOUND


class StepUpRequired(Forbidden):
    """A one-time code was sent by SMS: answer ``challenge_id`` (in the error body) with it."""

    code = Code.STEP_UP_REQUIRED

    def __init__(self, message: str, challenge_id: str) -> None:
        super().__init__(message)
        self.challenge_id = challenge_id
        self.details = {"challenge_id": challenge_id}


class StepUpCodeWrong(Unauthorized):
    code = Code.STEP_UP_CODE_WRONG
