"""The application form's field checks: pure functions, each raising its own 4xx code.

The licence number is the unified social credit code (统一社会信用代码, GB 32100-2015) printed
on every Chinese business licence: 18 characters from a 31-character alphabet (no I, O, S, V,
Z), the last one a check character computed from the other 17."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qianbao.members.identity import luhn_ok
from qianbao.members.merchant_category import MERCHANT_CATEGORIES
from qianbao.onboarding.errors import (
    AccountHolderInvalid,
    BankAccountInvalid,
    BusinessNameInvalid,
    CategoryInvalid,
    ContactEmailInvalid,
    ContactNameInvalid,
    ContactPhoneInvalid,
    LicenceInvalid,
)

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$")
EMAIL_MAX_CHARS = 120


@dataclass(frozen=True)
class ApplicationForm:
    """What a merchant fills in, as typed (checked by ``checked``)."""

    business_name: str
    licence_no: str
    contact_name: str
    contact_phone: str
    contact_email: str
    bank_account_no: str
    account_holder: str
    category: str = "everyday"


def credit_code_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code whose first 17 are ``first17``."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(c) * w
        for c, w in zip(first17, _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def check_licence(text: str) -> str:
    code = text.strip().upper()
    if len(code) != 18 or any(c not in CREDIT_CODE_ALPHABET for c in code):
        raise LicenceInvalid(
            "licence number must be the 18-character unified social credit code"
            " (digits and capital letters, no I, O, S, V or Z)"
        )
    if credit_code_check_char(code[:17]) != code[17]:
        raise LicenceInvalid("licence number: the check character does not match")
    return code


def _text(value: str, low: int, high: int, error: type[Exception], what: str) -> str:
    value = " ".join(value.split())
    if not low <= len(value) <= high or not value.isprintable():
        raise error(f"{what} must be {low}–{high} printable characters")
    return value


def check_phone(text: str) -> str:
    phone = text.strip()
    if not _PHONE.match(phone):
        raise ContactPhoneInvalid("contact phone must be a mainland mobile number (1[3-9] + 9)")
    return phone


def check_email(text: str) -> str:
    email = text.strip().lower()
    if len(email) > EMAIL_MAX_CHARS or not _EMAIL.match(email):
        raise ContactEmailInvalid("contact email is not a valid address")
    return email


def check_bank_account(text: str) -> str:
    number = text.replace(" ", "")
    if not luhn_ok(number):
        raise BankAccountInvalid("settlement account must be 12–19 digits passing the Luhn check")
    return number


def check_category(text: str) -> str:
    category = text.strip().lower()
    if category not in MERCHANT_CATEGORIES:
        raise CategoryInvalid(f"category must be one of {', '.join(MERCHANT_CATEGORIES)}")
    return category


def checked(form: ApplicationForm) -> ApplicationForm:
    """The form with every field normalised, or the first field's error."""
    return ApplicationForm(
        business_name=_text(form.business_name, 2, 80, BusinessNameInvalid, "business name"),
        licence_no=check_licence(form.licence_no),
        contact_name=_text(form.contact_name, 2, 60, ContactNameInvalid, "contact name"),
        contact_phone=check_phone(form.contact_phone),
        contact_email=check_email(form.contact_email),
        bank_account_no=check_bank_account(form.bank_account_no),
        account_holder=_text(form.account_holder, 2, 80, AccountHolderInvalid, "account holder"),
        category=check_category(form.category),
    )
