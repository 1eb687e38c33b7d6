"""Reads: the account summary, bills as the API shows them, plans, purchases, line history,
repayments, and the repayment behaviour the scoring package reads. No writes."""

from __future__ import annotations

from datetime import date
from typing import Any

from qianbao.credit import store
from qianbao.credit.accounts import available_fen, load_account, receivable_fen, today
from qianbao.credit.config import config_for
from qianbao.credit.errors import PurchaseNotFound
from qianbao.credit.model.statement import statement_owed, statement_paid
from qianbao.credit.repayments import total_owed
from qianbao.credit.statements import load_statement
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform

STATEMENT_FIELDS = (
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
    out = {k: st[k] for k in STATEMENT_FIELDS}
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
        rows = store.statements(tx, user_id)
    return [public_statement(r) for r in rows]


def get_statement(p: Platform, user_id: str, statement_id: str) -> dict[str, Any]:
    with p.db_for(user_id).read() as tx:
        st = load_statement(tx, user_id, statement_id)
        items = store.statement_items(tx, statement_id)
    return public_statement(st, items)


def list_plans(p: Platform, user_id: str) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return store.plans(tx, user_id)


def list_purchases(p: Platform, user_id: str, limit: int = 100) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return store.purchases(tx, user_id, limit)


def get_purchase(p: Platform, purchase_id: str) -> Row:
    try:
        db = p.db_for(purchase_id)
    except ValueError:
        raise PurchaseNotFound("no such Huabei purchase") from None
    with db.read() as tx:
        row = store.purchase(tx, purchase_id)
    if row is None:
        raise PurchaseNotFound("no such Huabei purchase")
    return row


def line_history(p: Platform, user_id: str) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return store.line_changes(tx, user_id)


def repayments(p: Platform, user_id: str) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return store.repayments(tx, user_id)


def repayment_history(p: Platform, user_id: str) -> dict[str, int]:
    """Huabei behaviour for the score: bills paid on time, bills that went overdue, the longest
    overdue in days and what is overdue now (zeros without an account). Field names match
    ``scoring.behaviour.BehaviourFeatures``."""
    with p.db_for(user_id).read() as tx:
        statements = store.statements(tx, user_id)
    on = today()
    on_time = late = longest = overdue_now = 0
    for st in statements:
        if st["status"] == "PAID" and st["paid_on"] and st["paid_on"] <= st["due_date"]:
            on_time += 1
        if st["overdue_since"] is None:
            continue
        late += 1
        until = date.fromisoformat(st["paid_on"]) if st["paid_on"] else on
        longest = max(longest, (until - date.fromisoformat(st["overdue_since"])).days + 1)
        if st["status"] != "PAID":
            overdue_now += statement_owed(st)
    return {
        "huabei_bills_paid_on_time": on_time,
        "huabei_bills_overdue": late,
        "max_overdue_days": max(0, longest),
        "current_overdue_fen": max(0, overdue_now),
    }
