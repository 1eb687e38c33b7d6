"""One-time codes: hashed at rest, sent by SMS (sealed until then), expire, count attempts,
used once, replaced by a newer code, limited per hour."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from qianbao.notices import codes, delivery, prefs, service
from qianbao.notices.errors import CodeTooFrequent, PurposeInvalid
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from tests.factories import new_user


def _sent_code(p: Platform, user: str) -> str:
    delivery.deliver_due(p)
    body = service.delivery_log(p, user, "otp", reveal=True)[-1]["body"]
    match = re.search(r"\b(\d{6})\b", body)
    assert match, body
    return match.group(1)


def test_issue_deliver_and_check_once(platform: Platform) -> None:
    clock.set(datetime(2026, 3, 2, 3, 0))  # at night: a code is not held by quiet hours
    user = new_user(platform)
    prefs.set_prefs(platform, user, channel="PUSH")  # a code still goes to the phone
    code_id = codes.issue_code(platform, user, "new_device")
    with platform.db_for(user).read() as tx:
        row = tx.one("SELECT * FROM one_time_codes WHERE id = :id", {"id": code_id})
        notice = tx.one(
            "SELECT sealed, params FROM notices WHERE id = :id", {"id": row["notice_id"]}
        )
    code = _sent_code(platform, user)
    assert row["code_hash"] != code and code not in row["code_hash"]  # hashed at rest
    assert notice["sealed"] and code not in notice["params"] and code not in notice["sealed"]
    (log,) = service.delivery_log(platform, user, "otp")
    assert log["channel"] == "SMS" and "新设备登录" in log["body"]
    assert code not in log["body"] and "******" in log["body"]  # operators see it masked
    (stored,) = service.list_notices(platform, user, "otp")
    assert stored["status"] == "SENT" and stored["body"] is None  # the text is not kept
    with platform.db_for(user).read() as tx:
        assert (
            tx.scalar("SELECT sealed FROM notices WHERE id = :id", {"id": row["notice_id"]}) is None
        )
    assert codes.check_code(platform, user, code_id, code) is True
    assert codes.check_code(platform, user, code_id, code) is False  # used once


def test_wrong_guesses_lock_the_code(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    user = new_user(p)
    code_id = codes.issue_code(p, user, "payment")
    code = _sent_code(p, user)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        assert codes.check_code(p, user, code_id, wrong) is False
    assert codes.check_code(p, user, code_id, "12ab56") is False  # malformed counts too
    assert codes.check_code(p, user, code_id, code) is False  # locked after 5
    with p.db_for(user).read() as tx:
        assert (
            tx.scalar("SELECT status FROM one_time_codes WHERE id = :i", {"i": code_id}) == "LOCKED"
        )


def test_expiry_owner_and_replacement(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(datetime(2026, 3, 2, 10, 0))
    user, other = new_user(p), new_user(p)
    first = codes.issue_code(p, user, "login")
    code = _sent_code(p, user)
    assert codes.check_code(p, other, first, code) is False  # not theirs
    assert codes.check_code(p, user, "nonsense", code) is False
    assert codes.check_code(p, user, first, code) is True
    second = codes.issue_code(p, user, "login")
    code2 = _sent_code(p, user)
    third = codes.issue_code(p, user, "login")  # replaces the second
    code3 = _sent_code(p, user)
    assert codes.check_code(p, user, second, code2) is False
    clock.advance(timedelta(seconds=301))
    assert codes.check_code(p, user, third, code3) is False  # expired
    with p.db_for(user).read() as tx:
        states = {r["id"]: r["status"] for r in tx.all("SELECT id, status FROM one_time_codes")}
    assert states == {first: "USED", second: "REPLACED", third: "EXPIRED"}


def test_rate_limit_and_bad_purpose(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    clock.set(datetime(2026, 3, 2, 10, 0))
    user = new_user(p)
    for _ in range(5):
        codes.issue_code(p, user, "risk_challenge")
    with pytest.raises(CodeTooFrequent):
        codes.issue_code(p, user, "risk_challenge")
    codes.issue_code(p, user, "login")  # another purpose has its own count
    clock.advance(timedelta(hours=1, seconds=1))
    codes.issue_code(p, user, "risk_challenge")
    for bad in ("", "Login", "a" * 41, "x y"):
        with pytest.raises(PurposeInvalid):
            codes.issue_code(p, user, bad)
