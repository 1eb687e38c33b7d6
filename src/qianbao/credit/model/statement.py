"""The statement draft (出账): what a bill cut on a bill date holds, from plain inputs.

``draft_statement`` is the arithmetic of ``statements.bill_user``: which purchases and
installment periods go on the bill, what the user owes, the minimum repayment, the due date
(interest-free through it) and how the account's counters move. ``bill_user`` reads the rows,
calls it, and persists the draft. ``print(draft)`` shows the bill to check by hand.

Also here: what is owed and paid on a stored bill row (``owed_parts``), by repayment priority.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from qianbao.credit import schedule as sched
from qianbao.platform.money import fen_to_yuan


@dataclass(frozen=True)
class PurchaseDue:
    """A purchase waiting for its bill: what is left of it after refunds."""

    purchase_id: str
    net_fen: int


@dataclass(frozen=True)
class PeriodDue:
    """An installment period due by the bill date; a subsidised plan's fee is the merchant's."""

    plan_id: str
    number: int
    principal_fen: int
    fee_fen: int
    subsidised: bool = False

    @property
    def billed_fee_fen(self) -> int:
        return 0 if self.subsidised else self.fee_fen


@dataclass(frozen=True)
class StatementItem:
    """One line of a bill (``credit_statement_items``)."""

    kind: str  # PURCHASE | INSTALLMENT (REFUND lines are added later by refunds)
    ref: str  # purchase id or plan id
    principal_fen: int
    fee_fen: int
    memo: str = ""
    period_number: int | None = None  # an installment line: the plan's period


@dataclass(frozen=True)
class StatementDraft:
    """A bill before it is stored. Amounts in fen; ``owed_fen`` is what the user must repay,
    after what was repaid early (``prepaid_applied_fen``) is set against the purchases."""

    bill_date: date
    due_date: date  # the last interest-free day; interest runs from the day after
    items: tuple[StatementItem, ...]
    purchase_fen: int
    inst_principal_fen: int
    inst_fee_fen: int
    prepaid_applied_fen: int
    minimum_fen: int  # 最低还款, never more than what is owed

    @property
    def total_fen(self) -> int:
        return self.purchase_fen + self.inst_principal_fen + self.inst_fee_fen

    @property
    def purchase_ids(self) -> list[str]:
        return [i.ref for i in self.items if i.kind == "PURCHASE"]

    @property
    def periods(self) -> list[tuple[str, int]]:
        """The ``(plan_id, period number)`` of each installment line."""
        return [
            (i.ref, i.period_number)
            for i in self.items
            if i.kind == "INSTALLMENT" and i.period_number is not None
        ]

    @property
    def owed_fen(self) -> int:
        return self.total_fen - self.prepaid_applied_fen

    @property
    def status(self) -> str:
        """A bill fully covered by early repayment is born PAID."""
        return "OPEN" if self.owed_fen else "PAID"

    @property
    def paid_on(self) -> date | None:
        return None if self.owed_fen else self.bill_date

    def counter_deltas(self) -> dict[str, int]:
        """How the account's counters move when the bill is cut. Their sum is the installment
        fee: the only new money owed, booked by the bill's fee voucher."""
        moved = self.purchase_fen - self.prepaid_applied_fen
        return {
            "unbilled_fen": -moved,
            "prepaid_fen": -self.prepaid_applied_fen,
            "billed_fen": moved + self.inst_principal_fen,
            "installment_fen": -self.inst_principal_fen,
            "charges_fen": self.inst_fee_fen,
        }

    def format(self) -> str:
        y = fen_to_yuan
        lines = [
            f"bill {self.bill_date}  due {self.due_date}  (interest-free through the due date)",
            f"  {'kind':<12} {'ref':<28} {'principal':>12} {'fee':>10}",
        ]
        for i in self.items:
            ref = f"{i.ref} {i.memo}".strip()
            lines.append(
                f"  {i.kind:<12} {ref[:28]:<28} {y(i.principal_fen):>12} {y(i.fee_fen):>10}"
            )
        for label, fen in (
            ("purchases", self.purchase_fen),
            ("installment principal", self.inst_principal_fen),
            ("installment fees", self.inst_fee_fen),
            ("repaid early", -self.prepaid_applied_fen),
            ("owed", self.owed_fen),
            ("minimum", self.minimum_fen),
        ):
            lines.append(f"  {label:<41} {y(fen):>12}")
        lines.append(f"  status {self.status}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def draft_statement(
    bill_date: date,
    *,
    due_day: int,
    minimum_rate: Decimal,
    prepaid_fen: int,
    purchases: Sequence[PurchaseDue],
    periods: Sequence[PeriodDue],
) -> StatementDraft | None:
    """The bill cut on ``bill_date`` from what is due on it (``None``: nothing to bill).

    Purchases in full, installment periods' principal and (unless the merchant pays it) fee;
    early repayment (``prepaid_fen``) covers purchases only; the minimum is ``minimum_rate`` of
    the purchases plus every installment amount due, capped at what is owed.
    """
    if not purchases and not periods:
        return None
    purchase_fen = sum(p.net_fen for p in purchases)
    inst_principal_fen = sum(p.principal_fen for p in periods)
    inst_fee_fen = sum(p.billed_fee_fen for p in periods)
    applied_fen = min(prepaid_fen, purchase_fen)
    owed_fen = purchase_fen - applied_fen + inst_principal_fen + inst_fee_fen
    minimum_fen = sched.minimum_due(purchase_fen, inst_principal_fen + inst_fee_fen, minimum_rate)
    items = [StatementItem("PURCHASE", p.purchase_id, p.net_fen, 0) for p in purchases]
    items += [
        StatementItem(
            "INSTALLMENT",
            p.plan_id,
            p.principal_fen,
            p.billed_fee_fen,
            f"period {p.number}" + (" (fee paid by merchant)" if p.subsidised else ""),
            p.number,
        )
        for p in periods
    ]
    return StatementDraft(
        bill_date=bill_date,
        due_date=sched.due_date_for(bill_date, due_day),
        items=tuple(items),
        purchase_fen=purchase_fen,
        inst_principal_fen=inst_principal_fen,
        inst_fee_fen=inst_fee_fen,
        prepaid_applied_fen=applied_fen,
        minimum_fen=min(minimum_fen, owed_fen),
    )


# --- what a stored bill owes ------------------------------------------------------------------
def owed_parts(st: Mapping[str, Any]) -> dict[str, int]:
    """What is still unpaid on a bill, by repayment priority."""
    return {
        "interest": st["interest_fen"] - st["interest_paid_fen"],
        "inst_fee": st["inst_fee_fen"] - st["inst_fee_paid_fen"],
        "inst_principal": st["inst_principal_fen"] - st["inst_principal_paid_fen"],
        "purchase": st["purchase_fen"] - st["installed_fen"] - st["purchase_paid_fen"],
    }


def statement_owed(st: Mapping[str, Any]) -> int:
    return sum(owed_parts(st).values())


def statement_paid(st: Mapping[str, Any]) -> int:
    return int(
        st["purchase_paid_fen"]
        + st["inst_principal_paid_fen"]
        + st["inst_fee_paid_fen"]
        + st["interest_paid_fen"]
    )


def interest_base_fen(st: Mapping[str, Any]) -> int:
    """What overdue interest runs on: unpaid principal and fees, never interest."""
    parts = owed_parts(st)
    return parts["purchase"] + parts["inst_principal"] + parts["inst_fee"]
