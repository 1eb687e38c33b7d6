"""A merchant's web sign-in: an activation code at approval, a password the merchant sets.

Approval (``applications.approve``) issues a one-time activation code, shown once to the
approving operator, who hands it to the applicant's contact (the platform sends no mail here);
only its SHA-256 is stored and it expires after ``ACTIVATION_TTL_MS``. With it the merchant sets
a password (the users' strength rule, argon2) and receives a fresh API key, shown once; the key
given at creation is revoked, so nobody but the merchant ever saw a live key. Sign-in is
throttled like users' logins (``members/throttle.py``) and answers the merchant centre's session
cookie (``credentials.web_session_of_owner``: HttpOnly, SameSite=Strict, 12 hours)."""

from __future__ import annotations

import hashlib
import secrets

from qianbao.members import credentials, throttle
from qianbao.members import service as members
from qianbao.onboarding import store
from qianbao.onboarding.errors import ActivationCodeInvalid, EmailTaken, MerchantSignInFailed
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine

PENDING, ACTIVE = "PENDING", "ACTIVE"
LOGIN = StateMachine(
    "merchant login", "merchant_logins", {PENDING: {ACTIVE}}, key="merchant_id", initial={PENDING}
)
ACTIVATION_TTL_MS = 72 * 3_600_000
CODE_MAX_CHARS = 64


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_email_free(tx: Tx, email: str) -> None:
    if store.login_by_email(tx, email) is not None:
        raise EmailTaken("a merchant already signs in with this email")


def issue_activation(tx: Tx, merchant_id: str, email: str) -> str:
    """The merchant's login, PENDING, in the caller's transaction; returns the code (once)."""
    check_email_free(tx, email)
    code = secrets.token_urlsafe(18)
    now_ms = clock.now_ms()
    store.insert_login(
        tx,
        {
            "merchant_id": merchant_id,
            "email": email,
            "activation_hash": _digest(code),
            "expires_ms": now_ms + ACTIVATION_TTL_MS,
            "status": LOGIN.born(),
            "now": now_ms,
        },
    )
    return code


def pending_login(p: Platform, code: str) -> Row:
    """The PENDING login of a live activation code, or ``ACTIVATION_CODE_INVALID``."""
    code = code.strip()
    row = None
    if 0 < len(code) <= CODE_MAX_CHARS:
        with p.global_db.read() as tx:
            row = store.login_by_activation(tx, _digest(code))
    if row is None or row["status"] != PENDING or row["activation_expires_at_ms"] <= clock.now_ms():
        raise ActivationCodeInvalid("the activation code is unknown, used or expired")
    return row


def activate(p: Platform, code: str, password: str) -> str:
    """Set the password with the code (once); returns the merchant's new API key (shown once)."""
    row = pending_login(p, code)
    password_hash = members.hash_login_password(p, password)
    with p.global_db.transaction() as tx:
        LOGIN.move(
            tx, row["merchant_id"], PENDING, ACTIVE, password_hash=password_hash, activation_hash=""
        )
    merchant_id = str(row["merchant_id"])
    return str(credentials.rotate(p, "merchant", merchant_id, overlap_minutes=0)["api_key"])


def _throttle_keys(p: Platform, email: str, ip: str) -> list[throttle.Key]:
    return throttle.keys(p.settings, "m" + _digest(email)[:24], ip, known_device=False)


def sign_in(p: Platform, email: str, password: str, ip: str = "") -> str:
    """The merchant centre's session cookie for an ACTIVE login's right password."""
    email = email.strip().lower()[:120]
    with p.global_db.read() as tx:
        row = store.login_by_email(tx, email)
    keys, now_ms = _throttle_keys(p, email, ip), clock.now_ms()
    throttle.check(p, keys, now_ms)
    active = row is not None and row["status"] == ACTIVE
    stored = str(row["password_hash"]) if active and row is not None else None
    if not members.password_matches(p, stored, password[:200]) or row is None:
        throttle.failed(p, keys, now_ms)
        raise MerchantSignInFailed("wrong email or password, or the account is not activated")
    throttle.succeeded(p, keys)
    return credentials.web_session_of_owner(p, "merchant", str(row["merchant_id"]))
