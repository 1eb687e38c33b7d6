"""Repayment allocation (还款冲账顺序): which parts of which bills a repayment pays, in order.

Interest first, then installment fees, then installment principal, then purchases — each part
across the bills oldest first — and what is left pays unbilled purchases early. ``allocate`` is
pure; ``repayments.allocate`` reads the bills, calls it and persists the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qianbao.platform.money import fen_to_yuan

COMPONENT_ORDER = ("interest", "inst_fee", "inst_principal", "purchase")
CHARGE_PARTS = ("interest", "inst_fee")  # income owed (charges_fen); the rest is principal


@dataclass(frozen=True)
class BillOwed:
    """What one unpaid bill still owes, by part (``model.statement.owed_parts``)."""

    statement_id: str
    parts_fen: Mapping[str, int]


@dataclass(frozen=True)
class AllocationLine:
    statement_id: str | None  # None: unbilled purchases (early repayment)
    part: str  # one of COMPONENT_ORDER, or "unbilled"
    fen: int

    def to_dict(self) -> dict[str, Any]:
        return {"statement_id": self.statement_id, "part": self.part, "fen": self.fen}


@dataclass(frozen=True)
class Allocation:
    """Where ``amount_fen`` went; ``left_fen`` is what nothing owed could take."""

    amount_fen: int
    lines: tuple[AllocationLine, ...]

    @property
    def total_fen(self) -> int:
        return sum(line.fen for line in self.lines)

    @property
    def left_fen(self) -> int:
        return self.amount_fen - self.total_fen

    @property
    def charges_fen(self) -> int:
        return sum(line.fen for line in self.lines if line.part in CHARGE_PARTS)

    @property
    def principal_fen(self) -> int:
        """Billed principal paid (installment principal and purchases on bills)."""
        return sum(
            line.fen for line in self.lines if line.statement_id and line.part not in CHARGE_PARTS
        )

    @property
    def early_fen(self) -> int:
        return sum(line.fen for line in self.lines if line.statement_id is None)

    def paid_by_statement(self) -> dict[str, dict[str, int]]:
        """Per bill, the fen paid on each part (bills in the order first paid)."""
        out: dict[str, dict[str, int]] = {}
        for line in self.lines:
            if line.statement_id is not None:
                out.setdefault(line.statement_id, {})[line.part] = line.fen
        return out

    def format(self) -> str:
        rows = [f"repayment {fen_to_yuan(self.amount_fen)}"]
        for line in self.lines:
            where = line.statement_id or "(unbilled)"
            rows.append(f"  {where[:28]:<28} {line.part:<15} {fen_to_yuan(line.fen):>12}")
        rows.append(f"  {'left over':<44} {fen_to_yuan(self.left_fen):>12}")
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.format()


def allocate(
    amount_fen: int, bills: Sequence[BillOwed], unbilled_fen: int | None = None
) -> Allocation:
    """Apply ``amount_fen`` to ``bills`` (oldest first) part by part in ``COMPONENT_ORDER``,
    then, unless ``unbilled_fen`` is ``None`` (statements only), to unbilled purchases."""
    assert amount_fen >= 0, amount_fen
    left = amount_fen
    lines: list[AllocationLine] = []
    for part in COMPONENT_ORDER:
        for bill in bills:
            if not left:
                break
            take = min(left, bill.parts_fen[part])
            if take > 0:
                lines.append(AllocationLine(bill.statement_id, part, take))
                left -= take
    if left and unbilled_fen is not None:
        early = min(left, unbilled_fen)
        if early:
            lines.append(AllocationLine(None, "unbilled", early))
    return Allocation(amount_fen, tuple(lines))
