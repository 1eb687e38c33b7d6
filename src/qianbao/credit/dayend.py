"""Huabei's scheduled jobs on the business calendar.

``start_of_day(p, day)``: on the bill day, cut statements (出账) and review lines.
``end_of_day(p, day)``: automatic debit of bills due, due-date outcomes (paid, revolving on the
minimum, overdue), overdue interest, buckets, lawful reminders, provisions (one voucher per unit)
and write-offs, then the day's portfolio row for the report.

Each user's work is one command in the user's unit writer; commands are submitted in bulk so
the writer group-commits them. Every job is idempotent for its day.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import date, timedelta
from typing import Any

from qianbao.credit import ports, reminders, store
from qianbao.credit import schedule as sched
from qianbao.credit.accounts import (
    STATEMENT,
    load_account,
    receivable,
    receivable_fen,
    unit_accounts,
)
from qianbao.credit.config import CreditConfig, config_for
from qianbao.credit.lines import auto_review
from qianbao.credit.model.aging import AgedGroup, Aging, age_portfolio
from qianbao.credit.model.statement import interest_base_fen, statement_owed, statement_paid
from qianbao.credit.pricing import statement_rate
from qianbao.credit.repayments import repay_in_ctx, total_owed
from qianbao.credit.statements import accrue_interest, bill_user
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import balance_in, credit, debit, open_account, post
from qianbao.members import service as members
from qianbao.payments import service as payments
from qianbao.platform.clock import TZ, clock, start_of_day_ms
from qianbao.platform.db import Tx
from qianbao.platform.errors import QianbaoError
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext

# Extra automatic-debit sources tried after the wallet and before a bound card (Yu'e Bao plugs in
# here): fn(p, user_id, shortfall_fen, day) -> fen moved into the user's wallet balance.
AUTODEBIT_SOURCES: list[Callable[[Platform, str, int, date], int]] = []
CHUNK = 2000  # commands in flight per unit at once


def _run_each(
    p: Platform, unit: int, user_ids: Iterable[str], command: Callable[[WriteContext, str], Any]
) -> dict[str, Any]:
    """Submit ``command`` for each user to the unit's writer in bulk; collect results."""
    writer = p.writers[unit]
    results: dict[str, Any] = {}
    pending: list[tuple[str, Future[Any]]] = []

    def collect() -> None:
        for uid, fut in pending:
            try:
                results[uid] = fut.result(timeout=120)
            except QianbaoError as exc:
                results[uid] = exc
        pending.clear()

    def bind(uid: str) -> Callable[[WriteContext], Any]:
        return lambda ctx: command(ctx, uid)

    for uid in user_ids:
        pending.append((uid, writer.submit_async(bind(uid))))
        if len(pending) >= CHUNK:
            collect()
    collect()
    return results


def _users(p: Platform, unit: int, query: Callable[[Tx], list[str]]) -> list[str]:
    with p.units[unit].read() as tx:
        return query(tx)


# --- start of day -----------------------------------------------------------------------------
def start_of_day(p: Platform, day: date) -> dict[str, int]:
    cfg = config_for(p)
    out = {"statements": 0, "line_increases": 0, "rescored": 0}
    if day.day != cfg.bill_day:
        return out
    review_before = sched.add_months(day, -cfg.review_every_months)
    for unit in range(len(p.units)):
        users = _users(p, unit, store.billable_user_ids)
        billed = _run_each(p, unit, users, lambda ctx, u: bill_user(ctx, u, day))
        out["statements"] += sum(1 for v in billed.values() if isinstance(v, str))
        due = _users(p, unit, lambda tx: store.review_due_user_ids(tx, review_before))
        out["rescored"] += ports.score_source().rescore(p, due)
        raised = _run_each(p, unit, due, lambda ctx, u: auto_review(ctx, cfg, u, day))
        out["line_increases"] += sum(1 for v in raised.values() if isinstance(v, int))
    return out


# --- end of day -------------------------------------------------------------------------------
def _due_bills_owed(p: Platform, unit: int, day: date) -> dict[str, int]:
    """Users with a bill whose deadline is today -> what all their bills due by today owe."""
    with p.units[unit].read() as tx:
        users = store.deadline_user_ids(tx, day)
        rows = [r for r in store.unpaid_statements_due(tx, day) if r["user_id"] in users]
    owed: dict[str, int] = {}
    for st in rows:
        owed[st["user_id"]] = owed.get(st["user_id"], 0) + statement_owed(st)
    return owed


def _autodebit_balance(ctx: WriteContext, user_id: str, day: date) -> int:
    """Take what the wallet can pay of the bills due (never more than owed on them)."""
    tx = ctx.tx
    accrue_interest(ctx, user_id, day)
    owed = sum(statement_owed(st) for st in store.unpaid_statements_due(tx, day, user_id))
    take = min(owed, balance_in(tx, payments.user_account(user_id), available=True))
    if take > 0:
        repay_in_ctx(ctx, user_id, take, "AUTO_BALANCE")
    return take


def autodebit(p: Platform, day: date, *, cards: bool = True) -> dict[str, int]:
    """On the due date: wallet first, then extra sources (Yu'e Bao), then a bound card."""
    out = {"balance_fen": 0, "card_fen": 0, "other_fen": 0}
    for unit in range(len(p.units)):
        owed = _due_bills_owed(p, unit, day)
        with p.units[unit].read() as tx:
            enabled = store.autodebit_user_ids(tx)
        users = sorted(u for u in owed if u in enabled)
        took = _run_each(p, unit, users, lambda ctx, u: _autodebit_balance(ctx, u, day))
        for uid in users:
            paid = took[uid] if isinstance(took[uid], int) else 0
            out["balance_fen"] += paid
            short = owed[uid] - paid
            for source in AUTODEBIT_SOURCES:
                if short <= 0:
                    break
                moved = source(p, uid, short, day)
                if moved:
                    _repay_moved(p, uid, moved)
                    out["other_fen"] += moved
                    short -= moved
            if short > 0 and cards:
                out["card_fen"] += _autodebit_card(p, uid, short, day)
    return out


def _repay_moved(p: Platform, user_id: str, moved_fen: int) -> None:
    p.writer_for(user_id).submit(lambda ctx: repay_in_ctx(ctx, user_id, moved_fen, "AUTO_OTHER"))


def _autodebit_card(p: Platform, user_id: str, short_fen: int, day: date) -> int:
    cards = members.list_cards(p, user_id)
    if not cards:
        return 0
    try:
        order = payments.topup(
            p, user_id, cards[0]["id"], short_fen, f"credit-autodebit-{day.isoformat()}"
        )
    except QianbaoError:
        return 0
    if order["status"] != "SUCCEEDED":
        return 0

    def command(ctx: WriteContext) -> int:
        owed = total_owed(ctx.tx, user_id)
        take = min(order["amount_fen"], owed)
        if take > 0:
            repay_in_ctx(ctx, user_id, take, "AUTO_CARD")
        return take

    return int(p.writer_for(user_id).submit(command))


def _due_outcome(ctx: WriteContext, user_id: str, day: date) -> None:
    """At the end of a deadline: minimum met -> REVOLVING until next month's due date, else
    OVERDUE from tomorrow. A revolving bill not cleared by its second deadline goes overdue."""
    tx = ctx.tx
    tomorrow = (day + timedelta(days=1)).isoformat()
    for st in store.open_statements_due(tx, user_id, day):
        if statement_owed(st) == 0:
            continue
        if st["status"] == "OPEN" and statement_paid(st) >= st["minimum_fen"]:
            nxt = sched.add_months(date.fromisoformat(st["due_date"]), 1)
            STATEMENT.move(tx, st["id"], "OPEN", "REVOLVING", deadline=nxt.isoformat())
        else:
            STATEMENT.move(tx, st["id"], st["status"], "OVERDUE", overdue_since=tomorrow)


def _accrue_and_age(ctx: WriteContext, cfg: CreditConfig, day: date) -> dict[str, int]:
    """The whole unit in one command: interest through ``day`` on every revolving or overdue
    bill (one voucher: a debit per user's receivable, one credit to interest income), each
    account's days past due, and the reminders due. Returns days past due by user."""
    tx = ctx.tx
    through = day.isoformat()
    interest: dict[str, int] = {}
    by_statement: dict[str, int] = {}
    for st in store.unit_statements_accruing(tx, day):
        days = (day - date.fromisoformat(st["interest_through"])).days
        amount = sched.daily_interest(interest_base_fen(st), statement_rate(cfg, st)) * days
        by_statement[st["id"]] = amount
        if amount:
            interest[st["user_id"]] = interest.get(st["user_id"], 0) + amount
    store.add_interest_many(tx, by_statement, day, clock.now_ms())
    if interest:
        store.add_charges_many(tx, interest)
        legs = [debit(receivable(u), v) for u, v in sorted(interest.items())]
        legs.append(credit(unit_account("interest_income", ctx.unit), sum(interest.values())))
        post(ctx, "credit.interest", f"u{ctx.unit}", legs, f"overdue interest through {day}")
    dpd: dict[str, int] = {}
    for user_id, since in store.overdue_since_by_user(tx).items():
        if since <= through:
            dpd[user_id] = (day - date.fromisoformat(since)).days + 1
    for user_id in store.overdue_user_ids(tx):
        dpd.setdefault(user_id, 0)  # cured since yesterday
    store.set_overdue_days(tx, dpd)
    nxt = day + timedelta(days=1)
    remind = [u for u, d in dpd.items() if d in cfg.reminder_days]
    rows = []
    for u in remind:
        a = load_account(tx, u)
        rows.append(
            {
                "user_id": u,
                "day": nxt.isoformat(),
                "days_past_due": dpd[u],
                "overdue_fen": receivable_fen(a),
                "scheduled_at_ms": start_of_day_ms(nxt) + cfg.reminder_hours[0] * 3_600_000,
            }
        )
    store.insert_reminders(tx, rows)
    reminders.notify_overdue(ctx, rows)
    return dpd


def _write_off(ctx: WriteContext, user_id: str) -> int:
    """Book the whole receivable against the provision and close the account."""
    tx = ctx.tx
    a = load_account(tx, user_id)
    amount = receivable_fen(a)
    if amount:
        open_account(tx, unit_account("credit_write_off", ctx.unit), f"u{ctx.unit}")
        reserve = balance_in(tx, unit_account("provision", ctx.unit))
        covered = max(0, min(amount, reserve))  # the provision absorbs what it holds
        post(
            ctx,
            "credit.write_off",
            user_id,
            [
                debit(unit_account("provision", ctx.unit), covered),
                debit(unit_account("credit_write_off", ctx.unit), amount - covered),
                credit(receivable(user_id), amount),
            ],
            f"{a['overdue_days']} days past due",
        )
    store.write_off_account(tx, user_id, amount, clock.now_ms())
    return amount


def _portfolio(tx: Any, cfg: CreditConfig) -> Aging:
    """Receivables by bucket and their provision, accounts, overdue accounts and receivables."""
    groups = [
        AgedGroup(int(r["overdue_days"]), int(r["n"]), int(r["owed"] or 0))
        for r in store.receivables_by_overdue_days(tx)
    ]
    return age_portfolio(groups, bounds_days=cfg.bucket_bounds_days, rates=cfg.provision_rates)


def _provision_and_report(ctx: WriteContext, cfg: CreditConfig, day: date) -> dict[str, Any]:
    """Recompute the risk reserve (one voucher for the change) and record the day's row."""
    tx = ctx.tx
    for acct in unit_accounts(ctx.unit):
        open_account(tx, acct, f"u{ctx.unit}")
    aging = _portfolio(tx, cfg)
    target = aging.total_provision_fen

    def balance(subject: str) -> int:
        return balance_in(tx, unit_account(subject, ctx.unit))

    delta = target - balance("provision")
    if delta:
        legs = [
            debit(unit_account("provision_expense", ctx.unit), delta),
            credit(unit_account("provision", ctx.unit), delta),
        ]
        if delta < 0:
            legs = [
                credit(unit_account("provision_expense", ctx.unit), -delta),
                debit(unit_account("provision", ctx.unit), -delta),
            ]
        post(ctx, "credit.provision", f"u{ctx.unit}", legs, f"provision for {day}")
    written_off = store.written_off_total_fen(tx)
    row = {
        "day": day.isoformat(),
        "accounts": aging.accounts,
        "overdue_accounts": aging.overdue_accounts,
        "receivables_fen": aging.total_receivables_fen,
        "overdue_fen": aging.overdue_fen,
        "bucket_receivables": json.dumps(list(aging.receivables_fen)),
        "provision_fen": target,
        "written_off_fen": written_off,
        # income accounts are hot (credited at batch end): read them before this batch's
        # credits land, so the figure can lag by one batch; the ledger stays exact
        "interest_income_fen": balance("interest_income"),
        "installment_fee_income_fen": balance("installment_fee_income"),
        "now": clock.now_ms(),
    }
    store.upsert_day_end(tx, row)
    return row


def end_of_day(p: Platform, day: date, *, cards: bool = True) -> dict[str, Any]:
    cfg = config_for(p)
    out: dict[str, Any] = {
        "autodebit": autodebit(p, day, cards=cards),
        "overdue_accounts": 0,
        "written_off_fen": 0,
    }
    for unit in range(len(p.units)):
        due = _users(p, unit, lambda tx: store.past_deadline_user_ids(tx, day))
        _run_each(p, unit, due, lambda ctx, u: _due_outcome(ctx, u, day))
        dpd: dict[str, int] = p.writers[unit].submit(lambda ctx: _accrue_and_age(ctx, cfg, day))
        p.writers[unit].submit(lambda ctx: reminders.notify_due_soon(ctx, day))
        out["overdue_accounts"] += sum(1 for v in dpd.values() if isinstance(v, int) and v > 0)
        # provision first, so the 90+ bucket (100%) covers what is written off next
        p.writers[unit].submit(lambda ctx: _provision_and_report(ctx, cfg, day))
        doomed = [u for u, v in dpd.items() if isinstance(v, int) and v > cfg.write_off_days]
        gone = _run_each(p, unit, doomed, _write_off)
        out["written_off_fen"] += sum(v for v in gone.values() if isinstance(v, int))
        if doomed:  # the day's row shows the portfolio after the write-offs
            p.writers[unit].submit(lambda ctx: _provision_and_report(ctx, cfg, day))
    return out


def run_days(
    p: Platform,
    first: date,
    last: date,
    *,
    cards: bool = True,
    between: Callable[[date], None] | None = None,
) -> None:
    """Live through ``first``..``last``: clock at 10:00 each day, start, ``between``, end."""
    day = first
    while day <= last:
        clock.set(_at(day, 10))
        start_of_day(p, day)
        if between:
            between(day)
        clock.set(_at(day, 23, 30))
        end_of_day(p, day, cards=cards)
        day += timedelta(days=1)


def _at(day: date, hour: int, minute: int = 0) -> Any:
    from datetime import datetime

    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


# --- reports ----------------------------------------------------------------------------------
def portfolio_report(p: Platform, day: date | None = None) -> dict[str, Any]:
    """Receivables, overdue rate and provision, all units, as of ``day`` (default: latest)."""
    cfg = config_for(p)
    total: dict[str, Any] = {
        "accounts": 0,
        "overdue_accounts": 0,
        "receivables_fen": 0,
        "overdue_fen": 0,
        "provision_fen": 0,
        "written_off_fen": 0,
        "interest_income_fen": 0,
        "installment_fee_income_fen": 0,
        "bucket_receivables_fen": [0] * len(cfg.provision_rates),
    }
    found = None
    for db in p.units:
        with db.read() as tx:
            row = store.latest_day_end(tx, day or date.max)
        if row is None:
            continue
        found = max(found or row["day"], row["day"])
        for k in (
            "accounts",
            "overdue_accounts",
            "receivables_fen",
            "overdue_fen",
            "provision_fen",
            "written_off_fen",
            "interest_income_fen",
            "installment_fee_income_fen",
        ):
            total[k] += int(row[k])
        for i, v in enumerate(json.loads(row["bucket_receivables"])):
            total["bucket_receivables_fen"][i] += int(v)
    total["day"] = found
    total["buckets"] = list(cfg.bucket_names)
    total["overdue_rate"] = (
        total["overdue_fen"] / total["receivables_fen"] if total["receivables_fen"] else 0.0
    )
    return total
