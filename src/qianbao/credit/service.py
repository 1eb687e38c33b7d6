"""Huabei use cases: opening and lines, use as a funding source, refunds, statements,
repayments, installments. Day-end jobs (due dates, interest, overdue, provisions, write-offs)
live in ``credit.dayend``.

Every write runs inside the user's unit writer; every movement of money is a voucher. The
account counters (unbilled, billed, installment principal, unpaid charges) always sum to the
user's ``credit_receivable`` balance, and the line is enforced by one guarded UPDATE.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from qianbao.credit import schedule as sched
from qianbao.credit.config import CreditConfig, band_interest_rate, config_for
from qianbao.credit.errors import (
    AccountExists,
    AccountNotFound,
    CreditFrozen,
    InstallmentNotAllowed,
    LineExceeded,
    NotEligible,
    PlanNotFound,
    PurchaseNotFound,
    RepaymentExceedsOwed,
    StatementNotFound,
)
from qianbao.ledger.chart import account_id, unit_account
from qianbao.ledger.service import Leg, credit, debit, open_account, post
from qianbao.members import service as members
from qianbao.members.identity import age_years
from qianbao.money_movement import guards
from qianbao.money_movement import pay as money_pay
from qianbao.money_movement.commands import HUABEI, HUABEI_PURCHASE, INSTANT, Pay, Refund
from qianbao.money_movement.guards import check_amount
from qianbao.money_movement.ports import Funded
from qianbao.money_movement.quote import Paid, Quote, RefundQuote
from qianbao.payments import service as payments
from qianbao.platform import idempotency
from qianbao.platform.clock import clock, day_of
from qianbao.platform.db import Row, Tx
from qianbao.platform.errors import Conflict, Forbidden, InvalidArgument
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.money import apply_rate, proportional_fen, round_fen
from qianbao.platform.runtime import Platform
from qianbao.platform.states import StateMachine
from qianbao.platform.writer import WriteContext

CATEGORIES = ("everyday", "medical")
STATEMENT = StateMachine(
    "statement",
    "credit_statements",
    {
        "OPEN": {"PAID", "REVOLVING", "OVERDUE", "WRITTEN_OFF"},
        "REVOLVING": {"PAID", "OVERDUE", "WRITTEN_OFF"},
        "OVERDUE": {"PAID", "WRITTEN_OFF"},
        "PAID": set(),
        "WRITTEN_OFF": set(),
    },
)
PLAN = StateMachine(
    "installment plan",
    "credit_plans",
    {
        "ACTIVE": {"COMPLETED", "SETTLED", "WRITTEN_OFF"},
    },
)
UNPAID = ("OPEN", "REVOLVING", "OVERDUE")

# The credit score of a user (350–950 or None). Default: the latest score the scoring package
# stored; tests and operators may replace it.
score_provider: Callable[[Platform, str], int | None] | None = None


def receivable(user_id: str) -> str:
    return account_id("credit_receivable", user_id)


def unit_accounts(unit: int) -> list[str]:
    return [
        unit_account(s, unit)
        for s in (
            "interest_income",
            "installment_fee_income",
            "provision",
            "provision_expense",
            "fee_income",
            "credit_write_off",
        )
    ]


def _now() -> int:
    return clock.now_ms()


def _today() -> date:
    return clock.today()


def load_account(tx: Tx, user_id: str) -> Row:
    row = tx.one("SELECT * FROM credit_accounts WHERE user_id = :u", {"u": user_id})
    if row is None:
        raise AccountNotFound("no Huabei account for this user")
    return row


def used_fen(a: Row) -> int:
    return int(a["unbilled_fen"] + a["billed_fen"] + a["installment_fen"])


def receivable_fen(a: Row) -> int:
    """What the user owes in all (principal billed or not, unpaid fees and interest)."""
    return used_fen(a) + int(a["charges_fen"])


def available_fen(cfg: CreditConfig, a: Row, category: str = "everyday") -> int:
    ceiling = a["line_fen"] if category == "medical" else min(a["line_fen"], cfg.everyday_cap_fen)
    return max(0, int(ceiling) - used_fen(a))


# --- opening and lines ------------------------------------------------------------------------
def round_line(cfg: CreditConfig, line_fen: int) -> int:
    line = line_fen - line_fen % cfg.line_round_fen
    return max(cfg.line_min_fen, min(cfg.line_max_fen, line))


AGE_FACTORS = (
    (21, Decimal("0.5")),
    (25, Decimal("0.8")),
    (55, Decimal("1.0")),
    (200, Decimal("0.7")),
)
KYC_BASE_FEN = {1: 100_000, 2: 300_000, 3: 800_000}


def initial_line(
    cfg: CreditConfig,
    *,
    age: int,
    kyc_level: int,
    tenure_days: int,
    cards: int,
    balance_fen: int,
    score: int | None = None,
) -> tuple[int, str]:
    """The opening line and why (docs/credit.md, "Initial line").

    With a credit score (``score_provider``): the initial line of the score's band in
    ``scoring.bands`` (a score in a band that is not eligible refuses the opening).
    Without one, from the user's own data: a base by KYC level, times an age factor, times a
    tenure factor, plus 20% of the wallet balance (at most 10,000 CNY) and 1,000 CNY per extra
    bound card (at most 2); whole hundreds, within the minimum and the everyday cap.
    """
    if score is not None:  # the scoring package's bands (configuration there)
        from qianbao.scoring.bands import score_band

        band = score_band(max(350, min(950, score)))
        if not band.eligible:
            raise NotEligible(f"credit score {score} ({band.name}) is below the Huabei bands")
        line = min(cfg.everyday_cap_fen, round_line(cfg, band.initial_line_fen))
        return line, f"score {score}, band {band.name}"
    base = KYC_BASE_FEN.get(kyc_level, KYC_BASE_FEN[1])
    age_factor = next(f for upper, f in AGE_FACTORS if age <= upper)
    tenure = Decimal("2.0") if tenure_days >= 365 else Decimal("1.5") if tenure_days >= 90 else 1
    wallet = min(apply_rate(max(balance_fen, 0), Decimal("0.2")), 1_000_000)
    extra_cards = 100_000 * min(2, max(0, cards - 1))
    raw = round_fen(Decimal(base) * age_factor * Decimal(tenure)) + wallet + extra_cards
    line = min(cfg.everyday_cap_fen, round_line(cfg, raw))
    return line, (
        f"kyc {kyc_level} base {base}, age {age} x{age_factor}, tenure {tenure_days}d"
        f" x{tenure}, wallet +{wallet}, cards +{extra_cards}"
    )


def _record_line_change(
    tx: Tx, user_id: str, kind: str, old: int, new: int, decision: str, reason: str, actor: str
) -> None:
    tx.execute(
        "INSERT INTO credit_line_changes (id, user_id, kind, old_line_fen, new_line_fen, decision,"
        " reason, actor, created_at_ms) VALUES (:id, :u, :k, :o, :n, :d, :r, :a, :now)",
        {
            "id": new_id(bucket_of(user_id)),
            "u": user_id,
            "k": kind,
            "o": old,
            "n": new,
            "d": decision,
            "r": reason[:200],
            "a": actor[:60],
            "now": _now(),
        },
    )


@dataclass(frozen=True)
class InterestTier:
    """The overdue interest tier of an account: its daily rate and what priced it."""

    rate: Decimal
    band: str  # the score band, "" without a score
    priced_by: str  # e.g. "bands-v1, score 712, card sc-…" or "default rate"

    def columns(self) -> dict[str, str]:
        return {
            "interest_rate": str(self.rate),
            "interest_band": self.band,
            "interest_priced_by": self.priced_by[:80],
        }


def interest_tier(cfg: CreditConfig, score: int | None, source: str = "") -> InterestTier:
    """Risk-based pricing of overdue interest: the daily rate of the score's band
    (``cfg.band_daily_interest_rates``, never above the default rate); without a score the
    default rate (``cfg.daily_interest_rate``, the SPEC's 0.05% a day)."""
    if score is None:
        return InterestTier(cfg.daily_interest_rate, "", "default rate")
    from qianbao.scoring.bands import BANDS_VERSION, score_band

    band = score_band(max(350, min(950, score)))
    why = f"{BANDS_VERSION}, score {score}" + (f", {source}" if source else "")
    return InterestTier(band_interest_rate(cfg, band.name), band.name, why)


def statement_rate(cfg: CreditConfig, st: Row) -> Decimal:
    """The daily interest rate of a bill: the tier fixed when it was cut (bills cut before
    tiers existed: the default), never above today's default rate."""
    rate = Decimal(st["interest_rate"]) if st["interest_rate"] else cfg.daily_interest_rate
    return min(rate, cfg.daily_interest_rate)


def reprice(ctx: WriteContext, user_id: str, score: int, source: str, actor: str) -> bool:
    """Re-scoring fixes a new interest tier on the account (no-op without an account or when
    nothing changes); the change is recorded with the line history. Bills already cut keep
    theirs. Runs inside the command that stores the score (the user's unit)."""
    cfg = config_for(ctx.platform)
    tx = ctx.tx
    a = tx.one("SELECT * FROM credit_accounts WHERE user_id = :u", {"u": user_id})
    if a is None or a["status"] == "CLOSED":
        return False
    tier = interest_tier(cfg, score, source)
    if a["interest_rate"] == str(tier.rate) and a["interest_band"] == tier.band:
        return False
    tx.execute(
        "UPDATE credit_accounts SET interest_rate = :interest_rate, interest_band ="
        " :interest_band, interest_priced_by = :interest_priced_by, updated_at_ms = :now"
        " WHERE user_id = :u",
        {**tier.columns(), "now": _now(), "u": user_id},
    )
    old = f"{a['interest_rate'] or cfg.daily_interest_rate} ({a['interest_band'] or 'no band'})"
    _record_line_change(
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


def open_credit_account(
    p: Platform, user_id: str, request_id: str, due_day: int | None = None
) -> Row:
    """开通花呗: real-name adults only, one account per ID number and per phone."""
    cfg = config_for(p)
    due = cfg.due_day if due_day is None else due_day
    if due not in cfg.due_days_offered:
        raise InvalidArgument(
            f"due day must be one of {cfg.due_days_offered}", code="CREDIT_DUE_DAY_INVALID"
        )
    user = members.get_user(p, user_id)
    today = _today()
    if user["status"] != "ACTIVE":
        raise NotEligible("the user is not active")
    if user["kyc_level"] < 1 or not user["id_number_hash"]:
        raise NotEligible("Huabei needs a real-name verified user")
    age = age_years(members.birth_date_of(user), today)
    if age < cfg.adult_age_years:
        raise NotEligible(f"Huabei needs users aged {cfg.adult_age_years} or more")
    for db in p.units:  # one account per ID and per phone, whichever unit holds it
        with db.read() as tx:
            clash = tx.one(
                "SELECT user_id FROM credit_accounts WHERE (id_number_hash = :h"
                " OR phone = :ph) AND user_id <> :u",
                {"h": user["id_number_hash"], "ph": user["phone"], "u": user_id},
            )
        if clash is not None:
            raise AccountExists("a Huabei account exists for this ID number or phone")
    score = (score_provider or _stored_score)(p, user_id)
    line, why = initial_line(
        cfg,
        age=age,
        kyc_level=user["kyc_level"],
        tenure_days=max(0, (today - day_of(user["created_at_ms"])).days),
        cards=len(members.list_cards(p, user_id)),
        balance_fen=payments.balance(p, user_id)["balance_fen"],
        score=score,
    )
    tier = interest_tier(cfg, score)

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        first = idempotency.claim(
            tx, f"credit.open:{user_id}", request_id, {"due_day": due}, user_id
        )
        if first is not None:
            return load_account(tx, user_id)
        if tx.one("SELECT 1 AS x FROM credit_accounts WHERE user_id = :u", {"u": user_id}):
            raise AccountExists("this user already has a Huabei account")
        now = _now()
        tx.execute(
            "INSERT INTO credit_accounts (user_id, id_number_hash, phone, status, line_fen,"
            " due_day, autodebit, last_review_date, interest_rate, interest_band,"
            " interest_priced_by, created_at_ms, updated_at_ms) VALUES (:u, :h, :ph, 'ACTIVE',"
            " :line, :due, :auto, :today, :interest_rate, :interest_band, :interest_priced_by,"
            " :now, :now)",
            {
                **tier.columns(),
                "u": user_id,
                "h": user["id_number_hash"],
                "ph": user["phone"],
                "line": line,
                "due": due,
                "auto": True,
                "today": today.isoformat(),
                "now": now,
            },
        )
        open_account(tx, receivable(user_id), user_id)
        for acct in unit_accounts(ctx.unit):
            open_account(tx, acct, f"u{ctx.unit}")
        why_tier = f"{why}; daily interest {tier.rate} ({tier.priced_by})"
        _record_line_change(tx, user_id, "OPEN", 0, line, "APPROVED", why_tier, "system")
        return load_account(tx, user_id)

    return p.writer_for(user_id).submit(command)


def _stored_score(p: Platform, user_id: str) -> int | None:
    """The user's latest stored credit score (scoring package), if any."""
    from qianbao.scoring import service as scoring

    return scoring.latest_score(p, user_id)


def repayment_history(p: Platform, user_id: str) -> dict[str, int]:
    """Huabei behaviour for the score: bills paid on time, bills that went overdue, the longest
    overdue in days and what is overdue now (zeros without an account). Field names match
    ``scoring.behaviour.BehaviourFeatures``."""
    with p.db_for(user_id).read() as tx:
        statements = tx.all("SELECT * FROM credit_statements WHERE user_id = :u", {"u": user_id})
    today = _today()
    on_time = late = longest = overdue_now = 0
    for st in statements:
        if st["status"] == "PAID" and st["paid_on"] and st["paid_on"] <= st["due_date"]:
            on_time += 1
        if st["overdue_since"] is None:
            continue
        late += 1
        until = date.fromisoformat(st["paid_on"]) if st["paid_on"] else today
        longest = max(longest, (until - date.fromisoformat(st["overdue_since"])).days + 1)
        if st["status"] != "PAID":
            overdue_now += statement_owed(st)
    return {
        "huabei_bills_paid_on_time": on_time,
        "huabei_bills_overdue": late,
        "max_overdue_days": max(0, longest),
        "current_overdue_fen": max(0, overdue_now),
    }


def _on_time_statements(tx: Tx, user_id: str) -> int:
    return int(
        tx.scalar(
            "SELECT COUNT(*) FROM credit_statements WHERE user_id = :u AND status = 'PAID'"
            " AND paid_on <= due_date",
            {"u": user_id},
        )
        or 0
    )


def review_decision(cfg: CreditConfig, tx: Tx, a: Row, today: date) -> tuple[bool, str]:
    """Good behaviour: old enough, never overdue, enough bills paid on time, the line used."""
    age_days = (today - day_of(a["created_at_ms"])).days
    if a["status"] != "ACTIVE":
        return False, f"account is {a['status']}"
    if age_days < cfg.review_min_age_days:
        return False, f"account is {age_days} days old (< {cfg.review_min_age_days})"
    if a["max_overdue_days"] > 0:
        return False, f"has been overdue ({a['max_overdue_days']} days)"
    on_time = _on_time_statements(tx, a["user_id"])
    if on_time < cfg.review_min_on_time_statements:
        return False, f"{on_time} bills paid on time (< {cfg.review_min_on_time_statements})"
    peak = int(
        tx.scalar(
            "SELECT COALESCE(MAX(purchase_fen + inst_principal_fen), 0) FROM credit_statements"
            " WHERE user_id = :u",
            {"u": a["user_id"]},
        )
        or 0
    )
    if Decimal(peak) < Decimal(a["line_fen"]) * cfg.review_min_utilisation:
        return False, f"largest bill {peak} uses < {cfg.review_min_utilisation} of the line"
    return True, f"{on_time} bills on time, never overdue, largest bill {peak}"


def auto_review(ctx: WriteContext, cfg: CreditConfig, user_id: str, today: date) -> int | None:
    """Scheduled line review (自动提额); returns the new line when it went up."""
    tx = ctx.tx
    a = load_account(tx, user_id)
    tx.execute(
        "UPDATE credit_accounts SET last_review_date = :d WHERE user_id = :u",
        {"d": today.isoformat(), "u": user_id},
    )
    ok, why = review_decision(cfg, tx, a, today)
    new = round_line(cfg, round_fen(Decimal(a["line_fen"]) * (1 + cfg.increase_rate)))
    new = min(new, _score_ceiling_fen(tx, user_id, new))
    if not ok or new <= a["line_fen"]:
        return None
    _set_line(tx, user_id, new)
    _record_line_change(tx, user_id, "AUTO_INCREASE", a["line_fen"], new, "APPROVED", why, "system")
    return new


def _score_ceiling_fen(tx: Tx, user_id: str, default_fen: int) -> int:
    """A user with a stored credit score cannot be raised above the ceiling of its band
    (scoring.bands); without a score the configured rules alone decide."""
    from qianbao.scoring.bands import score_band
    from qianbao.scoring.service import latest_score_in

    score = latest_score_in(tx, user_id)
    if score is None:
        return default_fen
    band = score_band(max(350, min(950, score)))
    return band.max_line_fen if band.eligible else 0


def priced_rates(tx: Tx, user_id: str, standard: dict[int, Decimal]) -> dict[int, Decimal]:
    """Risk-based pricing: the installment fee tier of the user's score band (its discount off
    the standard total fee rates, scoring.bands); without a score, the standard rates."""
    from qianbao.scoring.bands import installment_fee_rate, score_band
    from qianbao.scoring.service import latest_score_in

    score = latest_score_in(tx, user_id)
    if score is None:
        return standard
    band = score_band(max(350, min(950, score)))
    return {periods: installment_fee_rate(band, rate) for periods, rate in standard.items()}


def _set_line(tx: Tx, user_id: str, line_fen: int) -> None:
    tx.execute(
        "UPDATE credit_accounts SET line_fen = :l, updated_at_ms = :now WHERE user_id = :u",
        {"l": line_fen, "now": _now(), "u": user_id},
    )


def request_increase(p: Platform, user_id: str, new_line_fen: int, request_id: str) -> Row:
    """A user asks for a higher line; the decision and its reason are recorded either way."""
    cfg = config_for(p)
    check_amount(p, new_line_fen)

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        change_id = new_id(bucket_of(user_id))
        first = idempotency.claim(
            tx, f"credit.raise:{user_id}", request_id, {"new_line_fen": new_line_fen}, change_id
        )
        if first is None:
            a = load_account(tx, user_id)
            ok, why = review_decision(cfg, tx, a, _today())
            cap = min(cfg.line_max_fen, round_fen(Decimal(a["line_fen"]) * cfg.request_max_ratio))
            if new_line_fen <= a["line_fen"]:
                ok, why = False, "requested line is not higher than the current line"
            elif new_line_fen > cap:
                ok, why = False, f"requested line is above {cap} (max for this account)"
            granted = round_line(cfg, new_line_fen) if ok else a["line_fen"]
            if ok:
                _set_line(tx, user_id, granted)
            tx.execute(
                "INSERT INTO credit_line_changes (id, user_id, kind, old_line_fen, new_line_fen,"
                " decision, reason, actor, created_at_ms) VALUES (:id, :u, 'REQUEST', :o, :n, :d,"
                " :r, 'user', :now)",
                {
                    "id": change_id,
                    "u": user_id,
                    "o": a["line_fen"],
                    "n": granted,
                    "d": "APPROVED" if ok else "REJECTED",
                    "r": why[:200],
                    "now": _now(),
                },
            )
            first = change_id
        row = tx.one("SELECT * FROM credit_line_changes WHERE id = :id", {"id": first})
        assert row is not None
        return row

    return p.writer_for(user_id).submit(command)


def operator_set_line(
    p: Platform, operator_id: str, user_id: str, line_fen: int, reason: str
) -> Row:
    """An operator changes a line (usually a decrease); use above the new line simply stops."""
    cfg = config_for(p)
    if not cfg.line_min_fen <= line_fen <= cfg.line_max_fen:
        raise InvalidArgument(
            f"line must be {cfg.line_min_fen}–{cfg.line_max_fen} fen", code="CREDIT_LINE_INVALID"
        )

    def command(ctx: WriteContext) -> Row:
        a = load_account(ctx.tx, user_id)
        _set_line(ctx.tx, user_id, line_fen)
        kind = "OPERATOR_DECREASE" if line_fen < a["line_fen"] else "OPERATOR_INCREASE"
        _record_line_change(
            ctx.tx, user_id, kind, a["line_fen"], line_fen, "APPROVED", reason or kind, operator_id
        )
        return load_account(ctx.tx, user_id)

    return p.writer_for(user_id).submit(command)


def operator_freeze(p: Platform, operator_id: str, user_id: str, frozen: bool, reason: str) -> Row:
    def command(ctx: WriteContext) -> Row:
        a = load_account(ctx.tx, user_id)
        if a["status"] == "CLOSED":
            raise Forbidden("the account is closed", code="CREDIT_ACCOUNT_CLOSED")
        target = "FROZEN" if frozen else "ACTIVE"
        ctx.tx.execute(
            "UPDATE credit_accounts SET status = :s, frozen_reason = :r, updated_at_ms = :now"
            " WHERE user_id = :u",
            {"s": target, "r": reason[:200] if frozen else "", "now": _now(), "u": user_id},
        )
        _record_line_change(
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
        ctx.tx.execute(
            "UPDATE credit_accounts SET autodebit = :a WHERE user_id = :u",
            {"a": enabled, "u": user_id},
        )
        return load_account(ctx.tx, user_id)

    return p.writer_for(user_id).submit(command)


# --- use: Huabei as a funding source ------------------------------------------------------------
@dataclass(frozen=True)
class HuabeiCharge:
    """What ``charge_huabei`` booked and what the caller must put in its voucher."""

    purchase_id: str
    legs: list[Leg]  # debit the user's receivable (and credit a subsidised installment fee)
    merchant_pays_fen: int  # installment fee the merchant pays: deduct it from its credit


def _take_line(
    ctx: WriteContext, cfg: CreditConfig, user_id: str, amount_fen: int, column: str, category: str
) -> None:
    if category not in CATEGORIES:
        raise InvalidArgument(f"category must be one of {CATEGORIES}", code="CATEGORY_INVALID")
    tx = ctx.tx
    if tx.execute(
        f"UPDATE credit_accounts SET {column} = {column} + :a, updated_at_ms = :now"
        " WHERE user_id = :u AND status = 'ACTIVE' AND overdue_days = 0 AND NOT EXISTS"
        " (SELECT 1 FROM credit_statements s WHERE s.user_id = :u AND s.status = 'OVERDUE')"
        " AND line_fen - unbilled_fen - billed_fen - installment_fen >= :a"
        " AND (:medical = 1 OR :cap - unbilled_fen - billed_fen - installment_fen >= :a)",
        {
            "a": amount_fen,
            "now": _now(),
            "u": user_id,
            "medical": int(category == "medical"),
            "cap": cfg.everyday_cap_fen,
        },
    ):
        return
    a = load_account(tx, user_id)
    if a["status"] != "ACTIVE":
        raise CreditFrozen(f"Huabei is {a['status'].lower()}: {a['frozen_reason']}".strip(": "))
    raise_if_overdue(tx, a)
    raise LineExceeded(f"only {available_fen(cfg, a, category)} fen of the line is available")


def raise_if_overdue(tx: Tx, a: Row) -> None:
    if a["overdue_days"] > 0 or tx.one(
        "SELECT 1 AS x FROM credit_statements WHERE user_id = :u AND status = 'OVERDUE'",
        {"u": a["user_id"]},
    ):
        raise CreditFrozen("Huabei is frozen while a bill is overdue", code="CREDIT_OVERDUE")


def charge_huabei(
    ctx: WriteContext,
    user_id: str,
    amount_fen: int,
    ref: str,
    *,
    merchant_id: str = "",
    merchant_fee_fen: int = 0,
    category: str = "everyday",
    deferred: bool = False,
    installments: int | None = None,
    subsidised: bool = False,
) -> HuabeiCharge:
    """Fund ``amount_fen`` of a payment with the user's Huabei line, inside the caller's command.

    Checks and takes the line (guarded), records the credit purchase under ``ref`` and returns
    the legs the caller must include in the same command's voucher. ``deferred`` (secured
    trades) keeps the purchase off any bill until ``confirm_huabei`` names its bill month.
    ``installments`` turns the purchase into a purchase installment plan (3/6/12 periods);
    ``subsidised`` makes the merchant pay that plan's fee.
    """
    cfg = config_for(ctx.platform)
    if amount_fen <= 0:
        raise InvalidArgument("amount_fen must be positive", code="AMOUNT_INVALID")
    today = _today()
    tx = ctx.tx
    purchase_id = new_id(bucket_of(user_id))
    plan_fee = 0
    rates = priced_rates(tx, user_id, cfg.purchase_installment_rates)
    if installments is not None:
        plan_fee = sched.installment_fee(amount_fen, installments, rates, cfg.installment_min_fen)
        if deferred:
            raise InstallmentNotAllowed("a secured trade cannot be split at the cashier")
    _take_line(
        ctx,
        cfg,
        user_id,
        amount_fen,
        "installment_fen" if installments else "unbilled_fen",
        category,
    )
    plan_id = None
    if installments is not None:
        plan_id = _create_plan(
            tx,
            cfg,
            user_id,
            "PURCHASE",
            purchase_id,
            amount_fen,
            installments,
            rates[installments],
            plan_fee,
            subsidised,
            sched.next_bill_date(today, cfg.bill_day),
        )
    now = _now()
    bill_date = None if deferred or plan_id else sched.next_bill_date(today, cfg.bill_day)
    tx.execute(
        "INSERT INTO credit_purchases (id, user_id, merchant_id, ref, amount_fen, merchant_fee_fen,"
        " refunded_fen, category, bill_date, plan_id, status, created_at_ms, updated_at_ms)"
        " VALUES (:id, :u, :m, :ref, :a, :fee, 0, :cat, :bill, :plan, 'SUCCEEDED', :now, :now)",
        {
            "id": purchase_id,
            "u": user_id,
            "m": merchant_id,
            "ref": ref,
            "a": amount_fen,
            "fee": merchant_fee_fen,
            "cat": category,
            "bill": bill_date.isoformat() if bill_date else None,
            "plan": plan_id,
            "now": now,
        },
    )
    legs: list[Leg] = [debit(receivable(user_id), amount_fen)]
    merchant_pays = 0
    if subsidised and plan_fee:
        merchant_pays = plan_fee
        legs.append(credit(unit_account("installment_fee_income", ctx.unit), plan_fee))
    return HuabeiCharge(purchase_id, legs, merchant_pays)


def confirm_huabei(ctx: WriteContext, ref: str) -> None:
    """A secured trade was confirmed: its Huabei purchase enters this month's bill."""
    cfg = config_for(ctx.platform)
    ctx.tx.execute(
        "UPDATE credit_purchases SET bill_date = :b, updated_at_ms = :now"
        " WHERE ref = :ref AND bill_date IS NULL AND plan_id IS NULL",
        {"b": sched.next_bill_date(_today(), cfg.bill_day).isoformat(), "now": _now(), "ref": ref},
    )


def pay_merchant_with_huabei(
    p: Platform,
    user_id: str,
    merchant_id: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None = None,
    installments: int | None = None,
    subsidised: bool = False,
    category: str = "everyday",
    memo: str = "",
) -> Row:
    """Instant merchant payment funded by Huabei: the merchant is paid by its contract (minus
    its fee, and minus the installment fee when it subsidises the plan); the user owes the
    platform. One ``Pay`` through the money-movement engine."""
    command = huabei_payment_command(
        p,
        user_id,
        merchant_id,
        amount_fen,
        request_id,
        pay_password,
        installments,
        subsidised,
        category,
        memo,
    )
    result: Row = p.commands.submit(p.unit_of(user_id), command)
    return result


def huabei_payment_command(
    p: Platform,
    user_id: str,
    merchant_id: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None = None,
    installments: int | None = None,
    subsidised: bool = False,
    category: str = "everyday",
    memo: str = "",
) -> Pay:
    """Check and authorize a Huabei payment; returns its ``Pay`` command (for callers that
    submit many payments at once, e.g. the simulation: ``p.commands.bind(command)``)."""
    check_amount(p, amount_fen)
    merchant = guards.payable_merchant(p, merchant_id)
    payer = guards.authorise(p, user_id, amount_fen, pay_password)
    return money_pay.command(
        purpose=HUABEI_PURCHASE,
        payment_id=new_id(bucket_of(user_id)),
        payer=payer,
        merchant=merchant,
        amount_fen=amount_fen,
        request_id=request_id,
        memo=memo,
        funding=HUABEI,
        installments=installments,
        subsidised=subsidised,
        category=category,
    )


class HuabeiFunding:
    """Huabei as the engine's funding source: the line pays, the user owes the platform."""

    def check_usable(self, p: Platform, payer_id: str) -> None:
        with p.db_for(payer_id).read() as tx:
            a = tx.one("SELECT status FROM credit_accounts WHERE user_id = :u", {"u": payer_id})
        if a is None or a["status"] == "CLOSED":
            raise AccountNotFound("no open Huabei account: payment codes can only use the balance")

    def confirm(self, ctx: WriteContext, ref: str) -> None:
        confirm_huabei(ctx, ref)

    def take(self, ctx: WriteContext, pay: Pay, quote: Quote) -> Funded:
        charge = charge_huabei(
            ctx,
            pay.payer_id,
            quote.pays_fen,
            pay.payment_id,
            merchant_id=pay.merchant_id,
            merchant_fee_fen=quote.fee_fen,
            category=pay.category,
            deferred=pay.escrowed,
            installments=pay.installments,
            subsidised=pay.subsidised,
        )
        return Funded(charge.legs, charge.merchant_pays_fen, charge.purchase_id)

    def give_back(self, ctx: WriteContext, refund: Refund, paid: Paid, amount_fen: int) -> Funded:
        back = restore_huabei(ctx, paid.funding_ref, amount_fen, refund.refund_id)
        return Funded(back.legs, back.merchant_back_fen)


class HuabeiPurchasePurpose:
    """A direct Huabei payment to a merchant: its record is the credit purchase itself."""

    pay_voucher, refund_voucher, scope = "credit.purchase", "credit.refund", "credit.pay"

    def open(self, ctx: WriteContext, pay: Pay) -> None:
        pass

    def replay(self, ctx: WriteContext, first_id: str) -> Row:
        return _purchase_by_ref(ctx.tx, first_id)

    def voucher_ref(self, pay: Pay, funded: Funded) -> str:
        return pay.payment_id

    def record(self, ctx: WriteContext, pay: Pay, quote: Quote, funded: Funded) -> Row:
        payments.record_activity(
            ctx,
            pay.merchant_id,
            pay.payment_id,
            "PAYMENT",
            funded.record_id,
            pay.amount_fen,
            quote.fee_fen,
        )
        return _purchase_by_ref(ctx.tx, pay.payment_id)

    def paid(self, ctx: WriteContext, refund: Refund) -> Paid:
        pur = ctx.tx.one("SELECT * FROM credit_purchases WHERE id = :id", {"id": refund.paid_id})
        if pur is None or pur["merchant_id"] != refund.merchant_id:
            raise PurchaseNotFound("no such Huabei purchase")
        return Paid(
            paid_id=pur["id"],
            payer_id=pur["user_id"],
            merchant_id=pur["merchant_id"],
            amount_fen=int(pur["amount_fen"]),
            refunded_fen=int(pur["refunded_fen"]),
            fee_fen=int(pur["merchant_fee_fen"]),
            funding=HUABEI,
            funding_ref=pur["ref"],
        )

    def check_refundable(self, ctx: WriteContext, paid: Paid) -> None:
        pass  # restore_huabei refuses more than is left

    def replay_refund(self, ctx: WriteContext, refund: Refund, first_id: str) -> Row:
        return self._purchase(ctx, refund.paid_id)

    def record_refund(
        self, ctx: WriteContext, refund: Refund, paid: Paid, quote: RefundQuote, funded: Funded
    ) -> Row:
        payments.record_activity(
            ctx,
            paid.merchant_id,
            refund.refund_id,
            "REFUND",
            paid.paid_id,
            -refund.amount_fen,
            -quote.fee_back_fen,
        )
        return self._purchase(ctx, paid.paid_id)

    def _purchase(self, ctx: WriteContext, purchase_id: str) -> Row:
        row = ctx.tx.one("SELECT * FROM credit_purchases WHERE id = :id", {"id": purchase_id})
        assert row is not None
        return row


class TradeOffers:
    """The engine's ``InstallmentOffers`` port: a merchant's offer on a trade."""

    def subsidises(self, p: Platform, trade: Row, funding: str, installments: int | None) -> bool:
        return offer_subsidises(p, trade, funding, installments)

    def code_installments(self, p: Platform, trade: Row, funding: str) -> int | None:
        return code_installments(p, trade, funding)


# --- merchant installment offers (花呗分期 hb_fq_num / hb_fq_seller_percent) --------------------
SELLER_PERCENTS = (0, 100)  # the merchant pays none or all of the installment fee


@dataclass(frozen=True)
class InstallmentOffer:
    """A merchant's offer on one trade: ``periods`` at the cashier; with ``seller_percent`` 100
    the merchant pays that plan's fee (免息 for the buyer)."""

    periods: int
    seller_percent: int

    @property
    def subsidised(self) -> bool:
        return self.seller_percent == 100

    def to_dict(self) -> dict[str, int]:
        return {"hb_fq_num": self.periods, "hb_fq_seller_percent": self.seller_percent}


def _offer_int(value: Any, name: str) -> int:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not text.isdigit() or len(text) > 3:
        raise InvalidArgument(f"{name} must be a whole number", code="INSTALLMENT_OFFER_INVALID")
    return int(text)


def check_offer(
    p: Platform,
    periods: Any,
    seller_percent: Any,
    *,
    amount_fen: int,
    secured: bool = False,
) -> InstallmentOffer:
    """Validate an offer before anything is recorded (400 ``INSTALLMENT_OFFER_INVALID``)."""
    cfg = config_for(p)
    n = _offer_int(periods, "hb_fq_num")
    pct = 0 if seller_percent in (None, "") else _offer_int(seller_percent, "hb_fq_seller_percent")
    offered = sorted(cfg.purchase_installment_rates)
    if n not in cfg.purchase_installment_rates:
        raise InvalidArgument(
            f"hb_fq_num must be one of {offered}", code="INSTALLMENT_OFFER_INVALID"
        )
    if pct not in SELLER_PERCENTS:
        raise InvalidArgument(
            f"hb_fq_seller_percent must be one of {SELLER_PERCENTS}",
            code="INSTALLMENT_OFFER_INVALID",
        )
    if secured:
        raise InvalidArgument(
            "a secured trade cannot be paid in installments", code="INSTALLMENT_OFFER_INVALID"
        )
    if amount_fen < max(cfg.installment_min_fen, n):
        raise InvalidArgument(
            f"installments need at least {max(cfg.installment_min_fen, n)} fen",
            code="INSTALLMENT_OFFER_INVALID",
        )
    return InstallmentOffer(n, pct)


def _offer_writer(p: Platform, merchant_id: str, out_trade_no: str) -> Any:
    from qianbao.payments.trades import order_bucket  # the trade's order unit (0301)

    return p.writers[p.unit_of_bucket(order_bucket(merchant_id, out_trade_no))]


def declare_offer(
    p: Platform, merchant_id: str, out_trade_no: str, offer: InstallmentOffer
) -> InstallmentOffer:
    """Record ``offer`` for the merchant's trade ``out_trade_no`` *before* the trade is
    created. The same offer again is a no-op; another offer, or an offer for an out_trade_no
    already used without one, is 409 ``INSTALLMENT_OFFER_CONFLICT``."""

    def command(ctx: WriteContext) -> InstallmentOffer:
        tx = ctx.tx
        key = {"m": merchant_id, "o": out_trade_no}
        old = tx.one(
            "SELECT periods, seller_percent FROM credit_installment_offers"
            " WHERE merchant_id = :m AND out_trade_no = :o",
            key,
        )
        if old is not None:
            if InstallmentOffer(int(old["periods"]), int(old["seller_percent"])) != offer:
                raise Conflict(
                    "this trade already has another installment offer",
                    code="INSTALLMENT_OFFER_CONFLICT",
                )
            return offer
        if tx.one(
            "SELECT 1 AS x FROM trade_orders WHERE merchant_id = :m AND out_trade_no = :o", key
        ):
            raise Conflict(
                f"out_trade_no {out_trade_no!r} was used for a trade without an installment offer",
                code="INSTALLMENT_OFFER_CONFLICT",
            )
        tx.execute(
            "INSERT INTO credit_installment_offers (merchant_id, out_trade_no, periods,"
            " seller_percent, created_at_ms) VALUES (:m, :o, :n, :pct, :now)",
            {**key, "n": offer.periods, "pct": offer.seller_percent, "now": _now()},
        )
        return offer

    return _offer_writer(p, merchant_id, out_trade_no).submit(command)  # type: ignore[no-any-return]


def discard_orphan_offer(p: Platform, merchant_id: str, out_trade_no: str) -> None:
    """The trade could not be created: forget its offer unless a trade holds the number."""

    def command(ctx: WriteContext) -> None:
        ctx.tx.execute(
            "DELETE FROM credit_installment_offers WHERE merchant_id = :m AND out_trade_no = :o"
            " AND NOT EXISTS (SELECT 1 FROM trade_orders t WHERE t.merchant_id = :m"
            " AND t.out_trade_no = :o)",
            {"m": merchant_id, "o": out_trade_no},
        )

    _offer_writer(p, merchant_id, out_trade_no).submit(command)


def offer_for(p: Platform, merchant_id: str, out_trade_no: str) -> InstallmentOffer | None:
    """The offer of a trade, if its merchant declared one (offers never change once set)."""
    from qianbao.payments.trades import order_bucket

    db = p.units[p.unit_of_bucket(order_bucket(merchant_id, out_trade_no))]
    with db.read() as tx:
        row = tx.one(
            "SELECT periods, seller_percent FROM credit_installment_offers"
            " WHERE merchant_id = :m AND out_trade_no = :o",
            {"m": merchant_id, "o": out_trade_no},
        )
    return (
        None if row is None else InstallmentOffer(int(row["periods"]), int(row["seller_percent"]))
    )


def offer_subsidises(p: Platform, trade: Row, funding: str, installments: int | None) -> bool:
    """Hook of the trade pay path: the merchant pays the fee when the buyer pays with Huabei in
    exactly the periods its offer on this trade subsidises."""
    if funding != "HUABEI" or installments is None:
        return False
    offer = offer_for(p, trade["merchant_id"], trade["out_trade_no"])
    return offer is not None and offer.subsidised and offer.periods == installments


def code_installments(p: Platform, trade: Row, funding: str) -> int | None:
    """Hook of the payment-code path: a Huabei code pays a trade carrying a merchant-subsidised
    offer in the offered periods, fee-free for the buyer. A buyer at a till cannot choose, so
    an offer the buyer would pay a fee for is not applied (the purchase is billed in full)."""
    if funding != "HUABEI":
        return None
    offer = offer_for(p, trade["merchant_id"], trade["out_trade_no"])
    return offer.periods if offer is not None and offer.subsidised else None


def _purchase_by_ref(tx: Tx, ref: str) -> Row:
    row = tx.one("SELECT * FROM credit_purchases WHERE ref = :r", {"r": ref})
    if row is None:
        raise PurchaseNotFound("no Huabei purchase for this reference")
    return row


# --- refunds ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HuabeiRefund:
    legs: list[Leg]  # credit receivable / user balance; debit a subsidised fee back
    merchant_back_fen: int  # subsidised installment fee returned to the merchant


def restore_huabei(ctx: WriteContext, ref: str, amount_fen: int, refund_ref: str) -> HuabeiRefund:
    """Refund ``amount_fen`` of the Huabei purchase made under ``ref``, inside the caller's
    command: restores the line and reduces what the user owes wherever the purchase sits
    (unbilled, on a bill, in an installment plan); money the user already repaid goes back to
    the wallet. Returns the legs for the caller's refund voucher."""
    tx = ctx.tx
    cfg = config_for(ctx.platform)
    pur = _purchase_by_ref(tx, ref)
    refundable = pur["amount_fen"] - pur["refunded_fen"]
    if not 0 < amount_fen <= refundable:
        raise InvalidArgument(
            f"only {refundable} fen can still be refunded", code="REFUND_AMOUNT_EXCEEDED"
        )
    user_id = pur["user_id"]
    a = load_account(tx, user_id)
    owed_back, wallet_back, merchant_back = 0, 0, 0
    if a["status"] == "CLOSED":  # written off: the loss was booked; the refund goes to the user
        wallet_back = amount_fen
    elif pur["plan_id"]:
        plan = _load_plan(tx, user_id, pur["plan_id"])
        owed_back = _reduce_plan(tx, plan, amount_fen)
        if plan["subsidised"]:
            merchant_back = proportional_fen(
                plan["fee_fen"], pur["refunded_fen"], amount_fen, pur["amount_fen"]
            )
        rest = amount_fen - owed_back
        if rest:
            took = _allocate(ctx, cfg, user_id, rest, refund_ref, statements_only=True)
            owed_back += took["total_fen"]
            wallet_back = rest - took["total_fen"]
    elif pur["statement_id"] is None:
        take = min(amount_fen, a["unbilled_fen"])
        wallet_back = amount_fen - take
        tx.execute(
            "UPDATE credit_accounts SET unbilled_fen = unbilled_fen - :t,"
            " prepaid_fen = prepaid_fen - :w WHERE user_id = :u",
            {"t": take, "w": wallet_back, "u": user_id},
        )
        owed_back = take
    else:
        owed_back, wallet_back = _refund_on_statement(
            ctx, cfg, user_id, pur["statement_id"], amount_fen, refund_ref
        )
    refunded = pur["refunded_fen"] + amount_fen
    tx.execute(
        "UPDATE credit_purchases SET refunded_fen = :r, status = :s, updated_at_ms = :now"
        " WHERE id = :id",
        {
            "r": refunded,
            "s": "REFUNDED" if refunded == pur["amount_fen"] else "PARTIALLY_REFUNDED",
            "now": _now(),
            "id": pur["id"],
        },
    )
    if a["status"] == "CLOSED":
        legs = [credit(payments.user_account(user_id), wallet_back)]
    else:
        legs = [
            credit(receivable(user_id), owed_back),
            credit(payments.user_account(user_id), wallet_back),
        ]
    if merchant_back:
        legs.append(debit(unit_account("installment_fee_income", ctx.unit), merchant_back))
    return HuabeiRefund(legs, merchant_back)


def _refund_on_statement(
    ctx: WriteContext,
    cfg: CreditConfig,
    user_id: str,
    statement_id: str,
    amount_fen: int,
    refund_ref: str,
) -> tuple[int, int]:
    tx = ctx.tx
    st = _load_statement(tx, user_id, statement_id)
    if st["status"] == "WRITTEN_OFF":
        return 0, amount_fen
    unpaid = st["purchase_fen"] - st["installed_fen"] - st["purchase_paid_fen"]
    take = min(amount_fen, unpaid)
    paid_back = min(amount_fen - take, st["purchase_paid_fen"])
    installed_back = amount_fen - take - paid_back
    tx.execute(
        "UPDATE credit_statements SET purchase_fen = purchase_fen - :a,"
        " purchase_paid_fen = purchase_paid_fen - :pb, installed_fen = installed_fen - :ib,"
        " updated_at_ms = :now WHERE id = :id",
        {"a": amount_fen, "pb": paid_back, "ib": installed_back, "now": _now(), "id": st["id"]},
    )
    tx.execute(
        "INSERT INTO credit_statement_items (statement_id, kind, ref, principal_fen,"
        " fee_fen, memo, created_at_ms) VALUES (:s, 'REFUND', :r, :p, 0, 'refund', :now)",
        {"s": st["id"], "r": refund_ref, "p": -amount_fen, "now": _now()},
    )
    tx.execute(
        "UPDATE credit_accounts SET billed_fen = billed_fen - :t WHERE user_id = :u",
        {"t": take, "u": user_id},
    )
    owed_back, wallet_back = take, paid_back
    if installed_back:  # the bill was split: take it off the plan's future periods
        plan = tx.one(
            "SELECT * FROM credit_plans WHERE source_id = :s AND kind = 'BILL'", {"s": st["id"]}
        )
        assert plan is not None
        cut = _reduce_plan(tx, plan, installed_back)
        owed_back += cut
        rest = installed_back - cut
        if rest:
            took = _allocate(ctx, cfg, user_id, rest, refund_ref, statements_only=True)
            owed_back += took["total_fen"]
            wallet_back += rest - took["total_fen"]
    _settle_statuses(tx, cfg, user_id, _today())
    return owed_back, wallet_back


def refund_huabei_purchase(
    p: Platform,
    merchant_id: str,
    purchase_id: str,
    amount_fen: int,
    request_id: str,
    reason: str = "",
) -> Row:
    """A merchant refunds (part of) an instant Huabei payment; the fee comes back in proportion
    (one ``Refund`` through the money-movement engine)."""
    check_amount(p, amount_fen)
    try:
        unit = p.unit_of(purchase_id)
    except ValueError:
        raise PurchaseNotFound("no such Huabei purchase") from None
    command = Refund(
        purpose=HUABEI_PURCHASE,
        refund_id=new_id(bucket_of(purchase_id)),
        merchant_id=merchant_id,
        paid_id=purchase_id,
        amount_fen=amount_fen,
        request_id=idempotency.check_key(request_id),
        reason=reason[:100],
        settle_cycle=str(members.get_merchant_cached(p, merchant_id)["settle_cycle"] or INSTANT),
    )
    result: Row = p.commands.submit(unit, command)
    return result


# --- installment plans ------------------------------------------------------------------------
def _create_plan(
    tx: Tx,
    cfg: CreditConfig,
    user_id: str,
    kind: str,
    source_id: str,
    principal_fen: int,
    periods: int,
    rate: Decimal,
    fee_fen: int,
    subsidised: bool,
    first_bill: date,
    plan_id: str | None = None,
) -> str:
    plan_id = plan_id or new_id(bucket_of(user_id))
    now = _now()
    tx.execute(
        "INSERT INTO credit_plans (id, user_id, kind, source_id, principal_fen, fee_fen, fee_rate,"
        " periods, subsidised, status, created_at_ms, updated_at_ms) VALUES (:id, :u, :k, :s, :p,"
        " :f, :r, :n, :sub, 'ACTIVE', :now, :now)",
        {
            "id": plan_id,
            "u": user_id,
            "k": kind,
            "s": source_id,
            "p": principal_fen,
            "f": fee_fen,
            "r": str(rate),
            "n": periods,
            "sub": subsidised,
            "now": now,
        },
    )
    rows = [
        {
            "plan": plan_id,
            "n": s.number,
            "u": user_id,
            "b": s.bill_date.isoformat(),
            "p": s.principal_fen,
            "f": s.fee_fen,
        }
        for s in sched.installment_schedule(
            principal_fen, periods, fee_fen, first_bill, cfg.bill_day
        )
    ]
    tx.executemany(
        "INSERT INTO credit_plan_periods (plan_id, number, user_id, bill_date, principal_fen,"
        " fee_fen, status) VALUES (:plan, :n, :u, :b, :p, :f, 'PENDING')",
        rows,
    )
    return plan_id


def _load_plan(tx: Tx, user_id: str, plan_id: str) -> Row:
    row = tx.one(
        "SELECT * FROM credit_plans WHERE id = :id AND user_id = :u", {"id": plan_id, "u": user_id}
    )
    if row is None:
        raise PlanNotFound("no such installment plan")
    return row


def _reduce_plan(tx: Tx, plan: Row, amount_fen: int) -> int:
    """Take up to ``amount_fen`` of principal off a plan's future periods, last period first;
    a shortened period keeps its fee in proportion. Returns the principal taken off."""
    left = amount_fen
    periods = tx.all(
        "SELECT * FROM credit_plan_periods WHERE plan_id = :p AND status = 'PENDING'"
        " ORDER BY number DESC",
        {"p": plan["id"]},
    )
    for period in periods:
        if not left:
            break
        cut = min(left, period["principal_fen"])
        remaining = period["principal_fen"] - cut
        fee = (
            round_fen(Decimal(period["fee_fen"]) * remaining / period["principal_fen"])
            if remaining
            else 0
        )
        tx.execute(
            "UPDATE credit_plan_periods SET principal_fen = :p, fee_fen = :f, status = :s"
            " WHERE plan_id = :plan AND number = :n",
            {
                "p": remaining,
                "f": fee,
                "s": "PENDING" if remaining else "REFUNDED",
                "plan": plan["id"],
                "n": period["number"],
            },
        )
        left -= cut
    taken = amount_fen - left
    tx.execute(
        "UPDATE credit_accounts SET installment_fen = installment_fen - :t WHERE user_id = :u",
        {"t": taken, "u": plan["user_id"]},
    )
    _maybe_complete_plan(tx, plan["id"])
    return taken


def _maybe_complete_plan(tx: Tx, plan_id: str) -> None:
    pending = tx.scalar(
        "SELECT COUNT(*) FROM credit_plan_periods WHERE plan_id = :p AND status = 'PENDING'",
        {"p": plan_id},
    )
    if not pending:
        tx.execute(
            "UPDATE credit_plans SET status = 'COMPLETED', updated_at_ms = :now"
            " WHERE id = :p AND status = 'ACTIVE'",
            {"p": plan_id, "now": _now()},
        )


def install_bill(
    p: Platform, user_id: str, statement_id: str, periods: int, request_id: str
) -> Row:
    """账单分期: after the statement and by its due date, split what is unpaid of its purchases
    into 3/6/9/12 periods, the first billed next month."""
    cfg = config_for(p)

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        plan_ref = new_id(bucket_of(user_id))
        first = idempotency.claim(
            tx,
            f"credit.install:{user_id}",
            request_id,
            {"statement_id": statement_id, "periods": periods},
            plan_ref,
        )
        if first is not None:
            return _load_plan(tx, user_id, first)
        st = _load_statement(tx, user_id, statement_id)
        today = _today()
        if st["status"] != "OPEN" or today > date.fromisoformat(st["due_date"]):
            raise InstallmentNotAllowed(
                "a bill can be split only after it is issued and by its due date"
            )
        if tx.one("SELECT 1 AS x FROM credit_plans WHERE source_id = :s", {"s": statement_id}):
            raise InstallmentNotAllowed("this bill is already split")
        amount = st["purchase_fen"] - st["installed_fen"] - st["purchase_paid_fen"]
        if amount <= 0:
            raise InstallmentNotAllowed("nothing of this bill's purchases is left to split")
        rates = priced_rates(tx, user_id, cfg.bill_installment_rates)
        fee = sched.installment_fee(amount, periods, rates, cfg.installment_min_fen)
        first_bill = sched.add_months(date.fromisoformat(st["bill_date"]), 1, on_day=cfg.bill_day)
        _create_plan(
            tx,
            cfg,
            user_id,
            "BILL",
            statement_id,
            amount,
            periods,
            rates[periods],
            fee,
            False,
            first_bill,
            plan_ref,
        )
        inst_due = st["inst_principal_fen"] + st["inst_fee_fen"]
        tx.execute(
            "UPDATE credit_statements SET installed_fen = installed_fen + :a, minimum_fen = :m,"
            " updated_at_ms = :now WHERE id = :id",
            {
                "a": amount,
                "now": _now(),
                "id": statement_id,
                "m": sched.minimum_due(
                    st["purchase_fen"] - st["installed_fen"] - amount, inst_due, cfg.minimum_rate
                ),
            },
        )
        tx.execute(
            "UPDATE credit_accounts SET billed_fen = billed_fen - :a,"
            " installment_fen = installment_fen + :a WHERE user_id = :u",
            {"a": amount, "u": user_id},
        )
        _settle_statuses(tx, cfg, user_id, today)
        return _load_plan(tx, user_id, plan_ref)

    return p.writer_for(user_id).submit(command)


def settle_plan(p: Platform, user_id: str, plan_id: str, request_id: str) -> Row:
    """Early settlement (提前还款) of a plan's future periods from the wallet; their fees are
    waived or charged per configuration. Periods already billed stay on their bills."""
    cfg = config_for(p)

    def command(ctx: WriteContext) -> Row:
        tx = ctx.tx
        first = idempotency.claim(
            tx, f"credit.settle:{user_id}", request_id, {"plan_id": plan_id}, plan_id
        )
        if first is not None:
            return _load_plan(tx, user_id, plan_id)
        plan = _load_plan(tx, user_id, plan_id)
        if plan["status"] != "ACTIVE":
            raise InstallmentNotAllowed(f"plan is {plan['status'].lower()}")
        pending = tx.all(
            "SELECT * FROM credit_plan_periods WHERE plan_id = :p AND status = 'PENDING'",
            {"p": plan_id},
        )
        principal = sum(r["principal_fen"] for r in pending)
        fee = (
            0
            if cfg.early_settlement_fee_waived or plan["subsidised"]
            else sum(r["fee_fen"] for r in pending)
        )
        post(
            ctx,
            "credit.settle",
            plan_id,
            [
                debit(payments.user_account(user_id), principal + fee),
                credit(receivable(user_id), principal),
                credit(unit_account("installment_fee_income", ctx.unit), fee),
            ],
        )
        tx.execute(
            "UPDATE credit_plan_periods SET status = 'SETTLED' WHERE plan_id = :p"
            " AND status = 'PENDING'",
            {"p": plan_id},
        )
        tx.execute(
            "UPDATE credit_accounts SET installment_fen = installment_fen - :a WHERE user_id = :u",
            {"a": principal, "u": user_id},
        )
        PLAN.move(tx, plan_id, "ACTIVE", "SETTLED")
        return _load_plan(tx, user_id, plan_id)

    return p.writer_for(user_id).submit(command)


def plan_schedule(p: Platform, user_id: str, plan_id: str) -> dict[str, Any]:
    with p.db_for(user_id).read() as tx:
        plan = _load_plan(tx, user_id, plan_id)
        periods = tx.all(
            "SELECT * FROM credit_plan_periods WHERE plan_id = :p ORDER BY number", {"p": plan_id}
        )
    return {**dict(plan), "schedule": [dict(r) for r in periods]}


# --- statements -------------------------------------------------------------------------------
def _load_statement(tx: Tx, user_id: str, statement_id: str) -> Row:
    row = tx.one(
        "SELECT * FROM credit_statements WHERE id = :id AND user_id = :u",
        {"id": statement_id, "u": user_id},
    )
    if row is None:
        raise StatementNotFound("no such bill")
    return row


def owed_parts(st: Row) -> dict[str, int]:
    """What is still unpaid on a bill, by repayment priority."""
    return {
        "interest": st["interest_fen"] - st["interest_paid_fen"],
        "inst_fee": st["inst_fee_fen"] - st["inst_fee_paid_fen"],
        "inst_principal": st["inst_principal_fen"] - st["inst_principal_paid_fen"],
        "purchase": st["purchase_fen"] - st["installed_fen"] - st["purchase_paid_fen"],
    }


def statement_owed(st: Row) -> int:
    return sum(owed_parts(st).values())


def statement_paid(st: Row) -> int:
    return int(
        st["purchase_paid_fen"]
        + st["inst_principal_paid_fen"]
        + st["inst_fee_paid_fen"]
        + st["interest_paid_fen"]
    )


def bill_user(ctx: WriteContext, user_id: str, bill_date: date) -> str | None:
    """出账: purchases and installment periods due by ``bill_date`` become a statement."""
    cfg = config_for(ctx.platform)
    tx = ctx.tx
    a = tx.one("SELECT * FROM credit_accounts WHERE user_id = :u", {"u": user_id})
    if a is None or a["status"] == "CLOSED":
        return None
    day = bill_date.isoformat()
    if tx.one(
        "SELECT 1 AS x FROM credit_statements WHERE user_id = :u AND bill_date = :d",
        {"u": user_id, "d": day},
    ):
        return None
    purchases = tx.all(
        "SELECT id, amount_fen - refunded_fen AS net FROM credit_purchases WHERE user_id = :u"
        " AND statement_id IS NULL AND plan_id IS NULL AND bill_date IS NOT NULL"
        " AND bill_date <= :d ORDER BY created_at_ms",
        {"u": user_id, "d": day},
    )
    periods = tx.all(
        "SELECT pp.*, pl.subsidised FROM credit_plan_periods pp JOIN credit_plans pl"
        " ON pl.id = pp.plan_id WHERE pp.user_id = :u AND pp.status = 'PENDING'"
        " AND pp.bill_date <= :d ORDER BY pp.bill_date, pp.plan_id, pp.number",
        {"u": user_id, "d": day},
    )
    if not purchases and not periods:
        return None
    statement_id = new_id(bucket_of(user_id))
    now = _now()
    purchase_fen = sum(int(r["net"]) for r in purchases)
    inst_principal = sum(int(r["principal_fen"]) for r in periods)
    inst_fee = sum(0 if r["subsidised"] else int(r["fee_fen"]) for r in periods)
    applied = min(int(a["prepaid_fen"]), purchase_fen)
    items = [
        {
            "s": statement_id,
            "k": "PURCHASE",
            "r": r["id"],
            "p": int(r["net"]),
            "f": 0,
            "m": "",
            "now": now,
        }
        for r in purchases
    ]
    items += [
        {
            "s": statement_id,
            "k": "INSTALLMENT",
            "r": r["plan_id"],
            "p": r["principal_fen"],
            "f": 0 if r["subsidised"] else r["fee_fen"],
            "m": f"period {r['number']}" + (" (fee paid by merchant)" if r["subsidised"] else ""),
            "now": now,
        }
        for r in periods
    ]
    tx.executemany(
        "INSERT INTO credit_statement_items (statement_id, kind, ref, principal_fen, fee_fen, memo,"
        " created_at_ms) VALUES (:s, :k, :r, :p, :f, :m, :now)",
        items,
    )
    tx.executemany(
        "UPDATE credit_purchases SET statement_id = :s WHERE id = :id",
        [{"s": statement_id, "id": r["id"]} for r in purchases],
    )
    tx.executemany(
        "UPDATE credit_plan_periods SET status = 'BILLED', statement_id = :s"
        " WHERE plan_id = :p AND number = :n",
        [{"s": statement_id, "p": r["plan_id"], "n": r["number"]} for r in periods],
    )
    for plan_id in {r["plan_id"] for r in periods}:
        _maybe_complete_plan(tx, plan_id)
    due = sched.due_date_for(bill_date, a["due_day"])
    minimum = sched.minimum_due(purchase_fen, inst_principal + inst_fee, cfg.minimum_rate)
    owed = purchase_fen - applied + inst_principal + inst_fee
    tx.execute(
        "INSERT INTO credit_statements (id, user_id, bill_date, due_date, deadline, status,"
        " purchase_fen, inst_principal_fen, inst_fee_fen, purchase_paid_fen, minimum_fen,"
        " interest_through, paid_on, interest_rate, interest_band, interest_priced_by,"
        " created_at_ms, updated_at_ms) VALUES (:id, :u, :b, :due, :due, :st, :pf, :ip, :if,"
        " :paid, :min, :due, :paid_on, :ir, :ib, :ipb, :now, :now)",
        {
            "ir": a["interest_rate"] or str(cfg.daily_interest_rate),
            "ib": a["interest_band"],
            "ipb": a["interest_priced_by"] or "default rate",
            "id": statement_id,
            "u": user_id,
            "b": day,
            "due": due.isoformat(),
            "st": "OPEN" if owed else "PAID",
            "pf": purchase_fen,
            "ip": inst_principal,
            "if": inst_fee,
            "paid": applied,
            "min": min(minimum, owed),
            "paid_on": None if owed else day,
            "now": now,
        },
    )
    tx.execute(
        "UPDATE credit_accounts SET unbilled_fen = unbilled_fen - :moved, prepaid_fen ="
        " prepaid_fen - :applied, billed_fen = billed_fen + :billed, installment_fen ="
        " installment_fen - :ip, charges_fen = charges_fen + :if, updated_at_ms = :now"
        " WHERE user_id = :u",
        {
            "moved": purchase_fen - applied,
            "applied": applied,
            "billed": purchase_fen - applied + inst_principal,
            "ip": inst_principal,
            "if": inst_fee,
            "now": now,
            "u": user_id,
        },
    )
    if inst_fee:
        post(
            ctx,
            "credit.installment_fee",
            statement_id,
            [
                debit(receivable(user_id), inst_fee),
                credit(unit_account("installment_fee_income", ctx.unit), inst_fee),
            ],
        )
    return statement_id


def accrue_interest(ctx: WriteContext, user_id: str, through: date) -> int:
    """Simple overdue interest, one day at a time on that day's unpaid principal and fees
    (never on interest), for every day after the due date up to and including ``through``."""
    cfg = config_for(ctx.platform)
    tx = ctx.tx
    total = 0
    for st in tx.all(
        "SELECT * FROM credit_statements WHERE user_id = :u AND status IN"
        " ('REVOLVING', 'OVERDUE') AND interest_through < :d",
        {"u": user_id, "d": through.isoformat()},
    ):
        parts = owed_parts(st)
        base = parts["purchase"] + parts["inst_principal"] + parts["inst_fee"]
        days = (through - date.fromisoformat(st["interest_through"])).days
        interest = sched.daily_interest(base, statement_rate(cfg, st)) * days
        tx.execute(
            "UPDATE credit_statements SET interest_fen = interest_fen + :i,"
            " interest_through = :d, updated_at_ms = :now WHERE id = :id",
            {"i": interest, "d": through.isoformat(), "now": _now(), "id": st["id"]},
        )
        total += interest
    if total:
        tx.execute(
            "UPDATE credit_accounts SET charges_fen = charges_fen + :i WHERE user_id = :u",
            {"i": total, "u": user_id},
        )
        post(
            ctx,
            "credit.interest",
            user_id,
            [
                debit(receivable(user_id), total),
                credit(unit_account("interest_income", ctx.unit), total),
            ],
            f"overdue interest through {through}",
        )
    return total


def _settle_statuses(tx: Tx, cfg: CreditConfig, user_id: str, today: date) -> None:
    """Bills with nothing owed become PAID; an account with no overdue bill is thawed."""
    for st in tx.all(
        "SELECT * FROM credit_statements WHERE user_id = :u AND status IN"
        " ('OPEN', 'REVOLVING', 'OVERDUE')",
        {"u": user_id},
    ):
        if statement_owed(st) == 0:
            STATEMENT.move(tx, st["id"], st["status"], "PAID", paid_on=today.isoformat())
    if not tx.one(
        "SELECT 1 AS x FROM credit_statements WHERE user_id = :u AND status = 'OVERDUE'",
        {"u": user_id},
    ):
        tx.execute(
            "UPDATE credit_accounts SET overdue_days = 0 WHERE user_id = :u AND overdue_days > 0",
            {"u": user_id},
        )


# --- repayment --------------------------------------------------------------------------------
COMPONENT_ORDER = ("interest", "inst_fee", "inst_principal", "purchase")
PAID_COLUMN = {
    "interest": "interest_paid_fen",
    "inst_fee": "inst_fee_paid_fen",
    "inst_principal": "inst_principal_paid_fen",
    "purchase": "purchase_paid_fen",
}


def total_owed(tx: Tx, user_id: str) -> int:
    """Everything repayable now: unpaid bills plus unbilled purchases (not future periods)."""
    a = load_account(tx, user_id)
    bills = sum(
        statement_owed(st)
        for st in tx.all(
            "SELECT * FROM credit_statements WHERE user_id = :u AND status IN"
            " ('OPEN', 'REVOLVING', 'OVERDUE')",
            {"u": user_id},
        )
    )
    return bills + int(a["unbilled_fen"])


def payoff_fen(p: Platform, user_id: str) -> dict[str, int]:
    """What clears each unpaid bill if paid today, including today's interest not yet booked."""
    cfg = config_for(p)
    today = _today()
    out: dict[str, int] = {}
    with p.db_for(user_id).read() as tx:
        load_account(tx, user_id)
        for st in tx.all(
            "SELECT * FROM credit_statements WHERE user_id = :u AND status IN"
            " ('OPEN', 'REVOLVING', 'OVERDUE')",
            {"u": user_id},
        ):
            parts = owed_parts(st)
            days = max(0, (today - date.fromisoformat(st["interest_through"])).days)
            base = parts["purchase"] + parts["inst_principal"] + parts["inst_fee"]
            extra = (
                sched.daily_interest(base, statement_rate(cfg, st)) * days
                if st["status"] != "OPEN"
                else 0
            )
            out[st["id"]] = statement_owed(st) + extra
    return out


def _allocate(
    ctx: WriteContext,
    cfg: CreditConfig,
    user_id: str,
    amount_fen: int,
    ref: str,
    statements_only: bool = False,
) -> dict[str, Any]:
    """Apply ``amount_fen``: interest and fees first, then installment amounts, then principal,
    oldest bill first; then unbilled purchases (early repayment). Updates the counters; the
    caller books the voucher. Returns what each fen paid."""
    tx = ctx.tx
    today = _today()
    left = amount_fen
    lines: list[dict[str, Any]] = []
    bills = tx.all(
        "SELECT * FROM credit_statements WHERE user_id = :u AND status IN"
        " ('OPEN', 'REVOLVING', 'OVERDUE') ORDER BY bill_date",
        {"u": user_id},
    )
    paid: dict[str, dict[str, int]] = {st["id"]: {} for st in bills}
    for part in COMPONENT_ORDER:
        for st in bills:
            if not left:
                break
            take = min(left, owed_parts(st)[part])
            if take > 0:
                paid[st["id"]][part] = take
                lines.append({"statement_id": st["id"], "part": part, "fen": take})
                left -= take
    charges = principal = 0
    for st in bills:
        cols = paid[st["id"]]
        if not cols:
            continue
        sets = ", ".join(f"{PAID_COLUMN[k]} = {PAID_COLUMN[k]} + :{k}" for k in cols)
        tx.execute(
            f"UPDATE credit_statements SET {sets}, updated_at_ms = :now WHERE id = :id",
            {**cols, "now": _now(), "id": st["id"]},
        )
        charges += cols.get("interest", 0) + cols.get("inst_fee", 0)
        principal += cols.get("inst_principal", 0) + cols.get("purchase", 0)
    early = 0
    if left and not statements_only:
        a = load_account(tx, user_id)
        early = min(left, int(a["unbilled_fen"]))
        if early:
            lines.append({"statement_id": None, "part": "unbilled", "fen": early})
            left -= early
    tx.execute(
        "UPDATE credit_accounts SET charges_fen = charges_fen - :c, billed_fen ="
        " billed_fen - :p, unbilled_fen = unbilled_fen - :e, prepaid_fen = prepaid_fen + :e"
        " WHERE user_id = :u",
        {"c": charges, "p": principal, "e": early, "u": user_id},
    )
    _settle_statuses(tx, cfg, user_id, today)
    return {"total_fen": amount_fen - left, "lines": lines, "ref": ref}


def repay_in_ctx(
    ctx: WriteContext, user_id: str, amount_fen: int, source: str, repayment_id: str | None = None
) -> Row:
    """Repay from the user's wallet balance inside a command (a card or Yu'e Bao source has
    already moved its money into the balance)."""
    cfg = config_for(ctx.platform)
    tx = ctx.tx
    accrue_interest(ctx, user_id, _today())  # the day of repayment counts as a day of interest
    owed = total_owed(tx, user_id)
    if owed == 0:
        raise RepaymentExceedsOwed("nothing is owed", code="CREDIT_NOTHING_OWED")
    if amount_fen > owed:
        raise RepaymentExceedsOwed(f"at most {owed} fen is owed")
    repayment_id = repayment_id or new_id(bucket_of(user_id))
    allocation = _allocate(ctx, cfg, user_id, amount_fen, repayment_id)
    assert allocation["total_fen"] == amount_fen
    post(
        ctx,
        "credit.repay",
        repayment_id,
        [
            debit(payments.user_account(user_id), amount_fen),
            credit(receivable(user_id), amount_fen),
        ],
    )
    tx.execute(
        "INSERT INTO credit_repayments (id, user_id, amount_fen, source, allocation,"
        " created_at_ms) VALUES (:id, :u, :a, :s, :al, :now)",
        {
            "id": repayment_id,
            "u": user_id,
            "a": amount_fen,
            "s": source,
            "al": json.dumps(allocation["lines"]),
            "now": _now(),
        },
    )
    row = tx.one("SELECT * FROM credit_repayments WHERE id = :id", {"id": repayment_id})
    assert row is not None
    return row


def repay(
    p: Platform,
    user_id: str,
    amount_fen: int,
    request_id: str,
    pay_password: str | None = None,
    card_id: str | None = None,
) -> Row:
    """还款: any amount up to what is owed, at any time, from the wallet or a bound card."""
    check_amount(p, amount_fen)
    members.authorize_payment(p, user_id, amount_fen, pay_password)
    source = "BALANCE"
    if card_id is not None:
        order = payments.topup(p, user_id, card_id, amount_fen, f"credit-repay-{request_id}")
        if order["status"] != "SUCCEEDED":
            raise Forbidden(
                f"card payment {order['status'].lower()}", code="CREDIT_CARD_PAYMENT_FAILED"
            )
        source = "CARD"
    repayment_id = new_id(bucket_of(user_id))

    def command(ctx: WriteContext) -> Row:
        first = idempotency.claim(
            ctx.tx,
            f"credit.repay:{user_id}",
            request_id,
            {"amount_fen": amount_fen, "card_id": card_id},
            repayment_id,
        )
        if first is not None:
            row = ctx.tx.one("SELECT * FROM credit_repayments WHERE id = :id", {"id": first})
            assert row is not None
            return row
        return repay_in_ctx(ctx, user_id, amount_fen, source, repayment_id)

    return p.writer_for(user_id).submit(command)


# --- reads ------------------------------------------------------------------------------------
def summary(p: Platform, user_id: str) -> dict[str, Any]:
    cfg = config_for(p)
    with p.db_for(user_id).read() as tx:
        a = load_account(tx, user_id)
        owed = total_owed(tx, user_id)
    return {
        "user_id": user_id,
        "status": a["status"],
        "line_fen": a["line_fen"],
        "everyday_cap_fen": min(a["line_fen"], cfg.everyday_cap_fen),
        "available_fen": available_fen(cfg, a),
        "available_medical_fen": available_fen(cfg, a, "medical"),
        "unbilled_fen": a["unbilled_fen"],
        "billed_unpaid_fen": a["billed_fen"],
        "installment_outstanding_fen": a["installment_fen"],
        "charges_unpaid_fen": a["charges_fen"],
        "owed_now_fen": owed,
        "receivable_fen": receivable_fen(a),
        "prepaid_fen": a["prepaid_fen"],
        "overdue_days": a["overdue_days"],
        "frozen": a["status"] != "ACTIVE" or a["overdue_days"] > 0,
        "frozen_reason": a["frozen_reason"] or ("overdue" if a["overdue_days"] else ""),
        "due_day": a["due_day"],
        "autodebit": bool(a["autodebit"]),
        "written_off_fen": a["written_off_fen"],
        "interest_rate": a["interest_rate"] or str(cfg.daily_interest_rate),
        "interest_band": a["interest_band"],
        "interest_priced_by": a["interest_priced_by"] or "default rate",
    }


def public_statement(st: Row, items: list[Row] | None = None) -> dict[str, Any]:
    out = {
        k: st[k]
        for k in (
            "bill_date",
            "due_date",
            "deadline",
            "status",
            "purchase_fen",
            "installed_fen",
            "inst_principal_fen",
            "inst_fee_fen",
            "interest_fen",
            "minimum_fen",
            "overdue_since",
            "paid_on",
            "interest_band",
            "interest_priced_by",
        )
    }
    out["interest_rate"] = st["interest_rate"] or "default"  # cut before tiers existed
    out["statement_id"] = st["id"]
    out["total_fen"] = (
        st["purchase_fen"]
        - st["installed_fen"]
        + st["inst_principal_fen"]
        + st["inst_fee_fen"]
        + st["interest_fen"]
    )
    out["paid_fen"] = statement_paid(st)
    out["owed_fen"] = statement_owed(st)
    out["minimum_left_fen"] = max(0, st["minimum_fen"] - out["paid_fen"])
    if items is not None:
        out["items"] = [
            {k: i[k] for k in ("kind", "ref", "principal_fen", "fee_fen", "memo")} for i in items
        ]
    return out


def list_statements(p: Platform, user_id: str) -> list[dict[str, Any]]:
    with p.db_for(user_id).read() as tx:
        load_account(tx, user_id)
        rows = tx.all(
            "SELECT * FROM credit_statements WHERE user_id = :u ORDER BY bill_date DESC",
            {"u": user_id},
        )
    return [public_statement(r) for r in rows]


def get_statement(p: Platform, user_id: str, statement_id: str) -> dict[str, Any]:
    with p.db_for(user_id).read() as tx:
        st = _load_statement(tx, user_id, statement_id)
        items = tx.all(
            "SELECT * FROM credit_statement_items WHERE statement_id = :s ORDER BY id",
            {"s": statement_id},
        )
    return public_statement(st, items)


def list_plans(p: Platform, user_id: str) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return tx.all(
            "SELECT * FROM credit_plans WHERE user_id = :u ORDER BY created_at_ms", {"u": user_id}
        )


def list_purchases(p: Platform, user_id: str, limit: int = 100) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return tx.all(
            "SELECT * FROM credit_purchases WHERE user_id = :u"
            " ORDER BY created_at_ms DESC LIMIT :l",
            {"u": user_id, "l": limit},
        )


def get_purchase(p: Platform, purchase_id: str) -> Row:
    try:
        db = p.db_for(purchase_id)
    except ValueError:
        raise PurchaseNotFound("no such Huabei purchase") from None
    with db.read() as tx:
        row = tx.one("SELECT * FROM credit_purchases WHERE id = :id", {"id": purchase_id})
    if row is None:
        raise PurchaseNotFound("no such Huabei purchase")
    return row


def line_history(p: Platform, user_id: str) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return tx.all(
            "SELECT * FROM credit_line_changes WHERE user_id = :u ORDER BY created_at_ms",
            {"u": user_id},
        )


def repayments(p: Platform, user_id: str) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return tx.all(
            "SELECT * FROM credit_repayments WHERE user_id = :u ORDER BY created_at_ms",
            {"u": user_id},
        )
