"""Real-name checks: mainland resident ID numbers (GB 11643) and mobile numbers."""

from __future__ import annotations

import re
from datetime import date

from qianbao.members.errors import IdNumberInvalid, PhoneInvalid

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PROVINCES = {
    11,
    12,
    13,
    14,
    15,
    21,
    22,
    23,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    41,
    42,
    43,
    44,
    45,
    46,
    50,
    51,
    52,
    53,
    54,
    61,
    62,
    63,
    64,
    65,
    71,
    81,
    82,
}
_PHONE = re.compile(r"^1[3-9]\d{9}$")
ADULT_AGE_YEARS = 18


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_id_number(id_number: str, today: date) -> date:
    """Validate an 18-character resident ID; returns the birth date. Raises InvalidArgument."""
    value = id_number.strip().upper()
    if (
        len(value) != 18
        or not value[:17].isdigit()
        or not (value[17].isdigit() or value[17] == "X")
    ):
        raise IdNumberInvalid("ID number must be 17 digits and a check digit or X")
    if int(value[:2]) not in _PROVINCES:
        raise IdNumberInvalid("ID number has an unknown province code")
    if check_digit(value[:17]) != value[17]:
        raise IdNumberInvalid("ID number check digit is wrong")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise IdNumberInvalid("ID number has an impossible birth date") from exc
    if birth > today:
        raise IdNumberInvalid("ID number has a birth date in the future")
    return birth


def age_years(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def make_id_number(region6: str, birth: date, seq3: int) -> str:
    """Build a valid ID number (demo data and tests)."""
    first17 = f"{region6}{birth:%Y%m%d}{seq3:03d}"
    return first17 + check_digit(first17)


def check_phone(phone: str) -> str:
    if not _PHONE.match(phone):
        raise PhoneInvalid("phone must be a mainland mobile number (11 digits, 1[3-9]…)")
    return phone


def mask_id_number(id_number: str) -> str:
    return id_number[:4] + "*" * 10 + id_number[-4:]


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def make_card_no(prefix15: str) -> str:
    """Complete 18 digits with a Luhn check digit (demo data and tests)."""
    body = prefix15.ljust(18, "0")[:18]
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")
