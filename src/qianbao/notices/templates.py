"""What can be sent: each kind's policy, its parameters and its text in Chinese and English.

Pure: no I/O. A parameter named ``*_fen`` is an integer amount of fen and is shown in yuan
("12.34") under the name without the suffix; every other parameter is a short string. A kind's
``secret`` parameters (a one-time code) are sealed at rest and never written into the stored body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qianbao.notices.errors import KindUnknown, ParamsInvalid
from qianbao.platform.money import fen_to_yuan

LANGUAGES = ("zh", "en")
CHANNELS = ("SMS", "PUSH", "EMAIL")
# How quiet hours apply: SECURITY is sent at once (a code, a login, a large payment: the user
# needs it now); ACCOUNT waits for the end of the user's quiet hours; COLLECTION (Huabei due
# and overdue reminders) is sent only 08:00-21:00 local time and at most one a user a day.
SECURITY, ACCOUNT, COLLECTION = "SECURITY", "ACCOUNT", "COLLECTION"
PARAM_MAX_CHARS = 200
MAX_FEN = 10**15


@dataclass(frozen=True)
class Kind:
    name: str
    category: str
    params: tuple[str, ...]
    zh: str
    en: str
    secret: tuple[str, ...] = ()
    sms_only: bool = False  # a one-time code goes to the phone whatever the preference


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "otp",
            SECURITY,
            ("code", "purpose", "minutes"),
            "【钱宝】验证码 {code}，用于{purpose}，{minutes} 分钟内有效。请勿告诉任何人。",
            "[Qianbao] Your code is {code} for {purpose}, valid for {minutes} minutes."
            " Never share it.",
            secret=("code",),
            sms_only=True,
        ),
        Kind(
            "new_device_login",
            SECURITY,
            ("device", "time"),
            "【钱宝】您的账户于 {time} 在新设备 {device} 登录。如非本人操作，请立即修改密码。",
            "[Qianbao] Your account signed in on a new device, {device}, at {time}."
            " If this was not you, change your password now.",
        ),
        Kind(
            "large_payment",
            SECURITY,
            ("amount_fen", "payee", "time"),
            "【钱宝】您于 {time} 向 {payee} 支付 {amount} 元。如非本人操作，请立即联系客服。",
            "[Qianbao] You paid CNY {amount} to {payee} at {time}."
            " If this was not you, contact us now.",
        ),
        Kind(
            "huabei_bill_issued",
            ACCOUNT,
            ("month", "amount_fen", "minimum_fen", "due_date"),
            "【钱宝】您 {month} 的花呗账单 {amount} 元已出，最低还款 {minimum} 元，"
            "请于 {due_date} 前还款。",
            "[Qianbao] Your Huabei bill for {month} is CNY {amount} (minimum CNY {minimum}),"
            " due on {due_date}.",
        ),
        Kind(
            "huabei_due_reminder",
            COLLECTION,
            ("amount_fen", "due_date"),
            "【钱宝】您的花呗账单还有 {amount} 元待还，到期日 {due_date}，请按时还款。",
            "[Qianbao] CNY {amount} of your Huabei bill is due on {due_date}. Please repay"
            " on time.",
        ),
        Kind(
            "huabei_overdue_reminder",
            COLLECTION,
            ("amount_fen", "days_past_due"),
            "【钱宝】您的花呗已逾期 {days_past_due} 天，应还 {amount} 元，请尽快还款，"
            "以免影响信用。",
            "[Qianbao] Your Huabei account is {days_past_due} days past due: CNY {amount}."
            " Please repay soon to protect your credit.",
        ),
        Kind(
            "red_packet_received",
            ACCOUNT,
            ("sender", "amount_fen", "message"),
            "【钱宝】{sender} 给您发了一个红包：{amount} 元，“{message}”",
            '[Qianbao] {sender} sent you a red packet: CNY {amount}, "{message}"',
        ),
        Kind(
            "red_packet_refunded",
            ACCOUNT,
            ("amount_fen", "message"),
            "【钱宝】您的红包“{message}”24 小时内未领完，{amount} 元已退回余额。",
            '[Qianbao] Your red packet "{message}" was not all claimed in 24 hours;'
            " CNY {amount} is back in your balance.",
        ),
        Kind(
            "yuebao_income",
            ACCOUNT,
            ("day", "income_fen"),
            "【钱宝】余额宝 {day} 收益 {income} 元已到账。",
            "[Qianbao] Yu'e Bao income for {day}: CNY {income}.",
        ),
    )
}
_PLAIN = re.compile(r"^[^\x00-\x1f{}]*$")  # no control characters, no format braces


def kind_of(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise KindUnknown(f"unknown notice kind {name!r}; known: {', '.join(sorted(KINDS))}")
    return kind


def check_params(kind: Kind, params: Mapping[str, Any]) -> dict[str, Any]:
    """Exactly the kind's parameters, each of the right type; a clean copy."""
    if not isinstance(params, Mapping) or set(params) != set(kind.params):
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ParamsInvalid(f"{kind.name} takes exactly {sorted(kind.params)}, got {got}")
    clean: dict[str, Any] = {}
    for name in kind.params:
        value = params[name]
        if name.endswith("_fen"):
            if type(value) is not int or not 0 <= value < MAX_FEN:
                raise ParamsInvalid(f"{name} must be a whole number of fen, got {value!r}")
        elif isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        elif not isinstance(value, str) or len(value) > PARAM_MAX_CHARS or not _PLAIN.match(value):
            raise ParamsInvalid(f"{name} must be plain text of at most {PARAM_MAX_CHARS} chars")
        clean[name] = value
    return clean


def split_secret(kind: Kind, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what may be stored in clear, what must be sealed)."""
    public = {k: v for k, v in params.items() if k not in kind.secret}
    secret = {k: v for k, v in params.items() if k in kind.secret}
    return public, secret


def render(kind: Kind, language: str, params: Mapping[str, Any]) -> str:
    """The text in ``language`` (Chinese for an unknown one); amounts shown in yuan."""
    shown = {}
    for name, value in params.items():
        if name.endswith("_fen"):
            shown[name.removesuffix("_fen")] = fen_to_yuan(int(value))
        else:
            shown[name] = value
    text = kind.en if language == "en" else kind.zh
    return text.format_map(shown)
