"""Step-up one-time codes: a login from a new device, binding a card, a large payment.

A password proves knowledge; these actions also need the phone. When one is asked without a
fresh proof, a six-digit code goes out by SMS (the notification channel: ``notices.codes``,
reached through the ``OneTimeCodes`` port wired in bootstrap, since members sits below
notices) and the call is refused with 403 ``STEP_UP_REQUIRED`` and a ``challenge_id``. The
client answers it:

- a login repeats itself with ``challenge_id`` and ``code`` (the password is checked first, so a
  stranger cannot make the platform send codes);
- binding a card and paying: ``POST /api/v1/me/step-up`` with ``challenge_id`` and ``code``
  grants that purpose once within ``step_up_grant_minutes``; the repeated call uses the grant.

A challenge is bound to its user and purpose (a code sent for a card does not pay), is used at
most once, and the notices package enforces the code's expiry, its guesses and how many are
sent an hour. On in production (``step_up_codes``), off in the sandbox unless switched on.
"""

from __future__ import annotations

from typing import Protocol

from qianbao.members import store
from qianbao.members.errors import StepUpCodeWrong, StepUpRequired
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform

NEW_DEVICE, BIND_CARD, PAYMENT = "new_device", "bind_card", "payment"
PURPOSES = (NEW_DEVICE, BIND_CARD, PAYMENT)


class OneTimeCodes(Protocol):
    """What members needs of the notification channel (``notices.codes`` implements it)."""

    def issue(self, p: Platform, user_id: str, purpose: str) -> str: ...

    def check(self, p: Platform, user_id: str, code_id: str, code: str) -> bool: ...


def _codes(p: Platform) -> OneTimeCodes:
    codes: OneTimeCodes | None = p.step_up
    assert codes is not None, "step-up codes are not wired (bootstrap.wire_step_up)"
    return codes


def challenge(p: Platform, user_id: str, purpose: str) -> StepUpRequired:
    """Send a code for ``purpose``; the error to raise carries its challenge id."""
    code_id = _codes(p).issue(p, user_id, purpose)
    with p.global_db.transaction() as tx:
        store.insert_challenge(tx, code_id, user_id, purpose, clock.now_ms())
    return StepUpRequired(f"a code was sent to your phone: answer challenge {code_id}", code_id)


def _answer(p: Platform, user_id: str, purpose: str, challenge_id: str, code: str) -> str:
    """The challenge's id if ``code`` answers an open challenge of this user and purpose."""
    with p.global_db.read() as tx:
        row = store.open_challenge(tx, challenge_id, user_id)
    if row is None or (purpose and row["purpose"] != purpose):
        raise StepUpCodeWrong("no open challenge with this id for this action")
    if not _codes(p).check(p, user_id, challenge_id, code):
        raise StepUpCodeWrong("wrong or expired code")
    return str(row["purpose"])


def answer_inline(p: Platform, user_id: str, purpose: str, challenge_id: str, code: str) -> None:
    """A call that carries its own answer (a login): right, the challenge is used up."""
    _answer(p, user_id, purpose, challenge_id, code)
    with p.global_db.transaction() as tx:
        store.use_challenge(tx, challenge_id, clock.now_ms())


def grant(p: Platform, user_id: str, challenge_id: str, code: str) -> dict[str, object]:
    """``POST /me/step-up``: a right answer grants the challenge's purpose once."""
    purpose = _answer(p, user_id, "", challenge_id, code)
    now_ms = clock.now_ms()
    with p.global_db.transaction() as tx:
        store.grant_challenge(tx, challenge_id, now_ms)
    until = now_ms + p.settings.step_up_grant_minutes * 60_000
    return {"challenge_id": challenge_id, "purpose": purpose, "granted_until_ms": until}


def require(p: Platform, user_id: str, purpose: str) -> None:
    """Go on if step-up is off or a fresh grant of ``purpose`` is there (it is used up now);
    else send a code and refuse."""
    if not p.settings.step_up_enabled:
        return
    now_ms = clock.now_ms()
    since = now_ms - p.settings.step_up_grant_minutes * 60_000
    with p.global_db.transaction() as tx:
        if store.use_grant(tx, user_id, purpose, since, now_ms):
            return
    raise challenge(p, user_id, purpose)


def require_for_payment(p: Platform, user_id: str, amount_fen: int) -> None:
    if amount_fen >= p.settings.step_up_payment_fen:
        require(p, user_id, PAYMENT)
