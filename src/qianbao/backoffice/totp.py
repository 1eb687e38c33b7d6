"""Time-based one-time passwords (RFC 6238, ``pyotp``) for operators.

Operators call the API with keys, there is no operator console session to log in to; the
second factor is therefore asked where it matters: an operator who has enrolled must send a
current code (header ``X-Operator-OTP``) to approve or reject a maker-checker request, and with
``operator_otp_required`` (production) an operator who has not enrolled cannot approve at all
(ADR 0813). The secret is sealed at rest (``platform/crypto.py``); a code is accepted once (the
time step is stored, a replay of the same code or an older one is refused)."""

from __future__ import annotations

import time

import pyotp

from qianbao.backoffice import store
from qianbao.backoffice.errors import OtpAlreadyEnrolled, OtpInvalid, OtpRequired
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform

ISSUER = "Qianbao operations"
STEP_S = 30
WINDOW_STEPS = 1  # a code of the step before or after is accepted (clock skew)


def _context(operator_id: str) -> str:
    return f"operator_totp:{operator_id}"


def enrol(p: Platform, operator_id: str, name: str) -> str:
    """A new secret for the operator; returns the provisioning URI (for an authenticator app).
    Shown once: the secret is stored sealed and never shown again."""
    secret = pyotp.random_base32()
    sealed = p.vault.encrypt(secret, _context(operator_id))
    with p.global_db.transaction() as tx:
        if not store.insert_totp(tx, operator_id, sealed, clock.now_ms()):
            raise OtpAlreadyEnrolled("this operator already has a one-time-password secret")
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)


def enrolled(p: Platform, operator_id: str) -> bool:
    with p.global_db.read() as tx:
        return store.totp(tx, operator_id) is not None


def verify(p: Platform, operator_id: str, code: str | None, required: bool) -> None:
    """Nothing to check for an operator who has not enrolled unless ``required``; else the code
    must be current and not used before. Wall-clock time: codes come from a phone."""
    with p.global_db.read() as tx:
        row = store.totp(tx, operator_id)
    if row is None:
        if required:
            raise OtpRequired("enrol a one-time password first (qianbao operators otp-enrol)")
        return
    if not code:
        raise OtpRequired("send the current one-time password in X-Operator-OTP")
    secret = p.vault.decrypt(str(row["secret"]), _context(operator_id))
    totp = pyotp.TOTP(secret, interval=STEP_S)
    now_s = int(time.time())
    for offset in range(-WINDOW_STEPS, WINDOW_STEPS + 1):
        at_s = now_s + offset * STEP_S
        if totp.verify(code, for_time=at_s, valid_window=0):
            step = at_s // STEP_S
            with p.global_db.transaction() as tx:
                if store.use_totp_step(tx, operator_id, step):
                    return
            raise OtpInvalid("this one-time password was used already")
    raise OtpInvalid("wrong or expired one-time password")
