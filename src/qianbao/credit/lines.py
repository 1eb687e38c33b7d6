"""Opening a Huabei account and its line: the initial line and interest tier, re-pricing on a
new score, the scheduled review, requested increases, operators' lines and freezes, autodebit.

Every change of a line or tier is recorded in ``credit_line_changes`` with its decision and
reason. Writes run in the user's unit writer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

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
    InterestTier,
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
    why_tier = f"{why}; daily interest {tier.rate} ({tier.priced_by})"

    def command(ctx: WriteContext) -> Row:
        first = idempotency.claim(
            ctx.tx, f"credit.open:{user_id}", request_id, {"due_day": due}, user_id
        )
        if first is None:
            _insert_account(ctx, user_id, user, line, due, tier, why_tier)
        return load_account(ctx.tx, user_id)

    return p.writer_for(user_id).submit(command)


def _insert_account(
    ctx: WriteContext,
    user_id: str,
    user: Row,
    line_fen: int,
    due_day: int,
    tier: InterestTier,
    why: str,
) -> None:
    tx = ctx.tx
    if store.account_exists(tx, user_id):
        raise AccountExists("this user already has a Huabei account")
    store.insert_account(
        tx,
        user_id=user_id,
        id_number_hash=user["id_number_hash"],
        phone=user["phone"],
        line_fen=line_fen,
        due_day=due_day,
        review_date=today(),
        tier_columns=tier.columns(),
        now_ms=now_ms(),
    )
    open_account(tx, receivable(user_id), user_id)
    for acct in unit_accounts(ctx.unit):
        open_account(tx, acct, f"u{ctx.unit}")
    record_line_change(tx, user_id, "OPEN", 0, line_fen, "APPROVED", why, "system")


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


def request_increase(p: Platform, user_id: str, new_line_fen: int, request_id: str) -> Row:
    """A user asks for a higher line; the decision and its reason are recorded either way."""
    cfg = config_for(p)
    payments.check_amount(p, new_line_fen)

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        change_id = new_id(bucket_of(user_id))
        first = idempotency.claim(
            tx, f"credit.raise:{user_id}", request_id, {"new_line_fen": new_line_fen}, change_id
        )
        if first is None:
            a = load_account(tx, user_id)
            ok, why = _decide_request(cfg, tx, a, new_line_fen)
            granted = round_line(cfg, new_line_fen) if ok else a["line_fen"]
            if ok:
                store.set_line(tx, user_id, granted, now_ms())
            decision = "APPROVED" if ok else "REJECTED"
            old = a["line_fen"]
            record_line_change(
                tx, user_id, "REQUEST", old, granted, decision, why, "user", change_id
            )
            first = change_id
        row = store.line_change(tx, first)
        assert row is not None
        return row

    return p.writer_for(user_id).submit(command)


def operator_set_line(
    p: Platform, operator_id: str, user_id: str, line_fen: int, reason: str
) -> Row:
    """An operator changes a line (usually a decrease); use above the new line simply stops."""
    cfg = config_for(p)
    if not cfg.line_min_fen <= line_fen <= cfg.line_max_fen:
        raise LineInvalid(f"line must be {cfg.line_min_fen}–{cfg.line_max_fen} fen")

    def command(ctx: WriteContext) -> Row:
        a = load_account(ctx.tx, user_id)
        store.set_line(ctx.tx, user_id, line_fen, now_ms())
        kind = "OPERATOR_DECREASE" if line_fen < a["line_fen"] else "OPERATOR_INCREASE"
        record_line_change(
            ctx.tx, user_id, kind, a["line_fen"], line_fen, "APPROVED", reason or kind, operator_id
        )
        return load_account(ctx.tx, user_id)

    return p.writer_for(user_id).submit(command)


def operator_freeze(p: Platform, operator_id: str, user_id: str, frozen: bool, reason: str) -> Row:
    def command(ctx: WriteContext) -> Row:
        a = load_account(ctx.tx, user_id)
        if a["status"] == "CLOSED":
            raise AccountClosed("the account is closed")
        target = "FROZEN" if frozen else "ACTIVE"
        store.set_account_status(ctx.tx, user_id, target, reason[:200] if frozen else "", now_ms())
        record_line_change(
            ctx.tx,
            user_id,
            "FREEZE" if frozen else "UNFREEZE",
            a["line_fen"],
            a["line_fen"],
            "APPROVED",
            reason or target,
            operator_id,
        )
        return load_account(ctx.tx, user_id)

    return p.writer_for(user_id).submit(command)


def set_autodebit(p: Platform, user_id: str, enabled: bool) -> Row:
    def command(ctx: WriteContext) -> Row:
        load_account(ctx.tx, user_id)
        store.set_autodebit(ctx.tx, user_id, enabled)
        return load_account(ctx.tx, user_id)

    return p.writer_for(user_id).submit(command)
