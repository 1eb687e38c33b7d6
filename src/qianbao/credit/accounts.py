"""The Huabei account row: its counters, the line it leaves, its ledger accounts and the state
machines of bills and plans. Shared by every credit use case.

The counters (unbilled, billed, installment principal, unpaid charges) always sum to the
user's ``credit_receivable`` balance; the line is enforced by one guarded UPDATE. The state
machines live in ``machines.py`` (re-exported here).
"""

from __future__ import annotations

from datetime import date

from qianbao.credit import store
from qianbao.credit.config import CreditConfig
from qianbao.credit.errors import AccountNotFound
from qianbao.credit.machines import PLAN
from qianbao.credit.machines import PURCHASE as PURCHASE  # re-exported
from qianbao.credit.machines import STATEMENT as STATEMENT  # re-exported
from qianbao.ledger.chart import account_id, unit_account
from qianbao.platform.clock import clock
from qianbao.platform.db import Row, Tx

CATEGORIES = ("everyday", "medical")
UNPAID = store.UNPAID


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


def now_ms() -> int:
    return clock.now_ms()


def today() -> date:
    return clock.today()


def complete_plan_if_done(tx: Tx, plan_id: str) -> None:
    """An active plan with no pending period left is COMPLETED."""
    if store.pending_period_count(tx, plan_id) == 0 and store.plan_status(tx, plan_id) == "ACTIVE":
        PLAN.move(tx, plan_id, "ACTIVE", "COMPLETED")


def load_account(tx: Tx, user_id: str) -> Row:
    row = store.account(tx, user_id)
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
