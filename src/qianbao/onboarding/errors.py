"""Onboarding error codes (stable: clients match on them) and the errors that carry them."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Conflict, InvalidArgument, NotFound, Unauthorized


class Code(StrEnum):
    BUSINESS_NAME_INVALID = "BUSINESS_NAME_INVALID"
    LICENCE_INVALID = "LICENCE_INVALID"
    CONTACT_NAME_INVALID = "CONTACT_NAME_INVALID"
    CONTACT_PHONE_INVALID = "CONTACT_PHONE_INVALID"
    CONTACT_EMAIL_INVALID = "CONTACT_EMAIL_INVALID"
    BANK_ACCOUNT_INVALID = "BANK_ACCOUNT_INVALID"
    ACCOUNT_HOLDER_INVALID = "ACCOUNT_HOLDER_INVALID"
    CATEGORY_INVALID = "CATEGORY_INVALID"
    REJECT_REASON_INVALID = "REJECT_REASON_INVALID"
    APPLICATION_EXISTS = "APPLICATION_EXISTS"
    APPLICATION_NOT_FOUND = "APPLICATION_NOT_FOUND"
    APPLICATION_DECIDED = "APPLICATION_DECIDED"
    ACTIVATION_CODE_INVALID = "ACTIVATION_CODE_INVALID"
    MERCHANT_SIGN_IN_FAILED = "MERCHANT_SIGN_IN_FAILED"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    EMAIL_TAKEN = "EMAIL_TAKEN"


class BusinessNameInvalid(InvalidArgument):
    code = Code.BUSINESS_NAME_INVALID


class LicenceInvalid(InvalidArgument):
    code = Code.LICENCE_INVALID


class ContactNameInvalid(InvalidArgument):
    code = Code.CONTACT_NAME_INVALID


class ContactPhoneInvalid(InvalidArgument):
    code = Code.CONTACT_PHONE_INVALID


class ContactEmailInvalid(InvalidArgument):
    code = Code.CONTACT_EMAIL_INVALID


class BankAccountInvalid(InvalidArgument):
    code = Code.BANK_ACCOUNT_INVALID


class AccountHolderInvalid(InvalidArgument):
    code = Code.ACCOUNT_HOLDER_INVALID


class CategoryInvalid(InvalidArgument):
    code = Code.CATEGORY_INVALID


class RejectReasonInvalid(InvalidArgument):
    code = Code.REJECT_REASON_INVALID


class ApplicationExists(Conflict):
    code = Code.APPLICATION_EXISTS


class ApplicationNotFound(NotFound):
    code = Code.APPLICATION_NOT_FOUND


class ApplicationDecided(Conflict):
    code = Code.APPLICATION_DECIDED


class ActivationCodeInvalid(Unauthorized):
    code = Code.ACTIVATION_CODE_INVALID


class MerchantSignInFailed(Unauthorized):
    code = Code.MERCHANT_SIGN_IN_FAILED


class BatchTooLarge(InvalidArgument):
    code = Code.BATCH_TOO_LARGE


class EmailTaken(Conflict):
    code = Code.EMAIL_TAKEN
