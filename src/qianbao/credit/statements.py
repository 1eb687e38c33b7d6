"""Bills (账单): cutting a statement on the bill day, overdue interest, and the statuses that
follow repayments. The arithmetic of a bill is ``model.statement.draft_statement``; this module
reads what is due, calls it, and persists the draft (rows, counters, the fee voucher).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from qianbao.credit import reminders, store
from qianbao.credit import schedule as sched
from qianbao.credit.accounts import STATEMENT, complete_plan_if_done, now_ms, receivable
from qianbao.credit.config import CreditConfig, config_for
from qianbao.credit.errors import StatementNotFound
from qianbao.credit.model.statement import (
    PeriodDue,
    PurchaseDue,
    StatementDraft,
    draft_statement,
    interest_base_fen,
    owed_parts,
    statement_owed,
    statement_paid,
)
from qianbao.credit.pricing import statement_rate
from qianbao.ledger.chart import unit_account
from qianbao.ledger.service import credit, debit, post
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.writer import WriteContext

__all__ = [
    "accrue_interest",
    "bill_user",
    "draft_for",
    "load_statement",
    "owed_parts",
    "settle_statuses",
    "statement_owed",
    "statement_paid",
]


def load_statement(tx: Tx, user_id: str, statement_id: str) -> Row:
    row = store.statement(tx, user_id, statement_id)
    if row is None:
        raise StatementNotFound("no such bill")
    return row


def draft_for(tx: Tx, cfg: CreditConfig, a: Row, bill_date: date) -> StatementDraft | None:
    """The bill that ``bill_date`` would cut for account ``a`` from what is due now."""
    purchases = store.purchases_to_bill(tx, a["user_id"], bill_date)
    periods = store.periods_to_bill(tx, a["user_id"], bill_date)
    return draft_statement(
        bill_date,
        due_day=a["due_day"],
        minimum_rate=cfg.minimum_rate,
        prepaid_fen=int(a["prepaid_fen"]),
        purchases=[PurchaseDue(r["id"], int(r["net"])) for r in purchases],
        periods=[
            PeriodDue(
                r["plan_id"],
                r["number"],
                int(r["principal_fen"]),
                int(r["fee_fen"]),
                bool(r["subsidised"]),
            )
            for r in periods
        ],
    )


def bill_user(ctx: WriteContext, user_id: str, bill_date: date) -> str | None:
    """出账: purchases and installment periods due by ``bill_date`` become a statement."""
    cfg = config_for(ctx.platform)
    tx = ctx.tx
    a = store.account(tx, user_id)
    if a is None or a["status"] == "CLOSED" or store.statement_cut_on(tx, user_id, bill_date):
        return None
    draft = draft_for(tx, cfg, a, bill_date)
    if draft is None:
        return None
    statement_id = new_id(bucket_of(user_id))
    _persist_draft(ctx, cfg, a, statement_id, draft)
    reminders.notify_bill(ctx, user_id, statement_id, draft)
    return statement_id


def statement_row(
    cfg: CreditConfig, a: Row, statement_id: str, draft: StatementDraft, now: int
) -> dict[str, Any]:
    """The ``credit_statements`` row of a draft; the bill copies the account's interest tier."""
    return {
        "id": statement_id,
        "user_id": a["user_id"],
        "bill_date": draft.bill_date.isoformat(),
        "due_date": draft.due_date.isoformat(),
        "status": draft.status,
        "purchase_fen": draft.purchase_fen,
        "inst_principal_fen": draft.inst_principal_fen,
        "inst_fee_fen": draft.inst_fee_fen,
        "purchase_paid_fen": draft.prepaid_applied_fen,
        "minimum_fen": draft.minimum_fen,
        "paid_on": draft.paid_on.isoformat() if draft.paid_on else None,
        "interest_rate": a["interest_rate"] or str(cfg.daily_interest_rate),
        "interest_band": a["interest_band"],
        "interest_priced_by": a["interest_priced_by"] or "default rate",
        "now": now,
    }


def _persist_draft(
    ctx: WriteContext, cfg: CreditConfig, a: Row, statement_id: str, draft: StatementDraft
) -> None:
    tx, user_id, now = ctx.tx, a["user_id"], now_ms()
    store.insert_statement_items(
        tx,
        [
            {
                "statement_id": statement_id,
                "kind": i.kind,
                "ref": i.ref,
                "principal_fen": i.principal_fen,
                "fee_fen": i.fee_fen,
                "memo": i.memo,
                "now": now,
            }
            for i in draft.items
        ],
    )
    store.put_purchases_on(tx, statement_id, draft.purchase_ids)
    store.put_periods_on(tx, statement_id, draft.periods)
    for plan_id in {plan_id for plan_id, _ in draft.periods}:
        complete_plan_if_done(tx, plan_id)
    store.insert_statement(tx, statement_row(cfg, a, statement_id, draft, now))
    store.shift_counters(tx, user_id, now_ms=now, **draft.counter_deltas())
    if draft.inst_fee_fen:
        post(
            ctx,
            "credit.installment_fee",
            statement_id,
            [
                debit(receivable(user_id), draft.inst_fee_fen),
                credit(unit_account("installment_fee_income", ctx.unit), draft.inst_fee_fen),
            ],
        )


def accrue_interest(ctx: WriteContext, user_id: str, through: date) -> int:
    """Simple overdue interest, one day at a time on that day's unpaid principal and fees
    (never on interest), for every day after the due date up to and including ``through``."""
    cfg = config_for(ctx.platform)
    tx = ctx.tx
    total = 0
    for st in store.statements_accruing(tx, user_id, through):
        days = (through - date.fromisoformat(st["interest_through"])).days
        interest = sched.daily_interest(interest_base_fen(st), statement_rate(cfg, st)) * days
        store.add_interest(tx, st["id"], interest, through, now_ms())
        total += interest
    if total:
        store.shift_counters(tx, user_id, charges_fen=total)
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


def settle_statuses(tx: Tx, cfg: CreditConfig, user_id: str, today: date) -> None:
    """Bills with nothing owed become PAID; an account with no overdue bill is thawed."""
    for st in store.unpaid_statements(tx, user_id):
        if statement_owed(st) == 0:
            STATEMENT.move(tx, st["id"], st["status"], "PAID", paid_on=today.isoformat())
    if not store.has_overdue_statement(tx, user_id):
        store.clear_overdue_days(tx, user_id)
