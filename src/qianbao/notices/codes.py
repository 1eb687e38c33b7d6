"""One-time codes (验证码) for risk control and security: ``issue_code`` sends a six-digit code
by SMS and returns its id; ``check_code`` answers whether a guess is right.

At rest a code is only its HMAC-SHA256 under the platform's secret (keyed by the code id, so
equal codes hash differently); the SMS text carries it sealed until delivered. A code expires
(``code_ttl_s``), allows ``code_max_attempts`` guesses, is used once, and a newer code for the
same purpose replaces the older; a user may ask for ``codes_per_hour`` codes a purpose an hour.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from qianbao.notices import service, store
from qianbao.notices.errors import CodeTooFrequent, PurposeInvalid
from qianbao.platform.clock import clock
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

CODE_DIGITS = 6
HOUR_MS = 3_600_000
_PURPOSE = re.compile(r"^[a-z][a-z0-9_.]{0,39}$")
_GUESS = re.compile(r"^\d{6}$")
CODE = StateMachine(
    "one-time code",
    "one_time_codes",
    {"ACTIVE": {"USED", "LOCKED", "EXPIRED", "REPLACED"}},
    initial={"ACTIVE"},
)
# How the purpose reads inside the SMS (an unknown purpose is shown as its name).
PURPOSE_TEXT = {
    "login": "登录",
    "new_device": "新设备登录",
    "payment": "支付确认",
    "risk_challenge": "交易验证",
    "reset_password": "重置密码",
}


@dataclass(frozen=True)
class IssueCode:
    user_id: str
    purpose: str


@dataclass(frozen=True)
class CheckCode:
    user_id: str
    code_id: str
    guess: str


def code_hash(secret_key: str, code_id: str, code: str) -> str:
    key = hashlib.sha256(b"qianbao/otp/v1:" + secret_key.encode()).digest()
    return hmac.new(key, f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(p: Platform, user_id: str, purpose: str) -> str:
    """A new code for ``purpose`` sent to the user's phone; returns the code id."""
    if not isinstance(purpose, str) or not _PURPOSE.match(purpose):
        raise PurposeInvalid("purpose: a lower-case name of at most 40 letters, digits, _ or .")
    bucket_of(user_id)
    result: str = p.commands.submit(p.unit_of(user_id), IssueCode(user_id, purpose))
    return result


def handle_issue_code(ctx: WriteContext, command: IssueCode) -> str:
    cfg = service.wiring(ctx.platform).config
    now_ms = clock.now_ms()
    user_id, purpose = command.user_id, command.purpose
    if store.codes_since(ctx.tx, user_id, purpose, now_ms - HOUR_MS) >= cfg.codes_per_hour:
        raise CodeTooFrequent(f"at most {cfg.codes_per_hour} codes an hour for {purpose}")
    CODE.move_all(ctx.tx, {"user_id": user_id, "purpose": purpose}, "ACTIVE", "REPLACED")
    code_id = new_id(bucket_of(user_id))
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    params = {
        "code": code,
        "purpose": PURPOSE_TEXT.get(purpose, purpose),
        "minutes": str(max(1, cfg.code_ttl_s // 60)),
    }
    notice_id = service.send(ctx, user_id, "otp", params, dedupe_key=f"otp:{code_id}")
    store.insert_code(
        ctx.tx,
        {
            "id": code_id,
            "user_id": user_id,
            "purpose": purpose,
            "code_hash": code_hash(ctx.platform.settings.secret_key, code_id, code),
            "max_attempts": cfg.code_max_attempts,
            "expires_at_ms": now_ms + cfg.code_ttl_s * 1000,
            "notice_id": notice_id,
            "now": now_ms,
        },
    )
    return code_id


def check_code(p: Platform, user_id: str, code_id: str, code: str) -> bool:
    """Is ``code`` the code ``code_id`` sent to ``user_id``, still valid? A right answer uses
    the code up; each wrong one counts, and the last allowed wrong one locks it. An unknown
    code, another user's code or a malformed guess is simply False (it reveals nothing)."""
    if not isinstance(code_id, str) or not isinstance(code, str):
        return False
    try:
        unit = p.unit_of(code_id)
        bucket_of(user_id)
    except ValueError:
        return False
    if unit != p.unit_of(user_id):
        return False
    result: bool = p.commands.submit(unit, CheckCode(user_id, code_id, code))
    return result


def handle_check_code(ctx: WriteContext, command: CheckCode) -> bool:
    row = store.load_code(ctx.tx, command.code_id)
    if row is None or row["user_id"] != command.user_id or row["status"] != "ACTIVE":
        return False
    now_ms = clock.now_ms()
    if now_ms >= row["expires_at_ms"]:
        CODE.move(ctx.tx, row["id"], "ACTIVE", "EXPIRED")
        return False
    if not store.count_attempt(ctx.tx, row["id"], now_ms):
        return False
    expected = row["code_hash"]
    guess = command.guess if _GUESS.match(command.guess) else ""
    secret_key = ctx.platform.settings.secret_key
    if guess and hmac.compare_digest(expected, code_hash(secret_key, row["id"], guess)):
        CODE.move(ctx.tx, row["id"], "ACTIVE", "USED")
        return True
    if int(row["attempts"]) + 1 >= int(row["max_attempts"]):
        CODE.move(ctx.tx, row["id"], "ACTIVE", "LOCKED")
    return False
