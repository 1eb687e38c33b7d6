"""Opening a Huabei account and its line: the initial line and interest tier, re-pricing on a
new score, the scheduled review, requested increases, operators' lines and freezes, autodebit.

Every change of a line or tier is recorded in ``credit_line_changes`` with its decision and
reason. The user's and operators' writes are commands as data (``OpenCreditLine``,
``RequestLineIncrease``, ``SetLine``, ``FreezeCredit``, ``SetAutodebit``): the use case reads and
decides, then submits the command to the user's unit, where its ``handle_*`` (registered in
``bootstrap.wire_credit_commands``) runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from qianbao.credit import ports, store
from qianbao.credit.accounts import load_account, now_ms, receivable, today, unit_accounts
from qianbao.credit.config import CreditConfig, config_for
from qianbao.credit.errors import (
    AccountClosed,
    AccountExists,
    DueDayInvalid,
    LineInvalid,
    NotEligible,
)
from qianbao.credit.pricing import (
    initial_line,
    interest_tier,
    round_line,
    score_ceiling_fen,
)
from qianbao.ledger.service import open_account
from qianbao.members import service as members
from qianbao.members.identity import age_years
from qianbao.payments import service as payments
from qianbao.platform import idempotency
from qianbao.platform.clock import day_of
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.money import round_fen
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

# The credit score of a user (350–950 or None). Default: the latest score the scoring package
# stored; tests and operators may replace it.
score_provider: Callable[[Platform, str], int | None] | None = None


def record_line_change(
    tx: Tx,
    user_id: str,
    kind: str,
    old: int,
    new: int,
    decision: str,
    reason: str,
    actor: str,
    change_id: str | None = None,
) -> None:
    store.insert_line_change(
        tx,
        change_id=change_id or new_id(bucket_of(user_id)),
        user_id=user_id,
        kind=kind,
        old_line_fen=old,
        new_line_fen=new,
        decision=decision,
        reason=reason[:200],
        actor=actor[:60],
        now_ms=now_ms(),
    )


def reprice(ctx: WriteContext, user_id: str, score: int, source: str, actor: str) -> bool:
    """Re-scoring fixes a new interest tier on the account (no-op without an account or when
    nothing changes); the change is recorded with the line history. Bills already cut keep
    theirs. Runs inside the command that stores the score (the user's unit)."""
    cfg = config_for(ctx.platform)
    tx = ctx.tx
    a = store.account(tx, user_id)
    if a is None or a["status"] == "CLOSED":
        return False
    tier = interest_tier(cfg, score, source)
    if a["interest_rate"] == str(tier.rate) and a["interest_band"] == tier.band:
        return False
    store.set_interest_tier(tx, user_id, tier.columns(), now_ms())
    old = f"{a['interest_rate'] or cfg.daily_interest_rate} ({a['interest_band'] or 'no band'})"
    record_line_change(
        tx,
        user_id,
        "INTEREST_TIER",
        a["line_fen"],
        a["line_fen"],
        "APPROVED",
        f"daily interest {old} -> {tier.rate} ({tier.band}): {tier.priced_by}",
        actor,
    )
    return True


def _eligible_age(cfg: CreditConfig, user: Row, on: date) -> int:
    """The user's age if it may open Huabei (active, real-name, adult), else NotEligible."""
    if user["status"] != "ACTIVE":
        raise NotEligible("the user is not active")
    if user["kyc_level"] < 1 or not user["id_number_hash"]:
        raise NotEligible("Huabei needs a real-name verified user")
    age = age_years(members.birth_date_of(user), on)
    if age < cfg.adult_age_years:
        raise NotEligible(f"Huabei needs users aged {cfg.adult_age_years} or more")
    return age


def _refuse_clash(p: Platform, user: Row, user_id: str) -> None:
    """One account per ID and per phone, whichever unit holds it."""
    for db in p.units:
        with db.read() as tx:
            clash = store.account_clash(tx, user["id_number_hash"], user["phone"], user_id)
        if clash is not None:
            raise AccountExists("a Huabei account exists for this ID number or phone")


@dataclass(frozen=True, slots=True)
class OpenCreditLine:
    """开通花呗 as decided before the writer: eligibility, the initial line and the interest
    tier (the user's ID-number hash and phone travel for the one-account-per-person check)."""

    user_id: str
    request_id: str
    due_day: int
    id_number_hash: str
    phone: str
    line_fen: int
    interest_rate: str
    interest_band: str
    interest_priced_by: str
    reason: str

    def fingerprint(self) -> dict[str, Any]:
        return {"due_day": self.due_day}

    def tier_columns(self) -> dict[str, str]:
        return {
            "interest_rate": self.interest_rate,
            "interest_band": self.interest_band,
            "interest_priced_by": self.interest_priced_by,
        }


def open_credit_account(
    p: Platform, user_id: str, request_id: str, due_day: int | None = None
) -> Row:
    """开通花呗: real-name adults only, one account per ID number and per phone."""
    cfg = config_for(p)
    due = cfg.due_day if due_day is None else due_day
    if due not in cfg.due_days_offered:
        raise DueDayInvalid(f"due day must be one of {cfg.due_days_offered}")
    user = members.get_user(p, user_id)
    on = today()
    age = _eligible_age(cfg, user, on)
    _refuse_clash(p, user, user_id)
    score = (score_provider or _stored_score)(p, user_id)
    line, why = initial_line(
        cfg,
        age=age,
        kyc_level=user["kyc_level"],
        tenure_days=max(0, (on - day_of(user["created_at_ms"])).days),
        cards=len(members.list_cards(p, user_id)),
        balance_fen=payments.balance(p, user_id)["balance_fen"],
        score=score,
    )
    tier = interest_tier(cfg, score)
    columns = tier.columns()
    command = OpenCreditLine(
        user_id=user_id,
        request_id=request_id,
        due_day=due,
        id_number_hash=str(user["id_number_hash"]),
        phone=str(user["phone"]),
        line_fen=line,
        interest_rate=columns["interest_rate"],
        interest_band=columns["interest_band"],
        interest_priced_by=columns["interest_priced_by"],
        reason=f"{why}; daily interest {tier.rate} ({tier.priced_by})",
    )
    result: Row = p.commands.submit(p.unit_of(user_id), command)
    return result


def handle_open_credit_line(ctx: WriteContext, c: OpenCreditLine) -> Row:
    scope = f"credit.open:{c.user_id}"
    first = idempotency.claim(ctx.tx, scope, c.request_id, c.fingerprint(), c.user_id)
    if first is None:
        _insert_account(ctx, c)
    return load_account(ctx.tx, c.user_id)


def _insert_account(ctx: WriteContext, c: OpenCreditLine) -> None:
    tx = ctx.tx
    if store.account_exists(tx, c.user_id):
        raise AccountExists("this user already has a Huabei account")
    store.insert_account(
        tx,
        user_id=c.user_id,
        id_number_hash=c.id_number_hash,
        phone=c.phone,
        line_fen=c.line_fen,
        due_day=c.due_day,
        review_date=today(),
        tier_columns=c.tier_columns(),
        now_ms=now_ms(),
    )
    open_account(tx, receivable(c.user_id), c.user_id)
    for acct in unit_accounts(ctx.unit):
        open_account(tx, acct, f"u{ctx.unit}")
    record_line_change(tx, c.user_id, "OPEN", 0, c.line_fen, "APPROVED", c.reason, "system")


def _stored_score(p: Platform, user_id: str) -> int | None:
    """The user's latest stored credit score (scoring package), if any."""
    return ports.score_source().latest_score(p, user_id)


def review_decision(cfg: CreditConfig, tx: Tx, a: Row, today: date) -> tuple[bool, str]:
    """Good behaviour: old enough, never overdue, enough bills paid on time, the line used."""
    age_days = (today - day_of(a["created_at_ms"])).days
    if a["status"] != "ACTIVE":
        return False, f"account is {a['status']}"
    if age_days < cfg.review_min_age_days:
        return False, f"account is {age_days} days old (< {cfg.review_min_age_days})"
    if a["max_overdue_days"] > 0:
        return False, f"has been overdue ({a['max_overdue_days']} days)"
    on_time = store.on_time_statement_count(tx, a["user_id"])
    if on_time < cfg.review_min_on_time_statements:
        return False, f"{on_time} bills paid on time (< {cfg.review_min_on_time_statements})"
    peak = store.largest_bill_fen(tx, a["user_id"])
    if Decimal(peak) < Decimal(a["line_fen"]) * cfg.review_min_utilisation:
        return False, f"largest bill {peak} uses < {cfg.review_min_utilisation} of the line"
    return True, f"{on_time} bills on time, never overdue, largest bill {peak}"


def auto_review(ctx: WriteContext, cfg: CreditConfig, user_id: str, today: date) -> int | None:
    """Scheduled line review (自动提额); returns the new line when it went up."""
    tx = ctx.tx
    a = load_account(tx, user_id)
    store.set_last_review(tx, user_id, today)
    ok, why = review_decision(cfg, tx, a, today)
    new = round_line(cfg, round_fen(Decimal(a["line_fen"]) * (1 + cfg.increase_rate)))
    new = min(new, score_ceiling_fen(tx, user_id, new))
    if not ok or new <= a["line_fen"]:
        return None
    store.set_line(tx, user_id, new, now_ms())
    record_line_change(tx, user_id, "AUTO_INCREASE", a["line_fen"], new, "APPROVED", why, "system")
    return new


def _decide_request(cfg: CreditConfig, tx: Tx, a: Row, new_line_fen: int) -> tuple[bool, str]:
    ok, why = review_decision(cfg, tx, a, today())
    cap = min(cfg.line_max_fen, round_fen(Decimal(a["line_fen"]) * cfg.request_max_ratio))
    if new_line_fen <= a["line_fen"]:
        return False, "requested line is not higher than the current line"
    if new_line_fen > cap:
        return False, f"requested line is above {cap} (max for this account)"
    return ok, why


@dataclass(frozen=True, slots=True)
class RequestLineIncrease:
    """A user asks for a higher line; the unit decides on the account as it stands."""

    change_id: str
    user_id: str
    new_line_fen: int
    request_id: str

    def fingerprint(self) -> dict[str, Any]:
        return {"new_line_fen": self.new_line_fen}


def request_increase(p: Platform, user_id: str, new_line_fen: int, request_id: str) -> Row:
    """A user asks for a higher line; the decision and its reason are recorded either way."""
    payments.check_amount(p, new_line_fen)
    command = RequestLineIncrease(
        change_id=new_id(bucket_of(user_id)),
        user_id=user_id,
        new_line_fen=new_line_fen,
        request_id=request_id,
    )
    result: Row = p.commands.submit(p.unit_of(user_id), command)
    return result


def handle_request_line_increase(ctx: WriteContext, c: RequestLineIncrease) -> Row:
    tx, user_id = ctx.tx, c.user_id
    scope = f"credit.raise:{user_id}"
    first = idempotency.claim(tx, scope, c.request_id, c.fingerprint(), c.change_id)
    if first is None:
        cfg = config_for(ctx.platform)
        a = load_account(tx, user_id)
        ok, why = _decide_request(cfg, tx, a, c.new_line_fen)
        granted = round_line(cfg, c.new_line_fen) if ok else a["line_fen"]
        if ok:
            store.set_line(tx, user_id, granted, now_ms())
        decision = "APPROVED" if ok else "REJECTED"
        old = a["line_fen"]
        record_line_change(tx, user_id, "REQUEST", old, granted, decision, why, "user", c.change_id)
        first = c.change_id
    row = store.line_change(tx, first)
    assert row is not None
    return row


@dataclass(frozen=True, slots=True)
class SetLine:
    """An operator's new line, checked against the configured bounds before the writer."""

    operator_id: str
    user_id: str
    line_fen: int
    reason: str


def operator_set_line(
    p: Platform, operator_id: str, user_id: str, line_fen: int, reason: str
) -> Row:
    """An operator changes a line (usually a decrease); use above the new line simply stops."""
    cfg = config_for(p)
    if not cfg.line_min_fen <= line_fen <= cfg.line_max_fen:
        raise LineInvalid(f"line must be {cfg.line_min_fen}–{cfg.line_max_fen} fen")
    result: Row = p.commands.submit(
        p.unit_of(user_id), SetLine(operator_id, user_id, line_fen, reason)
    )
    return result


def handle_set_line(ctx: WriteContext, c: SetLine) -> Row:
    a = load_account(ctx.tx, c.user_id)
    store.set_line(ctx.tx, c.user_id, c.line_fen, now_ms())
    kind = "OPERATOR_DECREASE" if c.line_fen < a["line_fen"] else "OPERATOR_INCREASE"
    record_line_change(
        ctx.tx,
        c.user_id,
        kind,
        a["line_fen"],
        c.line_fen,
        "APPROVED",
        c.reason or kind,
        c.operator_id,
    )
    return load_account(ctx.tx, c.user_id)


@dataclass(frozen=True, slots=True)
class FreezeCredit:
    """An operator freezes (``frozen``) or thaws a Huabei account."""

    operator_id: str
    user_id: str
    frozen: bool
    reason: str


def operator_freeze(p: Platform, operator_id: str, user_id: str, frozen: bool, reason: str) -> Row:
    result: Row = p.commands.submit(
        p.unit_of(user_id), FreezeCredit(operator_id, user_id, frozen, reason)
    )
    return result


def handle_freeze_credit(ctx: WriteContext, c: FreezeCredit) -> Row:
    a = load_account(ctx.tx, c.user_id)
    if a["status"] == "CLOSED":
        raise AccountClosed("the account is closed")
    target = "FROZEN" if c.frozen else "ACTIVE"
    store.set_account_status(
        ctx.tx, c.user_id, target, c.reason[:200] if c.frozen else "", now_ms()
    )
    record_line_change(
        ctx.tx,
        c.user_id,
        "FREEZE" if c.frozen else "UNFREEZE",
        a["line_fen"],
        a["line_fen"],
        "APPROVED",
        c.reason or target,
        c.operator_id,
    )
    return load_account(ctx.tx, c.user_id)


@dataclass(frozen=True, slots=True)
class SetAutodebit:
    """The user turns automatic repayment on the due date on or off."""

    user_id: str
    enabled: bool


def set_autodebit(p: Platform, user_id: str, enabled: bool) -> Row:
    result: Row = p.commands.submit(p.unit_of(user_id), SetAutodebit(user_id, enabled))
    return result


def handle_set_autodebit(ctx: WriteContext, c: SetAutodebit) -> Row:
    load_account(ctx.tx, c.user_id)
    store.set_autodebit(ctx.tx, c.user_id, c.enabled)
    return load_account(ctx.tx, c.user_id)
