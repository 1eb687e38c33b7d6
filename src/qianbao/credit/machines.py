"""The state machines of Huabei's rows: accounts, bills, plans and their periods, purchases.

Here, not in ``accounts.py``, so the store (which ``accounts.py`` imports) can move rows too.
"""

from __future__ import annotations

from qianbao.platform.states import StateMachine

# An operator freezes and unfreezes (again is harmless); a write-off closes it for good.
ACCOUNT = StateMachine(
    "Huabei account",
    "credit_accounts",
    {
        "ACTIVE": {"ACTIVE", "FROZEN", "CLOSED"},
        "FROZEN": {"ACTIVE", "FROZEN", "CLOSED"},
        "CLOSED": set(),
    },
    key="user_id",
    initial={"ACTIVE"},
)
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
    initial={"ACTIVE"},
)
# A pending period is billed, shortened by a refund (to nothing: REFUNDED), settled early with
# its plan, or written off with the account.
PERIOD = StateMachine(
    "installment period",
    "credit_plan_periods",
    {
        "PENDING": {"PENDING", "BILLED", "REFUNDED", "SETTLED", "WRITTEN_OFF"},
    },
    key=("plan_id", "number"),
    stamp=None,
    initial={"PENDING"},
)
# A Huabei purchase is recorded SUCCEEDED (the charge is the payment's own command); refunds
# move it, a partial refund as often as there is money left.
PURCHASE = StateMachine(
    "Huabei purchase",
    "credit_purchases",
    {
        "SUCCEEDED": {"PARTIALLY_REFUNDED", "REFUNDED"},
        "PARTIALLY_REFUNDED": {"PARTIALLY_REFUNDED", "REFUNDED"},
    },
    initial={"SUCCEEDED"},
)
